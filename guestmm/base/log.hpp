// Process-wide logging to stderr: one line per message, prefixed "tide: " and a level.
// Thread-safe (one write(2) per line). The level is set once at start-up (--log-level or
// TIDE_LOG=debug|info|warn|error|off). Guest console output never goes through here.
#pragma once

#include <cstdarg>
#include <string>

namespace tide::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_level(Level level);
[[nodiscard]] Level level();
[[nodiscard]] bool parse_level(const std::string& text, Level* out);

void write(Level level, const std::string& line);

[[gnu::format(printf, 1, 2)]] void debug(const char* fmt, ...);
[[gnu::format(printf, 1, 2)]] void info(const char* fmt, ...);
[[gnu::format(printf, 1, 2)]] void warn(const char* fmt, ...);
[[gnu::format(printf, 1, 2)]] void error(const char* fmt, ...);

// printf into a std::string.
[[gnu::format(printf, 1, 2)]] std::string strf(const char* fmt, ...);
std::string vstrf(const char* fmt, va_list ap);

}  // namespace tide::log
