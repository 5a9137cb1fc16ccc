// Hostile mode: `balloon hostile` sends, one kind after another, the bad requests a
// malicious guest could send, reports what the device did with each, and checks that the
// balloon still works afterwards. Rules it keeps so that the guest itself stays intact:
//   - an inflate request names only pages that really are in the balloon, or frames that
//     are not RAM (an inflated page's contents are gone);
//   - a deflate request may name pages the guest uses (a device must ignore those; for
//     QEMU a deflate is only a hint) but never a ballooned page behind the driver's back;
//   - buffers the device may write are scratch pages of this mode, or free pages it owns;
//   - a kind that leaves the device in NEEDS_RESET (or holding a request past the
//     timeout) is followed by a device reset and re-initialization (VirtioBalloon::
//     recover), which returns the balloon's pages; the target is then followed anew.
// README.md lists the kinds and the output.
#include "arch/x86.hpp"
#include "dev/clock.hpp"
#include "lib/format.hpp"
#include "lib/string.hpp"
#include "mm/buddy.hpp"
#include "mm/phys_map.hpp"
#include "virtio/virtio_balloon.hpp"

extern "C" char __kernel_start[];

namespace tg::virtio {
namespace {

constexpr uint64_t kHostileTimeoutNs = 1'000'000'000;
constexpr uint64_t kStatsReturnTimeoutNs = 2'000'000'000;
constexpr uint32_t kOutsidePfnHigh = 0xfffffff0;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint32_t kSelfTestPages = 16;
// Layout of the hostile buffers (two pages): page 0 holds PFN lists and stats entries,
// page 1 (and on, for long tables) indirect descriptor tables.
constexpr uint64_t kListA = 0;
constexpr uint64_t kListB = 1024;
constexpr uint64_t kStatsBuffer = 2048;
constexpr uint64_t kTablePage = 4096;

}  // namespace

class BalloonHostile {
 public:
  explicit BalloonHostile(VirtioBalloon& b) : b_(b) {}
  bool run(lib::Text selection, const char** error);

 private:
  using Queue = VirtioBalloon::Queue;
  struct Result {
    uint32_t sent = 0;
    uint32_t returned = 0;
    bool broken = false;    // NEEDS_RESET afterwards
    bool stuck = false;     // a request not returned within the timeout
    const char* skipped = nullptr;
    const char* note = nullptr;
  };
  using KindFn = void (BalloonHostile::*)(Result*);
  struct Kind {
    const char* name;
    bool qemu_safe;  // QEMU 7.2's device survives it (measured; see README.md)
    KindFn fn;
  };
  static const Kind kKinds[];

  uint64_t buffers() const { return b_.hostile_pages_; }
  uint32_t* list(uint64_t offset) const { return reinterpret_cast<uint32_t*>(buffers() + offset); }
  virtq_desc* table() const { return reinterpret_cast<virtq_desc*>(buffers() + kTablePage); }
  // A guest-physical address that is neither RAM nor (as far as the guest knows) a device:
  // 1 GiB above both the end of RAM and 4 GiB, 1 GiB aligned.
  uint64_t outside_address() const;
  // A frame in the 3-4 GiB hole that is not RAM (the outside frame if the hole has RAM).
  uint32_t hole_pfn() const;
  static virtq_desc desc(uint64_t address, uint32_t length, uint16_t flags = 0, uint16_t next = 0) {
    return virtq_desc{address, length, flags, next};
  }
  // Publishes one chain on `role` as given and waits for it.
  void send(Queue role, const virtq_desc* chain, size_t count, Result* r);
  // One page into / out of the balloon through the normal protocol.
  bool legit_inflate_one(uint64_t* pfn);
  void legit_deflate_one(uint64_t pfn);
  bool self_test();

