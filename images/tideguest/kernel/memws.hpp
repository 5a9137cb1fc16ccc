// The memws workload: a hot working set inside a larger region that was touched once, for
// experiments where the host keeps only part of a guest resident (a memory limit with
// swap or a balloon behind it). TOTAL is allocated (largest blocks first; not necessarily
// contiguous) and every page written, so all of it becomes resident; then each of PASSES
// passes reads and writes every 8-byte word of the first WS bytes (the set's pages in
// address order), timed with now_ns(). The cold rest is not touched again, so the host
// can push it out while the passes keep the working set in. Finally the whole region is
// checked and freed (unless `keep`).
// Each word holds its physical address xor a key of the pass that last wrote it, and a
// pass turns one key into the next with a single xor: the passes run at memory speed, and
// a page the host gave back zeroed, stale or from another frame no longer matches.
#pragma once

#include <cstdint>

namespace tg {

struct MemwsOptions {
  uint64_t total_bytes = 0;
  uint64_t ws_bytes = 0;  // at most total_bytes
  unsigned passes = 1;
  bool keep = false;  // leave the region allocated afterwards
};

// Prints (mbps in MiB/s of the working set, one decimal):
//   memws: fill total=768MiB time_us=N mbps=X
//   memws: pass 3/20 ws=256MiB total=768MiB time_us=123456 mbps=2073.4   (one per pass)
//   memws: done ws=256MiB total=768MiB passes=20 best_mbps=X last_mbps=X median_mbps=X
//   memws: verify pages=N bad=M
// followed, when M > 0, by up to 8 "memws: bad page ..." lines. False (with *error) when
// the memory cannot be allocated or a page is bad.
bool memws(const MemwsOptions& options, const char** error);
// Bytes still held by `keep` runs.
uint64_t memws_kept_bytes();

}  // namespace tg
