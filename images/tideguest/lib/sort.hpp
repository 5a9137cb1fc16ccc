// Sorting for the few places that need it (the kernel has no std::sort): an in-place
// heap sort of 64-bit keys, ascending. O(n log n) with no extra memory and no recursion,
// so it suits arrays of any size in page-allocator memory.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tg::lib {

namespace sort_detail {

inline void sift_down(uint64_t* a, size_t root, size_t end) {
  while (2 * root + 1 < end) {
    size_t child = 2 * root + 1;
    if (child + 1 < end && a[child] < a[child + 1]) ++child;
    if (!(a[root] < a[child])) return;
    const uint64_t t = a[root];
    a[root] = a[child];
    a[child] = t;
    root = child;
  }
}

}  // namespace sort_detail

inline void sort_u64(uint64_t* a, size_t n) {
  for (size_t i = n / 2; i-- > 0;) sort_detail::sift_down(a, i, n);
  for (size_t end = n; end-- > 1;) {
    const uint64_t t = a[0];
    a[0] = a[end];
    a[end] = t;
    sort_detail::sift_down(a, 0, end);
  }
}

}  // namespace tg::lib
