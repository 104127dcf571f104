#include <concur/process/process_pool.hpp>

#include "launcher.hpp"
#include "posix.hpp"
#include "worker.hpp"

#include <concur/core/unhandled_exception.hpp>

#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace concur {
inline namespace v0 {
namespace detail {
namespace {

using Clock = std::chrono::steady_clock;

// Tasks sent ahead to a worker: the one it runs and the next, so it never waits for
// the round trip between two tasks; up to kDeepPrefetch while its tasks are shorter
// than kShortTask, so tiny tasks travel in batches. Deeper would queue work behind a
// long task while another worker idles. A worker runs its tasks in order, so the ones
// behind the running task have not started and move elsewhere if it dies.
constexpr std::size_t kPrefetch = 2;
constexpr std::size_t kDeepPrefetch = 16;
constexpr auto kShortTask = std::chrono::microseconds(100);
// How long the manager and an idle worker poll before they block: a round trip then
// pays no wake-up (8-23 us on the machines we measured).
constexpr auto kSpin = std::chrono::microseconds(50);
// Deaths before `ready` in a row that break the pool.
constexpr unsigned kStartAttempts = 3;
// The tail of a worker's stderr kept for WorkerDied.
constexpr std::size_t kStderrTail = 2048;

// epoll keys: which slot, which of its processes (generation), which fd.
enum class Source : std::uint64_t { channel = 1, stderr_pipe = 2, pidfd = 3, wake = 4, launcher = 5 };
std::uint64_t key(Source source, std::size_t slot = 0, std::uint32_t generation = 0) {
  return (std::uint64_t{generation} << 32) | (std::uint64_t{slot} << 8) |
         static_cast<std::uint64_t>(source);
}

std::string threads_value(const std::optional<unsigned>& threads) {
  return std::to_string(threads.value_or(1));
}

Environment worker_environment(const ProcessPoolOptions& options) {
  Environment environment;
  for (const char* name : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"}) {
    if (options.threads_per_worker || std::getenv(name) == nullptr) {
      environment.emplace_back(name, threads_value(options.threads_per_worker));
    }
  }
  return environment;
}

}  // namespace

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

  // Read side (manager thread only).
  std::vector<char> in;
  std::size_t in_size = 0;
  std::string stderr_tail;
  std::string protocol_error;

  // Write side (under the pool's mutex).
  std::string config;
  std::deque<std::string_view> out;
  std::size_t out_offset = 0;
  bool watching_writes = false;

  // Tasks sent, in order; the front one runs. Each holds the queue's reference.
  std::deque<ProcessTaskBase*> in_flight;
  std::size_t sent = 0;
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
  void read_stderr(Slot& slot);
  void process_frame(Slot& slot, std::string_view body, std::vector<Done>& done);
  void on_result(Slot& slot, std::string_view body, std::vector<Done>& done);
  void on_exit(Slot& slot, const ExitStatus& status, std::vector<Done>& done);
  void check_deadlines(std::vector<Done>& done);
  void handle_stop_requests(std::vector<Done>& done);
  bool finished_locked();

  // Under mutex_.
  // Assigns queued tasks to workers. A frame goes out at once to an idle worker; frames
  // behind a running task wait in the slot's buffer until flush_all, which the manager
  // passes once per loop turn: one sendmsg then carries many frames.
  enum class Flush { idle_only, flush_all };
  void dispatch_locked(Flush flush);
  void flush_locked(Slot& slot);
  void head_started_locked(Slot& slot);
  void stop_worker_locked(Slot& slot);
  void break_locked(std::string reason, std::vector<Done>& done);
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
  // When the manager's epoll_wait returns by itself; guarded, set by next_timeout().
  Clock::time_point manager_wakes_at_ = Clock::time_point::max();

  std::mutex join_mutex_;
  std::thread manager_;
};

ProcessPoolCore::ProcessPoolCore(std::size_t workers, ProcessPoolOptions options)
    : options_(std::move(options)), observer_(options_.observer.get()), slots_(workers) {
  const Environment environment = worker_environment(options_);
  launcher_ = make_launcher(options_.start_method, options_.allow_fork_with_threads, environment);
  epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
  wake_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!epoll_ || !wake_) throw_errno("epoll/eventfd for a ProcessPool");
  epoll_event wake{EPOLLIN, {.u64 = key(Source::wake)}};
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &wake);
  if (launcher_->event_fd() >= 0) {
    epoll_event event{EPOLLIN, {.u64 = key(Source::launcher)}};
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, launcher_->event_fd(), &event);
  }
  WorkerConfig config;
  if (options_.initializer != nullptr) {
    const FunctionLocation where = locate_code(reinterpret_cast<const void*>(options_.initializer));
    config.has_initializer = true;
    config.initializer_module = where.module;
    config.initializer_offset = where.offset;
  }
  config.max_tasks = options_.max_tasks_per_child;
  config.max_memory = options_.max_memory_per_child;
  config.max_frame = options_.max_frame_bytes;
  config.spin_ns = static_cast<std::uint64_t>(std::chrono::nanoseconds(kSpin).count());
  config.environment = environment;
  for (std::size_t i = 0; i < workers; ++i) {
    slots_[i].index = i;
    config.name = options_.name + "-" + std::to_string(i);
    const std::size_t start = begin_frame(slots_[i].config, FrameKind::config);
    {
      Encoder encoder(slots_[i].config);
      encoder.archive()(config);
    }
    finish_frame(slots_[i].config, start);
  }
  manager_ = std::thread([this] { run(); });
}

