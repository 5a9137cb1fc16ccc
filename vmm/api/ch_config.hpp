// Cloud Hypervisor's VmConfig (the body of PUT /api/v1/vm.create) as a tide GuestConfig,
// and the VmInfo answer (GET /api/v1/vm.info). Both the pre-28 form (kernel/cmdline/
// initramfs) and the payload form are accepted. Devices tide does not have (disks, net,
// fs, pmem, vsock...) are accepted and reported as warnings; memory settings tide cannot
// honour (hotplug, zones, NUMA) are errors.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string_view>

#include "guestmm/base/error.hpp"
#include "vmm/config/guest_config.hpp"
#include "vmm/host/guest.hpp"

namespace tide::vmm::api {

// The Cloud Hypervisor version tide answers as (the dialect libvirt's ch driver speaks to
// it): 30.0.0 — serial and console together, kernel/cmdline/initramfs or payload.
inline constexpr const char* kChVersion = "30.0.0";

[[nodiscard]] Result<GuestConfig> guest_config_from_ch(std::string_view body, boost::json::value* parsed);
// VmInfo: the VmConfig as created (with console.file / serial.file set to the PTY), the
// state ("Created", "Running", "Paused", "Shutdown") and memory_actual_size.
[[nodiscard]] boost::json::object ch_vm_info(const GuestInfo& info, const boost::json::value& created);

}  // namespace tide::vmm::api
