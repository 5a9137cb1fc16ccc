// E2E: `tide host` runs several guests over one pool and `tide ctl` drives it — two
// tideguests defined from libvirt XML and from tide JSON, booted, listed, inspected; one
// shut down while the other keeps running; errors are one line and change nothing; the
// daemon shuts down cleanly.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "host_fixture.hpp"

namespace tide::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

class HostTest : public HostFixture {};

const char* kXml = R"(<domain type='kvm'>
  <name>alpha</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type><cmdline>tide.run="echo alpha up; memtouch 64M seq 1 keep; sleep 600000"</cmdline></os>
  <devices><console type='pty'/></devices>
</domain>
)";

const char* kJson = R"({"name": "beta", "memory": "192M", "vcpus": 2,
  "cmdline": "tide.run=\"echo beta up; sleep 600000\""})";

TEST_F(HostTest, TwoGuestsFromXmlAndJson) {
  auto a = ctl({"define", write("alpha.xml", kXml)});
  ASSERT_EQ(a.status, 0) << a.output;
  EXPECT_NE(a.out.find("alpha: created"), std::string::npos) << a.out;
  auto b = ctl({"create", write("beta.json", kJson)});
  ASSERT_EQ(b.status, 0) << b.output;
  EXPECT_NE(b.out.find("beta: running"), std::string::npos) << b.out;
  ASSERT_EQ(ctl({"boot", "alpha"}).status, 0);
  ASSERT_TRUE(console_shows("alpha", "alpha up"));
  ASSERT_TRUE(console_shows("beta", "beta up"));
  ASSERT_TRUE(console_shows("alpha", "memtouch: pass 1/1"));

  auto list = ctl({"list"});
  ASSERT_EQ(list.status, 0) << list.output;
  EXPECT_NE(list.out.find("alpha"), std::string::npos);
  EXPECT_NE(list.out.find("beta"), std::string::npos);
  EXPECT_EQ(count_lines(list.out, "running"), 2) << list.out;

  auto info = ctl({"info", "alpha"}, true);
  ASSERT_EQ(info.status, 0) << info.output;
  EXPECT_NE(info.out.find("\"state\":\"running\""), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("\"memory_bytes\":268435456"), std::string::npos) << info.out;
  // alpha touched 64 MiB: tide's figures show it resident.
  auto human = ctl({"info", "alpha"});
  EXPECT_NE(human.out.find("resident:"), std::string::npos) << human.out;
  auto beta = ctl({"info", "beta"}, true);
  EXPECT_NE(beta.out.find("\"vcpus\":2"), std::string::npos) << beta.out;

  // One guest shut down while the other keeps running.
  auto s = ctl({"shutdown", "alpha"});
  ASSERT_EQ(s.status, 0) << s.output;
  EXPECT_NE(s.out.find("alpha: shutdown"), std::string::npos) << s.out;
  auto beta_console_before = ctl({"info", "beta"}, true).out;
  EXPECT_NE(beta_console_before.find("\"state\":\"running\""), std::string::npos) << beta_console_before;
  auto pause = ctl({"pause", "beta"});
  EXPECT_EQ(pause.status, 0) << pause.output;
  EXPECT_NE(pause.out.find("beta: paused"), std::string::npos);
  EXPECT_EQ(ctl({"resume", "beta"}).status, 0);
  EXPECT_NE(ctl({"info", "beta"}, true).out.find("\"state\":\"running\""), std::string::npos);

  // Boot it again: a guest can be booted after a shutdown.
  ASSERT_EQ(ctl({"boot", "alpha"}).status, 0);
  EXPECT_NE(ctl({"info", "alpha"}, true).out.find("\"boots\":2"), std::string::npos);
  auto audit = ctl({"audit"});
  EXPECT_EQ(audit.status, 0) << audit.output;
  EXPECT_EQ(ctl({"delete", "alpha"}).status, 0);
  EXPECT_EQ(ctl({"info", "alpha"}).status, 1);

  // The daemon shuts down cleanly, stopping beta.
  auto hs = ctl({"host-shutdown"});
  EXPECT_EQ(hs.status, 0) << hs.output;
  EXPECT_EQ(daemon_->wait(seconds(60)), 0) << daemon_->output();
  EXPECT_NE(daemon_->output().find("tide host: stopped"), std::string::npos) << daemon_->output();
  EXPECT_FALSE(fs::exists(socket_) && ctl({"ping"}).status == 0);
  daemon_.reset();
}

TEST_F(HostTest, ErrorsAreOneLineAndChangeNothing) {
  auto missing = ctl({"info", "nobody"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.output, "tide ctl: error: no guest named 'nobody'\n");
  auto bad = ctl({"define", write("bad.json", R"({"name": "x", "memory": "lots"})")});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("'memory'"), std::string::npos) << bad.output;
  auto unknown = ctl({"define", write("unk.json", R"({"name": "x", "flavour": 3})")});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.output.find("unknown key 'flavour'"), std::string::npos) << unknown.output;
  auto notxml = ctl({"define", write("bad.xml", "<domain><name>x</name>")});
  EXPECT_EQ(notxml.status, 1) << notxml.output;
  ASSERT_EQ(ctl({"define", write("beta.json", kJson)}).status, 0);
  auto dup = ctl({"define", write("beta2.json", kJson)});
  EXPECT_EQ(dup.status, 1);
  EXPECT_NE(dup.output.find("already exists"), std::string::npos) << dup.output;
  auto pause = ctl({"pause", "beta"});
  EXPECT_EQ(pause.status, 1);
  EXPECT_NE(pause.output.find("beta is created; it must be running"), std::string::npos) << pause.output;
  EXPECT_EQ(ctl({"frobnicate"}).status, 1);
  // The daemon is unharmed.
  auto list = ctl({"list"}, true);
  EXPECT_EQ(list.status, 0);
  EXPECT_EQ(count_lines(list.out, "\"name\""), 1) << list.out;
  auto ping = ctl({"ping"});
  EXPECT_EQ(ping.status, 0) << ping.output;
  // The socket is private to the user that runs the daemon.
  struct stat st {};
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(HostTest, CtlWithoutADaemonSaysSo) {
  auto r = run_command({kTide, "ctl", "--api-socket", (dir_ / "nothing.sock").string(), "list"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(count_lines(r.output, "tide ctl: error:"), 1) << r.output;
}

}  // namespace
}  // namespace tide::test
