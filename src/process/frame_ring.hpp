// FrameRing: frames in shared memory between a ProcessPool's manager and one worker,
// passed without a system call on either side. Each worker has two: its tasks (the
// pool writes, the worker reads) and its results (the other way).
//
// Why: with one `write` per frame on the sending side and one `read` per few frames on
// the other, the channel's system calls were most of what a tiny task cost (the kernel
// allocates, copies, frees and wakes per write), and an idle worker polled its channel
// with one `recv` per poll. Through a ring, a frame is published with a copy and one
// release store, and found with one load. A reader about to block says so in the ring
// (`reader_sleeps`), and the writer then also writes a `wake` frame on the channel: a
// Dekker handshake (each side stores, fences, then loads the other's word), so no frame
// waits for a reader that sleeps.
//
// The worker makes both rings (memfds) and sends them with its `hello` frame; the
// manager maps them as well, so the results a worker published before it died are
// still read, and a task is blamed for a death only when its result was not published.
// A worker that dies while writing an entry has not published it.
//
// Order: frames go in the ring in order. A frame larger than kMaxEntry goes on the
// channel instead, and an `on_channel` entry holds its place in the ring, written
// before the frame is sent: the reader, given such an entry, reads the channel for the
// frame (and, given a result frame on the channel, first reads the ring up to it).
//
// Room: the pool counts the bytes of the task entries it sent a worker and keeps them
// within the ring, and the worker takes a task out of its ring before it runs it; so a
// task ring cannot fill, and the pool stops a worker whose ring looks full anyway. A
// result ring can: a worker that finds no room yields until the manager has read some
// (the manager reads every ring at each turn).
//
// Trust: the worker can write anything into both rings. The reader checks every entry
// (peek throws SerializationError), and the writer's copy stays inside the mapping
// whatever the shared positions say.
//
// Thread safety: one producer and one consumer at a time (the manager's side is used
// under the pool's lock or by the manager thread alone), in different processes; the
// atomics are lock-free, hence address-free.
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

class FrameRing {
 public:
  static constexpr std::size_t kCapacity = std::size_t{1} << 17;  // bytes of entries
  static constexpr std::size_t kMaxEntry = 4096;                   // one frame, header included

  // Worker: a new ring, its memfd named `name`; send fd() to the manager, then release it.
  static FrameRing create(const char* name);
  // Manager: maps a ring received from a worker. Throws SerializationError when `fd` is
  // not one (wrong size).
  static FrameRing open(Fd fd);

  FrameRing(FrameRing&& other) noexcept;
  FrameRing& operator=(FrameRing&& other) noexcept;
  ~FrameRing();

  Fd& fd() noexcept { return fd_; }

  // ---- producer ----
  // Publishes one whole frame (header included, at most kMaxEntry bytes); false when
  // the ring has no room for it.
  bool try_write(std::string_view frame) noexcept;
  // Whether the reader may be blocked: the producer then wakes it on the channel.
  // Call after try_write (it orders the two). The value names the reader's sleep (0:
  // awake; a new number each time it blocks), so a producer that publishes many frames
  // to one sleep wakes it once.
  std::uint32_t reader_sleeps() const noexcept;
  // Whether the producer must wake the reader now: true once per sleep of the reader,
  // which `woken` (the producer's, 0 at first) remembers. Call after try_write.
  bool wake_due(std::uint32_t& woken) const noexcept {
    const std::uint32_t sleep = reader_sleeps();
    if (sleep == 0 || sleep == woken) return false;
    woken = sleep;
    return true;
  }

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
  FrameRing(Fd fd, void* base) noexcept;
  Control& control() const noexcept;
  char* data() const noexcept;
  void copy_out(std::uint64_t at, char* out, std::size_t size) const noexcept;

  Fd fd_;
  void* base_ = nullptr;
  std::uint64_t head_ = 0;         // consumer: where the next entry starts
  std::uint64_t peeked_size_ = 0;  // consumer: the peeked entry's size, header included
  std::uint32_t sleeps_ = 0;       // consumer: how many times it said it blocks
};

}  // namespace detail
}  // namespace v0
}  // namespace concur
