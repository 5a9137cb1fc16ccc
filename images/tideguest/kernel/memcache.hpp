// The memcache workload: cache-like memory in the page cache (mm/page_cache), which the
// guest gives back whenever it needs memory, as Linux drops clean page cache. Every word
// holds a pattern of its physical address and the cache's generation, so a page the
// host swapped out or reclaimed and gave back wrong is found by `memcache verify`.
//   memcache SIZE    allocates SIZE (largest blocks first), writes every page and adds it
//                    to the cache (cumulative; may drop older cache pages to make room)
//   memcache [info]  prints the cache's state
//   memcache verify  checks every page still cached
//   memcache drop    frees the whole cache
// Reclaim (an allocation that finds too little free memory, a balloon inflate) drops
// cache blocks oldest first, before deflate-on-OOM. Boot CPU only.
#pragma once

#include <cstdint>

namespace tg {

// Each prints its line (README.md, "Output formats") and returns false with *error set
// when the command fails.

//   memcache: size=256MiB pages=65536 cached=65536 dropped=0
bool memcache_add(uint64_t size_bytes, const char** error);
//   memcache: cached=65536 size=256MiB dropped=0 free_pages=N
void memcache_info();
//   memcache: verify pages=N intact=N bad=0
// followed, when bad > 0, by up to 8 "memcache: bad page ..." lines and a failure.
bool memcache_verify(const char** error);
//   memcache: drop pages=N cached=0
void memcache_drop();

}  // namespace tg