ProcessPoolCore::~ProcessPoolCore() { shutdown({.wait = true}); }

template <class Event>
void ProcessPoolCore::notify(Event&& event) noexcept {
  if (observer_ == nullptr) return;
  try {
    event(*observer_);
  } catch (...) {
    report_unhandled_exception(std::current_exception(), "a ProcessPool observer");
  }
}

// ---- submitting ------------------------------------------------------------------------
void ProcessPoolCore::enqueue(ProcessTaskBase* task) {
  std::string refusal;
  const std::size_t body = task->request.size() - kFrameHeader;
  if (body > options_.max_frame_bytes) {
    task->state().release();
    throw SerializationError("concur::ProcessPool: the task takes " + std::to_string(body) +
                             " bytes, more than max_frame_bytes (" +
                             std::to_string(options_.max_frame_bytes) + ")");
  }
  {
    std::lock_guard lock(mutex_);
    if (!broken_.empty()) {
      refusal = broken_;
    } else if (closed_) {
      refusal = "concur::ProcessPool: submit after shutdown";
    } else {
      queue_.push_back(task);
      dispatch_locked(Flush::idle_only);
    }
  }
  if (!refusal.empty()) {
    task->state().release();
    throw BrokenExecutor(refusal);
  }
  notify([&](Observer& o) { o.on_submit(task->state().id); });
}

void ProcessPoolCore::dispatch_locked(Flush flush) {
  // While a worker is still starting, send nothing ahead: it takes the queue when ready
  // (a task sent ahead cannot move to it).
  bool all_ready = true;
  for (const Slot& slot : slots_) all_ready = all_ready && slot.phase == Slot::Phase::ready;
  while (!queue_.empty()) {
    Slot* best = nullptr;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      Slot& slot = slots_[(round_robin_ + i) % slots_.size()];
      const std::size_t depth =
          !all_ready ? 1 : slot.mean_task < kShortTask ? kDeepPrefetch : kPrefetch;
      if (slot.phase != Slot::Phase::ready || slot.in_flight.size() >= depth) continue;
      if (options_.max_tasks_per_child != 0 && slot.sent >= options_.max_tasks_per_child) continue;
      if (best == nullptr || slot.in_flight.size() < best->in_flight.size()) best = &slot;
    }
    if (best == nullptr) break;
    round_robin_ = best->index + 1;
    ProcessTaskBase* task = queue_.front();
    queue_.pop_front();
    if (!task->started) {
      if (!task->state().try_start()) {  // cancelled while queued
        task->state().release();
        continue;
      }
      task->started = true;
    }
    best->in_flight.push_back(task);
    ++best->sent;
    best->out.emplace_back(task->request);
    if (best->in_flight.size() == 1) {
      head_started_locked(*best);
      flush_locked(*best);
    }
  }
  if (flush == Flush::flush_all) {
    for (Slot& slot : slots_) {
      if (!slot.out.empty() && !slot.watching_writes) flush_locked(slot);
    }
  }
}

