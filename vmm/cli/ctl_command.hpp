// `tide ctl`: the client of `tide host`'s API — every call, human-readable output by
// default and the API's JSON with --json; a non-zero status with one line on any error.
#pragma once

#include <string>
#include <vector>

namespace tide::vmm {

int ctl_command(const std::vector<std::string>& args);
extern const char* const kCtlHelp;

}  // namespace tide::vmm
