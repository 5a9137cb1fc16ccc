// Held memory for balloon experiments: pages taken from the page allocator and kept
// across commands until memdrop.
//   memhold SIZE  allocates SIZE (largest blocks first) and writes every page, so the
//                 host backs it; the allocation may drop the page cache and, with
//                 deflate-on-OOM, then take pages back from the balloon (the page
//                 allocator's reclaimers do that)
//   memfrag SIZE  allocates SIZE as single pages and frees every other one, keeping the
//                 rest: no two held pages merge, so the freed ones stay order-0 holes
//   memdrop       frees everything held
// Holds are cumulative. Boot CPU only.
#pragma once

#include <cstdint>

namespace tg {

struct HoldResult {
  uint64_t pages = 0;      // pages this command allocated (memfrag: before freeing half)
  uint64_t freed = 0;      // memfrag: pages it freed again
  uint64_t held = 0;       // pages held in total afterwards
};

// False (with *error; nothing of this command stays allocated) when the memory cannot be
// found even with the reclaimers' help.
bool memhold(uint64_t size_bytes, HoldResult* result, const char** error);
bool memfrag(uint64_t size_bytes, HoldResult* result, const char** error);
// Frees all held memory; returns the pages freed.
uint64_t memdrop();
uint64_t held_pages();

}  // namespace tg