void ProcessPoolCore::flush_locked(Slot& slot) {
  while (!slot.out.empty() && slot.channel && !slot.eof) {
    std::array<iovec, 64> parts;
    std::size_t count = 0;
    for (auto it = slot.out.begin(); it != slot.out.end() && count < parts.size(); ++it, ++count) {
      const std::size_t skip = count == 0 ? slot.out_offset : 0;
      parts[count] = {const_cast<char*>(it->data() + skip), it->size() - skip};
    }
    msghdr message{};
    message.msg_iov = parts.data();
    message.msg_iovlen = count;
    const ssize_t n = ::sendmsg(slot.channel.get(), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      slot.out.clear();  // the worker is gone: its exit will be handled
      slot.out_offset = 0;
      break;
    }
    auto written = static_cast<std::size_t>(n);
    while (written > 0) {
      const std::size_t left = slot.out.front().size() - slot.out_offset;
      if (written < left) {
        slot.out_offset += written;
        break;
      }
      written -= left;
      slot.out.pop_front();
      slot.out_offset = 0;
    }
  }
  const bool want = !slot.out.empty() && slot.channel && !slot.eof;
  if (want != slot.watching_writes) watch(slot, want);
}

void ProcessPoolCore::watch(Slot& slot, bool writes) {
  slot.watching_writes = writes;
  epoll_event event{EPOLLIN | (writes ? EPOLLOUT : 0u),
                    {.u64 = key(Source::channel, slot.index, slot.generation)}};
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, slot.channel.get(), &event);
}

void ProcessPoolCore::request_stop(ProcessTaskBase& task) noexcept {
  task.state().retain();
  {
    std::lock_guard lock(mutex_);
    stop_requests_.push_back(&task);
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void ProcessPoolCore::shutdown(ShutdownOptions options) {
  std::vector<ProcessTaskBase*> cancelled;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    if (options.cancel_futures) {  // only what was never sent: a sent task has started
      std::erase_if(queue_, [&](ProcessTaskBase* task) {
        if (task->started || !task->state().cancel()) return false;
        cancelled.push_back(task);
        return true;
      });
    }
  }
  for (ProcessTaskBase* task : cancelled) task->state().release();
  const std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  if (!options.wait) return;
  std::lock_guard join(join_mutex_);
  if (manager_.joinable()) {
    if (manager_.get_id() == std::this_thread::get_id()) {
      throw InvalidState("concur::ProcessPool: shutdown(wait) from its own manager thread");
    }
    manager_.join();
  }
}

std::vector<int> ProcessPoolCore::pids() const {
  std::lock_guard lock(mutex_);
  std::vector<int> pids;
  for (const Slot& slot : slots_) {
    pids.push_back(slot.phase == Slot::Phase::ready || slot.phase == Slot::Phase::starting ? slot.pid
                                                                                          : 0);
  }
  return pids;
}

// ---- the manager thread ----------------------------------------------------------------
void ProcessPoolCore::run() noexcept {
  try {
    loop();
  } catch (...) {
    // The manager cannot go on (an fd could not be polled): fail everything, leave no
    // process behind.
    std::vector<Done> done;
    {
      std::lock_guard lock(mutex_);
      break_locked("concur::ProcessPool: its manager failed: " + describe(std::current_exception()),
                   done);
      for (Slot& slot : slots_) {
        for (ProcessTaskBase* task : slot.in_flight) {
          done.push_back({task, slot.index,
                          std::make_exception_ptr(BrokenExecutor("concur::ProcessPool: its manager failed")),
                          task->abandoned ? Done::release : Done::publish});
        }
        slot.in_flight.clear();
        if (slot.pidfd) pidfd_signal(slot.pidfd.get(), SIGKILL);
        if (launcher_->reaps_directly() && slot.pid > 0) {
          while (::waitpid(slot.pid, nullptr, 0) < 0 && errno == EINTR) {
          }
        }
        slot.phase = Slot::Phase::empty;
      }
    }
    finish(done);
  }
  launcher_.reset();  // the fork server exits and is reaped
}

void ProcessPoolCore::loop() {
  {
    std::vector<Done> done;
    {
      std::lock_guard lock(mutex_);
      for (Slot& slot : slots_) launch(slot, done);
    }
    finish(done);
  }
  std::array<epoll_event, 64> events;
  auto spin_until = Clock::now();
  for (;;) {
    std::vector<Done> done;
    const bool spinning = Clock::now() < spin_until;
    if (spinning) ::sched_yield();
    const int timeout = spinning ? 0 : next_timeout();
    const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), timeout);
    if (n < 0 && errno != EINTR) throw_errno("epoll_wait in a ProcessPool");
    for (int i = 0; i < n; ++i) handle(events[i].data.u64, events[i].events, done);
    if (n > 0) spin_until = Clock::now() + kSpin;
    handle_stop_requests(done);
    check_deadlines(done);
    bool finished;
    {
      std::lock_guard lock(mutex_);
      dispatch_locked(Flush::flush_all);
      finished = finished_locked();
    }
    finish(done);
    if (finished) return;
  }
}

