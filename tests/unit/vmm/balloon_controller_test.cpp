// Unit: BalloonController over a BalloonDevice driven by a fake driver in fake guest memory
// (tests/unit/balloon/balloon_harness.hpp) and a MemoryManager over the fake host layer
// (tests/unit/guestmm/mm_fixture.hpp). decide_and_apply moves the device's target as the
// policy says for the stats the driver sent (surplus, shortfall, hysteresis, the step, the
// guest's floor, missing and stale stats, pool pressure); auto_status counts; the thread asks
// for stats every period, runs auto mode, stops when auto mode is turned off, and is joined
// by the destructor whatever it is waiting for.
//
// The harness's clock and backend are not thread-safe: while a controller's thread may be
// running auto mode, the test thread only reads the device and the controller.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "unit/balloon/balloon_harness.hpp"
#include "unit/guestmm/mm_fixture.hpp"
#include "vmm/machine/balloon_controller.hpp"

namespace tide::vmm {
namespace {

using balloon::PolicyAction;
using balloon::QueueRole;
using balloon::test::BalloonHarness;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kPage = 4096;
constexpr uint64_t kRamPages = BalloonHarness::kLowPages + BalloonHarness::kHighPages;  // 24 MiB
constexpr uint64_t kSecond = uint64_t{1000} * 1000 * 1000;
// Hang guard for waits on the controller's thread (never reached when things work).
constexpr uint64_t kHangGuardNs = 60 * kSecond;

constexpr uint64_t pages(uint64_t bytes) { return bytes / kPage; }

// Margin 4 MiB, hysteresis 1 MiB, steps of 2 MiB: sized for the harness's 24 MiB guest.
BalloonAutoOptions small_auto(uint64_t max_step = 2 * kMiB) {
  BalloonAutoOptions o;
  o.params.free_margin_bytes = 4 * kMiB;
  o.params.hysteresis_bytes = kMiB;
  o.params.max_step_bytes = max_step;
  return o;
}

BalloonControllerOptions idle() { return BalloonControllerOptions{}; }  // period 0, auto off

// Destroys `controller` on another thread and aborts if the destructor does not return
// (a thread the destructor cannot stop would otherwise hang the whole run).
void destroy_guarded(std::unique_ptr<BalloonController> controller) {
  auto done = std::async(std::launch::async, [c = std::move(controller)]() mutable { c.reset(); });
  if (done.wait_for(std::chrono::nanoseconds(kHangGuardNs)) != std::future_status::ready) {
    std::fprintf(stderr, "FATAL: ~BalloonController did not return (its thread was not joined)\n");
    std::abort();
  }
}

class BalloonControllerTest : public gmm::fake::MmTest {
 protected:
  void SetUp() override {
    make(16 * kMiB);
    ASSERT_NE(mm, nullptr);
    TIDE_ASSERT_OK(h.activate());
    ASSERT_EQ(h.device->status().ram_pages, kRamPages);
  }

  // The driver's side of a balloon of `n` pages: the target is set, the driver inflates
  // pages from 8 MiB up and writes `actual`.
  void driver_holds(uint64_t n) {
    (void)h.device->set_target_pages(n);
    h.inflate(BalloonHarness::pfn_range(static_cast<uint32_t>(pages(8 * kMiB)), static_cast<uint32_t>(n)));
    h.write_actual(static_cast<uint32_t>(n));
    ASSERT_EQ(h.device->balloon_pages(), n);
    ASSERT_EQ(h.device->actual_pages(), n);
  }
  // A fresh stats buffer from the driver with AVAIL = `available` (a held one goes back first,
  // as when the host asks).
  void driver_sends_available(uint64_t available) {
    (void)h.device->request_stats();
    h.send_stats({{balloon::VIRTIO_BALLOON_S_MEMTOT, kRamPages * kPage}, {balloon::VIRTIO_BALLOON_S_AVAIL, available}});
    ASSERT_TRUE(h.device->status().stats);
    ASSERT_EQ(h.device->status().stats->get(balloon::VIRTIO_BALLOON_S_AVAIL), available);
  }

