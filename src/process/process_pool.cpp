#include <concur/process/process_pool.hpp>

#include "pool_core.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace concur {
inline namespace v0 {
namespace detail {
namespace {

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

ProcessPoolCore::ProcessPoolCore(std::size_t workers, ProcessPoolOptions options)
    : options_(std::move(options)), observer_(options_.observer.get()), slots_(workers) {
  const Environment environment = worker_environment(options_);
  launcher_ = make_launcher(options_.start_method, options_.allow_fork_with_threads, environment, workers);
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
  // Until the manager has launched the first workers, this thread (the one that goes on
  // to submit) allocates nothing: a worker forked meanwhile would otherwise copy a process
  // whose allocator another thread holds locked, which glibc's malloc survives but the
  // sanitizers' allocators do not. (The forks stay on the manager thread:
  // PR_SET_PDEATHSIG follows the thread that forked, and it lives as long as the pool.)
  first_launches_done_.wait(false);
}

ProcessPoolCore::~ProcessPoolCore() { shutdown({.wait = true}); }

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
      dispatch_locked();
    }
  }
  if (!refusal.empty()) {
    task->state().release();
    throw BrokenExecutor(refusal);
  }
  notify([&](Observer& o) { o.on_submit(task->state().id); });
}

void ProcessPoolCore::dispatch_locked() {
  // While a worker is still starting, send nothing ahead: it takes the queue when ready
  // (a task sent ahead cannot move to it).
  bool all_ready = true;
  for (const Slot& slot : slots_) all_ready = all_ready && slot.phase == Slot::Phase::ready;
  while (!queue_.empty()) {
    const std::size_t entry = ring_entry_bytes(*queue_.front());
    Slot* best = nullptr;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      Slot& slot = slots_[(round_robin_ + i) % slots_.size()];
      const std::size_t depth = all_ready ? prefetch_depth(slot.mean_task) : 1;
      if (slot.phase != Slot::Phase::ready || slot.exited || slot.in_flight.size() >= depth) continue;
      if (slot.ring_bytes + entry > FrameRing::kCapacity) continue;
      if (options_.max_tasks_per_child != 0 && slot.sent >= options_.max_tasks_per_child) continue;
      // The least loaded; between idle ones, the one idle the shortest time (it still
      // polls its channel: no wake-up).
      if (best == nullptr || slot.in_flight.size() < best->in_flight.size() ||
          (slot.in_flight.empty() && best->in_flight.empty() && slot.last_result > best->last_result)) {
        best = &slot;
      }
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
    if (!send_task_locked(*best, *task)) {  // the worker is stopped; the task waits for another
      best->in_flight.pop_back();
      queue_.push_front(task);
      continue;
    }
    best->ring_bytes += entry;
    ++best->sent;
    if (best->in_flight.size() == 1) head_started_locked(*best);
  }
}

// The frame goes into the worker's task ring, or, when too large for it, on the channel
// behind a placeholder in the ring; a worker that sleeps gets one wake frame per sleep.
bool ProcessPoolCore::send_task_locked(Slot& slot, ProcessTaskBase& task) {
  static const std::string on_channel = make_frame(FrameKind::on_channel);
  static const std::string wake = make_frame(FrameKind::wake);
  const bool fits = task.request.size() <= FrameRing::kMaxEntry;
  if (!slot.task_ring || !slot.task_ring->try_write(fits ? task.request : on_channel)) {
    // Cannot happen with a worker that follows the protocol (its ring holds every task
    // it is sent): one that scribbled over its ring's positions is stopped, and the task
    // it was running fails with the reason.
    slot.task_ring_full = true;
    stop_worker_locked(slot);
    return false;
  }
  if (!fits) {
    slot.out.emplace_back(task.request);
  } else if (slot.task_ring->wake_due(slot.woken)) {
    slot.out.emplace_back(wake);
  }
  // An idle worker gets its frames at once; one with tasks to run gets them at the end
  // of the manager's turn (flush_all), so a burst of submits wakes it once.
  if (slot.in_flight.size() == 1 && !slot.out.empty() && !slot.watching_writes) flush_locked(slot);
  return true;
}

void ProcessPoolCore::flush_all_locked() {
  for (Slot& slot : slots_) {
    if (!slot.out.empty() && !slot.watching_writes) flush_locked(slot);
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
