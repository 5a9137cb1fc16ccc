#include "vmm/machine/event_loop.hpp"

#include "guestmm/base/log.hpp"
#include "vmm/kvm/thread.hpp"

namespace tide::vmm {

EventLoop::EventLoop() : work_(boost::asio::make_work_guard(io_)) {}

EventLoop::~EventLoop() { stop(); }

void EventLoop::start(const std::string& thread_name) {
  thread_ = std::thread([this, thread_name] {
    set_current_thread_name(thread_name);
    block_kick_signal();
    loop_id_ = std::this_thread::get_id();
    io_.run();
  });
}

void EventLoop::stop() {
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace tide::vmm
