// The guest memory manager's fake host layer (tests/unit/guestmm/fake_host_memory.*), built
// into this binary too: the balloon controller's tests run a real MemoryManager over it.
// The unit layers are one binary per library (tests/CMakeLists.txt), so the fake's source
// is compiled here rather than shared through a library.
#include "unit/guestmm/fake_host_memory.cpp"  // NOLINT(bugprone-suspicious-include)
#include "unit/guestmm/swap/fake_swap_file.cpp"  // NOLINT(bugprone-suspicious-include)
