// Declarations of the freestanding memory functions defined in string.cpp (the kernel
// does not include the C library's headers).
#pragma once

#include <cstddef>

extern "C" {
void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int value, size_t n);
int memcmp(const void* a, const void* b, size_t n);
}
