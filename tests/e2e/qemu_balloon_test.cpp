// E2E: tideguest's virtio-balloon driver against QEMU's virtio-balloon device (Debian's
// QEMU, microvm with PCIe, KVM), a device model not written in this project. One guest
// touches 960 MiB, is inflated to 256 MiB and deflated back through QMP: `actual` follows
// each target, QEMU's resident set gives the ballooned memory back, and the guest's stats
// (total, free, fresh timestamps) reach QEMU and reflect the balloon. A second guest holds
// 512 MiB and frees it: free page reporting makes QEMU give it back.
//
// QEMU's side of the protocol, as these tests rely on it: it never offers MUST_TELL_HOST;
// QMP `balloon` takes the size the guest should be left with, and `query-balloon`'s
// `actual` is that size too (RAM minus the balloon), in bytes; stats flow only after
// `guest-stats-polling-interval` is set on the device, and read back as `guest-stats`.
#include <boost/json.hpp>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "e2e_util.hpp"
#include "vmm/bench/child_process.hpp"
#include "vmm/bench/qemu_balloon_subject.hpp"
#include "vmm/bench/qmp_client.hpp"

namespace tide::test {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
namespace bench = tide::vmm::bench;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGuestRam = 1024 * kMiB;
const std::string kQemu = "/usr/bin/qemu-system-x86_64";
// Every limit below only guards against a hang; nothing asserts on how long a step took.
constexpr auto kPoll = milliseconds(20);

double mib(uint64_t bytes) { return static_cast<double>(bytes) / static_cast<double>(kMiB); }
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// A JSON number as an unsigned value (QEMU sends unavailable stats as -1, which arrives
// as UINT64_MAX); nullopt if absent or not a number.
std::optional<uint64_t> json_u64(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* at = &v;
  for (const char* k : path) {
    if (!at->is_object()) return std::nullopt;
    at = at->as_object().if_contains(k);
    if (!at) return std::nullopt;
  }
  if (at->is_uint64()) return at->as_uint64();
  if (at->is_int64()) return static_cast<uint64_t>(at->as_int64());
  if (at->is_double() && at->as_double() >= 0) return static_cast<uint64_t>(at->as_double());
  return std::nullopt;
}

struct GuestStats {
  uint64_t total = 0, free = 0, available = 0;
  uint64_t last_update = 0;  // QEMU's wall-clock second of the last stats it received
  std::string text;          // the whole answer, for messages
};

// tideguest under QEMU with a virtio-balloon-pci device (QemuBalloonSubject's command
// line, so the device and machine are the ones the balloon experiment uses), its serial
// console in a file, QMP on a socket, all in a scratch directory removed at the end.
class QemuGuest {
 public:
  QemuGuest() {
    std::string tmpl = (fs::temp_directory_path() / "tide-qemu-balloon-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
  }
  ~QemuGuest() {
    qmp_.reset();
    qemu_ = bench::ChildProcess();  // kills QEMU if it is still running
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  QemuGuest(const QemuGuest&) = delete;
  QemuGuest& operator=(const QemuGuest&) = delete;

  // Boots tideguest with `script` (tide.run) and more kernel parameters `params`, and
  // connects to QMP. QEMU must run the guest under KVM.
  ::testing::AssertionResult boot(const std::string& script, const std::string& params) {
    if (dir_.empty()) return ::testing::AssertionFailure() << "cannot create a scratch directory";
    if (!fs::is_regular_file(kQemu)) {
      return ::testing::AssertionFailure() << kQemu << " is missing: install QEMU (apt-get install qemu-system-x86, "
                                           << "as scripts/setup.sh does); this test needs it";
    }
    bench::BalloonSubjectConfig config;
    config.memory_bytes = kGuestRam;
    config.tideguest = kTideguest;
    config.workdir = dir_;
    paths_ = bench::QemuPaths::in(dir_);
    std::vector<std::string> argv = bench::QemuBalloonSubject::command_line(kQemu, config, paths_, script);
    bool appended = false;
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
      if (argv[i] == "-append") {
        if (!params.empty()) argv[i + 1] += " " + params;
        appended = true;
      }
    }
    if (!appended) return ::testing::AssertionFailure() << "QEMU's command line has no -append";
    auto child = bench::ChildProcess::spawn(argv, paths_.qemu_log);
    if (!child) return ::testing::AssertionFailure() << "start QEMU: " << child.error().message();
    qemu_ = std::move(*child);
    auto qmp = bench::QmpClient::connect(paths_.qmp_socket, Clock::now() + seconds(30), [this] { return qemu_.running(); });
    if (!qmp) return ::testing::AssertionFailure() << "QMP: " << qmp.error().message() << logs();
    qmp_.emplace(std::move(*qmp));
    auto kvm = qmp_->execute("query-kvm");
    if (!kvm) return ::testing::AssertionFailure() << "query-kvm: " << kvm.error().message() << logs();
    const json::value* enabled = kvm->is_object() ? kvm->as_object().if_contains("enabled") : nullptr;
    if (!enabled || !enabled->is_bool() || !enabled->as_bool()) {
      return ::testing::AssertionFailure() << "QEMU could not use KVM although /dev/kvm exists: "
                                           << json::serialize(*kvm) << logs();
    }
    return ::testing::AssertionSuccess();
  }

  // Waits for a console line that is exactly `line` (not the `> echo` of it).
  ::testing::AssertionResult wait_line(const std::string& line, seconds limit) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      std::istringstream console(slurp(paths_.console_log));
      for (std::string l; std::getline(console, l);) {
        if (!l.empty() && l.back() == '\r') l.pop_back();
        if (l == line) return ::testing::AssertionSuccess();
      }
      if (!qemu_.running()) {
        return ::testing::AssertionFailure() << "QEMU exited (status " << qemu_.status().value_or(-1)
                                             << ") before the guest printed '" << line << "'" << logs();
      }
      if (Clock::now() >= deadline) {
        return ::testing::AssertionFailure() << "no '" << line << "' from the guest within " << limit.count() << " s"
                                             << logs();
      }
      std::this_thread::sleep_for(kPoll);
    }
  }

