// `tide bench`: experiments that measure tide against another VMM. `tide bench balloon`
// walks a guest's balloon through a schedule of targets under tide and/or QEMU and
// writes the series, the step table, a summary and a plot.
#pragma once

#include <string>
#include <vector>

namespace tide::vmm {

int bench_command(const std::vector<std::string>& args);
extern const char* const kBenchHelp;

}  // namespace tide::vmm
