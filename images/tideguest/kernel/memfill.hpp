// The fill region: pages taken from the page allocator and kept across commands, every
// 8-byte word holding fill_word(its physical address, seed), so later commands can check
// what the VMM did to the memory underneath. One region at a time.
//   memfill      allocates and fills it (freeing a previous region first)
//   hookrelease  asks tide, through the test-hook port, to release selected pages
//   memzap       zeroes selected pages from inside the guest (self-test of memverify)
//   memverify    released pages must read all zero, every other page its pattern
//   memfree      returns it
// Pages are numbered in address order; a bitmap allocated with the region (one bit per
// page) records the pages released since the last rewrite. Boot CPU only.
#pragma once

#include <cstdint>

namespace tg {

// The value memfill stores in the 8-byte word at physical address `paddr`: splitmix64's
// finalizer of paddr ^ seed. It is a bijection, so a filled page holds at most one zero
// word and is never all zeroes.
constexpr uint64_t fill_word(uint64_t paddr, uint64_t seed) {
  uint64_t z = paddr ^ seed;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Each function prints its result line (README.md, "Output formats") and returns false
// with *error set when the command fails.

// Allocates ceil(size_bytes / 4096) pages and fills them:
//   memfill: size=256MiB pages=65536 seed=1
bool memfill(uint64_t size_bytes, uint64_t seed, const char** error);
// Releases pages 0, stride, 2*stride, ... of the region through tide's test-hook port, one
// request per run of physically contiguous selected pages of at most max_request_pages
// (0: no limit other than the port's 32 bits), and marks them released:
//   hookrelease: requested=N released=M
// Fails when the hooks are absent, or (after printing the refused range and the totals)
// when tide refuses a request.
bool hookrelease(uint64_t stride, uint64_t max_request_pages, const char** error);
// Zeroes the same selection as hookrelease from inside the guest, and marks those pages
// released unless `mark` is false (then memverify must count them bad):
//   memzap: zeroed=N marked=N
bool memzap(uint64_t stride, bool mark, const char** error);
// Checks every page; then, if `rewrite`, refills the released pages and clears the bitmap:
//   memverify: pages=N intact=A zero=B bad=C
// followed, if C > 0, by up to 8 "memverify: bad ..." lines, and a failure.
bool memverify(bool rewrite, const char** error);
// Frees the region and its bitmap:
//   memfree: pages=N
bool memfree(const char** error);

}  // namespace tg
