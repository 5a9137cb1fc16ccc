// Unit: the dirty-log reader over a fake source. Memslots are laid end to end in page-index
// order across the hole below 4 GiB (checked against a real P2m); each set bit reaches the
// sink at its page index, slot by slot, partial last words included, and only once; empty
// logs are not handed on; a host that refuses logging is detected at start with one log line
// and nothing is read after; a failed read turns logging off for good; logging follows
// wanted(); the thread reads every period; after many dirty pages the next read waits
// longer (the re-arming's cost to the guest stays within a share); bitmaps fed to a real
// GuestMm become references on the right pages; and "the guest has a memory limit" looks at
// the leaf and its groups.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "guestmm/p2m.hpp"
#include "unit/guestmm/mm_fixture.hpp"
#include "vmm/machine/dirty_log_reader.hpp"
#include "vmm/machine/layout.hpp"

namespace tide::vmm {
namespace {

using gmm::Gpa;
using gmm::RamRange;
using namespace std::chrono_literals;

constexpr uint64_t kPage = gmm::kPageSize;
constexpr uint64_t kGiB = uint64_t{1} << 30;

// KVM's dirty logs of a few memslots, written by the test as if the guest wrote.
class FakeDirtyLog final : public DirtyLogSource {
 public:
  struct State {
    std::mutex mutex;
    std::vector<RamRange> ram;
    std::vector<std::vector<uint64_t>> logs;
    bool logging = false;
    bool refuse = false;      // set_logging(true) fails
    bool fail_reads = false;  // read_and_clear fails
    uint64_t toggles = 0;
    uint64_t reads = 0;

    explicit State(std::vector<RamRange> r) : ram(std::move(r)) {
      for (const RamRange& x : ram) logs.emplace_back((x.size_bytes / kPage + 63) / 64, 0);
    }
    // A guest write at `gpa`: its bit, if logging.
    void write(uint64_t gpa) {
      std::lock_guard l(mutex);
      for (size_t s = 0; s < ram.size(); ++s) {
        const uint64_t base = ram[s].base.value();
        if (gpa < base || gpa >= base + ram[s].size_bytes) continue;
        const uint64_t page = (gpa - base) / kPage;
        if (logging) logs[s][page / 64] |= uint64_t{1} << (page % 64);
        return;
      }
      ADD_FAILURE() << "write outside RAM";
    }
  };

  explicit FakeDirtyLog(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::vector<RamRange> ram_ranges() const override { return s_->ram; }
  Status set_logging(bool on) override {
    std::lock_guard l(s_->mutex);
    ++s_->toggles;
    if (on && s_->refuse) return make_error(std::errc::invalid_argument, "KVM_SET_USER_MEMORY_REGION: refused");
    s_->logging = on;
    for (auto& log : s_->logs) std::fill(log.begin(), log.end(), 0);
    return ok();
  }
  Status read_and_clear(uint32_t slot, std::span<uint64_t> bitmap) override {
    std::lock_guard l(s_->mutex);
    ++s_->reads;
    if (s_->fail_reads) return make_error(std::errc::io_error, "KVM_GET_DIRTY_LOG: failed");
    EXPECT_TRUE(s_->logging);
    auto& log = s_->logs.at(slot);
    EXPECT_EQ(bitmap.size(), log.size());
    std::copy(log.begin(), log.end(), bitmap.begin());
    std::fill(log.begin(), log.end(), 0);
    return ok();
  }
  std::string mode() const override { return "fake"; }

 private:
  std::shared_ptr<State> s_;
};

// The sink's view: every page index it was given, and how often it was called.
struct Recorder {
  std::mutex mutex;
  std::set<uint64_t> pages;
  uint64_t calls = 0;

