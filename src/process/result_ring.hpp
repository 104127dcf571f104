// ResultRing: a worker's results in shared memory, where the pool's manager reads them
// without a system call on either side.
//
// Why: with one `write` per result in the worker and one `read` per few results in the
// manager, the channel's system calls were most of what a tiny task cost (the kernel
// allocates, copies, frees and wakes per write). Through the ring, a worker publishes a
// result with a copy and one release store; the manager, while it polls, finds it with
// one load. A manager about to block says so in the ring (`reader_sleeps`), and the
// worker then also writes a `wake` frame on the channel: a Dekker handshake (each side
// stores, fences, then loads the other's word), so no result waits for a manager that
// sleeps.
//
// The worker makes the ring (a memfd) and sends it with its `hello` frame; the manager
// maps it as well, so the results a worker published before it died are still read,
// and a task is blamed for a death only when its result was not published. A worker
// that dies while writing an entry has not published it.
//
// Order: results go in the ring in task order. A result frame larger than kMaxEntry
// goes on the channel instead, and a `result_on_channel` entry holds its place in the
// ring, written before the frame is sent: the manager, given a result from the channel,
// first reads the ring up to that entry.
//
// Room: the pool sends a worker at most kDeepPrefetch tasks ahead and takes each result
// out of the ring before it sends the task that replaces it, so the ring holds at most
// kDeepPrefetch entries of at most kMaxEntry bytes: it cannot fill (checked by a
// static_assert in pool_core.hpp). A producer that finds no room anyway yields until
// the reader makes some (the pool's kill deadline bounds that wait).
//
// Thread safety: one producer (the worker's thread) and one consumer (the manager
// thread), in different processes; the atomics are lock-free, hence address-free.
#pragma once

#include "posix.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace concur {
inline namespace v0 {
namespace detail {

class ResultRing {
 public:
  static constexpr std::size_t kCapacity = std::size_t{1} << 17;  // bytes of entries
  static constexpr std::size_t kMaxEntry = 4096;                   // one frame, header included

  // Worker: a new ring; send fd() to the reader, then release it.
  static ResultRing create();
  // Manager: maps a ring received from a worker. Throws SerializationError when `fd` is
  // not one (wrong size).
  static ResultRing open(Fd fd);

  ResultRing(ResultRing&& other) noexcept;
  ResultRing& operator=(ResultRing&& other) noexcept;
  ~ResultRing();

  Fd& fd() noexcept { return fd_; }

  // ---- producer ----
  // Publishes one whole frame (header included, at most kMaxEntry bytes); false when
  // the ring has no room for it.
  bool try_write(std::string_view frame) noexcept;
  // Whether the reader may be blocked: the producer then wakes it on the channel.
  // Call after try_write (it orders the two).
  bool reader_sleeps() const noexcept;

  // ---- consumer ----
  // The next frame's body (without its header), valid until pop() or the next peek();
  // nullopt when the ring is empty. A body that wraps around the end is copied into
  // `scratch`. Throws SerializationError for an entry that cannot be a frame.
  std::optional<std::string_view> peek(std::string& scratch);
  void pop() noexcept;
  // The reader is about to block (true) or polls again (false). After set(true), read
  // the ring once more before blocking: an entry published meanwhile may come without
  // a wake.
  void set_reader_sleeps(bool sleeps) noexcept;

 private:
  struct Control;
  ResultRing(Fd fd, void* base) noexcept;
  Control& control() const noexcept;
  char* data() const noexcept;
  void copy_out(std::uint64_t at, char* out, std::size_t size) const noexcept;

  Fd fd_;
  void* base_ = nullptr;
  std::uint64_t head_ = 0;         // consumer: where the next entry starts
  std::uint64_t peeked_size_ = 0;  // consumer: the peeked entry's size, header included
};

}  // namespace detail
}  // namespace v0
}  // namespace concur
