// QemuBalloonSubject: QEMU from the distribution (qemu-system-x86_64, microvm with PCIe)
// under the balloon experiment, running tideguest's `serve` with a virtio-balloon-pci
// device. Targets go through QMP (`balloon`), `actual` comes from `query-balloon`, and
// host memory is QEMU's resident set (VmRSS), which includes QEMU's own memory (about
// 30-40 MiB: code, heap, device state) besides the guest's resident pages; QEMU has no
// pool, so pool_free_bytes is 0. KVM when QEMU can use it, else TCG (accel() says which).
// Files in the config's workdir: qemu-qmp.sock, qemu-console.log (serial), qemu.log
// (QEMU's own output). Threads: one caller at a time.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "vmm/bench/balloon_subject.hpp"
#include "vmm/bench/child_process.hpp"
#include "vmm/bench/qmp_client.hpp"

namespace tide::vmm::bench {

struct QemuBalloonOptions {
  std::string qemu = "/usr/bin/qemu-system-x86_64";
  std::chrono::seconds boot_timeout{60};     // QEMU start to tideguest serving the balloon
  std::chrono::milliseconds quit_timeout{5000};  // after QMP quit, before SIGKILL
};

struct QemuPaths {
  std::string qmp_socket, console_log, qemu_log;
  [[nodiscard]] static QemuPaths in(const std::string& workdir);
};

class QemuBalloonSubject final : public BalloonSubject {
 public:
  explicit QemuBalloonSubject(QemuBalloonOptions options = {}) : options_(std::move(options)) {}
  ~QemuBalloonSubject() override;

  [[nodiscard]] std::string name() const override { return "qemu"; }
  [[nodiscard]] std::string accel() const override { return accel_; }
  // Errors: memory not a whole number of MiB, tideguest missing, workdir unusable, QEMU
  // not starting or exiting (with the end of its log and of the guest's console), the
  // guest not serving the balloon within boot_timeout.
  [[nodiscard]] Status start(const BalloonSubjectConfig& config) override;
  // Errors: balloon_bytes not below the guest's RAM, QMP failures, QEMU gone.
  [[nodiscard]] Status set_target(uint64_t balloon_bytes) override;
  [[nodiscard]] Result<BalloonSample> sample() override;
  void stop() override;

  // QEMU's command line for `config` (the accelerators are tried in order: KVM, then TCG).
  [[nodiscard]] static std::vector<std::string> command_line(const std::string& qemu, const BalloonSubjectConfig& config,
                                                             const QemuPaths& paths, const std::string& guest_script = "serve",
                                                             const std::string& guest_params = {});

 private:
  // `e` with the end of QEMU's log and of the guest's console appended.
  [[nodiscard]] Error with_logs(Error e) const;
  Status wait_for_guest(QmpClient::Clock::time_point deadline);

  QemuBalloonOptions options_;
  BalloonSubjectConfig config_;
  QemuPaths paths_;
  ChildProcess qemu_;
  std::optional<QmpClient> qmp_;
  std::string accel_;
  uint64_t target_bytes_ = 0;
};

// VmRSS of process `pid`, in bytes. Errors: the process is gone, no VmRSS line.
[[nodiscard]] Result<uint64_t> process_rss_bytes(pid_t pid);

}  // namespace tide::vmm::bench
