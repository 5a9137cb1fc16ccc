// FakeBalloonBackend: a BalloonBackend over a list of RAM ranges (GFN runs, indexed in
// order, so RAM above a hole continues the index), recording every call and holding its
// own set of ballooned GFNs. It flags what a real memory manager must never see from the
// device: an inflate of a GFN it already holds, a deflate of one it does not hold, a report
// of a ballooned page, a GFN that is not RAM. Failures can be injected per call kind (an
// injected failure changes nothing, the BalloonBackend contract). Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "balloon/balloon_backend.hpp"

namespace tide::balloon::test {

class FakeBalloonBackend final : public BalloonBackend {
 public:
  struct Ram {
    uint64_t first_gfn;
    uint64_t pages;
  };
  struct InflateCall {
    std::vector<uint64_t> gfns;
    bool guest_keeps_off;
  };

  // `ram`: ascending, non-overlapping runs. `knows_gfns`: whether gfn_at() answers (else the
  // device must find GFNs itself on reset).
  explicit FakeBalloonBackend(std::vector<Ram> ram, bool knows_gfns = true)
      : ram_(std::move(ram)), knows_gfns_(knows_gfns) {
    for (const Ram& r : ram_) ram_pages_ += r.pages;
  }

  // --- BalloonBackend.
  [[nodiscard]] uint64_t ram_pages() const override { return ram_pages_; }
  [[nodiscard]] std::optional<uint64_t> page_index(gmm::Gfn gfn) const override {
    uint64_t base = 0;
    for (const Ram& r : ram_) {
      if (gfn.value() >= r.first_gfn && gfn.value() < r.first_gfn + r.pages) return base + (gfn.value() - r.first_gfn);
      base += r.pages;
    }
    return std::nullopt;
  }
  [[nodiscard]] std::optional<gmm::Gfn> gfn_at(uint64_t index) const override {
    if (!knows_gfns_) return std::nullopt;
    for (const Ram& r : ram_) {
      if (index < r.pages) return gmm::Gfn(r.first_gfn + index);
      index -= r.pages;
    }
    return std::nullopt;
  }
  [[nodiscard]] Result<uint64_t> inflate(std::span<const gmm::Gfn> gfns, bool guest_keeps_off) override {
    InflateCall call{{}, guest_keeps_off};
    for (gmm::Gfn g : gfns) call.gfns.push_back(g.value());
    inflates.push_back(call);
    if (fail_inflates > 0) {
      --fail_inflates;
      return make_error(std::errc::io_error, "fake inflate failure");
    }
    for (gmm::Gfn g : gfns) {
      if (!page_index(g)) violation("inflate of a non-RAM GFN " + std::to_string(g.value()));
      if (!ballooned.insert(g.value()).second) violation("inflate of ballooned GFN " + std::to_string(g.value()));
    }
    return frames_per_page ? gfns.size() : 0;
  }
  [[nodiscard]] Status deflate(std::span<const gmm::Gfn> gfns) override {
    std::vector<uint64_t> call;
    for (gmm::Gfn g : gfns) call.push_back(g.value());
    deflates.push_back(call);
    if (fail_deflates > 0) {
      --fail_deflates;
      return make_error(std::errc::io_error, "fake deflate failure");
    }
    for (gmm::Gfn g : gfns) {
      if (ballooned.erase(g.value()) == 0) violation("deflate of GFN " + std::to_string(g.value()) + " not ballooned");
    }
    return ok();
  }
  [[nodiscard]] Result<uint64_t> report(std::span<const PageRange> ranges) override {
    reports.emplace_back(ranges.begin(), ranges.end());
    if (fail_reports > 0) {
      --fail_reports;
      return make_error(std::errc::io_error, "fake report failure");
    }
    uint64_t pages = 0;
    for (const PageRange& r : ranges) {
      for (uint64_t k = 0; k < r.count; ++k) {
        const gmm::Gfn g = r.first + k;
        if (!page_index(g)) violation("report of a non-RAM GFN " + std::to_string(g.value()));
        if (ballooned.count(g.value()) != 0) violation("report of ballooned GFN " + std::to_string(g.value()));
        reported.insert(g.value());
      }
      pages += r.count;
    }
    return pages;
  }

  // Every reported page, in order of ranges, flattened.
  [[nodiscard]] std::vector<uint64_t> reported_gfns(size_t call) const {
    std::vector<uint64_t> out;
    for (const PageRange& r : reports.at(call)) {
      for (uint64_t k = 0; k < r.count; ++k) out.push_back(r.first.value() + k);
    }
    return out;
  }

  // --- Records and knobs (public: tests read and set them directly).
  std::set<uint64_t> ballooned;  // GFNs the backend holds ballooned now
  std::set<uint64_t> reported;   // GFNs ever reported
  std::vector<InflateCall> inflates;
  std::vector<std::vector<uint64_t>> deflates;
  std::vector<std::vector<PageRange>> reports;
  std::vector<std::string> violations;
  int fail_inflates = 0;  // fail the next N calls of each kind
  int fail_deflates = 0;
  int fail_reports = 0;
  bool frames_per_page = true;  // inflate answers one frame released per page

 private:
  void violation(std::string what) { violations.push_back(std::move(what)); }

  std::vector<Ram> ram_;
  uint64_t ram_pages_ = 0;
  bool knows_gfns_;
};

}  // namespace tide::balloon::test
