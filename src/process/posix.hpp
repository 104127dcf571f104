// Small POSIX helpers of the process backend: an owning fd, whole-buffer I/O that
// retries on EINTR, fd passing over a unix socket, and pidfds.
//
// Thread safety: free functions; an Fd is a value owned by one thread at a time.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace concur {
inline namespace v0 {
namespace detail {

// An owned file descriptor, closed on destruction.
class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset() noexcept;

 private:
  int fd_ = -1;
};

// A byte buffer whose resize() leaves the new bytes uninitialised: a 64 KiB read buffer
// costs only the pages that reads fill. (A fresh worker pays a page fault, ~20 µs on a
// paravirtualised guest, for every page it first touches.)
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  template <class U>
  void construct(U* at) noexcept {
    ::new (static_cast<void*>(at)) U;
  }
  template <class U, class... Args>
  void construct(U* at, Args&&... args) {
    ::new (static_cast<void*>(at)) U(std::forward<Args>(args)...);
  }
};
using ReadBuffer = std::vector<char, UninitializedAllocator<char>>;

// Throws concur::Error naming `what` and errno.
[[noreturn]] void throw_errno(const std::string& what);

// A connected AF_UNIX stream pair, both ends O_CLOEXEC.
std::pair<Fd, Fd> make_socket_pair();
// A pipe, both ends O_CLOEXEC: {read, write}.
std::pair<Fd, Fd> make_pipe();
void set_nonblocking(int fd);

// Blocking whole-buffer I/O. write_all: false when the peer is gone. read_exact: false
// on end-of-file before any byte; throws SerializationError on end-of-file mid-buffer.
bool write_all(int fd, std::string_view bytes) noexcept;
bool read_exact(int fd, char* out, std::size_t size);

// Sends `bytes` with `fds` attached (SCM_RIGHTS); receives up to `max_fds` fds with the
// bytes of one message. receive: an empty string at end-of-file.
bool send_with_fds(int socket, std::string_view bytes, std::span<const int> fds) noexcept;
std::string receive_with_fds(int socket, std::vector<Fd>& fds, std::size_t max_fds);
// One recvmsg into `out` (as read(2), for a non-blocking socket too), keeping up to
// `max_fds` (at most 4) attached fds in `fds` and closing any others.
ssize_t read_with_fds(int socket, char* out, std::size_t size, std::vector<Fd>& fds, std::size_t max_fds) noexcept;

// pidfds (Linux >= 5.3).
Fd pidfd_open(pid_t pid);
bool pidfd_signal(int pidfd, int signal) noexcept;

// Resident memory of this process in bytes (0 if unknown).
std::size_t resident_bytes() noexcept;
// Threads of this process.
std::size_t thread_count();

}  // namespace detail
}  // namespace v0
}  // namespace concur
