#include "vmm/cli/cli.hpp"

#include <cstdio>

namespace tide::vmm {

int cli_main(int, char**) {
  std::fprintf(stderr, "tide: not yet\n");
  return 1;
}

}  // namespace tide::vmm
