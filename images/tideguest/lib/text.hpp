// Text: a non-owning view of characters (the kernel has no std::string_view), with the
// few parsing helpers the command language needs: trimming, splitting, numbers with
// K/M/G suffixes. Views never outlive the buffer they point into (the command line copy).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tg::lib {

class Text {
 public:
  constexpr Text() = default;
  constexpr Text(const char* data, size_t size) : data_(data), size_(size) {}
  // From a NUL-terminated string.
  Text(const char* c_string);  // NOLINT: implicit on purpose, like string_view

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  char operator[](size_t i) const { return data_[i]; }

  bool operator==(Text other) const;
  bool starts_with(Text prefix) const;
  Text substr(size_t pos, size_t count = ~size_t{0}) const;
  // Index of the first `c`, or size() if absent.
  size_t find(char c, size_t from = 0) const;
  Text trimmed() const;
  // Splits at the first run of spaces: returns the first word, leaves the rest in *this.
  Text take_word();

  // Decimal, or hex with 0x. False on anything else (including an empty text).
  bool parse_u64(uint64_t* out) const;
  // A byte count: a number with an optional K, M or G suffix (powers of 1024; an
  // optional trailing 'B' or 'iB' is accepted). False on overflow or junk.
  bool parse_size(uint64_t* out) const;

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tg::lib
