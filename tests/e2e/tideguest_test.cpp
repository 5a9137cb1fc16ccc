// E2E: tideguest booted by the real `tide` binary — native execution proven by KVM's own
// vCPU statistics, virtio-rng through MSI-X, memtouch, several vCPUs, exit status and
// signals.
#include <signal.h>

#include "e2e_util.hpp"

namespace tide::test {
namespace {

using std::chrono::seconds;

TEST(Tideguest, BootsToReadyNatively) {
  TIDE_REQUIRE_KVM();
  auto r = run_command(tideguest_run("exit 0", {"--vcpu-stats"}));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.out.find("TIDEGUEST READY\n"), std::string::npos) << r.output;
  auto stats = fields_of(r.output, "tide: vcpu0:");
  ASSERT_TRUE(stats.count("insn_emulation")) << r.output;
  // Only the short 32-bit PVH entry runs before the VIF page is registered; an emulated
  // boot would emulate every one of the kernel's hundreds of thousands of instructions.
  EXPECT_LT(std::stoull(stats["insn_emulation"]), 5000u) << r.output;
}

TEST(Tideguest, ReadsVirtioRngWithMsiInterrupts) {
  TIDE_REQUIRE_KVM();
  auto r = run_command(tideguest_run("rng 4096; exit 0"));
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_NE(r.out.find("rng: 4096 bytes from virtio-rng (irqs="), std::string::npos) << r.output;
  auto f = fields_of(r.out, "rng: ");  // "(irqs=K)" parses as key "(irqs" = "K)"
  ASSERT_TRUE(f.count("(irqs") && f.count("first")) << r.out;
  EXPECT_GE(std::stoi(f["(irqs"]), 1) << "no MSI-X interrupt reached the guest";
  ASSERT_EQ(f["first"].size(), 32u) << r.out;
  EXPECT_NE(f["first"], std::string(32, '0'));
}

TEST(Tideguest, MemtouchReportsEveryPass) {
  TIDE_REQUIRE_KVM();
  auto r = run_command(tideguest_run("memtouch 64M seq 2; memtouch 32M rand 3; exit 0"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(count_lines(r.out, "memtouch: pass "), 5) << r.out;
  auto p2 = fields_of(r.out.substr(r.out.find("pass 2/2")), "pass 2/2");
  EXPECT_EQ(p2["size"], "64MiB");
  EXPECT_EQ(p2["mode"], "seq");
  EXPECT_GT(std::stod(p2["mbps"]), 0.0);
  EXPECT_NE(r.out.find("memtouch: pass 3/3 size=32MiB mode=rand"), std::string::npos);
}

TEST(Tideguest, ExitStatusPropagates) {
  TIDE_REQUIRE_KVM();
  EXPECT_EQ(run_command(tideguest_run("exit 7")).status, 7);
  EXPECT_EQ(run_command(tideguest_run("exit 0")).status, 0);
  auto r = run_command(tideguest_run("nosuchcommand"));
  EXPECT_EQ(r.status, 2) << r.output;  // tideguest's status for an unknown command
}

TEST(Tideguest, FourVcpusAndRamAboveFourGiB) {
  TIDE_REQUIRE_KVM();
  auto r = run_command(tideguest_run("info; memtouch 256M seq 1; exit 0", {"--vcpus", "4", "--memory", "3584M"}));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.out.find("cpus=4"), std::string::npos) << r.out;
  // RAM beyond the 3 GiB hole starts at 4 GiB.
  EXPECT_NE(r.out.find("memmap 0x000100000000-0x00011fffffff ram"), std::string::npos) << r.out;
}

TEST(Tideguest, SigtermStopsTheGuestCleanly) {
  TIDE_REQUIRE_KVM();
  Process p(tideguest_run("sleep 600000; exit 0"));
  ASSERT_TRUE(p.wait_for_output("> sleep", seconds(60))) << p.output();
  p.kill(SIGTERM);
  EXPECT_EQ(p.wait(seconds(60)), 128 + SIGTERM) << p.output();
  EXPECT_NE(p.output().find("stopped by signal 15"), std::string::npos) << p.output();
}

TEST(Tideguest, ConsoleInputReachesTheGuest) {
  TIDE_REQUIRE_KVM();
  Process p(tideguest_run("read; exit 0"));
  ASSERT_TRUE(p.wait_for_output("> read", seconds(60))) << p.output();
  p.write_stdin("hello from the host\n");
  ASSERT_EQ(p.wait(seconds(60)), 0) << p.output();
  EXPECT_NE(p.stdout_text().find("read: hello from the host"), std::string::npos) << p.output();
}

}  // namespace
}  // namespace tide::test