int ProcessPoolCore::next_timeout() {
  std::lock_guard lock(mutex_);
  std::optional<Clock::time_point> next;
  for (const Slot& slot : slots_) {
    for (const auto& deadline : {slot.head_deadline, slot.kill_deadline, slot.start_deadline}) {
      if (deadline && (!next || *deadline < *next)) next = deadline;
    }
  }
  manager_wakes_at_ = next.value_or(Clock::time_point::max());
  if (!next) return -1;
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*next - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(wait, 0, 60'000));
}

void ProcessPoolCore::handle(std::uint64_t data, std::uint32_t events, std::vector<Done>& done) {
  const auto source = static_cast<Source>(data & 0xff);
  if (source == Source::wake) {
    std::uint64_t count;
    (void)!::read(wake_.get(), &count, sizeof count);
    return;
  }
  if (source == Source::launcher) {
    Launcher::Events happened;
    launcher_->read_events(happened);
    std::lock_guard lock(mutex_);
    for (LaunchedWorker& worker : happened.started) adopt(std::move(worker));
    for (auto& [index, reason] : happened.failed) {
      slots_[index].phase = Slot::Phase::empty;
      break_locked("concur::ProcessPool: cannot start a worker: " + reason, done);
    }
    std::vector<std::pair<Slot*, ExitStatus>> exits;
    for (auto& [pid, status] : happened.exited) {
      for (Slot& slot : slots_) {
        if (slot.pid == pid && slot.phase != Slot::Phase::empty) exits.emplace_back(&slot, status);
      }
    }
    if (happened.closed) {  // its workers died with it (PR_SET_PDEATHSIG); statuses unknown
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, launcher_->event_fd(), nullptr);
      break_locked("concur::ProcessPool: its fork server exited", done);
      for (Slot& slot : slots_) {
        if (slot.phase != Slot::Phase::empty && slot.pid > 0) exits.emplace_back(&slot, ExitStatus{});
        if (slot.phase == Slot::Phase::launching) slot.phase = Slot::Phase::empty;
      }
    }
    mutex_.unlock();
    for (auto& [slot, status] : exits) on_exit(*slot, status, done);
    mutex_.lock();
    return;
  }
  const std::size_t index = (data >> 8) & 0xffffff;
  const auto generation = static_cast<std::uint32_t>(data >> 32);
  if (index >= slots_.size()) return;
  Slot& slot = slots_[index];
  if (slot.generation != generation || slot.phase == Slot::Phase::empty) return;  // stale
  switch (source) {
    case Source::channel:
      if (slot.eof) break;
      if ((events & EPOLLOUT) != 0) {
        std::lock_guard lock(mutex_);
        flush_locked(slot);
      }
      if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) read_channel(slot, done);
      break;
    case Source::stderr_pipe:
      read_stderr(slot);
      break;
    case Source::pidfd:
      if (const auto status = reap(slot.pidfd.get())) on_exit(slot, *status, done);
      break;
    default:
      break;
  }
}

void ProcessPoolCore::launch(Slot& slot, std::vector<Done>& done) {
  ++slot.generation;
  slot.phase = Slot::Phase::launching;
  std::optional<LaunchedWorker> worker;
  try {
    worker = launcher_->launch(slot.index);
  } catch (...) {
    slot.phase = Slot::Phase::empty;
    break_locked("concur::ProcessPool: cannot start a worker: " + describe(std::current_exception()),
                 done);
    return;
  }
  if (worker) adopt(std::move(*worker));
}