  BalloonHarness h;
};

// ---- decide_and_apply

TEST_F(BalloonControllerTest, ASurplusInflatesByAtMostTheStep) {
  driver_sends_available(20 * kMiB);  // 16 MiB over the 4 MiB margin
  auto ctl = std::make_unique<BalloonController>(*h.device, *mm, idle());
  const int notes = h.irq.config_notes();

  balloon::BalloonPolicyDecision d = ctl->decide_and_apply(small_auto());
  EXPECT_EQ(d.action, PolicyAction::kInflate);
  EXPECT_EQ(d.target_bytes, 2 * kMiB);
  EXPECT_NE(d.reason.find("step-limited"), std::string::npos) << d.reason;
  EXPECT_EQ(h.device->target_pages(), pages(2 * kMiB));
  EXPECT_GT(h.irq.config_notes(), notes) << "the driver is told of the new target";
  EXPECT_EQ(h.read_config32(balloon::kConfigNumPages), pages(2 * kMiB));

  // The driver has not inflated yet and still reports the surplus: one more step.
  d = ctl->decide_and_apply(small_auto());
  EXPECT_EQ(d.action, PolicyAction::kInflate);
  EXPECT_EQ(h.device->target_pages(), pages(4 * kMiB));

  // With a step large enough, the whole surplus at once.
  d = ctl->decide_and_apply(small_auto(64 * kMiB));
  EXPECT_EQ(d.target_bytes, 16 * kMiB);
  EXPECT_EQ(h.device->target_pages(), pages(16 * kMiB));
  destroy_guarded(std::move(ctl));
}

TEST_F(BalloonControllerTest, AUserTargetTurnsAutoModeOffAndStays) {
  driver_sends_available(20 * kMiB);
  BalloonControllerOptions o = idle();
  o.auto_mode = small_auto(64 * kMiB);
  BalloonController ctl(*h.device, *mm, o);
  EXPECT_TRUE(ctl.auto_status().enabled);
  EXPECT_EQ(ctl.set_manual_target(pages(3 * kMiB)), pages(3 * kMiB));
  EXPECT_FALSE(ctl.auto_status().enabled);
  EXPECT_FALSE(ctl.options().auto_mode.has_value());
  EXPECT_EQ(h.device->target_pages(), pages(3 * kMiB));
}

TEST_F(BalloonControllerTest, TheMoveIsMeasuredFromTheBalloonTheDriverHolds) {
  driver_holds(pages(8 * kMiB));
  driver_sends_available(10 * kMiB);  // 6 MiB over the margin, with 8 MiB in the balloon
  BalloonController ctl(*h.device, *mm, idle());
  const balloon::BalloonPolicyDecision d = ctl.decide_and_apply(small_auto(64 * kMiB));
  EXPECT_EQ(d.action, PolicyAction::kInflate);
  EXPECT_EQ(d.target_bytes, 14 * kMiB);
  EXPECT_EQ(h.device->target_pages(), pages(14 * kMiB));
}

TEST_F(BalloonControllerTest, AShortfallDeflatesByAtMostTheStep) {
  driver_holds(pages(8 * kMiB));
  driver_sends_available(1 * kMiB);  // 3 MiB short of the margin
  BalloonController ctl(*h.device, *mm, idle());

  balloon::BalloonPolicyDecision d = ctl.decide_and_apply(small_auto());
  EXPECT_EQ(d.action, PolicyAction::kDeflate);
  EXPECT_EQ(d.target_bytes, 6 * kMiB) << d.reason;
  EXPECT_EQ(h.device->target_pages(), pages(6 * kMiB));
  EXPECT_NE(d.reason.find("short"), std::string::npos) << d.reason;

  d = ctl.decide_and_apply(small_auto(64 * kMiB));
  EXPECT_EQ(d.action, PolicyAction::kDeflate);
  EXPECT_EQ(d.target_bytes, 5 * kMiB) << d.reason;
  EXPECT_EQ(h.device->target_pages(), pages(5 * kMiB));
}

TEST_F(BalloonControllerTest, WithinTheHysteresisTheTargetIsKept) {
  (void)h.device->set_target_pages(100);
  driver_sends_available(4 * kMiB + kMiB / 2);
  BalloonController ctl(*h.device, *mm, idle());
  const int notes = h.irq.config_notes();
  const balloon::BalloonPolicyDecision d = ctl.decide_and_apply(small_auto());
  EXPECT_EQ(d.action, PolicyAction::kKeep);
  EXPECT_EQ(d.target_pages(), 100u);
  EXPECT_NE(d.reason.find("within hysteresis"), std::string::npos) << d.reason;
  EXPECT_EQ(h.device->target_pages(), 100u);
  EXPECT_EQ(h.irq.config_notes(), notes) << "no config interrupt when nothing moves";
  EXPECT_EQ(ctl.auto_status().target_changes, 0u);
}

TEST_F(BalloonControllerTest, WithoutStatsTheTargetIsKept) {
  (void)h.device->set_target_pages(300);
  ASSERT_FALSE(h.device->status().stats);
  BalloonController ctl(*h.device, *mm, idle());
  balloon::BalloonPolicyDecision d = ctl.decide_and_apply(small_auto());
  EXPECT_EQ(d.action, PolicyAction::kKeep);
  EXPECT_NE(d.reason.find("no guest stats"), std::string::npos) << d.reason;
  EXPECT_EQ(h.device->target_pages(), 300u);

  // Stats without AVAIL or MEMFREE say nothing about what the guest could give.
  h.send_stats({{balloon::VIRTIO_BALLOON_S_MEMTOT, kRamPages * kPage}, {balloon::VIRTIO_BALLOON_S_MAJFLT, 5}});
  ASSERT_TRUE(h.device->status().stats);
  d = ctl.decide_and_apply(small_auto());
  EXPECT_EQ(d.action, PolicyAction::kKeep);
  EXPECT_NE(d.reason.find("no guest stats"), std::string::npos) << d.reason;
  EXPECT_EQ(h.device->target_pages(), 300u);
  EXPECT_EQ(ctl.auto_status().decisions, 2u);
  EXPECT_EQ(ctl.auto_status().target_changes, 0u);
}

TEST_F(BalloonControllerTest, MemFreeStandsInForAvail) {
  (void)h.device->request_stats();
  h.send_stats({{balloon::VIRTIO_BALLOON_S_MEMFREE, 10 * kMiB}});
  BalloonController ctl(*h.device, *mm, idle());
  const balloon::BalloonPolicyDecision d = ctl.decide_and_apply(small_auto(64 * kMiB));
  EXPECT_EQ(d.action, PolicyAction::kInflate);
  EXPECT_EQ(h.device->target_pages(), pages(6 * kMiB));
}

TEST_F(BalloonControllerTest, StaleStatsKeepTheTarget) {
  driver_sends_available(20 * kMiB);
  h.now_ns += 11 * kSecond;  // the device's clock: older than max_stats_age (10 s)
  BalloonController ctl(*h.device, *mm, idle());
  const balloon::BalloonPolicyDecision d = ctl.decide_and_apply(small_auto());
  EXPECT_EQ(d.action, PolicyAction::kKeep);
  EXPECT_NE(d.reason.find("s old: target kept"), std::string::npos) << d.reason;
  EXPECT_EQ(h.device->target_pages(), 0u);

  // Fresh ones move it.
  driver_sends_available(20 * kMiB);
  EXPECT_EQ(ctl.decide_and_apply(small_auto()).action, PolicyAction::kInflate);
  EXPECT_EQ(h.device->target_pages(), pages(2 * kMiB));
}

TEST_F(BalloonControllerTest, TheGuestsFloorLimitsTheBalloon) {
  driver_sends_available(20 * kMiB);
  BalloonController ctl(*h.device, *mm, idle());
  BalloonAutoOptions o = small_auto(64 * kMiB);
  o.limits.min_guest_bytes = 20 * kMiB;  // of 24 MiB: the balloon may take 4 MiB

  balloon::BalloonPolicyDecision d = ctl.decide_and_apply(o);
  EXPECT_EQ(d.action, PolicyAction::kInflate);
  EXPECT_EQ(d.target_bytes, 4 * kMiB);
  EXPECT_NE(d.reason.find("limited to 4 MiB"), std::string::npos) << d.reason;
  EXPECT_EQ(h.device->target_pages(), pages(4 * kMiB));

  // Still a surplus: the floor holds.
  d = ctl.decide_and_apply(o);
  EXPECT_EQ(d.action, PolicyAction::kKeep);
  EXPECT_EQ(h.device->target_pages(), pages(4 * kMiB));

  // A target above the floor's cap (set by hand) is brought back even without fresh
  // reasons: limits win.
  (void)h.device->set_target_pages(pages(10 * kMiB));
  d = ctl.decide_and_apply(o);
  EXPECT_EQ(d.action, PolicyAction::kDeflate);
  EXPECT_EQ(h.device->target_pages(), pages(4 * kMiB));

  // The balloon's cap too.
  o.limits.min_guest_bytes = 0;
  o.limits.max_balloon_bytes = 3 * kMiB;
  d = ctl.decide_and_apply(o);
  EXPECT_EQ(d.action, PolicyAction::kDeflate);
  EXPECT_EQ(h.device->target_pages(), pages(3 * kMiB));
}

TEST_F(BalloonControllerTest, PoolPressureFromTheMemoryManagerReclaimsHarder) {
  // Without pressure: margin 4 MiB, step 2 MiB.
  driver_sends_available(20 * kMiB);
  BalloonController ctl(*h.device, *mm, idle());
  EXPECT_EQ(ctl.decide_and_apply(small_auto()).target_bytes, 2 * kMiB);
  (void)h.device->set_target_pages(0);

  // Another guest takes 15 of the pool's 16 MiB.
  gmm::GuestMm* other = add("other", 15 * kMiB);
  ASSERT_NE(other, nullptr);
  for (uint64_t gfn = 0; gfn < pages(15 * kMiB); ++gfn) TIDE_ASSERT_OK(gmm::fake::touch(*other, gmm::Gfn(gfn), 1));
  const gmm::PoolStats pool = mm->stats();
  ASSERT_LT((pool.free_frames + pool.cached_frames + pool.hot_frames) * 10, pool.total_frames)
      << "the pool should be under 10% free";

  // Under pressure: the margin halves (2 MiB) and the step doubles (4 MiB).
  balloon::BalloonPolicyDecision d = ctl.decide_and_apply(small_auto());
  EXPECT_EQ(d.action, PolicyAction::kInflate);
  EXPECT_EQ(d.target_bytes, 4 * kMiB) << d.reason;
  EXPECT_NE(d.reason.find("pool under pressure"), std::string::npos) << d.reason;
  EXPECT_EQ(h.device->target_pages(), pages(4 * kMiB));

  // And an inflate needs no hysteresis: 4.5 MiB available against the halved margin.
  (void)h.device->set_target_pages(0);
  driver_sends_available(4 * kMiB + kMiB / 2);
  d = ctl.decide_and_apply(small_auto());
  EXPECT_EQ(d.action, PolicyAction::kInflate);
  EXPECT_EQ(d.target_bytes, 2 * kMiB + kMiB / 2) << d.reason;
}

// ---- auto_status, set_auto, options

TEST_F(BalloonControllerTest, AutoStatusCountsDecisionsAndChangesAndKeepsTheLast) {
  BalloonController ctl(*h.device, *mm, idle());
  BalloonAutoStatus s = ctl.auto_status();
  EXPECT_FALSE(s.enabled);
  EXPECT_EQ(s.decisions, 0u);
  EXPECT_EQ(s.target_changes, 0u);
  EXPECT_FALSE(s.last);

  driver_sends_available(20 * kMiB);
  const balloon::BalloonPolicyDecision first = ctl.decide_and_apply(small_auto());
  s = ctl.auto_status();
  EXPECT_EQ(s.decisions, 1u);
  EXPECT_EQ(s.target_changes, 1u);
  ASSERT_TRUE(s.last);
  EXPECT_EQ(s.last->action, PolicyAction::kInflate);
  EXPECT_EQ(s.last->target_bytes, 2 * kMiB);
  EXPECT_EQ(s.last->reason, first.reason);
  EXPECT_FALSE(s.enabled) << "a decision by hand does not turn auto mode on";

  driver_sends_available(4 * kMiB);  // at the margin
  const balloon::BalloonPolicyDecision second = ctl.decide_and_apply(small_auto());
  s = ctl.auto_status();
  EXPECT_EQ(s.decisions, 2u);
  EXPECT_EQ(s.target_changes, 1u);
  ASSERT_TRUE(s.last);
  EXPECT_EQ(s.last->action, PolicyAction::kKeep);
  EXPECT_EQ(s.last->reason, second.reason);
  EXPECT_NE(s.last->reason, first.reason);
  EXPECT_EQ(s.last->target_bytes, 2 * kMiB);

  // A target set by hand in between: the policy's move counts against it.
  (void)h.device->set_target_pages(pages(10 * kMiB));
  EXPECT_EQ(ctl.decide_and_apply(small_auto()).action, PolicyAction::kKeep);
  EXPECT_EQ(ctl.auto_status().target_changes, 1u);
  EXPECT_EQ(h.device->target_pages(), pages(10 * kMiB));
}

TEST_F(BalloonControllerTest, OptionsAndTheirChanges) {
  BalloonController ctl(*h.device, *mm, idle());
  EXPECT_EQ(ctl.options().stats_period_s, 0u);
  EXPECT_FALSE(ctl.options().auto_mode);

  ctl.set_stats_period(86400);
  EXPECT_EQ(ctl.options().stats_period_s, 86400u);
  ctl.set_stats_period(0);
  EXPECT_EQ(ctl.options().stats_period_s, 0u);
}

TEST_F(BalloonControllerTest, ConstructedInAutoModeReportsItsOptions) {
  BalloonControllerOptions o;
  o.stats_period_s = 86400;  // the first request is at once, the second a day later
  o.auto_mode = small_auto();
  o.auto_mode->params.free_margin_bytes = 7 * kMiB;
  o.auto_mode->limits.min_guest_bytes = 3 * kMiB;
  auto ctl = std::make_unique<BalloonController>(*h.device, *mm, o);
  const BalloonAutoStatus s = ctl->auto_status();
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.options.params.free_margin_bytes, 7 * kMiB);
  EXPECT_EQ(s.options.limits.min_guest_bytes, 3 * kMiB);
  EXPECT_EQ(s.options.params.max_step_bytes, 2 * kMiB);
  ASSERT_TRUE(ctl->options().auto_mode);
  EXPECT_EQ(ctl->options().stats_period_s, 86400u);

