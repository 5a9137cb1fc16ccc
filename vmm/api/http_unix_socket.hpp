// The Unix socket files behind HttpServer: creating a listening socket at a path (mode
// 0600 before anyone can connect; a stale socket file is replaced, a live server or a
// file that is not a socket is refused), checking an inherited listening fd, and removing
// the file again only while it is still the one this process bound.
#pragma once

#include <sys/types.h>

#include <string>

#include "guestmm/base/error.hpp"
#include "guestmm/base/unique_fd.hpp"

namespace tide::vmm::api {

struct UnixSocketFile {
  UniqueFd fd;  // listening, close-on-exec
  dev_t dev = 0;
  ino_t ino = 0;
};

// Binds and listens at `path`. Errors: path too long or empty, the path is a
// non-socket file, another server answers there, bind/listen failures. Thread: any.
[[nodiscard]] Result<UnixSocketFile> listen_unix_socket(const std::string& path, int backlog);

// Checks that `fd` is a listening AF_UNIX stream socket and marks it close-on-exec.
[[nodiscard]] Status check_listening_unix_socket(int fd);

// Unlinks `path` if it is still the socket file (dev, ino); leaves a successor alone.
void remove_unix_socket_file(const std::string& path, dev_t dev, ino_t ino);

}  // namespace tide::vmm::api
