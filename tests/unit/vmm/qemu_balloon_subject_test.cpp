// Unit: the QEMU side of the balloon experiment without QEMU: its command line and the
// resident-set reading it samples.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "vmm/bench/qemu_balloon_subject.hpp"

namespace tide::vmm::bench {
namespace {

TEST(QemuBalloonSubject, CommandLine) {
  BalloonSubjectConfig c;
  c.memory_bytes = uint64_t{1} << 30;
  c.tideguest = "/b/tideguest.elf";
  const auto paths = QemuPaths::in("/w");
  EXPECT_EQ(paths.qmp_socket, "/w/qemu-qmp.sock");
  const auto argv = QemuBalloonSubject::command_line("/usr/bin/qemu-system-x86_64", c, paths);
  auto after = [&](const std::string& flag, size_t nth = 0) -> std::string {
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
      if (argv[i] == flag && nth-- == 0) return argv[i + 1];
    }
    return "<missing " + flag + ">";
  };
  EXPECT_EQ(argv[0], "/usr/bin/qemu-system-x86_64");
  EXPECT_EQ(after("-accel"), "kvm");
  EXPECT_EQ(after("-accel", 1), "tcg");  // the fallback comes second
  EXPECT_EQ(after("-M"), "microvm,pcie=on");
  EXPECT_EQ(after("-m"), "1024M");
  EXPECT_EQ(after("-device"), "isa-debug-exit,iobase=0x501,iosize=2");
  EXPECT_EQ(after("-device", 1), "virtio-balloon-pci,id=balloon0,deflate-on-oom=on,free-page-reporting=on");
  EXPECT_EQ(after("-kernel"), "/b/tideguest.elf");
  EXPECT_EQ(after("-append"), "tide.run=\"serve\"");
  EXPECT_EQ(after("-qmp"), "unix:/w/qemu-qmp.sock,server=on,wait=off");
  EXPECT_EQ(after("-serial"), "file:/w/qemu-console.log");
  EXPECT_NE(std::find(argv.begin(), argv.end(), "-no-reboot"), argv.end());
  const auto other = QemuBalloonSubject::command_line("q", c, paths, "memtouch 64M; serve", "tide.balloon_report_ms=0");
  EXPECT_EQ(other[std::find(other.begin(), other.end(), "-append") - other.begin() + 1],
            "tide.run=\"memtouch 64M; serve\" tide.balloon_report_ms=0");
}

TEST(QemuBalloonSubject, ProcessRssOfThisProcessAndOfNone) {
  auto self = process_rss_bytes(::getpid());
  ASSERT_TRUE(self) << self.error().message();
  EXPECT_GT(*self, 1u << 20);
  EXPECT_EQ(*self % 1024, 0u);
  EXPECT_FALSE(process_rss_bytes(0x7ffffff0));
}

TEST(QemuBalloonSubject, RefusesWhatQemuCannotTakeBeforeStartingIt) {
  QemuBalloonOptions options;
  options.qemu = "/nonexistent/qemu";
  QemuBalloonSubject subject(options);
  BalloonSubjectConfig c;
  c.memory_bytes = (uint64_t{1} << 30) + 4096;
  c.tideguest = "/nonexistent/tideguest.elf";
  auto st = subject.start(c);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("whole number of MiB"), std::string::npos) << st.error().message();
  c.memory_bytes = uint64_t{1} << 30;
  st = subject.start(c);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("tideguest /nonexistent/tideguest.elf: no such file"), std::string::npos)
      << st.error().message();
  EXPECT_EQ(subject.accel(), "");
  EXPECT_FALSE(subject.set_target(0));
  EXPECT_FALSE(subject.sample());
  subject.stop();  // nothing started: nothing to do
}

}  // namespace
}  // namespace tide::vmm::bench
