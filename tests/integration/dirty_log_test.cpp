// Integration: write evidence from KVM's dirty log on a real VM. A guest write to a page
// sets that page's bit, the DirtyLogReader hands it to GuestMm::mark_dirty at the right page
// index, the page becomes referenced on the aging lists, and pages the guest did not write
// (resident by fault-around, or only read) are never reported. Also logging turned on at
// memslot creation, turned off and on again while the guest runs, and the host's probe.
#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "guestmm/guest_mm.hpp"
#include "tiny_vm.hpp"
#include "vmm/machine/dirty_log_reader.hpp"

namespace tide::test {
namespace {

using gmm::Gpa;
using namespace std::chrono_literals;

constexpr uint64_t kMarkerXor = 0x5a5a5a5a5a5a5a5aULL;

// Collects the page indices of the bitmaps it is given, then passes them to the guest's
// aging lists as a machine does.
class RecordingSink {
 public:
  explicit RecordingSink(gmm::GuestMm& guest) : guest_(guest) {}
  vmm::DirtyBitmapSink sink() {
    return [this](uint64_t first_index, std::span<const uint64_t> bitmap, uint64_t nr_bits) {
      std::lock_guard l(mutex_);
      for (uint64_t b = 0; b < nr_bits; ++b) {
        if ((bitmap[b / 64] >> (b % 64)) & 1) pages_.insert(first_index + b);
      }
      return guest_.mark_dirty(first_index, bitmap, nr_bits);
    };
  }
  // The pages reported in [first, end) since the last call.
  std::set<uint64_t> take(uint64_t first, uint64_t end) {
    std::lock_guard l(mutex_);
    std::set<uint64_t> out(pages_.lower_bound(first), pages_.lower_bound(end));
    pages_.clear();
    return out;
  }

