// `tide run`: boots one guest in the foreground with its console on the terminal.
#pragma once

#include <string>
#include <vector>

namespace tide::vmm {

int run_command(const std::vector<std::string>& args);
extern const char* const kRunHelp;

}  // namespace tide::vmm
