// tide's entry point: hands argv to the command-line front end.
#include "vmm/cli/cli.hpp"

int main(int argc, char** argv) { return tide::vmm::cli_main(argc, argv); }
