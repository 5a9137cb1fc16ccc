// printf-style formatting for the console and for buffers (see format.hpp).
#include "lib/format.hpp"

#include <cstdint>

#include "dev/serial.hpp"

namespace tg::lib {
namespace {

enum class Length { kInt, kChar, kShort, kLong, kLongLong, kSize };

struct Spec {
  bool left = false;
  bool zero = false;
  int width = 0;
  int precision = -1;
  Length length = Length::kInt;
};

void pad(FormatSink sink, void* context, char c, int count) {
  char chunk[16];
  for (auto& ch : chunk) ch = c;
  while (count > 0) {
    int n = count < 16 ? count : 16;
    sink(context, chunk, static_cast<size_t>(n));
    count -= n;
  }
}

void emit_field(FormatSink sink, void* context, const Spec& spec, const char* text,
                size_t length, bool negative) {
  int body = static_cast<int>(length) + (negative ? 1 : 0);
  int fill = spec.width > body ? spec.width - body : 0;
  if (!spec.left && !spec.zero) pad(sink, context, ' ', fill);
  if (negative) sink(context, "-", 1);
  if (!spec.left && spec.zero) pad(sink, context, '0', fill);
  sink(context, text, length);
  if (spec.left) pad(sink, context, ' ', fill);
}

void emit_unsigned(FormatSink sink, void* context, const Spec& spec, uint64_t value,
                   unsigned base, bool upper, bool negative) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char buffer[24];
  size_t pos = sizeof(buffer);
  do {
    buffer[--pos] = digits[value % base];
    value /= base;
  } while (value != 0);
  emit_field(sink, context, spec, buffer + pos, sizeof(buffer) - pos, negative);
}

uint64_t fetch_unsigned(va_list& args, Length length) {
  switch (length) {
    case Length::kChar: return static_cast<unsigned char>(va_arg(args, unsigned));
    case Length::kShort: return static_cast<unsigned short>(va_arg(args, unsigned));
    case Length::kLong: return va_arg(args, unsigned long);
    case Length::kLongLong: return va_arg(args, unsigned long long);
    case Length::kSize: return va_arg(args, size_t);
    case Length::kInt: break;
  }
  return va_arg(args, unsigned);
}

int64_t fetch_signed(va_list& args, Length length) {
  switch (length) {
    case Length::kChar: return static_cast<signed char>(va_arg(args, int));
    case Length::kShort: return static_cast<short>(va_arg(args, int));
    case Length::kLong: return va_arg(args, long);
    case Length::kLongLong: return va_arg(args, long long);
    case Length::kSize: return static_cast<int64_t>(va_arg(args, size_t));
    case Length::kInt: break;
  }
  return va_arg(args, int);
}

size_t string_length(const char* s, int limit) {
  size_t n = 0;
  while ((limit < 0 || n < static_cast<size_t>(limit)) && s[n] != '\0') ++n;
  return n;
}

}  // namespace

void vformat(FormatSink sink, void* context, const char* fmt, va_list args_in) {
  va_list args;
  va_copy(args, args_in);
  const char* p = fmt;
  while (*p != '\0') {
    const char* run = p;
    while (*p != '\0' && *p != '%') ++p;
    if (p != run) sink(context, run, static_cast<size_t>(p - run));
    if (*p == '\0') break;
    ++p;  // '%'
    Spec spec;
    for (;; ++p) {
      if (*p == '-') spec.left = true;
      else if (*p == '0') spec.zero = true;
      else break;
    }
    if (*p == '*') {
      spec.width = va_arg(args, int);
      if (spec.width < 0) {
        spec.left = true;
        spec.width = -spec.width;
      }
      ++p;
    } else {
      while (*p >= '0' && *p <= '9') spec.width = spec.width * 10 + (*p++ - '0');
    }
    if (*p == '.') {
      ++p;
      spec.precision = 0;
      if (*p == '*') {
        spec.precision = va_arg(args, int);
        ++p;
      } else {
        while (*p >= '0' && *p <= '9') spec.precision = spec.precision * 10 + (*p++ - '0');
      }
    }
    if (spec.left) spec.zero = false;
    if (*p == 'h') {
      ++p;
      spec.length = Length::kShort;
      if (*p == 'h') {
        ++p;
        spec.length = Length::kChar;
      }
    } else if (*p == 'l') {
      ++p;
      spec.length = Length::kLong;
      if (*p == 'l') {
        ++p;
        spec.length = Length::kLongLong;
      }
    } else if (*p == 'z') {
      ++p;
      spec.length = Length::kSize;
    }
    char conversion = *p;
    if (conversion == '\0') break;
    ++p;
    switch (conversion) {
      case 'd':
      case 'i': {
        int64_t v = fetch_signed(args, spec.length);
        uint64_t magnitude = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
        emit_unsigned(sink, context, spec, magnitude, 10, false, v < 0);
        break;
      }
      case 'u':
        emit_unsigned(sink, context, spec, fetch_unsigned(args, spec.length), 10, false, false);
        break;
      case 'x':
      case 'X':
        emit_unsigned(sink, context, spec, fetch_unsigned(args, spec.length), 16,
                      conversion == 'X', false);
        break;
      case 'p': {
        sink(context, "0x", 2);
        auto v = reinterpret_cast<uintptr_t>(va_arg(args, void*));
        emit_unsigned(sink, context, spec, v, 16, false, false);
        break;
      }
      case 'c': {
        char c = static_cast<char>(va_arg(args, int));
        emit_field(sink, context, spec, &c, 1, false);
        break;
      }
      case 's': {
        const char* s = va_arg(args, const char*);
        if (s == nullptr) s = "(null)";
        emit_field(sink, context, spec, s, string_length(s, spec.precision), false);
        break;
      }
      case '%':
        sink(context, "%", 1);
        break;
      default:
        sink(context, "%", 1);
        sink(context, &conversion, 1);
        break;
    }
  }
  va_end(args);
}

namespace {

struct BufferSink {
  char* buffer;
  size_t size;
  size_t used;
};

void buffer_sink(void* context, const char* text, size_t length) {
  auto* b = static_cast<BufferSink*>(context);
  for (size_t i = 0; i < length; ++i, ++b->used) {
    if (b->used + 1 < b->size) b->buffer[b->used] = text[i];
  }
}

}  // namespace

size_t format_to(char* buffer, size_t size, const char* fmt, ...) {
  BufferSink b{buffer, size, 0};
  va_list args;
  va_start(args, fmt);
  vformat(buffer_sink, &b, fmt, args);
  va_end(args);
  if (size != 0) buffer[b.used < size ? b.used : size - 1] = '\0';
  return b.used;
}

}  // namespace tg::lib

namespace tg {
namespace {

void serial_sink(void*, const char* text, size_t length) { dev::serial_write(text, length); }

}  // namespace

void vkprintf(const char* fmt, va_list args) { lib::vformat(serial_sink, nullptr, fmt, args); }

void kprintf(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vkprintf(fmt, args);
  va_end(args);
}

void kprint_size(uint64_t bytes) {
  if (bytes % (1ull << 20) == 0) kprintf("%luMiB", bytes >> 20);
  else if (bytes % (1ull << 10) == 0) kprintf("%luKiB", bytes >> 10);
  else kprintf("%luB", bytes);
}

}  // namespace tg
