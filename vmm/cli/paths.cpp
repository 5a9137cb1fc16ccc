#include "vmm/cli/paths.hpp"

#include <cstdlib>
#include <filesystem>

namespace tide::vmm {

std::string default_tideguest() {
  if (const char* env = std::getenv("TIDE_TIDEGUEST")) return env;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto p = exe.parent_path() / "images" / "tideguest" / "tideguest.elf";
    if (std::filesystem::exists(p, ec)) return p.string();
  }
  return {};
}

}  // namespace tide::vmm
