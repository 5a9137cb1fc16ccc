#include "vmm/bench/qemu_balloon_subject.hpp"

#include <boost/json/serialize.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "guestmm/base/log.hpp"
#include "vmm/bench/guest_console.hpp"

namespace tide::vmm::bench {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr auto kPollInterval = std::chrono::milliseconds(10);
constexpr auto kQmpTimeout = std::chrono::seconds(10);

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

Result<uint64_t> json_u64(const json::value& v, const char* key, const char* command) {
  const json::value* f = v.is_object() ? v.as_object().if_contains(key) : nullptr;
  if (f && f->is_int64() && f->as_int64() >= 0) return static_cast<uint64_t>(f->as_int64());
  if (f && f->is_uint64()) return f->as_uint64();
  return make_error(std::errc::bad_message, std::string("QMP ") + command + ": no '" + key + "' in " + json::serialize(v));
}

}  // namespace

QemuPaths QemuPaths::in(const std::string& workdir) {
  const fs::path dir(workdir);
  return {(dir / "qemu-qmp.sock").string(), (dir / "qemu-console.log").string(), (dir / "qemu.log").string()};
}

Result<uint64_t> process_rss_bytes(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/status";
  std::ifstream f(path);
  if (!f) return make_error(std::errc::no_such_process, "read " + path + ": process gone");
  std::string line;
  while (std::getline(f, line)) {
    unsigned long long kib = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %llu kB", &kib) == 1) return uint64_t{kib} * 1024;
  }
  return make_error(std::errc::no_such_process, path + ": no VmRSS (process exiting?)");
}

std::vector<std::string> QemuBalloonSubject::command_line(const std::string& qemu, const BalloonSubjectConfig& config,
                                                          const QemuPaths& paths, const std::string& guest_script,
                                                          const std::string& guest_params) {
  return {qemu,
          // Tried in order: KVM, else TCG (query-kvm tells which one runs).
          "-accel", "kvm", "-accel", "tcg",
          "-M", "microvm,pcie=on", "-m", std::to_string(config.memory_bytes / kMiB) + "M", "-smp", "1",
          "-nographic", "-no-reboot", "-nodefaults", "-monitor", "none",
          "-serial", "file:" + paths.console_log,
          "-device", "isa-debug-exit,iobase=0x501,iosize=2",
          "-device", "virtio-balloon-pci,id=balloon0,deflate-on-oom=on,free-page-reporting=on",
          "-kernel", config.tideguest,
          "-append", "tide.run=\"" + guest_script + "\"" + (guest_params.empty() ? "" : " " + guest_params),
          "-qmp", "unix:" + paths.qmp_socket + ",server=on,wait=off"};
}

QemuBalloonSubject::~QemuBalloonSubject() { stop(); }

