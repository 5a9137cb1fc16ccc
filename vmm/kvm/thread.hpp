// Thread helpers for vCPU and service threads: naming (libvirt finds vCPU threads by the
// name "vcpuN" in /proc/<pid>/task/*/comm) and kicking a thread out of KVM_RUN with a signal.
#pragma once

#include <pthread.h>

#include <string>

namespace tide::vmm {

// Names the calling thread (at most 15 characters are kept).
void set_current_thread_name(const std::string& name);
// Installs the no-op handler of the kick signal (once per process, without SA_RESTART so
// KVM_RUN and waits return EINTR).
void install_kick_handler();
// Interrupts `thread` if it is blocked in a system call such as KVM_RUN.
void kick_thread(pthread_t thread);
// Blocks the kick signal in the calling thread (service threads that must not see it).
void block_kick_signal();
// Unblocks it (vCPU threads, whatever thread created them: masks are inherited).
void unblock_kick_signal();

}  // namespace tide::vmm
