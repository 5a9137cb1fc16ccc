#include "guestmm/base/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace tide::log {
namespace {

Level initial_level() {
  Level l = Level::info;
  if (const char* env = std::getenv("TIDE_LOG")) (void)parse_level(env, &l);
  return l;
}

std::atomic<Level>& current() {
  static std::atomic<Level> level{initial_level()};
  return level;
}

const char* name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warning";
    case Level::error: return "error";
    case Level::off: break;
  }
  return "";
}

void vlog(Level l, const char* fmt, va_list ap) {
  if (l < current().load(std::memory_order_relaxed)) return;
  write(l, vstrf(fmt, ap));
}

}  // namespace

void set_level(Level level) { current().store(level); }
Level level() { return current().load(); }

bool parse_level(const std::string& text, Level* out) {
  static const std::pair<const char*, Level> kNames[] = {
      {"debug", Level::debug}, {"info", Level::info}, {"warn", Level::warn},
      {"warning", Level::warn}, {"error", Level::error}, {"off", Level::off}};
  for (const auto& [n, l] : kNames) {
    if (text == n) {
      *out = l;
      return true;
    }
  }
  return false;
}

void write(Level l, const std::string& line) {
  if (l < current().load(std::memory_order_relaxed)) return;
  std::string out = "tide: ";
  if (l != Level::info) {
    out += name(l);
    out += ": ";
  }
  out += line;
  out += '\n';
  // One write per line keeps lines whole when threads log at once.
  ssize_t rc = ::write(STDERR_FILENO, out.data(), out.size());
  (void)rc;
}

std::string vstrf(const char* fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return {};
  std::vector<char> buf(static_cast<size_t>(n) + 1);
  std::vsnprintf(buf.data(), buf.size(), fmt, ap);
  return std::string(buf.data(), static_cast<size_t>(n));
}

std::string strf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string s = vstrf(fmt, ap);
  va_end(ap);
  return s;
}

#define TIDE_LOG_FN(fn, lvl)        \
  void fn(const char* fmt, ...) {   \
    va_list ap;                     \
    va_start(ap, fmt);              \
    vlog(lvl, fmt, ap);             \
    va_end(ap);                     \
  }
TIDE_LOG_FN(debug, Level::debug)
TIDE_LOG_FN(info, Level::info)
TIDE_LOG_FN(warn, Level::warn)
TIDE_LOG_FN(error, Level::error)
#undef TIDE_LOG_FN

}  // namespace tide::log