Error QemuBalloonSubject::with_logs(Error e) const {
  std::string text;
  if (std::string q = file_tail(paths_.qemu_log, 1024); !q.empty()) text += "\n--- QEMU (" + paths_.qemu_log + ") ---\n" + q;
  if (std::string c = file_tail(paths_.console_log, 1536); !c.empty()) {
    text += "\n--- guest console (" + paths_.console_log + ") ---\n" + c;
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  e.context += text;
  return e;
}

Status QemuBalloonSubject::start(const BalloonSubjectConfig& config) {
  stop();
  config_ = config;
  target_bytes_ = 0;
  accel_.clear();
  if (config.memory_bytes < 16 * kMiB || config.memory_bytes % kMiB != 0) {
    return make_error(std::errc::invalid_argument, "qemu: guest memory must be a whole number of MiB, at least 16 MiB");
  }
  std::error_code ec;
  if (!fs::is_regular_file(config.tideguest, ec)) {
    return make_error(std::errc::no_such_file_or_directory, "qemu: tideguest " + config.tideguest + ": no such file");
  }
  if (!fs::is_regular_file(options_.qemu, ec)) {
    return make_error(std::errc::no_such_file_or_directory,
                      "qemu: " + options_.qemu + " not found (apt-get install qemu-system-x86)");
  }
  const std::string workdir = config.workdir.empty() ? std::string(".") : config.workdir;
  fs::create_directories(workdir, ec);
  if (ec) return make_error(ec, "qemu: create " + workdir);
  paths_ = QemuPaths::in(fs::absolute(workdir, ec).string());
  // QEMU splits option values at commas (there is no escaping in these two).
  for (const std::string* p : {&paths_.qmp_socket, &paths_.console_log, &config_.tideguest}) {
    if (p->find(',') != std::string::npos) {
      return make_error(std::errc::invalid_argument, "qemu: path " + *p + " has a comma, which QEMU cannot take");
    }
  }
  fs::remove(paths_.qmp_socket, ec);
  fs::remove(paths_.console_log, ec);

  auto argv = command_line(options_.qemu, config_, paths_, config_.guest_script, config_.guest_params);
  auto child = ChildProcess::spawn(argv, paths_.qemu_log);
  if (!child) return prefixed(child.error(), "qemu");
  qemu_ = std::move(*child);
  log::debug("qemu: pid %d, workdir %s", static_cast<int>(qemu_.pid()), workdir.c_str());

  const auto deadline = QmpClient::Clock::now() + options_.boot_timeout;
  auto qmp = QmpClient::connect(paths_.qmp_socket, deadline, [this] { return qemu_.running(); });
  if (!qmp) return with_logs(prefixed(qmp.error(), "qemu"));
  qmp_.emplace(std::move(*qmp));

  auto kvm = qmp_->execute("query-kvm", {}, kQmpTimeout);
  if (!kvm) return with_logs(prefixed(kvm.error(), "qemu"));
  const json::value* enabled = kvm->is_object() ? kvm->as_object().if_contains("enabled") : nullptr;
  accel_ = enabled && enabled->is_bool() && enabled->as_bool() ? "kvm" : "tcg";
  if (accel_ == "tcg") log::warn("qemu: KVM is not available to QEMU, running under TCG (emulation; much slower)");

  TIDE_TRY(wait_for_guest(deadline));
  if (config_.stats_period_s > 0) {
    // An alias that virtio-balloon-pci forwards to its virtio-balloon device.
    json::object args{{"path", "/machine/peripheral/balloon0"},
                      {"property", "guest-stats-polling-interval"},
                      {"value", config_.stats_period_s}};
    if (auto r = qmp_->execute("qom-set", args, kQmpTimeout); !r) return with_logs(prefixed(r.error(), "qemu"));
  }
  log::info("qemu: QEMU %s (%s), %llu MiB guest, tideguest up", qmp_->qemu_version().c_str(), accel_.c_str(),
            static_cast<unsigned long long>(config_.memory_bytes / kMiB));
  return ok();
}

Status QemuBalloonSubject::wait_for_guest(QmpClient::Clock::time_point deadline) {
  const std::string last = last_command(config_.guest_script);
  for (;;) {
    const GuestProgress progress = guest_progress(read_file(paths_.console_log), last);
    if (progress == GuestProgress::unknown_command) {
      return with_logs(make_error(std::errc::not_supported,
                                  "qemu: this tideguest does not know `" + last.substr(0, last.find(' ')) +
                                      "` (without `serve` it has no balloon driver: rebuild it)"));
    }
    if (progress == GuestProgress::serving) break;
    if (!qemu_.running()) {
      return with_logs(make_error(std::errc::no_such_process,
                                  log::strf("qemu: QEMU exited (status %d) before the guest ran `%s`",
                                            qemu_.status().value_or(-1), last.c_str())));
    }
    if (QmpClient::Clock::now() >= deadline) {
      return with_logs(make_error(std::errc::timed_out, log::strf("qemu: the guest did not run `%s` within %lld s", last.c_str(),
                                                                  static_cast<long long>(options_.boot_timeout.count()))));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  auto balloon = qmp_->execute("query-balloon", {}, kQmpTimeout);
  if (!balloon) return with_logs(prefixed(balloon.error(), "qemu"));
  auto actual = json_u64(*balloon, "actual", "query-balloon");
  if (!actual) return with_logs(prefixed(actual.error(), "qemu"));
  return ok();
}

Status QemuBalloonSubject::set_target(uint64_t balloon_bytes) {
  if (!qmp_) return make_error(std::errc::not_connected, "qemu: not started");
  if (balloon_bytes >= config_.memory_bytes) {
    return make_error(std::errc::invalid_argument, "qemu: balloon target must be below the guest's RAM");
  }
  // QMP's `balloon` takes the size the guest should be left with, in bytes.
  json::object args{{"value", config_.memory_bytes - balloon_bytes}};
  if (auto r = qmp_->execute("balloon", args, kQmpTimeout); !r) return prefixed(r.error(), "qemu");
  target_bytes_ = balloon_bytes;
  return ok();
}

Result<BalloonSample> QemuBalloonSubject::sample() {
  if (!qmp_) return make_error(std::errc::not_connected, "qemu: not started");
  auto balloon = qmp_->execute("query-balloon", {}, kQmpTimeout);
  if (!balloon) {
    if (!qemu_.running()) return with_logs(make_error(std::errc::no_such_process, "qemu: QEMU exited"));
    return prefixed(balloon.error(), "qemu");
  }
  TIDE_TRY_ASSIGN(guest_bytes, json_u64(*balloon, "actual", "query-balloon"));
  auto rss = process_rss_bytes(qemu_.pid());
  if (!rss) return prefixed(rss.error(), "qemu");
  BalloonSample s;
  s.target_bytes = target_bytes_;
  // `actual` is the guest's size: RAM minus the pages the driver says it has ballooned.
  s.actual_bytes = guest_bytes <= config_.memory_bytes ? config_.memory_bytes - guest_bytes : 0;
  s.host_bytes = *rss;
  s.pool_free_bytes = 0;
  return s;
}

void QemuBalloonSubject::stop() {
  if (qemu_.pid() <= 0) return;
  if (qemu_.running()) {
    if (qmp_) {
      // The answer may not come: QEMU can exit before sending it.
      (void)qmp_->execute("quit", {}, std::chrono::milliseconds(1000));
    }
    if (!qemu_.wait_for(options_.quit_timeout)) {
      log::warn("qemu: QEMU did not quit within %lld ms; killing it", static_cast<long long>(options_.quit_timeout.count()));
      qemu_.kill_and_reap();
    }
  }
  qmp_.reset();
  qemu_ = ChildProcess();
  std::error_code ec;
  fs::remove(paths_.qmp_socket, ec);
}

}  // namespace tide::vmm::bench
