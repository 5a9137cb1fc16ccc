// The balloon experiment's reading of tideguest's console: the script's last command and
// when the guest has reached it.
#include <gtest/gtest.h>

#include "vmm/bench/guest_console.hpp"

namespace tide::vmm::bench {
namespace {

TEST(GuestConsole, LastCommandIsTrimmed) {
  EXPECT_EQ(last_command("memtouch 900M seq 1;  serve "), "serve");
  EXPECT_EQ(last_command("serve"), "serve");
  EXPECT_EQ(last_command("sleep 600000"), "sleep 600000");
}

TEST(GuestConsole, ServingNeedsTheEchoAfterReadyAndTheBalloonReport) {
  const std::string last = "serve";
  EXPECT_EQ(guest_progress("", last), GuestProgress::waiting);
  // The command line echoed before READY (e.g. by info) does not count.
  EXPECT_EQ(guest_progress("cmdline=\"> serve\"\nTIDEGUEST READY\n> memtouch 900M\n", last), GuestProgress::waiting);
  EXPECT_EQ(guest_progress("TIDEGUEST READY\n> serve\n", last), GuestProgress::waiting);
  EXPECT_EQ(guest_progress("TIDEGUEST READY\n> serve\nballoon: reached target=0 actual=0\n", last),
            GuestProgress::serving);
  // A report before the echo is not serve's.
  EXPECT_EQ(guest_progress("TIDEGUEST READY\nballoon: reached target=0 actual=0\n> serve\n", last),
            GuestProgress::waiting);
}

TEST(GuestConsole, OtherCommandsNeedOnlyTheirEcho) {
  EXPECT_EQ(guest_progress("TIDEGUEST READY\n> sleep 600000\n", "sleep 600000"), GuestProgress::serving);
}

TEST(GuestConsole, AnUnknownCommandIsSaid) {
  EXPECT_EQ(guest_progress("TIDEGUEST READY\n> serve\ntideguest: unknown command 'serve'\n", "serve"),
            GuestProgress::unknown_command);
}

}  // namespace
}  // namespace tide::vmm::bench
