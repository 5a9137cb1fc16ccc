// Free page reporting (virtio-v1.2 §5.5.6.5; Linux virtballoon_free_page_report): each
// device-writable buffer of a reporting_vq chain names a run of free guest pages
// (addr, len). The device checks each buffer (4 KiB aligned and non-empty, wholly RAM) and
// each page (not in the balloon, not twice in the chain), hands the good runs to the
// backend in one call and returns the chain with 0 bytes written, as QEMU does. Reported
// pages stay the guest's, so the bitmap does not change. Runs with the device lock held.
#include <algorithm>
#include <optional>

#include "balloon/balloon_device_impl.hpp"
#include "guestmm/base/log.hpp"

namespace tide::balloon {

void BalloonDevice::Impl::report(const dev::DescriptorChain& chain) {
  CounterSet::add(counters.live.report_requests, 1);
  if (!chain.readable.empty()) {
    counters.fault(BalloonFault::kReportReadable, chain.readable.size(), "device-readable buffer on reporting_vq");
  }
  ranges.clear();
  uint64_t budget = options.max_report_pages_per_request;
  uint64_t pages = 0;
  uint64_t misaligned = 0, outside = 0, ballooned = 0, duplicates = 0, too_many = 0;
  for (const dev::GuestBuffer& buffer : chain.writable) {
    if (buffer.len == 0 || !gmm::page_aligned(buffer.addr.value()) || !gmm::page_aligned(buffer.len)) {
      ++misaligned;
      continue;
    }
    const gmm::Gfn first = gmm::gfn_of(buffer.addr);
    const uint64_t count = buffer.len >> gmm::kPageShift;
    if (count > budget) {
      too_many += count;
      continue;
    }
    // Wholly RAM in the backend's view (the queue checked it lies in one memory region).
    bool ram = true;
    for (uint64_t k = 0; k < count && ram; ++k) {
      const std::optional<uint64_t> index = backend.page_index(first + k);
      ram = index && *index < ram_pages;
    }
    if (!ram) {
      ++outside;
      continue;
    }
    budget -= count;
    // Split the run around pages that must not be reported.
    std::optional<PageRange> run;
    auto close = [&] {
      if (run) ranges.push_back(*run);
      run.reset();
    };
    for (uint64_t k = 0; k < count; ++k) {
      const uint64_t index = *backend.page_index(first + k);
      if (balloon.test(index)) {
        ++ballooned;
        close();
      } else if (!mark_seen(index)) {
        ++duplicates;
        close();
      } else if (run) {
        ++run->count;
      } else {
        run = PageRange{first + k, 1};
      }
    }
    close();
  }
  forget_seen();
  for (const PageRange& r : ranges) pages += r.count;

  if (misaligned != 0) {
    counters.fault(BalloonFault::kReportMisaligned, misaligned, "report buffer empty or not 4 KiB aligned");
  }
  if (outside != 0) counters.fault(BalloonFault::kReportOutsideRam, outside, "report buffer not wholly guest RAM");
  if (ballooned != 0) counters.fault(BalloonFault::kReportBallooned, ballooned, "reported page is in the balloon");
  if (duplicates != 0) counters.fault(BalloonFault::kReportDuplicate, duplicates, "page reported twice in one chain");
  if (too_many != 0) {
    counters.fault(BalloonFault::kRequestTooLarge, too_many,
                   log::strf("report chain past the device's bound of %llu pages",
                             static_cast<unsigned long long>(options.max_report_pages_per_request)));
  }
  if (ranges.empty()) return;

  const Result<uint64_t> released = backend.report(ranges);
  if (!released) {
    counters.fault(BalloonFault::kBackendError, pages, "report: " + released.error().message());
    return;
  }
  CounterSet::add(counters.live.reported_pages, pages);
  CounterSet::add(counters.live.frames_released, *released);
}

}  // namespace tide::balloon