  DirtyBitmapSink sink() {
    return [this](uint64_t first_index, std::span<const uint64_t> bitmap, uint64_t nr_bits) {
      std::lock_guard l(mutex);
      ++calls;
      uint64_t n = 0;
      for (uint64_t b = 0; b < nr_bits; ++b) {
        if ((bitmap[b / 64] >> (b % 64)) & 1) {
          EXPECT_TRUE(pages.insert(first_index + b).second) << "page reported twice";
          ++n;
        }
      }
      return n;
    };
  }
  std::set<uint64_t> take() {
    std::lock_guard l(mutex);
    return std::exchange(pages, {});
  }
};

// Three slots with holes between them and sizes that are not multiples of 64 pages.
std::vector<RamRange> holey_ram() {
  return {RamRange{Gpa(0), 64 * kPage}, RamRange{Gpa(0x100000), 200 * kPage}, RamRange{Gpa(4 * kGiB), 130 * kPage}};
}

TEST(DirtyLogSlots, LowAndHighRamAreLaidEndToEndInP2mOrder) {
  const std::vector<RamRange> ram = layout::ram_ranges(5 * kGiB);  // 3 GiB low, the hole, 2 GiB from 4 GiB
  const std::vector<DirtyLogSlot> slots = dirty_log_slots(ram);
  ASSERT_EQ(slots.size(), 2u);
  EXPECT_EQ(slots[0], (DirtyLogSlot{0, Gpa(0), 3 * kGiB / kPage, 0}));
  EXPECT_EQ(slots[1], (DirtyLogSlot{1, Gpa(4 * kGiB), 2 * kGiB / kPage, 3 * kGiB / kPage}));
  auto p2m = gmm::P2m::create(ram);
  ASSERT_TRUE(p2m) << p2m.error().message();
  for (const DirtyLogSlot& s : slots) {
    for (uint64_t bit : {uint64_t{0}, uint64_t{1}, uint64_t{63}, uint64_t{64}, s.nr_pages - 1}) {
      const gmm::Gfn gfn(s.base.value() / kPage + bit);
      EXPECT_EQ(p2m->index_of(gfn), s.first_index + bit) << "slot " << s.slot << " bit " << bit;
      EXPECT_EQ(p2m->gfn_at(s.first_index + bit), gfn);
    }
  }
  EXPECT_EQ(slots[1].first_index + slots[1].nr_pages, p2m->nr_pages());
}

TEST(DirtyLogSlots, SmallSlotsWithHoles) {
  const std::vector<DirtyLogSlot> slots = dirty_log_slots(holey_ram());
  ASSERT_EQ(slots.size(), 3u);
  EXPECT_EQ(slots[0], (DirtyLogSlot{0, Gpa(0), 64, 0}));
  EXPECT_EQ(slots[1], (DirtyLogSlot{1, Gpa(0x100000), 200, 64}));
  EXPECT_EQ(slots[2], (DirtyLogSlot{2, Gpa(4 * kGiB), 130, 264}));
  EXPECT_TRUE(dirty_log_slots({}).empty());
}

TEST(DirtyLogReader, BitsReachTheSinkAtTheirPageIndexInEverySlot) {
  auto state = std::make_shared<FakeDirtyLog::State>(holey_ram());
  Recorder rec;
  DirtyLogReader reader(std::make_unique<FakeDirtyLog>(state), rec.sink(), {});
  ASSERT_TRUE(reader.start(false));
  EXPECT_TRUE(state->logging);
  // First and last pages of every slot, a word boundary, and the partial last words.
  const std::map<uint64_t, uint64_t> writes = {
      {0x0, 0},           {63 * kPage, 63},
      {0x100000, 64},     {0x100000 + 64 * kPage, 128}, {0x100000 + 199 * kPage, 263},
      {4 * kGiB, 264},    {4 * kGiB + 128 * kPage, 392}, {4 * kGiB + 129 * kPage + 8, 393},
  };
  std::set<uint64_t> expected;
  for (auto [gpa, index] : writes) {
    state->write(gpa);
    expected.insert(index);
  }
  state->write(0x100000 + 64 * kPage + 100);  // the same page twice: one bit
  EXPECT_EQ(reader.step(), writes.size());
  EXPECT_EQ(rec.take(), expected);
  EXPECT_EQ(rec.calls, 3u);

  // Read and cleared: the next period shows only new writes.
  state->write(0x100000 + 5 * kPage);
  EXPECT_EQ(reader.step(), 1u);
  EXPECT_EQ(rec.take(), (std::set<uint64_t>{69}));
  EXPECT_EQ(rec.calls, 4u);  // the two empty slots were not handed on

  const DirtyLogStats s = reader.stats();
  EXPECT_TRUE(s.available);
  EXPECT_TRUE(s.logging);
  EXPECT_EQ(s.mode, "fake");
  EXPECT_EQ(s.period_ms, 500u);
  EXPECT_EQ(s.reads, 3u);  // the probe's and two steps'
  EXPECT_EQ(s.slot_reads, 9u);
  EXPECT_EQ(s.dirty_bits, writes.size() + 1);
  EXPECT_EQ(s.references, writes.size() + 1);  // what the sink answered
  EXPECT_EQ(s.last_dirty_bits, 1u);
  EXPECT_EQ(s.enables, 1u);
  EXPECT_EQ(s.errors, 0u);
}

TEST(DirtyLogReader, AHostThatRefusesIsDetectedAtStartAndNeverAskedAgain) {
  auto state = std::make_shared<FakeDirtyLog::State>(holey_ram());
  state->refuse = true;
  Recorder rec;
  DirtyLogReaderOptions o;
  o.name = "g1";
  DirtyLogReader reader(std::make_unique<FakeDirtyLog>(state), rec.sink(), o);
  ::testing::internal::CaptureStderr();
  const bool started = reader.start(false);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(started);
  EXPECT_NE(log.find("g1: dirty logging unavailable on this host: KVM_SET_USER_MEMORY_REGION: refused; "
                     "write evidence comes from sampling only"),
            std::string::npos)
      << log;
  const DirtyLogStats s = reader.stats();
  EXPECT_FALSE(s.available);
  EXPECT_FALSE(s.logging);
  EXPECT_NE(s.unavailable_reason.find("refused"), std::string::npos);
  EXPECT_EQ(reader.step(), 0u);
  EXPECT_EQ(state->toggles, 1u);
  EXPECT_EQ(state->reads, 0u);
  EXPECT_EQ(rec.calls, 0u);
}

TEST(DirtyLogReader, AFailedReadTurnsLoggingOffForGood) {
  auto state = std::make_shared<FakeDirtyLog::State>(holey_ram());
  Recorder rec;
  DirtyLogReader reader(std::make_unique<FakeDirtyLog>(state), rec.sink(), {});
  ASSERT_TRUE(reader.start(false));
  state->fail_reads = true;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(reader.step(), 0u);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("dirty logging unavailable on this host: KVM_GET_DIRTY_LOG: failed"), std::string::npos) << log;
  EXPECT_FALSE(state->logging);  // no more exits for the guest
  const uint64_t reads = state->reads;
  EXPECT_EQ(reader.step(), 0u);
  EXPECT_EQ(state->reads, reads);
  EXPECT_FALSE(reader.stats().available);
  EXPECT_FALSE(reader.stats().logging);
}

TEST(DirtyLogReader, LoggingFollowsWanted) {
  auto state = std::make_shared<FakeDirtyLog::State>(holey_ram());
  Recorder rec;
  bool wanted = false;
  DirtyLogReaderOptions o;
  o.wanted = [&wanted] { return wanted; };
  DirtyLogReader reader(std::make_unique<FakeDirtyLog>(state), rec.sink(), o);
  ASSERT_TRUE(reader.start(false));
  EXPECT_FALSE(state->logging);  // probed, then off
  EXPECT_EQ(reader.step(), 0u);
  const uint64_t reads = state->reads;

  wanted = true;
  EXPECT_EQ(reader.step(), 0u);  // turned on: empty log, nothing to read yet
  EXPECT_TRUE(state->logging);
  EXPECT_EQ(state->reads, reads);
  state->write(0x2000);
  EXPECT_EQ(reader.step(), 1u);
  EXPECT_EQ(rec.take(), (std::set<uint64_t>{2}));

  wanted = false;
  EXPECT_EQ(reader.step(), 0u);
  EXPECT_FALSE(state->logging);
  const DirtyLogStats s = reader.stats();
  EXPECT_FALSE(s.logging);
  EXPECT_EQ(s.enables, 2u);
  EXPECT_EQ(s.disables, 2u);
}

TEST(DirtyLogReader, TheThreadReadsEveryPeriodAndTheDestructorTurnsLoggingOff) {
  auto state = std::make_shared<FakeDirtyLog::State>(holey_ram());
  Recorder rec;
  DirtyLogReaderOptions o;
  o.period = 2ms;
  auto reader = std::make_unique<DirtyLogReader>(std::make_unique<FakeDirtyLog>(state), rec.sink(), o);
  ASSERT_TRUE(reader->start());
  state->write(4 * kGiB + 3 * kPage);
  const auto end = std::chrono::steady_clock::now() + 60s;
  while (reader->stats().dirty_bits == 0 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(rec.take(), (std::set<uint64_t>{267}));
  EXPECT_GE(reader->stats().reads, 2u);
  reader.reset();
  EXPECT_FALSE(state->logging);
}

TEST(DirtyLogWait, ManyDirtyPagesStretchTheWaitWithinTheGuestsShare) {
  DirtyLogReaderOptions o;  // 500 ms, 5 us per re-armed page, 5% of a vCPU, at most 10 s
  EXPECT_EQ(next_dirty_log_wait(o, 0), 500ms);
  EXPECT_EQ(next_dirty_log_wait(o, 5000), 500ms);      // 25 ms of faults: 500 ms is enough
  EXPECT_EQ(next_dirty_log_wait(o, 5001), 501ms);      // just over: rounded up
  EXPECT_EQ(next_dirty_log_wait(o, 16384), 1639ms);    // 64 MiB rewritten: 82 ms of faults
  EXPECT_EQ(next_dirty_log_wait(o, 1u << 20), 10000ms);  // 4 GiB: capped
  o.max_guest_share = 0.5;
  EXPECT_EQ(next_dirty_log_wait(o, 16384), 500ms);
  o.max_period = 100ms;  // a cap below the period: the period wins
  EXPECT_EQ(next_dirty_log_wait(o, 1u << 20), 500ms);
  o = {};
  o.max_guest_share = 0;  // no share given: the faults' own time
  EXPECT_EQ(next_dirty_log_wait(o, 200000), 1000ms);
}

TEST(DirtyLogReader, TheWaitAfterAReadFollowsWhatItFound) {
  auto state = std::make_shared<FakeDirtyLog::State>(std::vector<RamRange>{RamRange{Gpa(0), 4096 * kPage}});
  Recorder rec;
  DirtyLogReaderOptions o;
  o.period = 10ms;
  o.write_fault_cost = 1ms;
  o.max_guest_share = 1.0;
  DirtyLogReader reader(std::make_unique<FakeDirtyLog>(state), rec.sink(), o);
  ASSERT_TRUE(reader.start(false));
  for (uint64_t p = 0; p < 30; ++p) state->write(p * kPage);
  EXPECT_EQ(reader.step(), 30u);
  EXPECT_EQ(reader.stats().wait_ms, 30u);
  EXPECT_EQ(reader.stats().stretched, 1u);
  EXPECT_EQ(reader.step(), 0u);
  EXPECT_EQ(reader.stats().wait_ms, 10u);
  EXPECT_EQ(reader.stats().stretched, 1u);
}

class DirtyLogGuestTest : public gmm::fake::MmTest {};

// The machine's sink: GuestMm::mark_dirty. A written page counts as a reference on the page
// the P2M names for that GPA; a bit for a page without a frame is read but references nothing.
TEST_F(DirtyLogGuestTest, BitmapsBecomeReferencesOnTheRightPagesAcrossTheHole) {
  make(16 * gmm::fake::kMiB);
  const std::vector<RamRange> ram = {RamRange{Gpa(0), 2 * gmm::fake::kMiB},
                                     RamRange{Gpa(4 * kGiB), 4 * gmm::fake::kMiB}};
  gmm::GuestMm* g = add("g", ram);
  ASSERT_NE(g, nullptr);
  const gmm::Gfn high(4 * kGiB / kPage);
  TIDE_ASSERT_OK(gmm::fake::touch(*g, gmm::Gfn(5), 1));              // the low extent
  TIDE_ASSERT_OK(gmm::fake::touch(*g, gmm::Gfn(high.value() + 7), 1));  // the first high extent
  auto state = std::make_shared<FakeDirtyLog::State>(g->p2m().ranges());
  std::vector<gmm::Gfn> seen;
  DirtyLogReader reader(
      std::make_unique<FakeDirtyLog>(state),
      [&](uint64_t first_index, std::span<const uint64_t> bitmap, uint64_t nr_bits) {
        for (uint64_t b = 0; b < nr_bits; ++b) {
          if ((bitmap[b / 64] >> (b % 64)) & 1) seen.push_back(g->p2m().gfn_at(first_index + b));
        }
        return g->mark_dirty(first_index, bitmap, nr_bits);
      },
      {});
  ASSERT_TRUE(reader.start(false));
  const gmm::GuestReclaimInfo before = g->reclaim_info();
  state->write(5 * kPage);
  state->write(4 * kGiB + 7 * kPage);
  state->write(4 * kGiB + 600 * kPage);  // the second high extent: never touched, no frame
  EXPECT_EQ(reader.step(), 3u);
  EXPECT_EQ(seen, (std::vector<gmm::Gfn>{gmm::Gfn(5), gmm::Gfn(high.value() + 7), gmm::Gfn(high.value() + 600)}));
  const gmm::GuestReclaimInfo after = g->reclaim_info();
  EXPECT_EQ(after.sampler.dirty_bits - before.sampler.dirty_bits, 3u);
  EXPECT_EQ(after.sampler.references - before.sampler.references, 2u);
  EXPECT_EQ(after.sampler.out_of_range, before.sampler.out_of_range);
  EXPECT_EQ(reader.stats().references, 2u);
}

TEST_F(DirtyLogGuestTest, AMemoryLimitIsAMaxOrHighOnTheLeafOrAGroupAboveIt) {
  make(16 * gmm::fake::kMiB);
  gmm::memcg::MemcgTree& tree = mm->memcg();
  gmm::GuestMm* a = add("a", 4 * gmm::fake::kMiB);
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(guest_has_memory_limit(*mm, a->memcg_id()));
  TIDE_ASSERT_OK(tree.set_limit(a->memcg_id(), gmm::memcg::Limit::high, 512));
  EXPECT_TRUE(guest_has_memory_limit(*mm, a->memcg_id()));
  TIDE_ASSERT_OK(tree.set_limit(a->memcg_id(), gmm::memcg::Limit::high, gmm::memcg::kUnlimited));
  EXPECT_FALSE(guest_has_memory_limit(*mm, a->memcg_id()));
  TIDE_ASSERT_OK(tree.set_limit(a->memcg_id(), gmm::memcg::Limit::low, 100));  // protection is no limit
  EXPECT_FALSE(guest_has_memory_limit(*mm, a->memcg_id()));

  auto group = tree.create_group(gmm::memcg::kRootId, "tenant");
  ASSERT_TRUE(group) << group.error().message();
  gmm::reclaim::GuestLimitsOptions under;
  under.parent = *group;
  auto b = mm->add_guest("b", {RamRange{Gpa(0), 4 * gmm::fake::kMiB}}, under);
  ASSERT_TRUE(b) << b.error().message();
  guests.push_back(*b);
  EXPECT_FALSE(guest_has_memory_limit(*mm, (*b)->memcg_id()));
  TIDE_ASSERT_OK(tree.set_limit(*group, gmm::memcg::Limit::max, 1024));
  EXPECT_TRUE(guest_has_memory_limit(*mm, (*b)->memcg_id()));
  EXPECT_FALSE(guest_has_memory_limit(*mm, a->memcg_id()));
}

}  // namespace
}  // namespace tide::vmm
