// tide's error vocabulary, shared by every layer (this folder is the bottom of the stack).
// An Error is a std::error_code plus a short human context ("mmap window 512 MiB").
// Results are boost::system::result<T, Error>: [[nodiscard]], no exceptions across modules.
#pragma once

#include <boost/system/result.hpp>

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

namespace tide {

struct Error {
  std::error_code code;
  std::string context;
  bool from_system = false;  // the code came from errno: its text adds information

  // One line, meant for the user: the context, plus the system's text for errno errors.
  [[nodiscard]] std::string message() const;
};

// Required by boost::system::result<T, Error>::value(); tide code never calls value()
// on an error, but the hook must exist. Throws std::system_error.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;
using Status = Result<void>;

// Error from the current errno.
[[nodiscard]] Error errno_error(std::string context);
[[nodiscard]] inline Error make_error(std::error_code code, std::string context) {
  return Error{code, std::move(context)};
}
[[nodiscard]] inline Error make_error(std::errc code, std::string context) {
  return Error{std::make_error_code(code), std::move(context)};
}

// The same error with "prefix: " put before its context.
[[nodiscard]] inline Error prefixed(Error e, const std::string& prefix) {
  e.context = prefix + ": " + e.context;
  return e;
}

// Success value for Status-returning functions.
[[nodiscard]] inline Status ok() { return {}; }

}  // namespace tide

// Propagate an error from an expression returning Result<T>/Status.
#define TIDE_TRY(expr)                                   \
  do {                                                   \
    auto tide_try_r_ = (expr);                           \
    if (!tide_try_r_) return tide_try_r_.error();        \
  } while (0)

// Bind a Result<T>'s value to `var` or propagate its error.
#define TIDE_TRY_ASSIGN(var, expr)                       \
  auto var##_result_ = (expr);                           \
  if (!var##_result_) return var##_result_.error();      \
  auto var = std::move(*var##_result_)
