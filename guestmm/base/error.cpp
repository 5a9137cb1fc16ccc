#include "guestmm/base/error.hpp"

#include <stdexcept>

namespace tide {

std::string Error::message() const {
  std::string m = context;
  if (code && (from_system || m.empty())) {
    if (!m.empty()) m += ": ";
    m += code.message();
  }
  return m;
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw std::system_error(e.code, e.context);
}

Error errno_error(std::string context) {
  return Error{std::error_code(errno, std::generic_category()), std::move(context), true};
}

}  // namespace tide
