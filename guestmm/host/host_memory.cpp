#include "guestmm/host/host_memory.hpp"

#include <algorithm>

namespace tide::gmm::host {

std::vector<ByteRange> coalesce(std::vector<ByteRange> ranges) {
  std::sort(ranges.begin(), ranges.end(), [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
  std::vector<ByteRange> out;
  for (const ByteRange& r : ranges) {
    if (!out.empty() && out.back().offset + out.back().len == r.offset) out.back().len += r.len;
    else out.push_back(r);
  }
  return out;
}

}  // namespace tide::gmm::host
