#include "guestmm/pool.hpp"

namespace tide::gmm {

Result<Pool> Pool::create(uint64_t size_bytes) {
  Pool p;
  uint64_t size = align_up(size_bytes, kExtentSize);
  TIDE_TRY_ASSIGN(memfd, host::Memfd::create("tide-pool", size));
  TIDE_TRY_ASSIGN(map, host::Mapping::map_shared(memfd.fd(), 0, size));
  p.memfd_ = std::move(memfd);
  p.map_ = std::move(map);
  return p;
}

}  // namespace tide::gmm
