// BalloonBackend: what the virtio-balloon device asks of the memory manager (GuestMm in
// tide; a fake in tests). The device has already validated, de-duplicated and accounted
// every page it passes (see BalloonDevice); the backend only moves memory.
// Errors: the device takes an error to mean the call changed nothing. After a failed
// inflate the pages stay out of its balloon (it may pass them to inflate again later);
// after a failed deflate they stay in it (a later deflate or the reset passes them again).
// A backend that can fail part-way must make both repeats harmless: an inflate of a page it
// already ballooned, and a deflate of a page it already made Empty, are no-ops.
// Threads: the device calls in with its own lock held, from the queue handler (the VMM
// event thread or a vCPU) and from reset (a vCPU or the control thread); never concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "guestmm/base/error.hpp"
#include "guestmm/types.hpp"

namespace tide::balloon {

struct PageRange {
  gmm::Gfn first;
  uint64_t count = 0;
};

class BalloonBackend {
 public:
  virtual ~BalloonBackend() = default;

  // The guest's RAM: how many pages, and each RAM GFN's index in [0, ram_pages()) (for the
  // device's bitmap of ballooned pages); nullopt for a GFN that is not RAM.
  [[nodiscard]] virtual uint64_t ram_pages() const = 0;
  [[nodiscard]] virtual std::optional<uint64_t> page_index(gmm::Gfn gfn) const = 0;
  // The inverse of page_index(): the GFN of RAM page `index`. The device needs it only on
  // reset, to give back every ballooned page. nullopt (the default) means the backend
  // cannot tell; the device then finds the GFNs by walking the guest's RAM regions.
  [[nodiscard]] virtual std::optional<gmm::Gfn> gfn_at(uint64_t index) const {
    (void)index;
    return std::nullopt;
  }

  // Inflate: the pages go to the balloon (P2M Ballooned); their frames go back to the pool.
  // `guest_keeps_off`: VIRTIO_BALLOON_F_MUST_TELL_HOST was negotiated, the guest will not
  // touch them before deflating them. Returns how many frames were released.
  [[nodiscard]] virtual Result<uint64_t> inflate(std::span<const gmm::Gfn> gfns, bool guest_keeps_off) = 0;
  // Deflate: Ballooned pages become Empty (the next touch brings a zeroed frame). A page the
  // guest touched meanwhile (it has a frame again) is left as it is.
  [[nodiscard]] virtual Status deflate(std::span<const gmm::Gfn> gfns) = 0;
  // Free page reporting: the frames of these ranges go back to the pool; the pages stay the
  // guest's (Reported) and it may use them again at any time. Returns frames released.
  [[nodiscard]] virtual Result<uint64_t> report(std::span<const PageRange> ranges) = 0;
};

}  // namespace tide::balloon
