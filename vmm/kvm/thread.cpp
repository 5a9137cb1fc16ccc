#include "vmm/kvm/thread.hpp"

#include <signal.h>

#include <mutex>

namespace tide::vmm {
namespace {

int kick_signal() { return SIGRTMIN + 3; }
void on_kick(int) {}

}  // namespace

void set_current_thread_name(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

void install_kick_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = on_kick;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: blocked syscalls return EINTR
    sigaction(kick_signal(), &sa, nullptr);
  });
}

void kick_thread(pthread_t thread) { pthread_kill(thread, kick_signal()); }

void unblock_kick_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kick_signal());
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void block_kick_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kick_signal());
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace tide::vmm
