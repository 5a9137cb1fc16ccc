// Memfd: the pool's backing file (shmem). Owns the fd; sized once; ranges are returned to
// the host with punch_hole(), which also guarantees they read back as zeroes.
#pragma once

#include <cstdint>
#include <string>

#include "guestmm/base/error.hpp"
#include "guestmm/base/unique_fd.hpp"

namespace tide::gmm::host {

class Memfd {
 public:
  // A memfd of `size_bytes` (page multiple). Errors: memfd_create/ftruncate failures.
  [[nodiscard]] static Result<Memfd> create(const std::string& name, uint64_t size_bytes);

  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] uint64_t size_bytes() const { return size_bytes_; }
  // fallocate(PUNCH_HOLE|KEEP_SIZE) over [offset, offset+len): one syscall.
  [[nodiscard]] Status punch_hole(uint64_t offset, uint64_t len) const;

 private:
  UniqueFd fd_;
  uint64_t size_bytes_ = 0;
};

}  // namespace tide::gmm::host
