// A small printf: %d %i %u %x %X %c %s %p %%, length modifiers h hh l ll z, flags '-' and
// '0', a field width and (for %s) a precision, both also as '*'. No floating point: the
// kernel is built with -mgeneral-regs-only, so callers print fixed-point by hand.
// kprintf writes to the serial console; format_to writes into a buffer (always NUL-ended).
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>

namespace tg::lib {

// Receives formatted output in pieces.
using FormatSink = void (*)(void* context, const char* text, size_t length);

void vformat(FormatSink sink, void* context, const char* fmt, va_list args);

// Returns the length the full output would have had (as snprintf does).
size_t format_to(char* buffer, size_t size, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace tg::lib

namespace tg {

void kprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void vkprintf(const char* fmt, va_list args);
// Prints a byte count in the largest unit that divides it exactly: 256MiB, 12KiB, 100B.
void kprint_size(uint64_t bytes);

}  // namespace tg
