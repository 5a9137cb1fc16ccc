// Device tests feed devices hostile input on purpose; their "logged once" warnings would
// drown the test output. Keep only errors unless TIDE_LOG asks for more.
#include <cstdlib>

#include "guestmm/base/log.hpp"

namespace {

const bool kQuiet = [] {
  if (std::getenv("TIDE_LOG") == nullptr) tide::log::set_level(tide::log::Level::error);
  return true;
}();

}  // namespace
