// The Cloud Hypervisor REST API, the subset libvirt's ch driver speaks (dialect
// kChVersion), served by `tide ch-compat` / a `cloud-hypervisor` symlink to tide. One VM per
// process, as Cloud Hypervisor has it:
//   GET /api/v1/vmm.ping       {"version", "build_version", "pid", "features"}
//   PUT /api/v1/vmm.shutdown   stop the VM and the process
//   PUT /api/v1/vm.create      VmConfig (kernel/cmdline/initramfs or payload)
//   PUT /api/v1/vm.boot|vm.shutdown|vm.reboot|vm.pause|vm.resume|vm.delete
//   GET /api/v1/vm.info        VmInfo with config.console.file / config.serial.file (PTY)
//   GET /api/v1/vm.counters    tide's memory figures as per-device counters
//   PUT /api/v1/vm.resize      desired_balloon / desired_ram / desired_vcpus
//   GET /api/v1/vm.balloon-stats  libvirt dommemstat names
// Success is 204 (actions) or 200 (JSON); errors are {"error": ...} with 4xx/5xx.
#pragma once

#include <functional>

#include "vmm/api/http.hpp"
#include "vmm/host/guest_manager.hpp"
#include "vmm/machine/event_loop.hpp"

namespace tide::vmm::api {

struct ChApiContext {
  GuestManager* guests = nullptr;
  EventLoop* control = nullptr;
  std::function<void()> shutdown;  // vmm.shutdown: ends the process (after the answer)
};

[[nodiscard]] HttpHandler make_ch_api(ChApiContext context);

}  // namespace tide::vmm::api
