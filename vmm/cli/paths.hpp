// Where tide finds things it ships: tideguest (the default kernel), next to the binary.
#pragma once

#include <string>

namespace tide::vmm {

// $TIDE_TIDEGUEST, else images/tideguest/tideguest.elf beside the tide binary, else "".
[[nodiscard]] std::string default_tideguest();

}  // namespace tide::vmm
