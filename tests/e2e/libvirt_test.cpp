// E2E: libvirt manages a tideguest. libvirt's Cloud Hypervisor driver (virtchd and virsh,
// built by scripts/libvirt-ch.sh into TIDE_BUILD_DIR/libvirt-ch) starts tide under the name
// `cloud-hypervisor` and drives it over Cloud Hypervisor's REST API, with `virsh -c
// ch:///session` against a session daemon whose runtime, config and cache directories live
// in a private temporary directory. Run as root, the daemon and virsh run as uid 65534 (so
// libvirt picks session mode) and hand tide the two capabilities it needs as root would
// have them: DAC override (/dev/kvm) and CAP_SYS_PTRACE (userfaultfd for kernel faults).
// docs/libvirt.md describes the same set-up for users.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "e2e_util.hpp"

namespace tide::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

const std::string kLibvirt = std::string(TIDE_BUILD_DIR) + "/libvirt-ch";
const std::string kVirtchd = kLibvirt + "/sbin/virtchd";
const std::string kVirsh = kLibvirt + "/bin/virsh";
constexpr uid_t kSessionUid = 65534;  // nobody: any unprivileged uid makes libvirt pick session mode
const std::string kDomain = "tide-libvirt-e2e";

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// pids of the processes whose argv[0] is `argv0`: the tide processes libvirt started from
// this test's own `cloud-hypervisor` link, and no other.
std::vector<pid_t> processes_started_as(const std::string& argv0) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_file(e.path() / "cmdline");
    if (cmdline.substr(0, cmdline.find('\0')) == argv0) pids.push_back(std::stoi(name));
  }
  return pids;
}

std::vector<std::string> thread_names(pid_t pid) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    names.push_back(trim(read_file(t.path() / "comm")));
  }
  return names;
}

// The slave side of the console PTY that libvirt reports. Opened raw with TCSANOW, which
// keeps what the guest wrote before we opened it.
class PtyReader {
 public:
  explicit PtyReader(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK)) {
    termios t{};
    if (fd_ >= 0 && ::tcgetattr(fd_, &t) == 0) {
      ::cfmakeraw(&t);
      ::tcsetattr(fd_, TCSANOW, &t);
    }
  }
  PtyReader(const PtyReader&) = delete;
  PtyReader& operator=(const PtyReader&) = delete;
  ~PtyReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] bool is_open() const { return fd_ >= 0; }
  [[nodiscard]] const std::string& text() const { return text_; }

  // Reads until `needle` occurs `count` times in everything read so far, the PTY hangs up,
  // or `limit` passes.
  bool wait_for(const std::string& needle, int count, seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (count_lines(text_, needle) < count) {
      if (fd_ < 0 || std::chrono::steady_clock::now() > deadline) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n > 0) {
        text_.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        return count_lines(text_, needle) >= count;  // EIO: the VMM closed its side
      }
    }
    return true;
  }

 private:
  int fd_;
  std::string text_;
};

