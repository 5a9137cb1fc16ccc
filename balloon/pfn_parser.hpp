// Pure helper: the PFN list of an inflate or deflate request (virtio-v1.2 §5.5.6). Each
// device-readable buffer of the chain is an array of le32 PFNs in 4 KiB units
// (VIRTIO_BALLOON_PFN_SHIFT). The parser reads them through the checked GuestMemory
// accessor and hands each to a callback in chain order, so the device decides what to do
// with a PFN and a test just collects them.
// Rules for malformed requests (counted in the summary, never fatal):
//   - a buffer whose length is not a multiple of 4: its whole-PFN prefix is used, the
//     trailing 1-3 bytes are ignored (as QEMU does), and the buffer is counted;
//   - device-writable buffers carry nothing for the device: counted and skipped;
//   - PFNs past `max_pfns` in one chain are not read, only counted (a hostile chain can
//     describe up to 4 GiB, i.e. 2^30 PFNs; Linux sends at most 256 per request).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>

#include "balloon/balloon_spec.hpp"
#include "devices/virtio/queue.hpp"
#include "guestmm/guest_memory.hpp"
#include "guestmm/types.hpp"

namespace tide::balloon {

struct PfnChainSummary {
  uint64_t pfns = 0;                // PFNs handed to the callback
  uint64_t bad_length_buffers = 0;  // readable buffers with 1-3 trailing bytes
  uint64_t writable_buffers = 0;    // device-writable buffers (skipped)
  uint64_t skipped_pfns = 0;        // whole PFNs past max_pfns (not read)
  bool unreadable = false;          // a read failed (cannot happen for a chain the queue checked)
};

// The GFN a balloon PFN names (PFNs are 4 KiB frame numbers, like GFNs).
[[nodiscard]] constexpr gmm::Gfn gfn_of_balloon_pfn(uint32_t pfn) {
  static_assert(VIRTIO_BALLOON_PFN_SHIFT == gmm::kPageShift);
  return gmm::Gfn(pfn);
}

// Calls on_pfn(uint32_t) for each PFN of the chain's readable buffers, in order, up to
// `max_pfns`. Thread: any (reads guest memory only).
template <class OnPfn>
PfnChainSummary for_each_pfn(const gmm::GuestMemory& memory, const dev::DescriptorChain& chain, uint64_t max_pfns,
                             OnPfn&& on_pfn) {
  PfnChainSummary summary;
  summary.writable_buffers = chain.writable.size();
  std::array<uint32_t, 256> chunk;  // x86 hosts: le32 in guest memory is the host's uint32_t
  for (const dev::GuestBuffer& buffer : chain.readable) {
    if (buffer.len % kBalloonPfnBytes != 0) ++summary.bad_length_buffers;
    uint64_t n = buffer.len / kBalloonPfnBytes;
    uint64_t take = std::min(n, max_pfns - summary.pfns);
    summary.skipped_pfns += n - take;
    for (uint64_t done = 0; done < take;) {
      uint64_t k = std::min<uint64_t>(chunk.size(), take - done);
      auto bytes = std::as_writable_bytes(std::span(chunk).first(static_cast<size_t>(k)));
      if (!memory.read(buffer.addr + done * kBalloonPfnBytes, bytes)) {
        summary.unreadable = true;
        return summary;
      }
      for (uint64_t i = 0; i < k; ++i) on_pfn(chunk[i]);
      done += k;
      summary.pfns += k;
    }
  }
  return summary;
}

}  // namespace tide::balloon
