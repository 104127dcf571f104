// The core of a ProcessPool, shared by its two source files: process_pool.cpp (building
// the pool, submitting, shutting down) and pool_manager.cpp (the manager thread: worker
// start-up, results, exits, deadlines). Private to src/process.
//
// Thread safety: the fields of ProcessPoolCore and Slot are guarded as documented at
// each; the manager thread alone reads the channels and reaps the workers.
#pragma once

#include <concur/core/detail/shared_state.hpp>
#include <concur/core/unhandled_exception.hpp>
#include <concur/process/process_pool.hpp>

#include "launcher.hpp"
#include "posix.hpp"
#include "frame_ring.hpp"
#include "worker.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace concur {
inline namespace v0 {
namespace detail {

// Tasks sent ahead to a worker: the one it runs and the next, so it never waits for
// the round trip between two tasks; more while its tasks are short, enough to cover
// kWorkAhead of its work (at most kDeepPrefetch), so tiny tasks travel in batches and a
// worker keeps running while the manager thread waits for a core. Deeper would queue
// more work behind a long task while another worker idles: kWorkAhead bounds that, as
// far as the moving average of the task times tells. A worker runs its tasks in order,
// so the ones behind the running task have not started and move elsewhere if it dies.
inline constexpr std::size_t kPrefetch = 2;
inline constexpr std::size_t kDeepPrefetch = 64;
inline constexpr auto kWorkAhead = std::chrono::microseconds(1600);

// How many tasks to send ahead to a ready worker whose tasks take `mean_task` on
// average (Clock::duration::max(): nothing measured yet).
inline std::size_t prefetch_depth(Clock::duration mean_task) noexcept {
  if (mean_task == Clock::duration::max()) return kPrefetch;
  // Signed throughout: a duration times or divided by a size_t turns unsigned.
  constexpr Clock::duration tiny = kWorkAhead / static_cast<Clock::duration::rep>(kDeepPrefetch);
  if (mean_task <= tiny) return kDeepPrefetch;
  return std::max(kPrefetch, static_cast<std::size_t>(kWorkAhead / mean_task));
}

// A worker's task ring holds at most the entries of the tasks sent to it, and the pool
// counts their bytes (Slot::ring_bytes) to keep them within the ring; a task is always
// sendable to a worker with nothing in flight. Results have no such bound: 64 results
// of up to 4 KiB would not fit, and a worker that finds its result ring full yields
// until the manager has read some (frame_ring.hpp).
static_assert(FrameRing::kMaxEntry <= FrameRing::kCapacity, "an entry fits in an empty ring");
// The bytes a task takes in its worker's task ring: its frame, or the placeholder of a
// frame that goes on the channel.
inline std::size_t ring_entry_bytes(const ProcessTaskBase& task) noexcept {
  return task.request.size() <= FrameRing::kMaxEntry ? task.request.size() : kFrameHeader;
}
// How long the manager and an idle worker poll before they block: a round trip then
// pays no wake-up (8-23 us on the machines we measured). So a task for an idle worker
// goes to the one that went idle last: it is the one still polling.
inline constexpr auto kSpin = std::chrono::microseconds(50);
// While results flow, the manager polls its fds every kTurnsPerPoll turns of its loop,
// and takes the pool's lock when something came in, or at least every kLockedTurnEvery
// (for the deadlines, which count in milliseconds).
inline constexpr unsigned kTurnsPerPoll = 16;
inline constexpr auto kLockedTurnEvery = std::chrono::milliseconds(1);
// Deaths before `ready` in a row that break the pool.
inline constexpr unsigned kStartAttempts = 3;
// The tail of a worker's stderr kept for WorkerDied.
inline constexpr std::size_t kStderrTail = 2048;

// epoll keys: which slot, which of its processes (generation), which fd.
enum class Source : std::uint64_t { channel = 1, stderr_pipe = 2, pidfd = 3, wake = 4, launcher = 5 };
inline std::uint64_t key(Source source, std::size_t slot = 0, std::uint32_t generation = 0) {
  return (std::uint64_t{generation} << 32) | (std::uint64_t{slot} << 8) |
         static_cast<std::uint64_t>(source);
}

// One worker process's place in the pool; a replacement takes the same slot.
struct Slot {
  enum class Phase {
    empty,      // no process
    launching,  // asked the fork server
    starting,   // config sent, waiting for `ready`
    ready,      // takes tasks
    retiring,   // takes no more tasks: it said so, or the pool closes it
    stopping,   // signalled; waiting for it to exit
  };

  std::size_t index = 0;
  std::uint32_t generation = 0;
  Phase phase = Phase::empty;
  bool was_ready = false;  // reached `ready` (else a death is a start-up failure)
  unsigned start_failures = 0;  // deaths before `ready` in a row
  bool hello = false;
  bool eof = false;           // the worker's side of the channel is closed
  bool write_closed = false;  // ours is shut for writing (the pool closes)
  pid_t pid = -1;
  std::string where;  // "worker process <pid>", for error messages
  Fd channel, stderr_read, pidfd;

  // Read side (manager thread only). The rings come with `hello` (ring_fds until then)
  // and stay mapped until the worker's exit is handled; the task ring is written under
  // the pool's mutex (send_task_locked).
  std::vector<Fd> ring_fds;
  std::optional<FrameRing> task_ring, result_ring;
  std::string ring_scratch;
  ReadBuffer in;
  std::size_t in_size = 0;
  std::string stderr_tail;
  std::string protocol_error;

  // Write side (under the pool's mutex): frames for the channel (the config, tasks too
  // large for the task ring, wake frames).
  std::string config;
  std::deque<std::string_view> out;
  std::size_t out_offset = 0;
  bool watching_writes = false;
  std::uint32_t woken = 0;  // the worker's last sleep a wake frame was sent for
  bool task_ring_full = false;  // a worker that scribbled over its ring's positions
  bool exited = false;          // its exit is being handled: nothing more is sent to it

  // Tasks sent, in order; the front one runs. Each holds the queue's reference.
  std::deque<ProcessTaskBase*> in_flight;
  std::size_t ring_bytes = 0;  // their ring_entry_bytes: at most FrameRing::kCapacity
  // Stopping for a cancelled or timed-out head, whose result came in before the signal
  // landed: the task the worker runs when it dies is innocent and goes back in line.
  bool stop_target_ended = false;
  std::size_t sent = 0;
  std::uint64_t last_result = 0;  // when it last reported, in the pool's result count
  Clock::time_point head_started;
  Clock::duration mean_task = Clock::duration::max();  // moving average of task times
  std::optional<Clock::time_point> head_deadline;
  std::optional<Clock::time_point> kill_deadline;
  std::optional<Clock::time_point> start_deadline;
};

class ProcessPoolCore final : public StopSink {
 public:
  ProcessPoolCore(std::size_t workers, ProcessPoolOptions options);
  ~ProcessPoolCore();

  void enqueue(ProcessTaskBase* task);
  void shutdown(ShutdownOptions options);
  void request_stop(ProcessTaskBase& task) noexcept override;
  std::vector<int> pids() const;
  std::size_t workers() const noexcept { return slots_.size(); }

  std::atomic<std::uint64_t> next_id{1};

 private:
  // A task that leaves the pool's hands: published with `error` (or its decoded
  // result), or only released when it was already finished.
  struct Done {
    enum Action { publish, publish_keep, release };
    ProcessTaskBase* task;
    std::size_t worker;
    std::exception_ptr error;  // null: the decoded value is stored
    Action action;
  };

  void run() noexcept;
  void loop();
  int next_timeout();
  void handle(std::uint64_t data, std::uint32_t events, std::vector<Done>& done);
  void launch(Slot& slot, std::vector<Done>& done);
  void adopt(LaunchedWorker worker);
  void read_channel(Slot& slot, std::vector<Done>& done);
  // Results (pool_results.cpp). drain_ring copies the results in a worker's ring into
  // arrived_, up to an on_channel entry, which it takes (and says so) when given
  // `took_placeholder`: a result from the channel is next. Returns how many entries it
  // took. settle_locked matches what arrived to the workers' tasks; deliver_arrived then
  // decodes and publishes them, outside the lock; settle does both. on_result handles one
  // result from a channel, after settle.
  std::size_t drain_ring(Slot& slot, bool* took_placeholder = nullptr);
  std::size_t drain_rings();
  void settle_locked();
  void deliver_arrived(std::vector<Done>& done);
  void settle(std::vector<Done>& done);
  void on_result(Slot& slot, std::string_view body, std::vector<Done>& done);
  // Throws SerializationError when the worker was not running that task.
  ProcessTaskBase* accept_result_locked(Slot& slot, std::string_view body, Clock::time_point now);
  void deliver(const Slot& slot, ProcessTaskBase& task, std::string_view body, std::vector<Done>& done);
  void ring_error_locked(Slot& slot, std::string message);
  void read_stderr(Slot& slot);
  void process_frame(Slot& slot, std::string_view body, std::vector<Done>& done);
  void on_exit(Slot& slot, const ExitStatus& status, std::vector<Done>& done);
  bool finished_locked();

  // Under mutex_.
  void check_deadlines_locked(std::vector<Done>& done);
  void handle_stop_requests_locked(std::vector<Done>& done);
  // Assigns queued tasks to workers, writing them into their task rings. False when the
  // worker's ring was full: the worker is stopped.
  void dispatch_locked();
  bool send_task_locked(Slot& slot, ProcessTaskBase& task);
  void flush_locked(Slot& slot);
  void flush_all_locked();  // once per turn of the manager
  void head_started_locked(Slot& slot);
  void stop_worker_locked(Slot& slot);
  void break_locked(std::string reason, std::vector<Done>& done);
  void kill_workers_locked() noexcept;  // SIGKILL and reap every worker
  void end_first_launches() noexcept;
  void requeue_front_locked(std::deque<ProcessTaskBase*> tasks);
  void watch(Slot& slot, bool writes);
  // Sets a slot's deadline; wakes the manager when it sleeps past it (a submitter or
  // canceller arms deadlines while the manager may be blocked in epoll_wait).
  void arm_locked(std::optional<Clock::time_point>& deadline, Clock::time_point when);

  void finish(std::vector<Done>& done) noexcept;
  template <class Event>
  void notify(Event&& event) noexcept;
  static const std::string& where(const Slot& slot) { return slot.where; }
  static std::string stderr_tail(const Slot& slot) {
    const std::size_t size = slot.stderr_tail.size();
    return slot.stderr_tail.substr(size > kStderrTail ? size - kStderrTail : 0);
  }

  const ProcessPoolOptions options_;
  Observer* const observer_;
  std::unique_ptr<Launcher> launcher_;
  Fd epoll_;
  Fd wake_;

  mutable std::mutex mutex_;
  std::deque<ProcessTaskBase*> queue_;  // guarded; each holds the queue's reference
  std::vector<Slot> slots_;             // the vector is fixed; fields as documented
  std::vector<ProcessTaskBase*> stop_requests_;  // guarded; each retained
  bool closed_ = false;                          // guarded
  std::string broken_;                           // guarded; non-empty: the reason
  std::size_t round_robin_ = 0;                  // guarded
  std::uint64_t results_ = 0;                    // guarded; results received so far
  // When the manager's epoll_wait returns by itself; guarded, set by next_timeout().
  Clock::time_point manager_wakes_at_ = Clock::time_point::max();

  // Results read from the rings and not yet published, with their frames' bytes; a
  // turn of the manager settles them together (manager thread only).
  struct Arrived {
    Slot* slot;
    std::size_t offset;  // of its frame's body in arrived_bytes_
    std::size_t size;
    ProcessTaskBase* task = nullptr;  // once settled
  };
  std::vector<Arrived> arrived_;
  std::string arrived_bytes_;

  std::mutex join_mutex_;
  std::atomic<bool> first_launches_done_{false};  // the constructor waits for it
  std::thread manager_;
};

template <class Event>
void ProcessPoolCore::notify(Event&& event) noexcept {
  if (observer_ == nullptr) return;
  try {
    event(*observer_);
  } catch (...) {
    report_unhandled_exception(std::current_exception(), "a ProcessPool observer");
  }
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
