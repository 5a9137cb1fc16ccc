// `tide host`: the daemon that runs many guests over one pool and serves tide's API.
#pragma once

#include <string>
#include <vector>

namespace tide::vmm {

int host_command(const std::vector<std::string>& args);
extern const char* const kHostHelp;

}  // namespace tide::vmm
