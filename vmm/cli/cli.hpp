// The `tide` command line: dispatches to the sub-commands (run, ...). Returns the process
// exit status.
#pragma once

namespace tide::vmm {

int cli_main(int argc, char** argv);

}  // namespace tide::vmm