 private:
  gmm::GuestMm& guest_;
  std::mutex mutex_;
  std::set<uint64_t> pages_;
};

bool wait_for(const std::atomic<bool>& flag, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!flag.load()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// The reader's probe must succeed on any KVM host tide supports (PVM included: measured);
// if it did not, this says why instead of skipping.
void expect_available(const vmm::DirtyLogReader& reader) {
  const vmm::DirtyLogStats s = reader.stats();
  ASSERT_TRUE(s.available) << "dirty logging unavailable: " << s.unavailable_reason;
  EXPECT_TRUE(s.unavailable_reason.empty());
}

TEST(DirtyLogIntegration, GuestWritesAreReportedAtTheirPageIndexAndNothingElse) {
  TIDE_REQUIRE_KVM();
  TinyVm t(1, 64ull << 20);
  // Writes spread over two extents; the rest of each extent becomes resident by fault-around
  // without being written, and the extents in between stay untouched.
  const std::vector<uint64_t> written = {0x1000000, 0x1003000, 0x1005000, 0x1040000, 0x11ff000, 0x2400000, 0x2401000};
  auto mem = t.vm().memory();
  ASSERT_TRUE(mem.write_obj<uint64_t>(Gpa(0x3000), written.size()));
  for (size_t i = 0; i < written.size(); ++i) ASSERT_TRUE(mem.write_obj<uint64_t>(Gpa(0x3008 + 8 * i), written[i]));
  std::atomic<bool> touched{false};
  std::atomic<uint32_t> intact{0xffffffff};
  t.add_pio(0x600, 1, nullptr, [&](uint64_t, std::span<const uint8_t>) { touched = true; });
  t.add_pio(0x608, 4, nullptr, [&](uint64_t, std::span<const uint8_t> d) { intact = static_cast<uint32_t>(le_value(d)); });
  t.add_pio(0x60c, 4, nullptr, nullptr);
  t.load(tiny_touch_start, tiny_touch_end);

  RecordingSink rec(t.guest());
  vmm::DirtyLogReader reader(vmm::vm_dirty_log_source(t.vm()), rec.sink(), {});
  ASSERT_TRUE(reader.start(false)) << reader.stats().unavailable_reason;
  expect_available(reader);
  EXPECT_TRUE(t.vm().dirty_logging());
  // The host's own writes above (through the window) are not the guest's: nothing yet.
  EXPECT_EQ(reader.step(), 0u);

  constexpr uint64_t kFirst = 0x1000000 >> gmm::kPageShift, kEnd = (64ull << 20) >> gmm::kPageShift;
  (void)rec.take(0, kEnd);
  const gmm::GuestReclaimInfo before = t.guest().reclaim_info();
  ASSERT_TRUE(t.vm().start());
  ASSERT_TRUE(wait_for(touched));

  EXPECT_GE(reader.step(), written.size());
  std::set<uint64_t> expected;
  for (uint64_t a : written) expected.insert(a >> gmm::kPageShift);  // low RAM starts at GPA 0: index = GFN
  EXPECT_EQ(rec.take(kFirst, kEnd), expected);
  const gmm::GuestReclaimInfo after = t.guest().reclaim_info();
  EXPECT_GE(after.sampler.dirty_bits - before.sampler.dirty_bits, written.size());
  // Every written page is resident (the guest's fault brought it) and new this period.
  EXPECT_GE(after.sampler.references - before.sampler.references, written.size());
  EXPECT_GE(after.lru_inactive + after.lru_active, 2u * gmm::kPagesPerExtent);

  // The guest now only reads (its flag): a second read shows none of those pages.
  std::this_thread::sleep_for(20ms);
  (void)reader.step();
  EXPECT_TRUE(rec.take(kFirst, kEnd).empty());

  const vmm::DirtyLogStats s = reader.stats();
  EXPECT_EQ(s.reads, 4u);  // the probe's and three steps'
  EXPECT_EQ(s.slot_reads, 4u);
  EXPECT_GE(s.dirty_bits, written.size());
  EXPECT_GE(s.references, written.size());
  EXPECT_GT(s.read_ns, 0u);

  ASSERT_TRUE(mem.write_obj<uint64_t>(Gpa(0x2ff8), 1));
  vmm::VmExit exit = t.vm().wait();
  ASSERT_EQ(exit.kind, vmm::VmExit::Kind::debug_exit) << exit.message;
  EXPECT_EQ(intact.load(), written.size());  // logging did not get in the guest's way
  EXPECT_EQ(t.fault_errors(), 0u);
  ASSERT_TRUE(t.mm().check_invariants());
}

TEST(DirtyLogIntegration, ARewrittenPageIsReportedEveryPeriodAndPromoted) {
  TIDE_REQUIRE_KVM();
  TinyVm t(1, 64ull << 20, 0, 0, false, /*dirty_log=*/true);
  EXPECT_TRUE(t.vm().dirty_logging());  // from the memslots' creation
  ASSERT_TRUE(t.vm().memory().write_obj<uint64_t>(Gpa(0x3000), 0));
  t.load(tiny_count_start, tiny_count_end);
  RecordingSink rec(t.guest());
  vmm::DirtyLogReader reader(vmm::vm_dirty_log_source(t.vm()), rec.sink(), {});
  ASSERT_TRUE(reader.start(false));
  expect_available(reader);
  ASSERT_TRUE(t.vm().start());

  constexpr uint64_t kCounterPage = 0x3000 >> gmm::kPageShift;
  uint64_t last = 0;
  for (int period = 0; period < 3; ++period) {
    std::this_thread::sleep_for(20ms);
    (void)reader.step();
    EXPECT_TRUE(rec.take(0, kCounterPage + 1).contains(kCounterPage)) << "period " << period;
    auto count = t.vm().memory().read_obj<uint64_t>(Gpa(0x3000));
    ASSERT_TRUE(count);
    EXPECT_GT(*count, last);  // the guest goes on counting
    last = *count;
  }
  // A sampling period apart, a second reference promotes the page (the used-once rule).
  const uint64_t active_before = t.guest().reclaim_info().lru_active;
  t.guest().sample_round(0);
  std::this_thread::sleep_for(20ms);
  (void)reader.step();
  EXPECT_GT(t.guest().reclaim_info().lru_active, active_before);
  t.vm().request_stop(vmm::VmExit{vmm::VmExit::Kind::stopped, 0, "test done"});
  (void)t.vm().wait();
}

TEST(DirtyLogIntegration, LoggingFollowsWantedWhileTheGuestRuns) {
  TIDE_REQUIRE_KVM();
  TinyVm t(1, 64ull << 20);
  ASSERT_TRUE(t.vm().memory().write_obj<uint64_t>(Gpa(0x3000), 0));
  t.load(tiny_count_start, tiny_count_end);
  RecordingSink rec(t.guest());
  std::atomic<bool> wanted{false};
  vmm::DirtyLogReaderOptions o;
  o.wanted = [&wanted] { return wanted.load(); };
  vmm::DirtyLogReader reader(vmm::vm_dirty_log_source(t.vm()), rec.sink(), o);
  ASSERT_TRUE(reader.start(false));
  expect_available(reader);
  EXPECT_FALSE(t.vm().dirty_logging());  // probed, then off: not wanted
  ASSERT_TRUE(t.vm().start());

  constexpr uint64_t kCounterPage = 0x3000 >> gmm::kPageShift;
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(reader.step(), 0u);  // off: nothing read
  EXPECT_FALSE(reader.stats().logging);

  wanted = true;
  (void)reader.step();  // on, with an empty log
  EXPECT_TRUE(t.vm().dirty_logging());
  std::this_thread::sleep_for(20ms);
  EXPECT_GE(reader.step(), 1u);
  EXPECT_TRUE(rec.take(0, kCounterPage + 1).contains(kCounterPage));

  wanted = false;
  (void)reader.step();
  EXPECT_FALSE(t.vm().dirty_logging());
  const vmm::DirtyLogStats s = reader.stats();
  EXPECT_EQ(s.enables, 2u);  // the probe's and the one asked for
  EXPECT_EQ(s.disables, 2u);
  EXPECT_EQ(s.errors, 0u);
  t.vm().request_stop(vmm::VmExit{vmm::VmExit::Kind::stopped, 0, "test done"});
  (void)t.vm().wait();
}

TEST(DirtyLogIntegration, TheReaderThreadReadsEveryPeriod) {
  TIDE_REQUIRE_KVM();
  TinyVm t(1, 64ull << 20);
  ASSERT_TRUE(t.vm().memory().write_obj<uint64_t>(Gpa(0x3000), 0));
  t.load(tiny_count_start, tiny_count_end);
  RecordingSink rec(t.guest());
  vmm::DirtyLogReaderOptions o;
  o.period = 10ms;
  auto reader = std::make_unique<vmm::DirtyLogReader>(vmm::vm_dirty_log_source(t.vm()), rec.sink(), o);
  ASSERT_TRUE(reader->start());
  ASSERT_TRUE(t.vm().start());
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (reader->stats().reads < 5 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(5ms);
  EXPECT_GE(reader->stats().reads, 5u);
  EXPECT_TRUE(rec.take(0, 4).contains(0x3000 >> gmm::kPageShift));
  reader.reset();  // joins its thread and turns logging off
  EXPECT_FALSE(t.vm().dirty_logging());
  t.vm().request_stop(vmm::VmExit{vmm::VmExit::Kind::stopped, 0, "test done"});
  (void)t.vm().wait();
}

}  // namespace
}  // namespace tide::test
