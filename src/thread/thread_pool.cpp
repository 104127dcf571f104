#include <concur/thread/thread_pool.hpp>

#include <concur/core/detail/cpu_relax.hpp>
#include <concur/core/detail/mutex.hpp>
#include <concur/core/unhandled_exception.hpp>

#include "work_queue.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <stdexcept>
#include <thread>
#include <vector>

namespace concur {
inline namespace v0 {
namespace detail {
namespace {

// Which pool's worker the calling thread is, if any.
struct WorkerContext {
  const void* pool = nullptr;
  std::size_t index = 0;
};
thread_local WorkerContext tls_worker_{};

}  // namespace

// The pool's machinery, behind the ThreadPool handle.
//
// Submit gate: `gate_` counts submitters inside enqueue (in steps of 2) and has bit 0
// set once the pool closed. close_gate() sets the bit and waits for the count to drain,
// so after it no task can be added: draining the queues then is final.
//
// Sleeping: an idle worker announces itself in `sleepers_` and re-checks every queue
// under its lock before it waits; a submitter pushes under the queue lock and then
// reads `sleepers_`. The queue lock orders the two, so either the worker sees the task
// or the submitter sees the sleeper and wakes it (no lost wake-up).
// At most one worker spins (`spinners_`); submitters wake nobody while it does.
class ThreadPoolCore final : public WaitHelper {
 public:
  ThreadPoolCore(std::size_t workers, ThreadPoolOptions options)
      : options_(std::move(options)), observer_(options_.observer.get()), queues_(workers) {
    threads_.reserve(workers);
    try {
      for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this, i] { work(i); });
    } catch (...) {
      stop(ShutdownOptions{.wait = true, .cancel_futures = true});
      throw;
    }
  }

  ~ThreadPoolCore() { stop(ShutdownOptions{.wait = true, .cancel_futures = false}); }

  std::size_t workers() const noexcept { return queues_.size(); }

  void enqueue(StateBase* task) {
    if ((gate_.fetch_add(2, std::memory_order_acquire) & kClosed) != 0) {
      gate_.fetch_sub(2, std::memory_order_release);
      task->release();
      throw BrokenExecutor(closed_reason());
    }
    task->owner = this;
    if (observer_ != nullptr) {
      task->id = next_id_.fetch_add(1, std::memory_order_relaxed) + 1;
      observe([&] { observer_->on_submit(task->id); });
    }
    queues_[queue_for_submit()].push(task);
    gate_.fetch_sub(2, std::memory_order_release);
    if (spinners_.load(std::memory_order_seq_cst) == 0 &&
        sleepers_.load(std::memory_order_seq_cst) > 0) {
      wake(1);
    }
  }

  void stop(ShutdownOptions options) {
    Lock lock(stop_mutex_);
    close_gate("concur::ThreadPool is shut down: it takes no new tasks");
    if (options.cancel_futures) {
      drain([](StateBase* task) { task->cancel(); });
    }
    stopping_.store(true, std::memory_order_seq_cst);
    wake(workers());
    if (options.wait) join();
  }

  void try_run_inline(StateBase& target) noexcept override {
    if (target.owner == this && target.try_start()) run_started(target, tls_worker_index());
  }

  bool run_one() noexcept override {
    StateBase* task = find_work(tls_worker_index());
    if (task == nullptr) return false;
    run(task, tls_worker_index());
    return true;
  }

 private:
  static constexpr std::uint64_t kClosed = 1;

  std::size_t tls_worker_index() const noexcept { return tls_worker_.index; }
  bool on_own_worker() const noexcept { return tls_worker_.pool == this; }

  std::size_t queue_for_submit() noexcept {
    if (on_own_worker()) return tls_worker_.index;
    static thread_local std::size_t round_robin =
        std::hash<std::thread::id>{}(std::this_thread::get_id());
    return round_robin++ % queues_.size();
  }

  template <class Event>
  void observe(Event&& event) noexcept {
    try {
      event();
    } catch (...) {
      report_unhandled_exception(std::current_exception(), "a ThreadPool observer");
    }
  }

  void work(std::size_t index) {
    tls_worker_ = WorkerContext{this, index};
    current_wait_helper() = this;
    name_thread(index);
    if (observer_ != nullptr) observe([&] { observer_->on_worker_start(index); });
    if (options_.initializer) {
      try {
        options_.initializer();
      } catch (...) {
        break_pool(std::current_exception());
      }
    }
    for (;;) {
      if (StateBase* task = find_work(index)) {
        run(task, index);
      } else if (stopping_.load(std::memory_order_acquire)) {
        if (!has_work()) break;
      } else {
        idle();
      }
    }
    if (observer_ != nullptr) observe([&] { observer_->on_worker_stop(index); });
    current_wait_helper() = nullptr;
    tls_worker_ = WorkerContext{};
  }

  void name_thread(std::size_t index) const {
    std::string name = options_.name + "-" + std::to_string(index);
    if (name.size() > 15) name.erase(0, name.size() - 15);  // keep the index visible
    pthread_setname_np(pthread_self(), name.c_str());
  }

  StateBase* find_work(std::size_t self) noexcept {
    const std::size_t n = queues_.size();
    if (StateBase* task = queues_[self].pop()) return task;
    for (std::size_t i = 1; i < n; ++i) {
      if (StateBase* task = queues_[(self + i) % n].pop()) return task;
    }
    return nullptr;
  }

  void run(StateBase* task, std::size_t worker) noexcept {
    if (task->try_start()) run_started(*task, worker);
    task->release();  // the queue's reference
  }

  void run_started(StateBase& task, std::size_t worker) noexcept {
    if (observer_ != nullptr) observe([&] { observer_->on_start(task.id, worker); });
    {
      CurrentTaskScope scope(&task);
      task.run();
    }
    if (observer_ != nullptr) {
      observe([&] { observer_->on_finish(task.id, worker, task.error() != nullptr); });
    }
  }

  bool any_queued() const noexcept {
    return std::any_of(queues_.begin(), queues_.end(),
                       [](const WorkQueue& q) { return q.approx_size() != 0; });
  }

  // Authoritative: locks each queue.
  bool has_work() noexcept {
    return std::any_of(queues_.begin(), queues_.end(),
                       [](WorkQueue& q) { return !q.empty_locked_check(); });
  }

  void idle() {
    int no_spinner = 0;
    if (options_.idle_spin.count() > 0 &&
        spinners_.compare_exchange_strong(no_spinner, 1, std::memory_order_seq_cst)) {
      const auto end = Clock::now() + options_.idle_spin;
      bool found = false;
      for (unsigned i = 1;; ++i) {
        if (any_queued() || stopping_.load(std::memory_order_relaxed)) {
          found = true;
          break;
        }
        cpu_relax();
        if (i % 64 == 0 && Clock::now() >= end) break;
      }
      spinners_.fetch_sub(1, std::memory_order_seq_cst);
      if (found) {
        // We stop looking; if others sleep and work remains, one of them must look. The
        // check locks each queue: a submit that saw us spinning pushed before it, so it
        // sees the task (the same argument as before sleeping, below).
        if (sleepers_.load(std::memory_order_seq_cst) > 0 && queued_beyond_one()) wake(1);
        return;
      }
    }
    Lock lock(sleep_mutex_);
    const std::uint64_t seen = wake_epoch_;
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    if (!has_work()) {
      while (wake_epoch_ == seen && !stopping_.load(std::memory_order_seq_cst)) {
        lock.wait(sleep_cv_);
      }
    }
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
  }

  // More than the one task the caller is about to take; authoritative (locks).
  bool queued_beyond_one() noexcept {
    std::size_t total = 0;
    for (WorkQueue& q : queues_) total += q.locked_size();
    return total > 1;
  }

  // A sleeper holds sleep_mutex_ from its last look at the queues until it waits, so
  // taking the mutex here means it is either asleep (and notified) or not yet looking.
  void wake(std::size_t count) {
    Lock lock(sleep_mutex_);
    ++wake_epoch_;
    if (count == 1) {
      sleep_cv_.notify_one();
    } else {
      sleep_cv_.notify_all();
    }
  }

  // After this returns no submit can add a task; `reason` is what later submits get.
  void close_gate(std::string reason) {
    {
      Lock lock(reason_mutex_);
      if (closed_reason_.empty()) closed_reason_ = std::move(reason);
    }
    gate_.fetch_or(kClosed, std::memory_order_acq_rel);
    while ((gate_.load(std::memory_order_acquire) >> 1) != 0) std::this_thread::yield();
  }

  std::string closed_reason() {
    Lock lock(reason_mutex_);
    return closed_reason_;
  }

  template <class Action>
  void drain(Action action) {
    for (WorkQueue& q : queues_) {
      StateBase* task = q.pop_all();
      while (task != nullptr) {
        StateBase* next = task->next;
        action(task);
        task->release();
        task = next;
      }
    }
  }

  // A worker's initializer failed: fail what is queued and refuse what comes.
  void break_pool(const std::exception_ptr& error) {
    const std::string reason =
        "concur::ThreadPool is broken: a worker initializer failed: " + describe(error);
    close_gate(reason);
    drain([&](StateBase* task) {
      if (task->try_start()) {
        task->finish_with_exception(std::make_exception_ptr(BrokenExecutor(reason)));
      }
    });
    stopping_.store(true, std::memory_order_seq_cst);
    wake(workers());
  }

  void join() {
    if (on_own_worker()) {
      throw InvalidState(
          "concur::ThreadPool::shutdown(wait = true) called from one of its own tasks "
          "would wait for itself");
    }
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  const ThreadPoolOptions options_;
  Observer* const observer_;
  std::vector<WorkQueue> queues_;
  std::vector<std::thread> threads_;

  // Each on its own cache line: the gate is written by submitters on every submit, the
  // idle counters by workers on every idle transition, `stopping_` is polled by the
  // spinning worker. Sharing a line would make each slow the others down.
  alignas(64) std::atomic<std::uint64_t> gate_{0};
  alignas(64) std::atomic<bool> stopping_{false};
  alignas(64) std::atomic<int> spinners_{0};
  std::atomic<int> sleepers_{0};
  // Sleeping (std::atomic::wait is avoided: libstdc++ 12's loses wake-ups under
  // clang + ThreadSanitizer, seen with std::latch in our tests).
  alignas(64) Mutex sleep_mutex_;
  std::condition_variable sleep_cv_;
  std::uint64_t wake_epoch_ CONCUR_GUARDED_BY(sleep_mutex_) = 0;
  alignas(64) std::atomic<std::uint64_t> next_id_{0};

  Mutex stop_mutex_;
  Mutex reason_mutex_;
  std::string closed_reason_ CONCUR_GUARDED_BY(reason_mutex_);
};

}  // namespace detail

std::size_t ThreadPool::default_workers() noexcept {
  return std::max(1u, std::thread::hardware_concurrency());
}

namespace {
std::size_t checked_workers(std::size_t workers) {
  if (workers == 0) throw std::invalid_argument("concur::ThreadPool: workers must be at least 1");
  return workers;
}
}  // namespace

ThreadPool::ThreadPool(std::size_t workers, ThreadPoolOptions options)
    : core_(std::make_unique<detail::ThreadPoolCore>(checked_workers(workers), std::move(options))) {}

ThreadPool::~ThreadPool() = default;

void ThreadPool::shutdown(ShutdownOptions options) { core_->stop(options); }

std::size_t ThreadPool::workers() const noexcept { return core_->workers(); }

void ThreadPool::enqueue(detail::StateBase* task) { core_->enqueue(task); }

}  // namespace v0
}  // namespace concur