  ::testing::AssertionResult qmp(const std::string& command, const json::object& args, json::value* out = nullptr) {
    if (!qmp_) return ::testing::AssertionFailure() << "QMP not connected";
    auto r = qmp_->execute(command, args);
    if (!r) return ::testing::AssertionFailure() << "QMP " << command << ": " << r.error().message() << logs();
    if (out) *out = std::move(*r);
    return ::testing::AssertionSuccess();
  }

  // query-balloon's `actual`: the guest's size in bytes.
  ::testing::AssertionResult actual(uint64_t* out) {
    json::value v;
    if (auto r = qmp("query-balloon", {}, &v); !r) return r;
    auto a = json_u64(v, {"actual"});
    if (!a) return ::testing::AssertionFailure() << "query-balloon without actual: " << json::serialize(v);
    *out = *a;
    return ::testing::AssertionSuccess();
  }

  // Polls query-balloon until `actual` is `guest_bytes`.
  ::testing::AssertionResult wait_actual(uint64_t guest_bytes, seconds limit) {
    const auto deadline = Clock::now() + limit;
    uint64_t a = 0;
    for (;;) {
      if (auto r = actual(&a); !r) return r;
      if (a == guest_bytes) return ::testing::AssertionSuccess();
      if (Clock::now() >= deadline) {
        return ::testing::AssertionFailure() << "query-balloon actual is " << a << " (" << mib(a) << " MiB), not "
                                             << guest_bytes << " after " << limit.count() << " s" << logs();
      }
      std::this_thread::sleep_for(kPoll);
    }
  }

  ::testing::AssertionResult rss(uint64_t* out) {
    auto r = bench::process_rss_bytes(qemu_.pid());
    if (!r) return ::testing::AssertionFailure() << "QEMU's RSS: " << r.error().message() << logs();
    *out = *r;
    return ::testing::AssertionSuccess();
  }

