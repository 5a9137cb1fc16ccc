// The memtouch workload: allocate a working set from the page allocator (largest blocks
// first; it need not be contiguous), then write every 8-byte word of every page, pass
// after pass, in address order (seq) or with the pages in a fixed pseudo-random
// permutation (rand), timing each pass with now_ns(). On PVM the first pass pays one
// shadow page fault per 4 KiB page; later passes run at memory speed.
#pragma once

#include <cstdint>

namespace tg {

struct MemtouchOptions {
  uint64_t size_bytes = 0;
  bool random = false;
  unsigned passes = 1;
  bool keep = false;  // leave the memory allocated afterwards
};

// Prints one line per pass:
//   memtouch: pass 1/2 size=256MiB mode=seq time_us=123456 mbps=2073.4
// (mbps in MiB/s). False (with *error) when the memory cannot be allocated.
bool memtouch(const MemtouchOptions& options, const char** error);
// Bytes still held by `keep` runs.
uint64_t memtouch_kept_bytes();

}  // namespace tg
