// The C++ ABI hooks a freestanding kernel must supply. The kernel never exits, so
// destructors of global objects are never registered to run (__cxa_atexit is a no-op);
// a pure virtual call is a kernel bug and ends the VM.
#include "dev/debug_exit.hpp"
#include "lib/format.hpp"

extern "C" {

void* __dso_handle = nullptr;

int __cxa_atexit(void (*)(void*), void*, void*) { return 0; }

[[noreturn]] void __cxa_pure_virtual() {
  tg::kprintf("tideguest: pure virtual call\n");
  tg::dev::debug_exit(tg::dev::kExitCrash);
}

}  // extern "C"