  // Polls QEMU's RSS until it is at most `at_most`; `*out` is the last value read.
  ::testing::AssertionResult wait_rss_at_most(uint64_t at_most, seconds limit, uint64_t* out) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      if (auto r = rss(out); !r) return r;
      if (*out <= at_most) return ::testing::AssertionSuccess();
      if (Clock::now() >= deadline) {
        return ::testing::AssertionFailure() << "QEMU's RSS stayed at " << mib(*out) << " MiB, above " << mib(at_most)
                                             << " MiB, for " << limit.count() << " s" << logs();
      }
      std::this_thread::sleep_for(kPoll);
    }
  }

  ::testing::AssertionResult stats(GuestStats* out) {
    json::value v;
    if (auto r = qmp("qom-get", {{"path", "/machine/peripheral/balloon0"}, {"property", "guest-stats"}}, &v); !r) {
      return r;
    }
    out->text = json::serialize(v);
    auto total = json_u64(v, {"stats", "stat-total-memory"});
    auto free = json_u64(v, {"stats", "stat-free-memory"});
    auto available = json_u64(v, {"stats", "stat-available-memory"});
    auto last = json_u64(v, {"last-update"});
    if (!total || !free || !available || !last) {
      return ::testing::AssertionFailure() << "guest-stats lacks a field: " << out->text;
    }
    out->total = *total;
    out->free = *free;
    out->available = *available;
    out->last_update = *last;
    return ::testing::AssertionSuccess();
  }

  // Polls guest-stats until QEMU has received an update newer than `after` (a last-update
  // value) that satisfies `good`; `*out` is the last answer read.
  template <class Pred>
  ::testing::AssertionResult wait_stats(uint64_t after, Pred good, seconds limit, GuestStats* out) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      if (auto r = stats(out); !r) return r;
      if (out->last_update > after && good(*out)) return ::testing::AssertionSuccess();
      if (Clock::now() >= deadline) {
        return ::testing::AssertionFailure() << "no fitting stats update after last-update=" << after << " within "
                                             << limit.count() << " s; last answer " << out->text << logs();
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
  }

  // QMP quit; QEMU must then exit by itself.
  ::testing::AssertionResult quit() {
    if (qmp_) (void)qmp_->execute("quit", {}, milliseconds(2000));  // QEMU may exit before answering
    qmp_.reset();
    auto status = qemu_.wait_for(seconds(10));
    if (!status) return ::testing::AssertionFailure() << "QEMU did not exit after QMP quit" << logs();
    if (*status != 0) return ::testing::AssertionFailure() << "QEMU exited with status " << *status << logs();
    return ::testing::AssertionSuccess();
  }

  [[nodiscard]] std::string console() const { return slurp(paths_.console_log); }

  // The end of QEMU's own output and of the guest's console, for failure messages.
  [[nodiscard]] std::string logs() const {
    return "\n--- QEMU ---\n" + bench::file_tail(paths_.qemu_log, 1024) + "\n--- guest console ---\n" +
           bench::file_tail(paths_.console_log, 2048);
  }

 private:
  std::string dir_;
  bench::QemuPaths paths_;
  bench::ChildProcess qemu_;
  std::optional<bench::QmpClient> qmp_;
};

