// How a VM ended: the reason and the status `tide run` exits with.
#pragma once

#include <string>

namespace tide::vmm {

struct VmExit {
  enum class Kind {
    debug_exit,  // the guest wrote the debug-exit port; status = the value written
    reset,       // the guest reset or triple-faulted; status 0
    shutdown,    // the guest powered off; status 0
    stopped,     // the VMM stopped it (signal, API, test); status 0, or 1 when the OOM
                 // policy `stop` picked it (message: "out of memory under <node> (policy stop)...")
    error,       // a VMM or KVM error; status 1, message says why
  };
  Kind kind = Kind::stopped;
  int status = 0;
  std::string message;
};

[[nodiscard]] const char* vm_exit_kind_name(VmExit::Kind kind);

}  // namespace tide::vmm