  void pfn_outside_ram(Result* r);
  void duplicate_pfn(Result* r);
  void inflate_twice(Result* r);
  void deflate_unballooned(Result* r);
  void len_not_multiple_of_4(Result* r);
  void writable_inflate_buffer(Result* r);
  void buffer_outside_ram(Result* r);
  void indirect_table(Result* r);
  void report_misaligned(Result* r);
  void report_outside_ram(Result* r);
  void report_ballooned(Result* r);
  void report_readable(Result* r);
  void stats_bad(Result* r);
  void config_num_pages(Result* r);
  void chain_too_long(Result* r);
  void loop_chain(Result* r);
  void next_out_of_range(Result* r);
  void zero_length(Result* r);
  void report_outside_ram_large(Result* r);
  void avail_index_jump(Result* r);

  VirtioBalloon& b_;
};

// Order: the kinds QEMU survives first, then those after which QEMU's device needs a reset.
const BalloonHostile::Kind BalloonHostile::kKinds[] = {
    {"pfn-outside-ram", true, &BalloonHostile::pfn_outside_ram},
    {"duplicate-pfn", true, &BalloonHostile::duplicate_pfn},
    {"inflate-twice", true, &BalloonHostile::inflate_twice},
    {"deflate-unballooned", true, &BalloonHostile::deflate_unballooned},
    {"len-not-multiple-of-4", true, &BalloonHostile::len_not_multiple_of_4},
    {"writable-inflate-buffer", true, &BalloonHostile::writable_inflate_buffer},
    {"buffer-outside-ram", true, &BalloonHostile::buffer_outside_ram},
    {"indirect-table", true, &BalloonHostile::indirect_table},
    {"report-misaligned", true, &BalloonHostile::report_misaligned},
    {"report-outside-ram", true, &BalloonHostile::report_outside_ram},
    {"report-ballooned", true, &BalloonHostile::report_ballooned},
    {"report-readable", true, &BalloonHostile::report_readable},
    {"stats-bad", true, &BalloonHostile::stats_bad},
    {"config-num-pages", true, &BalloonHostile::config_num_pages},
    {"chain-too-long", true, &BalloonHostile::chain_too_long},
    {"loop-chain", false, &BalloonHostile::loop_chain},
    {"next-out-of-range", false, &BalloonHostile::next_out_of_range},
    {"zero-length", false, &BalloonHostile::zero_length},
    {"report-outside-ram-large", false, &BalloonHostile::report_outside_ram_large},
    {"avail-index-jump", false, &BalloonHostile::avail_index_jump},
};

uint64_t BalloonHostile::outside_address() const {
  const mm::PhysMap& map = mm::phys_map();
  uint64_t top = 4 * kGiB;
  for (size_t i = 0; i < map.ram_count(); ++i) {
    if (map.ram(i).end > top) top = map.ram(i).end;
  }
  return ((top + kGiB - 1) & ~(kGiB - 1)) + kGiB;
}

uint32_t BalloonHostile::hole_pfn() const {
  constexpr uint64_t kHoleAddress = 0xd0000000;
  if (!mm::phys_map().overlaps_ram(kHoleAddress, kHoleAddress + mm::kPageSize))
    return static_cast<uint32_t>(kHoleAddress >> mm::kPageShift);
  return static_cast<uint32_t>(outside_address() >> mm::kPageShift);
}

void BalloonHostile::send(Queue role, const virtq_desc* chain, size_t count, Result* r) {
  if (!b_.ready_ || b_.queue_index_[role] == VirtioBalloon::kNoQueue) return;
  Virtqueue& q = b_.queues_[role];
  const int head = q.submit_raw(chain, count);
  if (head < 0) {
    r->note = "queue-full";
    return;
  }
  b_.notify(role);
  ++r->sent;
  if (b_.wait_used(role, head, kHostileTimeoutNs)) ++r->returned;
  else r->stuck = true;
  if (b_.transport_.status() & VIRTIO_CONFIG_S_NEEDS_RESET) r->broken = true;
}

bool BalloonHostile::legit_inflate_one(uint64_t* pfn) {
  if (!b_.ready_) return false;
  const uint64_t page = mm::alloc_pages(0);
  if (page == 0) return false;
  *pfn = page >> mm::kPageShift;
  if (*pfn > 0xffffffffull || !b_.pages_.set(*pfn)) {
    mm::free_pages(page, 0);
    return false;
  }
  reinterpret_cast<uint32_t*>(b_.pfn_page_)[0] = static_cast<uint32_t>(*pfn);
  if (!b_.tell_host(VirtioBalloon::kInflate, 1)) return false;  // recovered: page returned
  ++b_.counters_.inflated;
  b_.write_actual();
  return true;
}

void BalloonHostile::legit_deflate_one(uint64_t pfn) {
  // After a reset the page was already given back with the rest of the balloon.
  if (!b_.ready_ || !b_.pages_.test(pfn)) return;
  reinterpret_cast<uint32_t*>(b_.pfn_page_)[0] = static_cast<uint32_t>(pfn);
  if (!b_.tell_host(VirtioBalloon::kDeflate, 1)) return;
  b_.pages_.clear(pfn);
  mm::free_pages(pfn << mm::kPageShift, 0);
  ++b_.counters_.deflated;
  b_.write_actual();
}

void BalloonHostile::pfn_outside_ram(Result* r) {
  uint32_t* pfns = list(kListA);
  pfns[0] = kOutsidePfnHigh;
  pfns[1] = hole_pfn();
  pfns[2] = static_cast<uint32_t>(outside_address() >> mm::kPageShift);
  pfns[3] = static_cast<uint32_t>(b_.pages_.limit());  // the first frame past RAM
  const virtq_desc d = desc(buffers() + kListA, 16);
  send(VirtioBalloon::kInflate, &d, 1, r);
  send(VirtioBalloon::kDeflate, &d, 1, r);
}

void BalloonHostile::duplicate_pfn(Result* r) {
  // A new page whose first inflate names it three times, then a deflate naming it twice.
  const uint64_t page = mm::alloc_pages(0);
  if (page == 0 || !b_.pages_.set(page >> mm::kPageShift)) {
    if (page != 0) mm::free_pages(page, 0);
    r->skipped = "no-memory";
    return;
  }
  const uint64_t pfn = page >> mm::kPageShift;
  uint32_t* pfns = list(kListA);
  for (int i = 0; i < 3; ++i) pfns[i] = static_cast<uint32_t>(pfn);
  const virtq_desc d = desc(buffers() + kListA, 12);
  send(VirtioBalloon::kInflate, &d, 1, r);
  if (r->broken || r->stuck) return;  // recover() returns the page with the balloon
  ++b_.counters_.inflated;
  b_.write_actual();
  const virtq_desc d2 = desc(buffers() + kListA, 8);
  send(VirtioBalloon::kDeflate, &d2, 1, r);
  if (r->broken || r->stuck) return;
  b_.pages_.clear(pfn);
  mm::free_pages(page, 0);
  ++b_.counters_.deflated;
  b_.write_actual();
}

void BalloonHostile::inflate_twice(Result* r) {
  uint64_t pfn = 0;
  if (!legit_inflate_one(&pfn)) {
    r->skipped = "no-memory";
    return;
  }
  list(kListA)[0] = static_cast<uint32_t>(pfn);
  const virtq_desc d = desc(buffers() + kListA, 4);
  send(VirtioBalloon::kInflate, &d, 1, r);
  legit_deflate_one(pfn);
}

void BalloonHostile::deflate_unballooned(Result* r) {
  // Pages in use: kernel code, this mode's buffers, the stats buffer, the PFN array.
  uint32_t* pfns = list(kListA);
  pfns[0] = static_cast<uint32_t>(reinterpret_cast<uint64_t>(__kernel_start) >> mm::kPageShift);
  pfns[1] = static_cast<uint32_t>(buffers() >> mm::kPageShift);
  pfns[2] = static_cast<uint32_t>(b_.stats_page_ >> mm::kPageShift);
  pfns[3] = static_cast<uint32_t>(b_.pfn_page_ >> mm::kPageShift);
  const virtq_desc d = desc(buffers() + kListA, 16);
  send(VirtioBalloon::kDeflate, &d, 1, r);
}

void BalloonHostile::len_not_multiple_of_4(Result* r) {
  uint64_t pfn = 0;
  if (!legit_inflate_one(&pfn)) {
    r->skipped = "no-memory";
    return;
  }
  uint32_t* pfns = list(kListA);
  pfns[0] = static_cast<uint32_t>(pfn);
  pfns[1] = static_cast<uint32_t>(pfn);
  pfns[2] = static_cast<uint32_t>(pfn);
  const virtq_desc d = desc(buffers() + kListA, 10);  // two PFNs and half of a third
  send(VirtioBalloon::kInflate, &d, 1, r);
  legit_deflate_one(pfn);
}

void BalloonHostile::writable_inflate_buffer(Result* r) {
  uint64_t pfn = 0;
  if (!legit_inflate_one(&pfn)) {
    r->skipped = "no-memory";
    return;
  }
  list(kListA)[0] = static_cast<uint32_t>(pfn);
  const virtq_desc d = desc(buffers() + kListA, 4, VIRTQ_DESC_F_WRITE);
  send(VirtioBalloon::kInflate, &d, 1, r);
  legit_deflate_one(pfn);
}

void BalloonHostile::buffer_outside_ram(Result* r) {
  // On deflateq: whatever the device reads there is at worst a deflate hint.
  const virtq_desc d = desc(outside_address(), 8);
  send(VirtioBalloon::kDeflate, &d, 1, r);
}

void BalloonHostile::indirect_table(Result* r) {
  if (!(b_.transport_.offered_features() & (1ull << VIRTIO_F_INDIRECT_DESC))) {
    r->skipped = "indirect-not-offered";
    return;
  }
  uint64_t pfn = 0;
  if (!legit_inflate_one(&pfn)) {
    r->skipped = "no-memory";
    return;
  }
  // VIRTIO_F_INDIRECT_DESC is offered but never negotiated here: using it is the offence.
  list(kListA)[0] = static_cast<uint32_t>(pfn);
  list(kListB)[0] = static_cast<uint32_t>(pfn);
  virtq_desc* t = table();
  t[0] = desc(buffers() + kListA, 4, VIRTQ_DESC_F_NEXT, 1);
  t[1] = desc(buffers() + kListB, 4);
  const virtq_desc d = desc(buffers() + kTablePage, 2 * sizeof(virtq_desc), VIRTQ_DESC_F_INDIRECT);
  send(VirtioBalloon::kInflate, &d, 1, r);
  r->note = "not-negotiated";
  legit_deflate_one(pfn);
}

void BalloonHostile::chain_too_long(Result* r) {
  Virtqueue& q = b_.queues_[VirtioBalloon::kInflate];
  list(kListA)[0] = kOutsidePfnHigh;
  const size_t length = q.size() + 1u;
  if ((b_.transport_.offered_features() & (1ull << VIRTIO_F_INDIRECT_DESC)) &&
      length * sizeof(virtq_desc) <= mm::kPageSize) {
    // One descriptor more than the queue size, in an indirect table.
    virtq_desc* t = table();
    for (size_t i = 0; i < length; ++i)
      t[i] = desc(buffers() + kListA, 4, i + 1 < length ? VIRTQ_DESC_F_NEXT : 0, static_cast<uint16_t>(i + 1));
    const virtq_desc d = desc(buffers() + kTablePage, static_cast<uint32_t>(length * sizeof(virtq_desc)),
                              VIRTQ_DESC_F_INDIRECT);
    send(VirtioBalloon::kInflate, &d, 1, r);
    r->note = "indirect";
    return;
  }
  // Without indirect tables: every descriptor of the ring, the last pointing back to the
  // first, so the walk passes the queue size.
  if (q.free_descriptors() != q.size()) {
    r->skipped = "queue-busy";
    return;
  }
  virtq_desc chain[Virtqueue::kMaxSize];
  for (size_t i = 0; i < q.size(); ++i)
    chain[i] = desc(buffers() + kListA, 4, VIRTQ_DESC_F_NEXT, static_cast<uint16_t>((i + 1) % q.size()));
  send(VirtioBalloon::kInflate, chain, q.size(), r);
  r->note = "direct-wraps";
}

void BalloonHostile::loop_chain(Result* r) {
  list(kListA)[0] = kOutsidePfnHigh;
  const virtq_desc chain[2] = {desc(buffers() + kListA, 4, VIRTQ_DESC_F_NEXT, 1),
                               desc(buffers() + kListA, 4, VIRTQ_DESC_F_NEXT, 0)};
  send(VirtioBalloon::kInflate, chain, 2, r);
}

void BalloonHostile::next_out_of_range(Result* r) {
  list(kListA)[0] = kOutsidePfnHigh;
  const virtq_desc d = desc(buffers() + kListA, 4, VIRTQ_DESC_F_NEXT, 0xffff);
  send(VirtioBalloon::kInflate, &d, 1, r);
}

void BalloonHostile::zero_length(Result* r) {
  const virtq_desc d = desc(buffers() + kListA, 0);
  send(VirtioBalloon::kInflate, &d, 1, r);
}

void BalloonHostile::report_misaligned(Result* r) {
  if (b_.queue_index_[VirtioBalloon::kReporting] == VirtioBalloon::kNoQueue) {
    r->skipped = "reporting-not-negotiated";
    return;
  }
  // A page of our own: whatever the device discards there is ours to lose.
  const uint64_t page = mm::alloc_pages(0);
  if (page == 0) {
    r->skipped = "no-memory";
    return;
  }
  const virtq_desc d = desc(page + 512, 1024, VIRTQ_DESC_F_WRITE);
  send(VirtioBalloon::kReporting, &d, 1, r);
  // After a reset the device holds nothing, so the page is ours again either way.
  mm::free_pages(page, 0);
}

void BalloonHostile::report_outside_ram(Result* r) {
  if (b_.queue_index_[VirtioBalloon::kReporting] == VirtioBalloon::kNoQueue) {
    r->skipped = "reporting-not-negotiated";
    return;
  }
  const virtq_desc d = desc(outside_address(), static_cast<uint32_t>(mm::kPageSize), VIRTQ_DESC_F_WRITE);
  send(VirtioBalloon::kReporting, &d, 1, r);
}

void BalloonHostile::report_outside_ram_large(Result* r) {
  if (b_.queue_index_[VirtioBalloon::kReporting] == VirtioBalloon::kNoQueue) {
    r->skipped = "reporting-not-negotiated";
    return;
  }
  const virtq_desc d = desc(outside_address(), static_cast<uint32_t>(mm::kPageSize << VirtioBalloon::kReportOrder),
                            VIRTQ_DESC_F_WRITE);
  send(VirtioBalloon::kReporting, &d, 1, r);
}

void BalloonHostile::report_ballooned(Result* r) {
  if (b_.queue_index_[VirtioBalloon::kReporting] == VirtioBalloon::kNoQueue) {
    r->skipped = "reporting-not-negotiated";
    return;
  }
  uint64_t pfn = 0;
  if (!legit_inflate_one(&pfn)) {
    r->skipped = "no-memory";
    return;
  }
  const virtq_desc d = desc(pfn << mm::kPageShift, static_cast<uint32_t>(mm::kPageSize), VIRTQ_DESC_F_WRITE);
  send(VirtioBalloon::kReporting, &d, 1, r);
  legit_deflate_one(pfn);
}

void BalloonHostile::report_readable(Result* r) {
  if (b_.queue_index_[VirtioBalloon::kReporting] == VirtioBalloon::kNoQueue) {
    r->skipped = "reporting-not-negotiated";
    return;
  }
  const uint64_t page = mm::alloc_pages(0);
  if (page == 0) {
    r->skipped = "no-memory";
    return;
  }
  const virtq_desc d = desc(page, static_cast<uint32_t>(mm::kPageSize));
  send(VirtioBalloon::kReporting, &d, 1, r);
  mm::free_pages(page, 0);
}

void BalloonHostile::stats_bad(Result* r) {
  if (b_.queue_index_[VirtioBalloon::kStats] == VirtioBalloon::kNoQueue) {
    r->skipped = "stats-not-negotiated";
    return;
  }
  if (b_.hostile_stats_head_ != ~0ull) {
    r->skipped = "previous-still-held";
    return;
  }
  // Three whole entries with tags the spec does not define, then half an entry.
  auto* bytes = reinterpret_cast<uint8_t*>(buffers() + kStatsBuffer);
  auto* stats = reinterpret_cast<virtio_balloon_stat*>(bytes);
  stats[0] = virtio_balloon_stat{0x7f00, 1};
  stats[1] = virtio_balloon_stat{0xffff, 2};
  stats[2] = virtio_balloon_stat{VIRTIO_BALLOON_S_NR, 3};
  stats[3] = virtio_balloon_stat{VIRTIO_BALLOON_S_MEMFREE, 0};
  const uint32_t length = 3 * sizeof(virtio_balloon_stat) + 5;
  Virtqueue& q = b_.queues_[VirtioBalloon::kStats];
  const virtq_desc d = desc(buffers() + kStatsBuffer, length);
  const int head = q.submit_raw(&d, 1);
  if (head < 0) {
    r->note = "queue-full";
    return;
  }
  b_.hostile_stats_head_ = static_cast<uint64_t>(head);
  b_.notify(VirtioBalloon::kStats);
  ++r->sent;
  // A device holds one stats buffer: a second one makes it return the first (ours, which
  // poll_stats refills and re-adds), and that in turn returns this one.
  const uint64_t deadline = dev::now_ns() + kStatsReturnTimeoutNs;
  while (b_.hostile_stats_head_ != ~0ull && dev::now_ns() < deadline) {
    b_.poll_stats();
    for (int i = 0; i < 64; ++i) arch::pause();
  }
  if (b_.hostile_stats_head_ == ~0ull) ++r->returned;
  else r->note = "held-by-device";  // not an error: the device may keep the newest buffer
  if (b_.transport_.status() & VIRTIO_CONFIG_S_NEEDS_RESET) r->broken = true;
}

void BalloonHostile::config_num_pages(Result* r) {
  const uint64_t config = b_.transport_.device_config();
  auto* num_pages = reinterpret_cast<volatile uint32_t*>(config + VIRTIO_BALLOON_CONFIG_NUM_PAGES);
  const uint32_t before = *num_pages;
  *num_pages = before + 12345;
  ++r->sent;
  const uint32_t after = *num_pages;
  b_.write_actual();  // whatever the device made of it, actual is ours
  r->returned = after == before ? 1 : 0;
  r->note = after == before ? "ignored" : "num-pages-changed";
  if (b_.transport_.status() & VIRTIO_CONFIG_S_NEEDS_RESET) r->broken = true;
}

void BalloonHostile::avail_index_jump(Result* r) {
  Virtqueue& q = b_.queues_[VirtioBalloon::kInflate];
  q.bump_avail_index(static_cast<uint16_t>(q.size() + 1));
  b_.notify(VirtioBalloon::kInflate);
  ++r->sent;
  const uint64_t deadline = dev::now_ns() + kHostileTimeoutNs / 10;
  while (!(b_.transport_.status() & VIRTIO_CONFIG_S_NEEDS_RESET) && dev::now_ns() < deadline) {
    for (int i = 0; i < 1024; ++i) arch::pause();
  }
  r->broken = (b_.transport_.status() & VIRTIO_CONFIG_S_NEEDS_RESET) != 0;
  // The ring is inconsistent from here on, whatever the device says: reset it.
  if (!r->broken) r->stuck = true;
}

bool BalloonHostile::self_test() {
  if (!b_.ready_) return false;
  // A small inflate and deflate through the normal protocol, neither needing a reset.
  const uint64_t resets = b_.counters_.resets;
  uint64_t pfns[kSelfTestPages];
  uint32_t n = 0;
  for (; n < kSelfTestPages; ++n) {
    const uint64_t page = mm::alloc_pages(0);
    if (page == 0) break;
    if (!b_.pages_.set(page >> mm::kPageShift)) {
      mm::free_pages(page, 0);
      break;
    }
    pfns[n] = page >> mm::kPageShift;
  }
  if (n == 0) return false;
  auto* list32 = reinterpret_cast<uint32_t*>(b_.pfn_page_);
  for (uint32_t i = 0; i < n; ++i) list32[i] = static_cast<uint32_t>(pfns[i]);
  if (!b_.tell_host(VirtioBalloon::kInflate, n)) return false;
  b_.counters_.inflated += n;
  b_.write_actual();
  for (uint32_t i = 0; i < n; ++i) list32[i] = static_cast<uint32_t>(pfns[i]);
  if (!b_.tell_host(VirtioBalloon::kDeflate, n)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    b_.pages_.clear(pfns[i]);
    mm::free_pages(pfns[i] << mm::kPageShift, 0);
  }
  b_.counters_.deflated += n;
  b_.write_actual();
  return b_.ready_ && b_.counters_.resets == resets &&
         !(b_.transport_.status() & VIRTIO_CONFIG_S_NEEDS_RESET);
}

bool BalloonHostile::run(lib::Text selection, const char** error) {
  const bool all = selection.empty() || selection == lib::Text("all");
  const bool safe = selection == lib::Text("safe");
  // Validate a list of names before sending anything.
  if (!all && !safe) {
    for (lib::Text rest = selection; !rest.empty();) {
      const size_t comma = rest.find(',');
      const lib::Text name = rest.substr(0, comma);
      rest = rest.substr(comma < rest.size() ? comma + 1 : comma);
      bool known = false;
      for (const Kind& k : kKinds) known = known || name == lib::Text(k.name);
      if (!known) {
        *error = "unknown hostile kind (see README.md; or all, safe)";
        return false;
      }
    }
  }
  if (b_.hostile_pages_ == 0) {
    b_.hostile_pages_ = mm::alloc_pages(1);
    if (b_.hostile_pages_ == 0) {
      *error = "out of memory";
      return false;
    }
    memset(reinterpret_cast<void*>(b_.hostile_pages_), 0, 2 * mm::kPageSize);
  }
  b_.busy_ = true;
  const uint64_t resets_before = b_.counters_.resets;
  unsigned kinds = 0;
  for (const Kind& k : kKinds) {
    bool selected = all || (safe && k.qemu_safe);
    for (lib::Text rest = selection; !all && !safe && !rest.empty() && !selected;) {
      const size_t comma = rest.find(',');
      selected = rest.substr(0, comma) == lib::Text(k.name);
      rest = rest.substr(comma < rest.size() ? comma + 1 : comma);
    }
    if (!selected) continue;
    if (!b_.ready_) break;
    Result r;
    (this->*k.fn)(&r);
    if (r.skipped != nullptr) {
      kprintf("hostile: kind=%s sent=0 skipped=%s\n", k.name, r.skipped);
      continue;
    }
    ++kinds;
    b_.poll_stats();
    const char* state = r.broken ? "needs-reset" : (r.stuck ? "stuck" : "ok");
    kprintf("hostile: kind=%s sent=%u returned=%u device=%s", k.name, r.sent, r.returned, state);
    if (r.note != nullptr) kprintf(" note=%s", r.note);
    if (r.broken || r.stuck) {
      // recover() prints a balloon-event line of its own; keep this line whole.
      kprintf(" reset=yes\n");
      b_.recover(r.broken ? "hostile-needs-reset" : "hostile-stuck");
    } else {
      kprintf("\n");
    }
  }
  const bool ok = self_test();
  b_.busy_ = false;
  kprintf("hostile: done kinds=%u balloon_ok=%s resets=%lu\n", kinds, ok ? "yes" : "no",
          b_.counters_.resets - resets_before);
  if (!ok) {
    *error = "the balloon does not work after the hostile requests";
    return false;
  }
  return true;
}

bool VirtioBalloon::hostile(lib::Text selection, const char** error) {
  if (!ready_) {
    *error = "no virtio-balloon device";
    return false;
  }
  if (busy_) {
    *error = "balloon busy";
    return false;
  }
  BalloonHostile h(*this);
  return h.run(selection, error);
}

}  // namespace tg::virtio
