// Unix socket files for HttpServer (see http_unix_socket.hpp). Raw socket syscalls: the
// mode and stale-file handling need steps Asio does not offer (chmod between bind and
// listen, a non-blocking probe of an existing socket).
#include "vmm/api/http_unix_socket.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tide::vmm::api {

namespace {

Result<sockaddr_un> make_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return make_error(std::errc::invalid_argument, "the API socket path is empty");
  if (path.size() >= sizeof addr.sun_path) {
    return make_error(std::errc::filename_too_long, "socket path " + path + " is too long (" +
                                                        std::to_string(path.size()) + " bytes, at most " +
                                                        std::to_string(sizeof addr.sun_path - 1) + ")");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// sockaddr_un is what bind/connect take; the cast is the sockets API's own convention.
const sockaddr* as_sockaddr(const sockaddr_un& addr) { return reinterpret_cast<const sockaddr*>(&addr); }

// Whether a server accepts connections on the socket file at `addr`. A refused connection
// means the file is left over from a process that is gone; a full backlog still means
// someone listens. Any other failure (permissions, ...) is reported.
Result<bool> someone_listens(const sockaddr_un& addr, const std::string& path) {
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!probe) return errno_error("socket");
  if (::connect(probe.get(), as_sockaddr(addr), sizeof addr) == 0) return true;
  switch (errno) {
    case ECONNREFUSED: return false;
    case EAGAIN:
    case EINPROGRESS: return true;
    case ENOENT: return false;  // removed meanwhile
    default: return errno_error("cannot check whether a server listens on " + path);
  }
}

}  // namespace

Result<UnixSocketFile> listen_unix_socket(const std::string& path, int backlog) {
  TIDE_TRY_ASSIGN(addr, make_address(path));

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return make_error(std::errc::file_exists, path + " exists and is not a socket; remove it or choose another path");
    }
    TIDE_TRY_ASSIGN(live, someone_listens(addr, path));
    if (live) return make_error(std::errc::address_in_use, "another server is already listening on " + path);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_error("cannot remove the stale socket " + path);
  } else if (errno != ENOENT) {
    return errno_error("cannot use " + path);
  }

  UnixSocketFile out;
  out.fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!out.fd) return errno_error("socket");
  if (::bind(out.fd.get(), as_sockaddr(addr), sizeof addr) != 0) {
    if (errno == EADDRINUSE) return make_error(std::errc::address_in_use, "another server took " + path + " meanwhile");
    return errno_error("cannot bind " + path);
  }
  // Until listen() nobody can connect (connect() is refused), so tightening the mode here
  // leaves no window in which a wider mode grants access. umask is process-wide and other
  // threads create files, so it is not the tool.
  auto fail = [&](Error e) {
    ::unlink(path.c_str());
    return e;
  };
  if (::fchmodat(AT_FDCWD, path.c_str(), S_IRUSR | S_IWUSR, 0) != 0) return fail(errno_error("chmod " + path));
  if (::lstat(path.c_str(), &st) != 0) return fail(errno_error("stat " + path));
  if (!S_ISSOCK(st.st_mode) || (st.st_mode & 0777) != 0600) {
    return fail(make_error(std::errc::permission_denied, path + " was replaced while it was being set up"));
  }
  if (::listen(out.fd.get(), backlog) != 0) return fail(errno_error("listen on " + path));
  out.dev = st.st_dev;
  out.ino = st.st_ino;
  return out;
}

Status check_listening_unix_socket(int fd) {
  auto not_listening = [fd] {
    return make_error(std::errc::invalid_argument,
                      "fd " + std::to_string(fd) + " is not a listening Unix stream socket");
  };
  int domain = 0;
  int type = 0;
  int accepting = 0;
  socklen_t len = sizeof domain;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) {
    if (errno == EBADF) return make_error(std::errc::bad_file_descriptor, "fd " + std::to_string(fd) + " is not open");
    return not_listening();
  }
  len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return not_listening();
  len = sizeof accepting;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0) return not_listening();
  if (domain != AF_UNIX || type != SOCK_STREAM || accepting == 0) return not_listening();
  // Inherited without close-on-exec; anything tide starts must not hold the API socket.
  int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0 || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) return errno_error("fcntl");
  return ok();
}

void remove_unix_socket_file(const std::string& path, dev_t dev, ino_t ino) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev && st.st_ino == ino) {
    ::unlink(path.c_str());
  }
}

}  // namespace tide::vmm::api
