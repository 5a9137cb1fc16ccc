// EventLoop: the VMM's one Boost.Asio io_context for control and device events, run on a
// dedicated thread ("tide-events"). vCPU and fault threads never wait on it.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>
#include <string>
#include <thread>

namespace tide::vmm {

class EventLoop {
 public:
  EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  ~EventLoop();

  // Starts the loop thread. Thread: the owner, once.
  void start(const std::string& thread_name = "tide-events");
  // Stops the loop and joins its thread; pending handlers are dropped. Idempotent.
  void stop();

  [[nodiscard]] boost::asio::io_context& context() { return io_; }
  [[nodiscard]] bool in_loop_thread() const { return std::this_thread::get_id() == loop_id_; }

 private:
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::thread::id loop_id_;
};

}  // namespace tide::vmm
