// E2E: tideguest's memory under tide's allocator — memtouch residency as tide reports it,
// the pool whole again after exit, checksummed data through release and refault (test
// hooks) with a periodic audit, the kernel-faulted debug backend, and a pool too small.
#include "e2e_util.hpp"

namespace tide::test {
namespace {

double mib_field(const std::string& text, const std::string& prefix, const std::string& key) {
  auto f = fields_of(text, prefix);
  if (!f.count(key)) return -1;
  return std::stod(f[key]);  // "260.0MiB" parses as 260.0
}

TEST(GuestMemory, MemtouchResidencyAndThePoolWholeAfterExit) {
  TIDE_REQUIRE_KVM();
  auto r = run_command(tideguest_run("memtouch 256M seq 1 keep; exit 0",
                                     {"--memory", "512M", "--stats-interval", "3600", "--audit-interval", "3600"}));
  ASSERT_EQ(r.status, 0) << r.output;
  const double resident = mib_field(r.output, "tide: stats: tideguest:", "resident");
  // 256 MiB touched plus tideguest's own image, tables and boot data: a few 2 MiB extents.
  EXPECT_GE(resident, 256.0) << r.output;
  EXPECT_LE(resident, 256.0 + 16.0) << r.output;
  auto f = fields_of(r.output, "tide: stats: tideguest:");
  EXPECT_GE(std::stoull(f["fault_around"]), 128u);  // 256 MiB in 2 MiB extents
  // After the guest is gone every frame is back, and the pool holds no host memory.
  const std::string after = r.output.substr(r.output.find("after exit:"));
  EXPECT_EQ(mib_field(after, "after exit: pool:", "free"), 512.0) << r.output;
  EXPECT_EQ(mib_field(after, "after exit: pool:", "used"), 0.0) << r.output;
  EXPECT_EQ(mib_field(after, "after exit: pool:", "host_resident"), 0.0) << r.output;
  EXPECT_NE(r.output.find("tide: audit: clean"), std::string::npos) << r.output;
}

TEST(GuestMemory, ChecksummedDataSurvivesReleaseAndRefault) {
  TIDE_REQUIRE_KVM();
  auto r = run_command(tideguest_run(
      "memfill 128M 42; hookrelease 3; memverify; hookrelease 1; memverify; memverify; memfree; exit 0",
      {"--test-hooks", "--audit-interval", "0.05", "--stats-interval", "3600"}));
  ASSERT_EQ(r.status, 0) << r.output;
  // Every third page released: those read zero, the rest intact.
  EXPECT_NE(r.out.find("hookrelease: requested=10923 released=10923"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("memverify: pages=32768 intact=21845 zero=10923 bad=0"), std::string::npos) << r.out;
  // Then everything (memverify rewrote the pattern): all zero, then all intact again.
  EXPECT_NE(r.out.find("hookrelease: requested=32768 released=32768"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("memverify: pages=32768 intact=0 zero=32768 bad=0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("memverify: pages=32768 intact=32768 zero=0 bad=0"), std::string::npos) << r.out;
  EXPECT_NE(r.output.find("tide: audit: clean"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("error: audit"), std::string::npos) << "an audit failed:\n" << r.output;
  auto f = fields_of(r.output, "tide: stats: tideguest:");
  EXPECT_GE(std::stoull(f["released"]), 10923u + 32768u) << r.output;
}

TEST(GuestMemory, HookReleaseOutsideRamIsRefused) {
  TIDE_REQUIRE_KVM();
  // tideguest's region is RAM; a release of a non-RAM range is refused and the VM goes on.
  auto r = run_command(tideguest_run("memfill 8M; hookrelease 1; memverify; exit 0",
                                     {"--test-hooks", "--memory", "64M", "--audit-interval", "3600"}));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.out.find("bad=0"), std::string::npos) << r.out;
}

TEST(GuestMemory, KernelBackendStillBootsTheGuest) {
  TIDE_REQUIRE_KVM();
  auto r = run_command(tideguest_run("memtouch 64M seq 2; exit 5", {"--memory-backend", "kernel"}));
  EXPECT_EQ(r.status, 5) << r.output;
  EXPECT_EQ(count_lines(r.out, "memtouch: pass "), 2) << r.out;
}

TEST(GuestMemory, AGuestLargerThanThePoolRunsBySwapping) {
  TIDE_REQUIRE_KVM();
  // The root of the memory cgroups is the host, limited to the pool: 192 MiB of writes in a
  // 64 MiB pool go to the guest's swap file and come back intact.
  auto r = run_command(tideguest_run("memfill 192M 5; memverify; exit 0",
                                     {"--memory", "256M", "--pool", "64M", "--balloon", "none", "--audit-interval", "3600"}),
                       std::chrono::seconds(300));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.out.find("memverify: pages=49152 intact=49152 zero=0 bad=0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tide: audit: clean"), std::string::npos) << r.output;
}

TEST(GuestMemory, ExhaustedPoolWithoutSwapStopsTheGuestWithOneClearError) {
  TIDE_REQUIRE_KVM();
  auto r = run_command(tideguest_run("memtouch 192M seq 1; exit 0", {"--memory", "256M", "--pool", "64M", "--balloon",
                                                                      "none", "--swap-max", "0", "--oom-policy", "stop"}),
                       std::chrono::seconds(300));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("out of memory under / (policy stop)"), std::string::npos) << r.output;
  EXPECT_EQ(count_lines(r.output, "tide: error:"), 1) << r.output;
}

TEST(GuestMemory, BadMemoryFlags) {
  auto r = run_command({kTide, "run", "--pool", "lots"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--pool: bad size 'lots'"), std::string::npos) << r.output;
  r = run_command({kTide, "run", "--memory-backend", "fast"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--memory-backend: 'fast' is not tide or kernel"), std::string::npos) << r.output;
  r = run_command({kTide, "run", "--stats-interval", "-1"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--stats-interval: '-1' is not a number of seconds"), std::string::npos) << r.output;
  r = run_command({kTide, "run", "--memory-backend", "kernel", "--test-hooks"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--test-hooks needs --memory-backend tide"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tide::test
