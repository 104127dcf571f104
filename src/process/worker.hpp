// The worker process's side of a ProcessPool: the loop that reads task frames, runs
// them and writes results, and the set-up of a freshly forked or spawned worker.
//
// Protocol (process/detail/wire.hpp frames; frame_ring.hpp): the worker sends `hello`
// with its task ring's and result ring's fds attached, receives `config` on the
// channel, runs the initializer and sends `ready` or `init_failed`. Then it takes each
// `task` from its task ring (polling it for config.spin_ns, then blocking on the channel
// for a `wake` frame; a task too large for the ring comes on the channel behind an
// `on_channel` entry), and puts one `result` per task, strictly in order, in its result
// ring (with a `wake` frame on the channel when the manager blocks) or, when larger
// than a ring entry, on the channel behind an `on_channel` entry. A frame it cannot
// read gets a `protocol_error` and the worker exits with kProtocolExit. End-of-file on
// the channel ends the worker with status 0; so does a result marked retiring.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace concur {
inline namespace v0 {
namespace detail {

inline constexpr int kProtocolExit = 70;  // EX_SOFTWARE
inline constexpr int kWorkerChannelFd = 3;

// What the pool tells each worker in its `config` frame.
struct WorkerConfig {
  std::string name;  // the process name
  bool has_initializer = false;
  std::string initializer_module;
  std::uint64_t initializer_offset = 0;
  std::uint64_t max_tasks = 0;
  std::uint64_t max_memory = 0;
  std::uint64_t max_frame = 0;
  std::uint64_t spin_ns = 0;  // how long an idle worker polls before it blocks
  std::vector<std::pair<std::string, std::string>> environment;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(name, has_initializer, initializer_module, initializer_offset, max_tasks, max_memory,
            max_frame, spin_ns, environment);
  }
};

// Serves tasks on `channel` until end-of-file; never returns.
[[noreturn]] void run_worker(int channel) noexcept;

// In a child just forked: drops the stdio output the parent had buffered.
void discard_inherited_output() noexcept;

// In a child just forked from `parent`: dies with the parent, ignores SIGINT (the
// parent decides), sends fd 2 to `stderr_write`, keeps only stdio and the channel
// (as kWorkerChannelFd), then runs the worker loop.
[[noreturn]] void become_worker(int channel, int stderr_write, pid_t parent) noexcept;

}  // namespace detail
}  // namespace v0
}  // namespace concur
