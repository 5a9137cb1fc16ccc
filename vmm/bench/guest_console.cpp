#include "vmm/bench/guest_console.hpp"

namespace tide::vmm::bench {

std::string last_command(const std::string& script) {
  std::string last = script.substr(script.rfind(';') + 1);
  while (!last.empty() && last.front() == ' ') last.erase(0, 1);
  while (!last.empty() && last.back() == ' ') last.pop_back();
  return last;
}

GuestProgress guest_progress(const std::string& console, const std::string& last) {
  const size_t ready = console.find("TIDEGUEST READY");
  if (ready == std::string::npos) return GuestProgress::waiting;
  const std::string command = last.substr(0, last.find(' '));
  if (console.find("unknown command '" + command + "'", ready) != std::string::npos) {
    return GuestProgress::unknown_command;
  }
  const size_t at = console.find("> " + last, ready);
  if (at == std::string::npos) return GuestProgress::waiting;
  if (command != "serve" || console.find("balloon: reached", at) != std::string::npos) return GuestProgress::serving;
  return GuestProgress::waiting;
}

}  // namespace tide::vmm::bench
