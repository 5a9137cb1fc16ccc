// Inflate and deflate requests (virtio-v1.2 §5.5.6.1-2): each PFN of the chain is checked
// against the guest's RAM, the request itself (duplicates) and the balloon bitmap; the
// accepted pages go to the backend in one call, and the bitmap changes only if the backend
// succeeded (BalloonBackend: an error changed nothing). Runs with the device lock held.
#include <array>
#include <optional>

#include "balloon/balloon_device_impl.hpp"
#include "balloon/pfn_parser.hpp"
#include "guestmm/base/log.hpp"

namespace tide::balloon {
namespace {

// What went wrong with the PFNs of one request: counts per fault and the first PFN of each
// (for the log line the first such fault gets).
struct PfnFaults {
  static constexpr size_t kOutside = 0, kDuplicate = 1, kState = 2, kKinds = 3;
  std::array<uint64_t, kKinds> count{};
  std::array<uint32_t, kKinds> first{};
  void add(size_t kind, uint32_t pfn) {
    if (count[kind]++ == 0) first[kind] = pfn;
  }
};

void count_faults(CounterSet& counters, bool inflate, const PfnChainSummary& summary, const PfnFaults& faults) {
  const char* name = inflate ? "inflate" : "deflate";
  const std::array<BalloonFault, PfnFaults::kKinds> kinds{
      BalloonFault::kPfnOutsideRam, BalloonFault::kPfnDuplicate,
      inflate ? BalloonFault::kPfnAlreadyBallooned : BalloonFault::kPfnNotBallooned};
  const std::array<const char*, PfnFaults::kKinds> what{"is not guest RAM", "appears twice in one request",
                                                        inflate ? "is already in the balloon" : "is not in the balloon"};
  for (size_t k = 0; k < PfnFaults::kKinds; ++k) {
    if (faults.count[k] == 0) continue;
    counters.fault(kinds[k], faults.count[k], log::strf("%s PFN 0x%x %s", name, faults.first[k], what[k]));
  }
  if (summary.bad_length_buffers != 0) {
    counters.fault(BalloonFault::kBadBufferLength, summary.bad_length_buffers,
                   log::strf("%s buffer length not a multiple of 4", name));
  }
  if (summary.writable_buffers != 0) {
    counters.fault(BalloonFault::kUnexpectedWritable, summary.writable_buffers,
                   log::strf("device-writable buffer on the %s queue", name));
  }
  if (summary.skipped_pfns != 0) {
    counters.fault(BalloonFault::kRequestTooLarge, summary.skipped_pfns,
                   log::strf("%s request with %llu PFNs past the device's bound", name,
                             static_cast<unsigned long long>(summary.skipped_pfns)));
  }
}

}  // namespace

void BalloonDevice::Impl::collect_pages(const dev::DescriptorChain& chain, bool inflating) {
  gfns.clear();
  indices.clear();
  PfnFaults faults;
  const PfnChainSummary summary =
      for_each_pfn(*activation.memory, chain, options.max_pfns_per_request, [&](uint32_t pfn) {
        const gmm::Gfn gfn = gfn_of_balloon_pfn(pfn);
        const std::optional<uint64_t> index = backend.page_index(gfn);
        if (!index || *index >= ram_pages) return faults.add(PfnFaults::kOutside, pfn);
        if (!mark_seen(*index)) return faults.add(PfnFaults::kDuplicate, pfn);
        if (balloon.test(*index) == inflating) return faults.add(PfnFaults::kState, pfn);
        gfns.push_back(gfn);
        indices.push_back(*index);
      });
  forget_seen();
  count_faults(counters, inflating, summary, faults);
}

void BalloonDevice::Impl::inflate(const dev::DescriptorChain& chain) {
  const uint64_t start_ns = options.clock();
  const uint64_t start_cpu_ns = options.cpu_clock();
  CounterSet::add(counters.live.inflate_requests, 1);
  collect_pages(chain, true);
  sync_accounting();
  if (gfns.empty()) return;

  const Result<uint64_t> released = backend.inflate(gfns, negotiated(VIRTIO_BALLOON_F_MUST_TELL_HOST));
  if (!released) {
    // The pages stay out of the bitmap: the backend holds none of them.
    counters.fault(BalloonFault::kBackendError, gfns.size(), "inflate: " + released.error().message());
    return;
  }
  const uint64_t pages = gfns.size();
  const uint64_t size_before = balloon.count();
  for (uint64_t index : indices) balloon.set(index);
  const InflateSplit split = accounting.on_inflate(pages, size_before, target_pages);
  CounterSet::Live& live = counters.live;
  CounterSet::add(live.inflated_pages, pages);
  CounterSet::add(live.unrequested_inflated_pages, split.unrequested);
  CounterSet::add(live.frames_released, *released);
  const uint64_t end_ns = options.clock();
  CounterSet::add(live.inflate_ns, end_ns >= start_ns ? end_ns - start_ns : 0);
  CounterSet::add(live.inflate_timed_pages, pages);
  const uint64_t end_cpu_ns = options.cpu_clock();
  CounterSet::add(live.inflate_cpu_ns, end_cpu_ns >= start_cpu_ns ? end_cpu_ns - start_cpu_ns : 0);
}

void BalloonDevice::Impl::deflate(const dev::DescriptorChain& chain) {
  CounterSet::add(counters.live.deflate_requests, 1);
  collect_pages(chain, false);
  sync_accounting();
  if (gfns.empty()) return;

  if (Status st = backend.deflate(gfns); !st) {
    // The guest takes the pages back whatever the host answers. They stay in the bitmap,
    // as the backend still holds them ballooned; a later deflate or the reset retries.
    counters.fault(BalloonFault::kBackendError, gfns.size(), "deflate: " + st.error().message());
    return;
  }
  const uint64_t pages = gfns.size();
  const uint64_t size_before = balloon.count();
  for (uint64_t index : indices) balloon.clear(index);
  const DeflateSplit split =
      accounting.on_deflate(pages, size_before, target_pages, negotiated(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
  CounterSet::Live& live = counters.live;
  CounterSet::add(live.deflated_pages, pages);
  CounterSet::add(live.migrated_pages, split.migrated);
  CounterSet::add(live.oom_deflated_pages, split.oom);
  CounterSet::add(live.unrequested_deflated_pages, split.unrequested);
}

}  // namespace tide::balloon