class Libvirt : public ::testing::Test {
 protected:
  void SetUp() override {
    TIDE_REQUIRE_KVM();
    ASSERT_TRUE(fs::exists(kVirtchd) && fs::exists(kVirsh))
        << kLibvirt << " has no virtchd/virsh: run scripts/libvirt-ch.sh " << kLibvirt
        << " (scripts/run-tests.sh does)";

    char tmpl[] = "/tmp/tide-libvirt-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* d : {"bin", "run", "home"}) fs::create_directory(dir_ / d);
    fs::permissions(dir_ / "run", fs::perms::owner_all);
    // libvirt finds the VMM as `cloud-hypervisor` on its PATH; tide answers to that name.
    ch_link_ = (dir_ / "bin" / "cloud-hypervisor").string();
    fs::create_symlink(kTide, ch_link_);

    as_session_user_ = ::geteuid() == 0;
    if (as_session_user_) {
      for (const auto& e : fs::recursive_directory_iterator(dir_)) {
        ASSERT_EQ(::lchown(e.path().c_str(), kSessionUid, kSessionUid), 0) << e.path();
      }
      ASSERT_EQ(::chown(dir_.c_str(), kSessionUid, kSessionUid), 0);
    }

    // virtchd's standard input must be /dev/null: libvirt 9.0.0 sends vm.boot, vm.pause and
    // the other bodiless PUTs as uploads with no read callback, so libcurl sends whatever
    // the daemon's stdin holds, and waits for its end.
    std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\" </dev/null", "sh"};
    for (auto& a : session_command(kVirtchd, {}, true)) argv.push_back(std::move(a));
    daemon_ = std::make_unique<Process>(std::move(argv));
    // Wait until virsh reaches the daemon and its ch driver is up.
    const auto deadline = std::chrono::steady_clock::now() + seconds(120);
    for (;;) {
      auto r = virsh({"uri"});
      if (r.status == 0 && r.out.find("ch:///session") != std::string::npos) break;
      ASSERT_TRUE(daemon_alive()) << "virtchd exited:\n" << daemon_->output() << log_tail();
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "virtchd never answered:\n" << r.output << log_tail();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  void TearDown() override {
    if (daemon_ && daemon_alive()) {
      (void)virsh({"destroy", kDomain});
    }
    // virtchd leaves its VMs running when it stops, like every libvirt daemon.
    if (!ch_link_.empty()) {
      for (pid_t pid : processes_started_as(ch_link_)) ::kill(pid, SIGKILL);
    }
    if (daemon_) {
      daemon_->kill(SIGTERM);
      daemon_->wait(seconds(60));
      daemon_.reset();
    }
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  // argv under a clean environment: the private directories, PATH with the
  // `cloud-hypervisor` link first, and, as root, uid 65534 with (for the daemon and so the
  // VMMs it starts) the capabilities tide needs.
  std::vector<std::string> session_command(const std::string& program, std::vector<std::string> args, bool daemon) {
    std::vector<std::string> argv = {"/usr/bin/env",
                                     "-i",
                                     "HOME=" + (dir_ / "home").string(),
                                     "XDG_RUNTIME_DIR=" + (dir_ / "run").string(),
                                     "PATH=" + (dir_ / "bin").string() + ":/usr/sbin:/usr/bin:/sbin:/bin",
                                     "LIBVIRT_AUTOSTART=0"};
    if (daemon) {
      argv.push_back("LIBVIRT_LOG_FILTERS=1:ch.ch_");
      argv.push_back("LIBVIRT_LOG_OUTPUTS=1:file:" + (dir_ / "virtchd.log").string());
    }
    if (as_session_user_) {
      const std::string uid = std::to_string(kSessionUid);
      argv.insert(argv.end(), {"setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups"});
      if (daemon) {
        argv.insert(argv.end(), {"--inh-caps=+dac_override,+sys_ptrace", "--ambient-caps=+dac_override,+sys_ptrace"});
      }
    }
    argv.push_back(program);
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  RunResult virsh(std::vector<std::string> args) {
    args.insert(args.begin(), {"-c", "ch:///session"});
    return run_command(session_command(kVirsh, std::move(args), false), seconds(120));
  }

  // virsh's answer when it succeeded, else "" with a failure naming the command.
  std::string virsh_ok(std::vector<std::string> args) {
    std::string cmd;
    for (const auto& a : args) cmd += " " + a;
    auto r = virsh(std::move(args));
    EXPECT_EQ(r.status, 0) << "virsh" << cmd << ":\n" << r.output << log_tail();
    return r.status == 0 ? r.out : "";
  }

  std::string domstate() { return trim(virsh_ok({"domstate", kDomain})); }

  // Running and not a zombie (Process reaps only when waited for).
  bool daemon_alive() {
    std::string stat = read_file("/proc/" + std::to_string(daemon_->pid()) + "/stat");
    size_t paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
  }

  std::string log_tail() {
    std::string log = read_file(dir_ / "virtchd.log");
    if (log.size() > 6000) log = "..." + log.substr(log.size() - 6000);
    return log.empty() ? "" : "\nvirtchd.log:\n" + log;
  }

  fs::path write_domain(const std::string& extra_devices) {
    fs::path xml = dir_ / (kDomain + ".xml");
    std::ofstream(xml) << "<domain type='kvm'>\n"
                       << "  <name>" << kDomain << "</name>\n"
                       << "  <memory unit='MiB'>256</memory>\n"
                       << "  <vcpu>2</vcpu>\n"
                       << "  <os>\n"
                       << "    <type arch='x86_64'>hvm</type>\n"
                       << "    <kernel>" << kTideguest << "</kernel>\n"
                       << "    <cmdline>tide.run=\"info; sleep 600000\"</cmdline>\n"
                       << "  </os>\n"
                       << "  <devices>\n"
                       << "    <console type='pty'><target type='virtio'/></console>\n"
                       << extra_devices << "  </devices>\n"
                       << "</domain>\n";
    if (as_session_user_) (void)::chown(xml.c_str(), kSessionUid, kSessionUid);
    return xml;
  }

  fs::path dir_;
  std::string ch_link_;
  bool as_session_user_ = false;
  std::unique_ptr<Process> daemon_;
};

TEST_F(Libvirt, ManagesATideguestFromDefineToUndefine) {
  const std::string xml = write_domain("").string();
  EXPECT_NE(virsh_ok({"define", xml}).find("Domain '" + kDomain + "' defined"), std::string::npos);
  // The daemon resolved the emulator on its PATH when the domain was defined.
  EXPECT_NE(virsh_ok({"dumpxml", kDomain}).find("<emulator>" + ch_link_ + "</emulator>"), std::string::npos);
  EXPECT_EQ(domstate(), "shut off");

  ASSERT_NE(virsh_ok({"start", kDomain}).find("Domain '" + kDomain + "' started"), std::string::npos);
  const std::string info = virsh_ok({"dominfo", kDomain});
  EXPECT_NE(info.find("State:          running"), std::string::npos) << info;
  EXPECT_NE(info.find("CPU(s):         2"), std::string::npos) << info;
  EXPECT_NE(info.find("Max memory:     262144 KiB"), std::string::npos) << info;

  // The domain's id is the VMM's pid: it is tide, with one thread per vCPU.
  const std::string id = trim(virsh_ok({"domid", kDomain}));
  ASSERT_FALSE(id.empty());
  const pid_t pid = std::stoi(id);
  EXPECT_EQ(fs::read_symlink("/proc/" + id + "/exe"), fs::canonical(kTide));
  EXPECT_EQ(processes_started_as(ch_link_), std::vector<pid_t>{pid});
  auto threads = thread_names(pid);
  for (const char* vcpu : {"vcpu0", "vcpu1"}) {
    EXPECT_NE(std::find(threads.begin(), threads.end(), vcpu), threads.end()) << vcpu << " missing in tide's threads";
  }

  // The console PTY that tide reported to libvirt carries tideguest's transcript.
  const std::string pty = trim(virsh_ok({"ttyconsole", kDomain}));
  ASSERT_EQ(pty.rfind("/dev/pts/", 0), 0u) << pty;
  PtyReader console(pty);
  ASSERT_TRUE(console.is_open()) << pty;
  ASSERT_TRUE(console.wait_for("TIDEGUEST READY", 1, seconds(120))) << "console:\n" << console.text();
  ASSERT_TRUE(console.wait_for("> sleep", 1, seconds(120))) << "console:\n" << console.text();
  EXPECT_NE(console.text().find("cpus=2"), std::string::npos) << console.text();

  EXPECT_NE(virsh_ok({"suspend", kDomain}).find("suspended"), std::string::npos);
  EXPECT_EQ(domstate(), "paused");
  EXPECT_NE(virsh_ok({"resume", kDomain}).find("resumed"), std::string::npos);
  EXPECT_EQ(domstate(), "running");

  // A reboot runs tideguest again in the same VMM, on the same console.
  EXPECT_NE(virsh_ok({"reboot", kDomain}).find("is being rebooted"), std::string::npos);
  EXPECT_TRUE(console.wait_for("TIDEGUEST READY", 2, seconds(120))) << "console:\n" << console.text();
  EXPECT_EQ(domstate(), "running");
  EXPECT_EQ(trim(virsh_ok({"domid", kDomain})), id);

  // libvirt 9.0.0's ch driver sends vm.shutdown and then reports "in shutdown" until the
  // domain is destroyed: it does not watch the VMM process.
  EXPECT_NE(virsh_ok({"shutdown", kDomain}).find("is being shutdown"), std::string::npos);
  EXPECT_EQ(domstate(), "in shutdown");

  // Undefined while active, the domain lives on until it is destroyed.
  EXPECT_NE(virsh_ok({"undefine", kDomain}).find("has been undefined"), std::string::npos);
  EXPECT_NE(virsh_ok({"destroy", kDomain}).find("destroyed"), std::string::npos);
  EXPECT_EQ(trim(virsh_ok({"list", "--name"})), "");
  // 9.0.0 keeps the now transient domain listed as shut off; later versions drop it.
  auto state = virsh({"domstate", kDomain});
  if (state.status == 0) {
    EXPECT_EQ(trim(state.out), "shut off");
  }
  // destroy stopped the VMM (SIGTERM, then SIGKILL) and reaped it.
  EXPECT_TRUE(processes_started_as(ch_link_).empty());
}

TEST_F(Libvirt, TheChDriverRefusesAMemballoon) {
  const std::string xml = write_domain("    <memballoon model='virtio'/>\n").string();
  auto r = virsh({"define", xml});
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Cloud-Hypervisor doesn't support 'memballoon' device"), std::string::npos) << r.output;
  EXPECT_EQ(virsh({"dominfo", kDomain}).status, 1);
}

}  // namespace
}  // namespace tide::test