// Inflate from 1 GiB to 256 MiB and back, after the guest touched 960 MiB. Free page
// reporting is left out (tide.balloon=noreport): memtouch frees what it touched, and a
// reporting pass would hand that memory back to QEMU before the inflate could, so the drop
// in QEMU's RSS would prove nothing about the inflate.
TEST(QemuBalloon, InflateReturnsTouchedMemoryStatsFlowAndDeflateRestores) {
  TIDE_REQUIRE_KVM();
  QemuGuest guest;
  ASSERT_TRUE(guest.boot("memtouch 960M seq 1; echo touched; serve", "tide.balloon=noreport"));
  ASSERT_TRUE(guest.wait_line("touched", seconds(60)));
  ASSERT_TRUE(guest.qmp("qom-set", {{"path", "/machine/peripheral/balloon0"},
                                    {"property", "guest-stats-polling-interval"},
                                    {"value", 1}}));
  uint64_t actual = 0;
  ASSERT_TRUE(guest.actual(&actual));
  EXPECT_EQ(actual, kGuestRam) << "the balloon should start empty";

  // The guest touched 960 MiB, so nearly all of its RAM is resident in QEMU.
  uint64_t rss_before = 0;
  ASSERT_TRUE(guest.rss(&rss_before));
  EXPECT_GE(rss_before, 900 * kMiB) << guest.logs();

  // 2. Inflate: the guest keeps 256 MiB; QEMU discards the 768 MiB it is given.
  const auto inflate_start = Clock::now();
  ASSERT_TRUE(guest.qmp("balloon", {{"value", 256 * kMiB}}));
  ASSERT_TRUE(guest.wait_actual(256 * kMiB, seconds(60)));
  const double inflate_ms = ms_since(inflate_start);
  uint64_t rss_inflated = 0;
  ASSERT_TRUE(guest.wait_rss_at_most(rss_before - 600 * kMiB, seconds(30), &rss_inflated));

  // 3. Stats: the guest answers QEMU's requests, with fresh figures that show the balloon
  // (its pages are allocated, so free memory is at most the 256 MiB left).
  GuestStats first;
  ASSERT_TRUE(guest.wait_stats(0, [](const GuestStats&) { return true; }, seconds(30), &first));
  GuestStats inflated;
  ASSERT_TRUE(guest.wait_stats(
      first.last_update, [](const GuestStats& s) { return s.free <= 256 * kMiB; }, seconds(30), &inflated));
  EXPECT_GT(inflated.last_update, first.last_update);
  // Total: the 1 GiB of RAM minus what tideguest keeps for itself (its image, page tables,
  // the low megabyte); DEFLATE_ON_OOM is negotiated, so the balloon's pages still count.
  EXPECT_GE(inflated.total, 900 * kMiB) << inflated.text;
  EXPECT_LE(inflated.total, kGuestRam) << inflated.text;
  EXPECT_GT(inflated.free, 0u) << inflated.text;
  EXPECT_LT(inflated.free, inflated.total) << inflated.text;
  EXPECT_LE(inflated.available, inflated.total) << inflated.text;

  // 4. Deflate back to the whole RAM; the pages return to the guest's free memory.
  const auto deflate_start = Clock::now();
  ASSERT_TRUE(guest.qmp("balloon", {{"value", kGuestRam}}));
  ASSERT_TRUE(guest.wait_actual(kGuestRam, seconds(60)));
  const double deflate_ms = ms_since(deflate_start);
  GuestStats deflated;
  ASSERT_TRUE(guest.wait_stats(
      inflated.last_update, [](const GuestStats& s) { return s.free >= 768 * kMiB; }, seconds(30), &deflated));
  EXPECT_LT(deflated.free, deflated.total) << deflated.text;
  EXPECT_EQ(deflated.total, inflated.total) << deflated.text;

  // The guest followed both targets and nothing went wrong in the driver.
  const std::string console = guest.console();
  EXPECT_NE(console.find("balloon: reached target=196608 actual=196608"), std::string::npos) << console;
  EXPECT_NE(console.find("balloon: reached target=0 actual=0"), std::string::npos) << console;
  EXPECT_EQ(console.find("balloon-event"), std::string::npos) << console;
  EXPECT_EQ(console.find("tideguest: balloon:"), std::string::npos) << console;

  std::printf("[ figures  ] inflate 1 GiB -> 256 MiB: %.0f ms; QEMU RSS %.0f MiB -> %.0f MiB; deflate %.0f ms; "
              "stats total=%.0f MiB free=%.0f MiB inflated, %.0f MiB deflated\n",
              inflate_ms, mib(rss_before), mib(rss_inflated), deflate_ms, mib(inflated.total), mib(inflated.free),
              mib(deflated.free));
  EXPECT_TRUE(guest.quit());
}

// Free page reporting: memory the guest held and freed goes back to QEMU without any
// target change, a pass running (by default) two seconds after the frees.
TEST(QemuBalloon, FreePageReportingReturnsDroppedMemory) {
  TIDE_REQUIRE_KVM();
  QemuGuest guest;
  ASSERT_TRUE(guest.boot("memhold 512M; echo held; sleep 1000; memdrop; echo dropped; serve", ""));
  ASSERT_TRUE(guest.wait_line("held", seconds(60)));
  uint64_t rss_held = 0;
  ASSERT_TRUE(guest.rss(&rss_held));
  EXPECT_GE(rss_held, 512 * kMiB) << guest.logs();

  ASSERT_TRUE(guest.wait_line("dropped", seconds(30)));
  const auto dropped_at = Clock::now();
  uint64_t rss_at_drop = 0;
  ASSERT_TRUE(guest.rss(&rss_at_drop));
  uint64_t rss_after = 0;
  ASSERT_TRUE(guest.wait_rss_at_most(rss_held - 400 * kMiB, seconds(30), &rss_after));
  const double report_ms = ms_since(dropped_at);

  uint64_t actual = 0;
  ASSERT_TRUE(guest.actual(&actual));
  EXPECT_EQ(actual, kGuestRam) << "reporting must not be mistaken for ballooning";
  const std::string console = guest.console();
  EXPECT_NE(console.find("memhold: size=512MiB pages=131072 held=131072"), std::string::npos) << console;
  EXPECT_EQ(console.find("balloon-event"), std::string::npos) << console;

  std::printf("[ figures  ] free page reporting: QEMU RSS %.0f MiB held, %.0f MiB at memdrop, %.0f MiB %.0f ms later\n",
              mib(rss_held), mib(rss_at_drop), mib(rss_after), report_ms);
  EXPECT_TRUE(guest.quit());
}

}  // namespace
}  // namespace tide::test
