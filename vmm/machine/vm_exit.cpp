#include "vmm/machine/vm_exit.hpp"

namespace tide::vmm {

const char* vm_exit_kind_name(VmExit::Kind kind) {
  switch (kind) {
    case VmExit::Kind::debug_exit: return "debug-exit";
    case VmExit::Kind::reset: return "reset";
    case VmExit::Kind::shutdown: return "shutdown";
    case VmExit::Kind::stopped: return "stopped";
    case VmExit::Kind::error: return "error";
  }
  return "?";
}

}  // namespace tide::vmm
