#include "guestmm/host/memfd.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guestmm/base/log.hpp"

namespace tide::gmm::host {

Result<Memfd> Memfd::create(const std::string& name, uint64_t size_bytes) {
  Memfd m;
  m.fd_.reset(::memfd_create(name.c_str(), MFD_CLOEXEC));
  if (!m.fd_) return errno_error("memfd_create " + name);
  if (::ftruncate(m.fd_.get(), static_cast<off_t>(size_bytes)) != 0) {
    return errno_error(log::strf("size the %s memfd to %llu MiB", name.c_str(),
                                 static_cast<unsigned long long>(size_bytes >> 20)));
  }
  m.size_bytes_ = size_bytes;
  return m;
}

Status Memfd::punch_hole(uint64_t offset, uint64_t len) const {
  if (::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(len)) != 0) {
    return errno_error("punch pool range");
  }
  return ok();
}

}  // namespace tide::gmm::host