void ProcessPoolCore::adopt(LaunchedWorker worker) {
  Slot& slot = slots_[worker.index];
  slot.pid = worker.pid;
  slot.where = "worker process " + std::to_string(worker.pid);
  slot.channel = std::move(worker.channel);
  slot.stderr_read = std::move(worker.stderr_read);
  slot.pidfd = std::move(worker.pidfd);
  slot.phase = Slot::Phase::starting;
  slot.was_ready = false;
  slot.hello = false;
  slot.eof = false;
  slot.write_closed = false;
  slot.in_size = 0;
  slot.stderr_tail.clear();
  slot.protocol_error.clear();
  slot.sent = 0;
  slot.mean_task = Clock::duration::max();
  slot.start_deadline = Clock::now() + options_.start_timeout;
  set_nonblocking(slot.channel.get());
  set_nonblocking(slot.stderr_read.get());
  epoll_event channel{EPOLLIN, {.u64 = key(Source::channel, slot.index, slot.generation)}};
  epoll_event stderr_pipe{EPOLLIN, {.u64 = key(Source::stderr_pipe, slot.index, slot.generation)}};
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, slot.channel.get(), &channel);
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, slot.stderr_read.get(), &stderr_pipe);
  if (launcher_->reaps_directly()) {
    epoll_event exit{EPOLLIN, {.u64 = key(Source::pidfd, slot.index, slot.generation)}};
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, slot.pidfd.get(), &exit);
  }
  slot.watching_writes = false;
  slot.out.clear();
  slot.out_offset = 0;
  slot.out.emplace_back(slot.config);
  flush_locked(slot);
  if (closed_ && queue_.empty()) {  // nothing left to do: let it go at once
    slot.write_closed = true;
    ::shutdown(slot.channel.get(), SHUT_WR);
    slot.phase = Slot::Phase::retiring;
    slot.kill_deadline = Clock::now() + options_.kill_grace + options_.start_timeout;
  }
}

void ProcessPoolCore::read_channel(Slot& slot, std::vector<Done>& done) {
  for (;;) {
    if (slot.in.size() - slot.in_size < 65536) slot.in.resize(slot.in_size + 65536);
    const ssize_t n = ::read(slot.channel.get(), slot.in.data() + slot.in_size,
                             slot.in.size() - slot.in_size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0 || (errno != EAGAIN)) {  // end-of-file: the worker exits or closed it
        std::lock_guard lock(mutex_);
        if (!slot.kill_deadline) slot.kill_deadline = Clock::now() + options_.kill_grace;
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, slot.channel.get(), nullptr);
        slot.eof = true;
      }
      break;
    }
    slot.in_size += static_cast<std::size_t>(n);
    std::size_t pos = 0;
    while (slot.in_size - pos >= kFrameHeader) {
      const std::uint64_t length = read_frame_length(slot.in.data() + pos);
      if (length == 0 || length > options_.max_frame_bytes + 4096) {
        slot.protocol_error = "concur::ProcessPool: a malformed frame (" + std::to_string(length) +
                              " bytes) from " + where(slot);
        std::lock_guard lock(mutex_);
        stop_worker_locked(slot);
        slot.in_size = 0;
        return;
      }
      if (slot.in_size - pos < kFrameHeader + length) {
        if (slot.in.size() < kFrameHeader + length) slot.in.resize(kFrameHeader + length);
        break;
      }
      process_frame(slot, std::string_view(slot.in.data() + pos + kFrameHeader, length), done);
      pos += kFrameHeader + length;
    }
    std::memmove(slot.in.data(), slot.in.data() + pos, slot.in_size - pos);
    slot.in_size -= pos;
  }
}

void ProcessPoolCore::read_stderr(Slot& slot) {
  std::array<char, 4096> buffer;
  for (;;) {
    const ssize_t n = ::read(slot.stderr_read.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, slot.stderr_read.get(), nullptr);
      return;
    }
    (void)write_all(STDERR_FILENO, std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    slot.stderr_tail.append(buffer.data(), static_cast<std::size_t>(n));
    if (slot.stderr_tail.size() > 2 * kStderrTail) {
      slot.stderr_tail.erase(0, slot.stderr_tail.size() - kStderrTail);
    }
  }
}

void ProcessPoolCore::process_frame(Slot& slot, std::string_view body, std::vector<Done>& done) {
  const auto kind = static_cast<FrameKind>(body[0]);
  try {
    Decoder decoder(body.substr(1));
    switch (kind) {
      case FrameKind::hello: {
        std::lock_guard lock(mutex_);
        slot.hello = true;
        slot.start_deadline.reset();
        return;
      }
      case FrameKind::ready: {
        {
          std::lock_guard lock(mutex_);
          slot.start_deadline.reset();
          if (slot.phase == Slot::Phase::starting) slot.phase = Slot::Phase::ready;
          slot.was_ready = true;
          slot.start_failures = 0;
          dispatch_locked(Flush::flush_all);
        }
        notify([&](Observer& o) { o.on_worker_process(slot.index, slot.pid); });
        return;
      }
      case FrameKind::init_failed: {
        std::string type, message;
        decoder.archive()(type, message);
        std::lock_guard lock(mutex_);
        slot.phase = Slot::Phase::retiring;
        break_locked("concur::ProcessPool: the initializer failed in " + where(slot) + ": " + type +
                         ": " + message,
                     done);
        return;
      }
      case FrameKind::result:
        on_result(slot, body, done);
        return;
      case FrameKind::protocol_error: {
        std::string message;
        decoder.archive()(message);
        slot.protocol_error = "concur::ProcessPool: " + where(slot) + " could not read its task: " + message;
        return;
      }
      default:
        throw SerializationError("unknown frame kind " + std::to_string(static_cast<int>(kind)));
    }
  } catch (const cereal::Exception& e) {
    slot.protocol_error = "concur::ProcessPool: a malformed frame from " + where(slot) + ": " + e.what();
  } catch (const SerializationError& e) {
    slot.protocol_error = "concur::ProcessPool: a malformed frame from " + where(slot) + ": " + e.what();
  }
  std::lock_guard lock(mutex_);
  stop_worker_locked(slot);
}

