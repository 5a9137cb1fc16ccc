// Text view helpers (see text.hpp).
#include "lib/text.hpp"

namespace tg::lib {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

Text::Text(const char* c_string) : data_(c_string) {
  while (c_string[size_] != '\0') ++size_;
}

bool Text::operator==(Text other) const {
  if (size_ != other.size_) return false;
  for (size_t i = 0; i < size_; ++i) {
    if (data_[i] != other.data_[i]) return false;
  }
  return true;
}

bool Text::starts_with(Text prefix) const {
  return prefix.size_ <= size_ && Text(data_, prefix.size_) == prefix;
}

Text Text::substr(size_t pos, size_t count) const {
  if (pos > size_) pos = size_;
  if (count > size_ - pos) count = size_ - pos;
  return Text(data_ + pos, count);
}

size_t Text::find(char c, size_t from) const {
  for (size_t i = from; i < size_; ++i) {
    if (data_[i] == c) return i;
  }
  return size_;
}

Text Text::trimmed() const {
  size_t begin = 0, end = size_;
  while (begin < end && is_space(data_[begin])) ++begin;
  while (end > begin && is_space(data_[end - 1])) --end;
  return Text(data_ + begin, end - begin);
}

Text Text::take_word() {
  Text t = trimmed();
  size_t end = 0;
  while (end < t.size_ && !is_space(t.data_[end])) ++end;
  Text word(t.data_, end);
  *this = t.substr(end).trimmed();
  return word;
}

bool Text::parse_u64(uint64_t* out) const {
  if (empty()) return false;
  uint64_t base = 10;
  size_t i = 0;
  if (size_ > 2 && data_[0] == '0' && (data_[1] == 'x' || data_[1] == 'X')) {
    base = 16;
    i = 2;
  }
  uint64_t value = 0;
  for (; i < size_; ++i) {
    char c = data_[i];
    uint64_t digit;
    if (c >= '0' && c <= '9') digit = static_cast<uint64_t>(c - '0');
    else if (base == 16 && c >= 'a' && c <= 'f') digit = static_cast<uint64_t>(c - 'a' + 10);
    else if (base == 16 && c >= 'A' && c <= 'F') digit = static_cast<uint64_t>(c - 'A' + 10);
    else return false;
    if (value > (~uint64_t{0} - digit) / base) return false;
    value = value * base + digit;
  }
  *out = value;
  return true;
}

bool Text::parse_size(uint64_t* out) const {
  Text t = *this;
  if (t.size_ >= 2 && t.substr(t.size_ - 2) == Text("iB")) t = t.substr(0, t.size_ - 2);
  else if (t.size_ >= 2 && (t.data_[t.size_ - 1] == 'B' || t.data_[t.size_ - 1] == 'b'))
    t = t.substr(0, t.size_ - 1);
  unsigned shift = 0;
  if (!t.empty()) {
    switch (t.data_[t.size_ - 1]) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      case 't': case 'T': shift = 40; break;
      default: break;
    }
    if (shift != 0) t = t.substr(0, t.size_ - 1);
  }
  uint64_t value;
  if (!t.parse_u64(&value)) return false;
  if (shift != 0 && value > (~uint64_t{0} >> shift)) return false;
  *out = value << shift;
  return true;
}

}  // namespace tg::lib
