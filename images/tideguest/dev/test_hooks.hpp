// tide's test-hook port, present only under `tide run --test-hooks`: lets a test ask tide
// to release guest frames (tide frees the frame; the next guest touch of the page gets a
// fresh zeroed one). All accesses are 32-bit port I/O:
//   in  0x510  0x4b4f4f48 ("HOOK") when the hooks are enabled, all ones otherwise
//   out 0x510  first GFN (guest-physical address >> 12) of a range, latched
//   out 0x514  page count: tide releases [latched GFN, GFN + count)
//   in  0x514  frames tide freed for the last release, 0xffffffff if it refused it
// Elsewhere 0x510 may be another device (QEMU's fw_cfg selector), so nothing is written
// there unless the probe read "HOOK". Boot CPU only.
#pragma once

#include <cstdint>

namespace tg::dev {

// What the release result port reads when tide refused the request (range outside RAM).
inline constexpr uint32_t kHookReleaseRefused = 0xffffffff;

// Probes the port on first use (one port read, kept for later calls).
bool test_hooks_present();
// Asks tide to release the `page_count` pages from frame `gfn` up. Returns the number of
// frames tide freed (pages never touched or already released count 0), or
// kHookReleaseRefused. Call only when test_hooks_present().
uint32_t hook_release(uint32_t gfn, uint32_t page_count);

}  // namespace tg::dev