void ProcessPoolCore::on_result(Slot& slot, std::string_view body, std::vector<Done>& done) {
  constexpr std::size_t kFields = sizeof(std::uint64_t) + 2;
  if (body.size() < 1 + kFields) throw SerializationError("a result frame too short");
  std::uint64_t id = 0;
  std::memcpy(&id, body.data() + 1, sizeof id);
  const auto status = static_cast<ResultStatus>(body[1 + sizeof id]);
  const bool retiring = body[2 + sizeof id] != 0;
  const std::string_view payload = body.substr(1 + kFields);
  ProcessTaskBase* task = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (slot.in_flight.empty() || slot.in_flight.front()->state().id != id) {
      throw SerializationError("a result for task " + std::to_string(id) +
                               ", which the worker was not running");
    }
    task = slot.in_flight.front();
    slot.in_flight.pop_front();
    const Clock::duration took = Clock::now() - slot.head_started;
    slot.mean_task = slot.mean_task == Clock::duration::max() ? took
                                                              : slot.mean_task + (took - slot.mean_task) / 8;
    slot.head_deadline.reset();
    if (retiring && slot.phase == Slot::Phase::ready) slot.phase = Slot::Phase::retiring;
    head_started_locked(slot);
    dispatch_locked(Flush::idle_only);
  }
  if (task->abandoned) {
    done.push_back({task, slot.index, nullptr, Done::release});
    return;
  }
  std::exception_ptr error;
  try {
    switch (status) {
      case ResultStatus::value:
        task->store_value(payload, where(slot));
        break;
      case ResultStatus::raised: {
        Decoder decoder(payload);
        std::string type, message;
        decoder.archive()(type, message);
        error = std::make_exception_ptr(RemoteError(std::move(type), std::move(message), where(slot)));
        break;
      }
      case ResultStatus::serialization: {
        Decoder decoder(payload);
        std::string message;
        decoder.archive()(message);
        error = std::make_exception_ptr(
            SerializationError("concur::ProcessPool: " + message + " (in " + where(slot) + ")"));
        break;
      }
      default:
        throw SerializationError("an unknown result status " +
                                 std::to_string(static_cast<int>(status)));
    }
  } catch (const cereal::Exception& e) {
    error = std::make_exception_ptr(SerializationError(
        std::string("concur::ProcessPool: a malformed result from ") + where(slot) + ": " + e.what()));
  } catch (...) {
    error = std::current_exception();
  }
  done.push_back({task, slot.index, error, Done::publish});
}

void ProcessPoolCore::head_started_locked(Slot& slot) {
  if (slot.in_flight.empty()) return;
  ProcessTaskBase* head = slot.in_flight.front();
  if (head->abandoned) {  // cancelled while it waited behind another task
    stop_worker_locked(slot);
    return;
  }
  slot.head_started = Clock::now();
  if (head->timeout.count() > 0) arm_locked(slot.head_deadline, slot.head_started + head->timeout);
  notify([&](Observer& o) { o.on_start(head->state().id, slot.index); });
}

void ProcessPoolCore::stop_worker_locked(Slot& slot) {
  if (slot.phase == Slot::Phase::stopping || slot.phase == Slot::Phase::empty) return;
  slot.phase = Slot::Phase::stopping;
  slot.head_deadline.reset();
  if (slot.pidfd) pidfd_signal(slot.pidfd.get(), SIGTERM);
  const auto deadline = Clock::now() + options_.kill_grace;
  if (!slot.kill_deadline || deadline < *slot.kill_deadline) arm_locked(slot.kill_deadline, deadline);
}

