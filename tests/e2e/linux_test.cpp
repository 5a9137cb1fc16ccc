// E2E: a stock Debian kernel (vmlinux from linux-image-cloud-amd64, prepared by
// images/linux/prepare.sh) booted through the same PVH path. On PVM hosts it runs
// emulated, so the test checks its first console lines: the banner and the memory map
// tide handed it. On hardware-virtualization hosts it boots on to freeing its init memory.
#include <signal.h>

#include <filesystem>

#include "e2e_util.hpp"

namespace tide::test {
namespace {

using std::chrono::seconds;

bool pvm_host() { return run_command({kTide, "--version"}).out.find("KVM host: PVM") != std::string::npos; }

TEST(StockLinux, PrintsItsBannerAndTheMemoryMapTideGaveIt) {
  TIDE_REQUIRE_KVM();
  ASSERT_TRUE(std::filesystem::exists(kVmlinux)) << kVmlinux << " is missing: run images/linux/prepare.sh";
  const bool pvm = pvm_host();
  Process p({kTide, "run", "--kernel", kVmlinux, "--memory", "512M", "--cmdline",
             "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1"});
  // Generous limits: emulated, this kernel needs about 20 s to get this far here.
  for (const char* line : {"Linux version 6.", "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
                           "BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved",
                           "BIOS-e820: [mem 0x0000000000100000-0x000000001fffffff] usable",
                           "BIOS-e820: [mem 0x00000000e0000000-0x00000000efffffff] reserved"}) {
    ASSERT_TRUE(p.wait_for_output(line, seconds(600))) << "missing '" << line << "' in:\n" << p.output();
  }
  if (!pvm) {
    ASSERT_TRUE(p.wait_for_output("Freeing unused kernel image", seconds(600))) << p.output();
  }
  p.kill(SIGTERM);
  int status = p.wait(seconds(120));
  // Stopped by us; on PVM the emulated kernel may first die of a KVM emulation error,
  // which tide reports as one error line.
  if (pvm && status == 1) {
    EXPECT_NE(p.output().find("KVM internal error"), std::string::npos) << p.output();
  } else {
    EXPECT_EQ(status, 128 + SIGTERM) << p.output();
  }
}

}  // namespace
}  // namespace tide::test
