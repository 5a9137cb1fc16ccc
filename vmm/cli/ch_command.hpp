// `tide ch-compat` (or tide started under the name `cloud-hypervisor`): a process that
// behaves like Cloud Hypervisor to libvirt's ch driver — `--version` answers
// "cloud-hypervisor v30.0.0", `--api-socket fd=N|path=P` serves Cloud Hypervisor's REST API
// for one VM.
#pragma once

#include <string>
#include <vector>

namespace tide::vmm {

int ch_command(const std::vector<std::string>& args);

}  // namespace tide::vmm