void ProcessPoolCore::arm_locked(std::optional<Clock::time_point>& deadline, Clock::time_point when) {
  deadline = when;
  if (when >= manager_wakes_at_) return;
  manager_wakes_at_ = when;
  const std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void ProcessPoolCore::break_locked(std::string reason, std::vector<Done>& done) {
  if (broken_.empty()) broken_ = std::move(reason);
  for (ProcessTaskBase* task : queue_) {
    if (task->started || task->state().try_start()) {
      done.push_back({task, 0, std::make_exception_ptr(BrokenExecutor(broken_)), Done::publish});
    } else {
      done.push_back({task, 0, nullptr, Done::release});
    }
  }
  queue_.clear();
}

void ProcessPoolCore::on_exit(Slot& slot, const ExitStatus& status, std::vector<Done>& done) {
  if (slot.channel && !slot.eof) read_channel(slot, done);  // results sent before it died
  if (slot.stderr_read) read_stderr(slot);
  std::lock_guard lock(mutex_);
  std::deque<ProcessTaskBase*> unstarted;
  const bool head_ran = slot.phase != Slot::Phase::retiring;  // a retiring worker ran them all
  for (std::size_t i = 0; i < slot.in_flight.size(); ++i) {
    ProcessTaskBase* task = slot.in_flight[i];
    if (task->abandoned) {
      done.push_back({task, slot.index, nullptr, Done::release});
    } else if (i > 0 || !head_ran) {
      unstarted.push_back(task);
    } else if (!slot.protocol_error.empty()) {
      done.push_back({task, slot.index, std::make_exception_ptr(SerializationError(slot.protocol_error)),
                      Done::publish});
    } else if (task->attempts < options_.retries) {
      ++task->attempts;
      unstarted.push_back(task);
    } else {
      done.push_back({task, slot.index,
                      std::make_exception_ptr(WorkerDied(slot.pid, status.signal, status.exit_code,
                                                         stderr_tail(slot))),
                      Done::publish});
    }
  }
  slot.in_flight.clear();
  // A worker that dies before it is ready may have been killed from outside (the OOM
  // killer); one that does so kStartAttempts times in a row has a broken start-up.
  if (!slot.was_ready && !closed_ && ++slot.start_failures >= kStartAttempts) {
    const WorkerDied died(slot.pid, status.signal, status.exit_code, stderr_tail(slot));
    break_locked(std::string("concur::ProcessPool: workers died before they were ready ") +
                     std::to_string(kStartAttempts) + " times in a row" +
                     (options_.initializer != nullptr ? " (in its initializer)" : "") + ": " +
                     died.what(),
                 done);
  }
  requeue_front_locked(std::move(unstarted));
  if (!broken_.empty()) break_locked(broken_, done);
  slot.channel.reset();
  slot.stderr_read.reset();
  slot.pidfd.reset();
  slot.phase = Slot::Phase::empty;
  slot.eof = false;
  slot.head_deadline.reset();
  slot.kill_deadline.reset();
  slot.start_deadline.reset();
  slot.out.clear();
  slot.out_offset = 0;
  slot.pid = -1;
  if (broken_.empty() && (!closed_ || !queue_.empty())) launch(slot, done);
  if (slot.phase == Slot::Phase::empty && closed_) {
    notify([&](Observer& o) { o.on_worker_stop(slot.index); });
  }
}

void ProcessPoolCore::requeue_front_locked(std::deque<ProcessTaskBase*> tasks) {
  for (auto it = tasks.rbegin(); it != tasks.rend(); ++it) queue_.push_front(*it);
}

void ProcessPoolCore::check_deadlines(std::vector<Done>& done) {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  for (Slot& slot : slots_) {
    if (slot.head_deadline && *slot.head_deadline <= now && !slot.in_flight.empty()) {
      ProcessTaskBase* head = slot.in_flight.front();
      head->abandoned = true;
      done.push_back({head, slot.index,
                      std::make_exception_ptr(TimeoutError(
                          "concur::ProcessPool: the task ran past its timeout of " +
                          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(head->timeout).count()) +
                          " ms; " + where(slot) + " was stopped")),
                      Done::publish_keep});
      stop_worker_locked(slot);
    }
    if (slot.kill_deadline && *slot.kill_deadline <= now) {
      slot.kill_deadline.reset();
      if (slot.pidfd) pidfd_signal(slot.pidfd.get(), SIGKILL);
    }
    if (slot.start_deadline && *slot.start_deadline <= now) {
      slot.start_deadline.reset();
      break_locked("concur::ProcessPool: " + where(slot) + " did not start within " +
                       std::to_string(options_.start_timeout.count()) +
                       " ms (with StartMethod::spawn, main() must call "
                       "concur::serve_if_worker(argc, argv) first)",
                   done);
      stop_worker_locked(slot);
    }
  }
}

