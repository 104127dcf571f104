#include "posix.hpp"

#include <concur/errors.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace concur {
inline namespace v0 {
namespace detail {

void Fd::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);  // a failing close still frees the descriptor on Linux
  fd_ = -1;
}

void throw_errno(const std::string& what) {
  const int error = errno;
  throw Error("concur: " + what + ": " + std::strerror(error));
}

std::pair<Fd, Fd> make_socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw_errno("socketpair for a worker channel");
  }
  return {Fd(fds[0]), Fd(fds[1])};
}

std::pair<Fd, Fd> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe for a worker's stderr");
  return {Fd(fds[0]), Fd(fds[1])};
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) throw_errno("fcntl O_NONBLOCK");
}

bool write_all(int fd, std::string_view bytes) noexcept {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool read_exact(int fd, char* out, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, out + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read from a worker channel");
    }
    if (n == 0) {
      if (done == 0) return false;
      throw SerializationError("concur: a frame ended after " + std::to_string(done) + " of " +
                               std::to_string(size) + " bytes");
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool send_with_fds(int socket, std::string_view bytes, std::span<const int> fds) noexcept {
  iovec io{const_cast<char*>(bytes.data()), bytes.size()};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  if (!fds.empty()) {
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    const ssize_t n = ::sendmsg(socket, &message, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<std::size_t>(n) == bytes.size();
    if (errno != EINTR) return false;
  }
}

ssize_t read_with_fds(int socket, char* out, std::size_t size, std::vector<Fd>& fds, std::size_t max_fds) noexcept {
  iovec io{out, size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = CMSG_SPACE(sizeof(int) * std::min<std::size_t>(max_fds, 4));
  const ssize_t n = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
  if (n < 0) return n;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
      const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
        Fd owned(fd);  // closed unless kept
        if (fds.size() < max_fds) {
          try {
            fds.push_back(std::move(owned));
          } catch (...) {  // out of memory: the fd is closed, as one over the limit
          }
        }
      }
    }
  }
  return n;
}

std::string receive_with_fds(int socket, std::vector<Fd>& fds, std::size_t max_fds) {
  std::string bytes(4096, '\0');
  ssize_t n;
  do {
    n = read_with_fds(socket, bytes.data(), bytes.size(), fds, max_fds);
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw_errno("recvmsg from the fork server");
  bytes.resize(static_cast<std::size_t>(n));
  return bytes;
}

Fd pidfd_open(pid_t pid) {
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) throw_errno("pidfd_open of worker " + std::to_string(pid));
  return Fd(static_cast<int>(fd));
}

bool pidfd_signal(int pidfd, int signal) noexcept {
  return ::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) == 0;
}

std::size_t resident_bytes() noexcept {
  std::FILE* file = std::fopen("/proc/self/statm", "re");
  if (file == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int read = std::fscanf(file, "%lu %lu", &size, &resident);
  std::fclose(file);
  if (read != 2) return 0;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::size_t thread_count() {
  std::size_t n = 0;
  if (DIR* dir = ::opendir("/proc/self/task")) {
    while (dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') ++n;
    }
    ::closedir(dir);
  }
  return n;
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
