#include "vmm/machine/guest_balloon_backend.hpp"

#include <vector>

namespace tide::vmm {

Result<uint64_t> GuestBalloonBackend::inflate(std::span<const gmm::Gfn> gfns, bool guest_keeps_off) {
  gmm::ReleaseOptions o;
  o.guest_keeps_off = guest_keeps_off;
  TIDE_TRY_ASSIGN(r, guest_.release(gfns, gmm::PageState::ballooned, o));
  return r.released;
}

Status GuestBalloonBackend::deflate(std::span<const gmm::Gfn> gfns) {
  gmm::ReleaseOptions o;
  o.only_frameless = true;
  TIDE_TRY(guest_.release(gfns, gmm::PageState::empty, o));
  return ok();
}

Result<uint64_t> GuestBalloonBackend::report(std::span<const balloon::PageRange> ranges) {
  // The guest may reuse reported pages as soon as the report completes, without telling
  // us: their PTEs go now (the default), never with the scrubber.
  std::vector<gmm::Gfn> gfns;
  for (const balloon::PageRange& r : ranges) {
    for (uint64_t k = 0; k < r.count; ++k) gfns.push_back(r.first + k);
  }
  TIDE_TRY_ASSIGN(r, guest_.release(gfns, gmm::PageState::reported));
  return r.released;
}

}  // namespace tide::vmm