  ctl->set_auto(std::nullopt);
  EXPECT_FALSE(ctl->auto_status().enabled);
  EXPECT_FALSE(ctl->options().auto_mode);
  EXPECT_EQ(ctl->options().stats_period_s, 86400u) << "the stats period is not auto mode's";
  destroy_guarded(std::move(ctl));
}

// ---- the thread

TEST_F(BalloonControllerTest, TheThreadAsksForStatsEveryPeriod) {
  driver_sends_available(20 * kMiB);  // the driver's buffer, held by the device
  BalloonControllerOptions o;
  o.stats_period_s = 1;
  auto ctl = std::make_unique<BalloonController>(*h.device, *mm, o);
  ASSERT_TRUE(h.device->wait_until([](const balloon::BalloonStatus& s) { return s.counters.stats_requests >= 1; },
                                    kHangGuardNs))
      << "the controller never asked for stats";
  EXPECT_GE(h.irq.queue_notes(h.index_of(QueueRole::kStats)), 1) << "the buffer went back to the driver";
  destroy_guarded(std::move(ctl));
  EXPECT_EQ(h.used_count(QueueRole::kStats), 1u);
  EXPECT_EQ(h.device->target_pages(), 0u) << "without auto mode the target is the user's";
  EXPECT_EQ(h.counters().stats_requests, 1u) << "one buffer, returned once";
}

TEST_F(BalloonControllerTest, PeriodZeroNeverAsks) {
  driver_sends_available(20 * kMiB);
  auto ctl = std::make_unique<BalloonController>(*h.device, *mm, idle());
  ctl->set_stats_period(0);
  destroy_guarded(std::move(ctl));
  EXPECT_EQ(h.counters().stats_requests, 0u);
  EXPECT_EQ(h.used_count(QueueRole::kStats), 0u) << "the buffer is still held";
  EXPECT_EQ(h.device->target_pages(), 0u);
}

TEST_F(BalloonControllerTest, ASetPeriodStartsAnIdleThread) {
  driver_sends_available(20 * kMiB);
  auto ctl = std::make_unique<BalloonController>(*h.device, *mm, idle());
  ctl->set_stats_period(3600);
  ASSERT_TRUE(h.device->wait_until([](const balloon::BalloonStatus& s) { return s.counters.stats_requests >= 1; },
                                    kHangGuardNs));
  destroy_guarded(std::move(ctl));
  EXPECT_EQ(h.used_count(QueueRole::kStats), 1u);
}

TEST_F(BalloonControllerTest, AutoModeOnTheThreadMovesTheTarget) {
  driver_sends_available(20 * kMiB);
  BalloonControllerOptions o;
  o.stats_period_s = 0;  // auto mode runs every second all the same
  o.auto_mode = small_auto();
  auto ctl = std::make_unique<BalloonController>(*h.device, *mm, o);
  ASSERT_TRUE(h.device->wait_until(
      [](const balloon::BalloonStatus& s) { return s.target_pages >= pages(2 * kMiB); }, kHangGuardNs))
      << "auto mode never moved the target";
  // The status is counted right after the target moves.
  const auto guard = std::chrono::steady_clock::now() + std::chrono::nanoseconds(kHangGuardNs);
  while (ctl->auto_status().target_changes == 0 && std::chrono::steady_clock::now() < guard) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const BalloonAutoStatus s = ctl->auto_status();
  EXPECT_TRUE(s.enabled);
  EXPECT_GE(s.decisions, 1u);
  EXPECT_GE(s.target_changes, 1u);
  ASSERT_TRUE(s.last);
  EXPECT_NE(s.last->reason.find("surplus"), std::string::npos) << s.last->reason;
  EXPECT_GE(s.last->target_bytes, 2 * kMiB);
  EXPECT_GE(h.counters().stats_requests, 1u) << "fresh stats are asked for before deciding";

  ctl->set_auto(std::nullopt);
  EXPECT_FALSE(ctl->auto_status().enabled);
  EXPECT_FALSE(ctl->options().auto_mode);
  destroy_guarded(std::move(ctl));
  // Every move was by one step at most from a multiple of the step.
  EXPECT_EQ(h.device->target_pages() % pages(2 * kMiB), 0u);
}

// An explicit size from the user (Guest::set_balloon: auto mode off, then the target) while
// the thread is asking for stats: the decision it was about to make must not be made, and
// the user's target must stay. The observer runs on the controller's thread inside
// request_stats, with the controller unlocked, like an API call that lands then; the pause
// lets the 200 ms before the decision pass meanwhile.
TEST_F(BalloonControllerTest, NoDecisionAfterAutoModeIsTurnedOffDuringAStatsRequest) {
  (void)h.device->set_target_pages(1000);
  driver_sends_available(20 * kMiB);  // a decision now would inflate
  std::promise<BalloonController*> controller;
  std::shared_future<BalloonController*> controller_ready = controller.get_future().share();
  std::promise<void> user_done;
  std::atomic<int> observed{0};
  h.device->set_observer([&] {
    if (observed.fetch_add(1) != 0) return;  // the stats request; later: target changes
    controller_ready.get()->set_auto(std::nullopt);
    (void)h.device->set_target_pages(1500);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    user_done.set_value();
  });

  BalloonControllerOptions o;
  o.auto_mode = small_auto();
  auto ctl = std::make_unique<BalloonController>(*h.device, *mm, o);
  controller.set_value(ctl.get());
  ASSERT_EQ(user_done.get_future().wait_for(std::chrono::nanoseconds(kHangGuardNs)), std::future_status::ready);
  destroy_guarded(std::move(ctl));  // the thread finishes what it was doing, then stops
  h.device->set_observer(nullptr);

  EXPECT_EQ(h.counters().stats_requests, 1u);
  EXPECT_EQ(h.device->target_pages(), 1500u) << "a decision overrode the user's size after auto mode was turned off";
  EXPECT_EQ(observed.load(), 2) << "the stats request and the user's target only";
}

// ---- the destructor

TEST_F(BalloonControllerTest, TheDestructorJoinsAnIdleThread) {
  destroy_guarded(std::make_unique<BalloonController>(*h.device, *mm, idle()));
  // And one that never got to wait.
  for (int i = 0; i < 20; ++i) destroy_guarded(std::make_unique<BalloonController>(*h.device, *mm, idle()));
}

TEST_F(BalloonControllerTest, TheDestructorJoinsAThreadWaitingForItsPeriod) {
  driver_sends_available(20 * kMiB);
  BalloonControllerOptions o;
  o.stats_period_s = 86400;
  auto ctl = std::make_unique<BalloonController>(*h.device, *mm, o);
  ASSERT_TRUE(h.device->wait_until([](const balloon::BalloonStatus& s) { return s.counters.stats_requests >= 1; },
                                    kHangGuardNs));
  destroy_guarded(std::move(ctl));  // now a day from its next request
  EXPECT_EQ(h.counters().stats_requests, 1u);

  // Right after construction, with a period, in auto mode.
  o.stats_period_s = 1;
  o.auto_mode = small_auto();
  for (int i = 0; i < 20; ++i) destroy_guarded(std::make_unique<BalloonController>(*h.device, *mm, o));
}

TEST_F(BalloonControllerTest, TheDestructorJoinsAThreadWaitingToDecide) {
  // In auto mode the thread asks for stats, then waits 200 ms before deciding (and then a
  // day for the next request): the destructor wakes it from either wait.
  driver_sends_available(20 * kMiB);
  BalloonControllerOptions o;
  o.stats_period_s = 86400;
  o.auto_mode = small_auto();
  auto ctl = std::make_unique<BalloonController>(*h.device, *mm, o);
  ASSERT_TRUE(h.device->wait_until([](const balloon::BalloonStatus& s) { return s.counters.stats_requests >= 1; },
                                    kHangGuardNs));
  destroy_guarded(std::move(ctl));
  EXPECT_EQ(h.counters().stats_requests, 1u);
}

}  // namespace
}  // namespace tide::vmm
