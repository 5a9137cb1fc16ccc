// GuestBalloonBackend: the balloon device's BalloonBackend over a guest's GuestMm — inflate
// releases frames (P2M Ballooned, deferring the unmap to the scrubber when the guest must
// tell the host first), deflate turns Ballooned pages Empty without touching pages the
// guest already took back, reporting releases frames the guest keeps (Reported).
#pragma once

#include "balloon/balloon_backend.hpp"
#include "guestmm/guest_mm.hpp"

namespace tide::vmm {

class GuestBalloonBackend final : public balloon::BalloonBackend {
 public:
  explicit GuestBalloonBackend(gmm::GuestMm& guest) : guest_(guest) {}

  [[nodiscard]] uint64_t ram_pages() const override { return guest_.p2m().nr_pages(); }
  [[nodiscard]] std::optional<uint64_t> page_index(gmm::Gfn gfn) const override { return guest_.p2m().index_of(gfn); }
  [[nodiscard]] std::optional<gmm::Gfn> gfn_at(uint64_t index) const override {
    if (index >= guest_.p2m().nr_pages()) return std::nullopt;
    return guest_.p2m().gfn_at(index);
  }
  [[nodiscard]] Result<uint64_t> inflate(std::span<const gmm::Gfn> gfns, bool guest_keeps_off) override;
  [[nodiscard]] Status deflate(std::span<const gmm::Gfn> gfns) override;
  [[nodiscard]] Result<uint64_t> report(std::span<const balloon::PageRange> ranges) override;

 private:
  gmm::GuestMm& guest_;
};

}  // namespace tide::vmm
