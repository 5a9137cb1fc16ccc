#include "vmm/config/units.hpp"

#include <cctype>

namespace tide::vmm {
namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// XML's whitespace (the schema's whiteSpace="collapse" for numeric types).
bool xml_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

Error invalid(std::string text) { return make_error(std::errc::invalid_argument, std::move(text)); }

}  // namespace

Result<uint64_t> libvirt_unit_scale(std::string_view unit, uint64_t default_scale) {
  if (unit.empty()) return default_scale;
  if (iequals(unit, "b") || iequals(unit, "byte") || iequals(unit, "bytes")) return uint64_t{1};
  // As virScaleInteger: one letter, or a letter and "iB" (binary); a letter and "B" (decimal).
  uint64_t base = 0;
  if (unit.size() == 1 || iequals(unit.substr(1), "ib")) {
    base = 1024;
  } else if (unit.size() == 2 && lower(unit[1]) == 'b') {
    base = 1000;
  } else {
    return invalid("unknown unit '" + std::string(unit) + "'");
  }
  unsigned power = 0;
  switch (lower(unit[0])) {
    case 'k': power = 1; break;
    case 'm': power = 2; break;
    case 'g': power = 3; break;
    case 't': power = 4; break;
    case 'p': power = 5; break;
    case 'e': power = 6; break;
    default: return invalid("unknown unit '" + std::string(unit) + "'");
  }
  uint64_t scale = 1;
  for (unsigned i = 0; i < power; ++i) scale *= base;  // at most 1024^6 = 2^60: no overflow
  return scale;
}

Result<uint64_t> parse_decimal_u64(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && xml_space(text[begin])) ++begin;
  while (end > begin && xml_space(text[end - 1])) --end;
  const std::string_view digits = text.substr(begin, end - begin);
  if (digits.empty()) return invalid("empty value (expected a number)");
  uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return invalid("'" + std::string(text) + "' is not a number");
    const auto d = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return invalid("'" + std::string(digits) + "' is too large");
    n = n * 10 + d;
  }
  return n;
}

Result<uint64_t> parse_scaled_size(std::string_view value, std::string_view unit, uint64_t default_scale) {
  TIDE_TRY_ASSIGN(n, parse_decimal_u64(value));
  TIDE_TRY_ASSIGN(scale, libvirt_unit_scale(unit, default_scale));
  if (scale != 0 && n > UINT64_MAX / scale) {
    return invalid(std::to_string(n) + " " + (unit.empty() ? std::string("KiB") : std::string(unit)) +
                   " is too large (more than 2^64 bytes)");
  }
  return n * scale;
}

Result<uint64_t> round_up_to(uint64_t bytes, uint64_t align) {
  const uint64_t mask = align - 1;
  if (bytes > UINT64_MAX - mask) return invalid(std::to_string(bytes) + " bytes is too large");
  return (bytes + mask) & ~mask;
}

ScaledSize to_libvirt_size(uint64_t bytes) {
  if (bytes % kKiB == 0) return ScaledSize{bytes / kKiB, "KiB"};
  return ScaledSize{bytes, "bytes"};
}

std::string describe_size(uint64_t bytes) {
  static const char* const kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  unsigned u = 0;
  uint64_t v = bytes;
  while (u < 6 && v >= 1024 && v % 1024 == 0) {
    v /= 1024;
    ++u;
  }
  return std::to_string(v) + " " + kUnits[u];
}

}  // namespace tide::vmm