void ProcessPoolCore::handle_stop_requests(std::vector<Done>& done) {
  std::lock_guard lock(mutex_);
  for (ProcessTaskBase* task : std::exchange(stop_requests_, {})) {
    done.push_back({task, 0, nullptr, Done::release});  // request_stop's reference
    if (task->abandoned) continue;
    const auto queued = std::find(queue_.begin(), queue_.end(), task);
    if (queued != queue_.end()) {  // started, then requeued after its worker died
      queue_.erase(queued);
      done.push_back({task, 0, std::make_exception_ptr(CancelledError()), Done::publish});
      continue;
    }
    for (Slot& slot : slots_) {
      const auto sent = std::find(slot.in_flight.begin(), slot.in_flight.end(), task);
      if (sent == slot.in_flight.end()) continue;
      task->abandoned = true;
      done.push_back({task, slot.index, std::make_exception_ptr(CancelledError()), Done::publish_keep});
      if (sent == slot.in_flight.begin()) stop_worker_locked(slot);
      break;
    }
  }
}

bool ProcessPoolCore::finished_locked() {
  if (!closed_ || !queue_.empty()) return false;
  for (const Slot& slot : slots_) {
    if (!slot.in_flight.empty()) return false;
  }
  bool all_gone = true;
  for (Slot& slot : slots_) {
    if (slot.phase == Slot::Phase::empty) continue;
    all_gone = false;
    if (slot.channel && !slot.write_closed) {  // end-of-file tells the worker to exit
      slot.write_closed = true;
      ::shutdown(slot.channel.get(), SHUT_WR);
      if (slot.phase != Slot::Phase::stopping) slot.phase = Slot::Phase::retiring;
      if (!slot.kill_deadline) slot.kill_deadline = Clock::now() + options_.kill_grace;
    }
  }
  return all_gone;
}

void ProcessPoolCore::finish(std::vector<Done>& done) noexcept {
  for (Done& item : done) {
    StateBase& state = item.task->state();
    switch (item.action) {
      case Done::release:
        state.release();
        break;
      case Done::publish:
      case Done::publish_keep:
        if (item.error) state.store_exception(item.error);
        notify([&](Observer& o) { o.on_finish(item.task->state().id, item.worker, item.error != nullptr); });
        if (item.action == Done::publish) {
          state.complete_and_release();
        } else {
          state.complete();
        }
        break;
    }
  }
  done.clear();
}

}  // namespace detail

// ---- ProcessPool ---------------------------------------------------------------------------
std::size_t ProcessPool::default_workers() noexcept {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

ProcessPool::ProcessPool(std::size_t workers, ProcessPoolOptions options) {
  if (workers == 0) throw std::invalid_argument("concur::ProcessPool: workers must be at least 1");
  if (workers > 0xffffff) throw std::invalid_argument("concur::ProcessPool: too many workers");
  if (options.max_frame_bytes < 4096) {
    throw std::invalid_argument("concur::ProcessPool: max_frame_bytes must be at least 4096");
  }
  if (options.kill_grace.count() < 0 || options.start_timeout.count() <= 0) {
    throw std::invalid_argument(
        "concur::ProcessPool: kill_grace must not be negative and start_timeout must be positive");
  }
  core_ = std::make_shared<detail::ProcessPoolCore>(workers, std::move(options));
}

ProcessPool::~ProcessPool() {
  if (core_) core_->shutdown({.wait = true});
}

void ProcessPool::shutdown(ShutdownOptions options) { core_->shutdown(options); }

std::size_t ProcessPool::workers() const noexcept { return core_->workers(); }

std::vector<int> ProcessPool::worker_pids() const { return core_->pids(); }

std::shared_ptr<detail::StopSink> ProcessPool::stop_sink() const {
  return std::shared_ptr<detail::StopSink>(core_, core_.get());
}

std::uint64_t ProcessPool::next_task_id() noexcept {
  return core_->next_id.fetch_add(1, std::memory_order_relaxed);
}

void ProcessPool::enqueue(detail::ProcessTaskBase* task) { core_->enqueue(task); }

}  // namespace v0
}  // namespace concur
