#include "vmm/cli/size.hpp"

#include <cctype>

#include "guestmm/base/log.hpp"

namespace tide::vmm {

Result<uint64_t> parse_size(const std::string& text) {
  auto bad = [&] {
    return make_error(std::errc::invalid_argument,
                      "bad size '" + text + "' (use a number with K, M, G or T, e.g. 512M)");
  };
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t d = static_cast<uint64_t>(text[i] - '0');
    if (n > (UINT64_MAX - d) / 10) return bad();
    n = n * 10 + d;
    ++i;
  }
  if (i == 0) return bad();
  std::string unit = text.substr(i);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() == 3 && unit.substr(1) == "IB") unit.resize(1);
  if (unit.size() == 2 && unit[1] == 'B') unit.resize(1);
  unsigned shift = 0;
  if (unit.empty() || unit == "M") shift = 20;
  else if (unit == "K") shift = 10;
  else if (unit == "G") shift = 30;
  else if (unit == "T") shift = 40;
  else if (unit == "B") shift = 0;
  else return bad();
  if (n > (UINT64_MAX >> shift)) return bad();
  return n << shift;
}

std::string format_size(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  unsigned u = 0;
  uint64_t v = bytes;
  while (u < 4 && v >= 1024 && v % 1024 == 0) {
    v /= 1024;
    ++u;
  }
  if (u < 4 && v >= 1024) {
    double d = static_cast<double>(v) / 1024.0;
    return log::strf("%.1f %s", d, kUnits[u + 1]);
  }
  return log::strf("%llu %s", static_cast<unsigned long long>(v), kUnits[u]);
}

}  // namespace tide::vmm
