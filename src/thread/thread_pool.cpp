#include <concur/thread/thread_pool.hpp>

#include <concur/core/detail/cpu_relax.hpp>
#include <concur/core/detail/spin_governor.hpp>
#include <concur/core/detail/mutex.hpp>
#include <concur/core/unhandled_exception.hpp>

#include "inbox.hpp"
#include "work_deque.hpp"

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
// Where tasks wait: a task submitted from outside goes to the shared inbox (one CAS);
// a task submitted by a task goes to the back of its worker's deque. A worker looking
// for work takes its own deque's newest task, else the whole inbox (keeping the first
// task, putting the rest into its deque for others to steal), else the oldest task of
// another worker's deque.
//
// Closing: the inbox's CLOSED bit refuses submits from outside atomically, so draining
// after it is final for them; a subtask that races the close lands in its worker's
// deque, which that worker empties before it exits.
//
// Waking: at most one idle worker spins (`spinners_`) and marks the inbox WATCHED
// while it does; a worker about to publish a result with nothing queued marks it too
// (see run()), and every marker clears the mark or takes the inbox. An idle worker that stops spinning announces itself in `sleepers_`,
// then looks at the inbox and every deque (under their locks) before it sleeps. A
// submitter publishes its task first and reads `sleepers_` after (seq_cst RMW then load
// against the sleeper's seq_cst RMW then load; deque pushes are ordered by the deque
// lock), so either the sleeper sees the task or the submitter sees the sleeper. The
// submitter only looks when nobody is known to be looking: an inbox that was empty and
// unwatched, or a deque push while no worker spins. A worker that takes a task while
// more are waiting wakes another (Go's scheduler does the same), so a burst spreads.
class ThreadPoolCore final : public WaitHelper {
 public:
  ThreadPoolCore(std::size_t workers, ThreadPoolOptions options)
      : options_(std::move(options)), observer_(options_.observer.get()), deques_(workers) {
    threads_.reserve(workers);
    try {
      for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this, i] { work(i); });
    } catch (...) {
      stop(ShutdownOptions{.wait = true, .cancel_futures = true});
      throw;
    }
  }

  ~ThreadPoolCore() { stop(ShutdownOptions{.wait = true, .cancel_futures = false}); }

  std::size_t workers() const noexcept { return deques_.size(); }

  void enqueue(StateBase* task) {
    if (closed_.load(std::memory_order_acquire)) refuse(task);
    task->owner = this;
    if (observer_ != nullptr) {
      task->id = next_id_.fetch_add(1, std::memory_order_relaxed) + 1;
      // Before the push: once queued, the task may start (and end) at once. Only a
      // submit from outside that races the close can be announced and then refused.
      observe([&] { observer_->on_submit(task->id); });
    }
    if (on_own_worker()) {
      // A task's subtask. One that races the close is still run: its worker empties
      // its own deque before it exits.
      deques_[tls_worker_.index].push_back(task);
      wake_if_nobody_looks();
      return;
    }
    switch (inbox_.push(task)) {
      case Inbox::Pushed::closed:
        refuse(task);
      case Inbox::Pushed::unwatched:
        if (sleepers_.load(std::memory_order_seq_cst) > 0) wake(1);
        break;
      case Inbox::Pushed::watched:
        break;
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
    if (target.owner != this || !on_own_worker()) return;
    const std::size_t self = tls_worker_.index;
    if (deques_[self].pop_back_if(&target)) {
      run(&target, self);  // we took the deque's reference with it
    } else if (target.try_start()) {  // still queued elsewhere; skipped when popped
      run_started(target, self, /*owned=*/false, /*top_level=*/false);
    }
  }

  bool run_one() noexcept override {
    bool from_inbox = false;
    StateBase* task = find_work(tls_worker_.index, from_inbox);
    if (task == nullptr) return false;
    run(task, tls_worker_.index);
    return true;
  }

 private:
  bool on_own_worker() const noexcept { return tls_worker_.pool == this; }

  [[noreturn]] void refuse(StateBase* task) {
    task->release();
    throw BrokenExecutor(closed_reason());
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
    bool watching = false;  // we set the inbox's WATCHED bit and must clear or honour it
    for (;;) {
      bool from_inbox = false;
      if (StateBase* task = find_work(index, from_inbox)) {
        // Taking the inbox cleared WATCHED; otherwise we clear it, and hand on what
        // was submitted while it told submitters that we would look.
        if (watching && !from_inbox && inbox_.unwatch()) wake_if_nobody_looks();
        watching = run(task, index, /*top_level=*/true);
      } else if (stopping_.load(std::memory_order_acquire)) {
        if (!has_work()) break;
      } else {
        watching = idle(watching);
      }
    }
    if (watching) inbox_.unwatch();
    if (observer_ != nullptr) observe([&] { observer_->on_worker_stop(index); });
    current_wait_helper() = nullptr;
    tls_worker_ = WorkerContext{};
  }

  void name_thread(std::size_t index) const {
    std::string name = options_.name + "-" + std::to_string(index);
    if (name.size() > 15) name.erase(0, name.size() - 15);  // keep the index visible
    pthread_setname_np(pthread_self(), name.c_str());
  }

  StateBase* find_work(std::size_t self, bool& from_inbox) noexcept {
    if (StateBase* task = deques_[self].pop_back()) return task;
    if (StateBase* batch = inbox_.take_all()) {
      from_inbox = true;
      return keep_first(batch, self);
    }
    const std::size_t n = deques_.size();
    for (std::size_t i = 1; i < n; ++i) {
      WorkDeque& victim = deques_[(self + i) % n];
      if (StateBase* task = victim.steal_front()) {
        // Its owner runs the rest eventually; a sleeper could help now. A look without
        // the lock is enough: this is about parallelism, not about losing work.
        if (victim.approx_size() != 0) wake_if_nobody_looks();
        return task;
      }
    }
    return nullptr;
  }

  // Runs the oldest task of an inbox batch next; the rest go to our deque, newest at
  // the front, so that we take them oldest first and thieves can share them.
  StateBase* keep_first(StateBase* batch, std::size_t self) noexcept {
    StateBase* rest = batch->next;
    if (rest == nullptr) return batch;
    thread_local std::vector<StateBase*> spill;
    for (; rest != nullptr; rest = rest->next) spill.push_back(rest);
    for (auto it = spill.rbegin(); it != spill.rend(); ++it) deques_[self].push_back(*it);
    spill.clear();
    wake_if_nobody_looks();
    return batch;
  }

  void wake_if_nobody_looks() {
    if (spinners_.load(std::memory_order_seq_cst) == 0 &&
        sleepers_.load(std::memory_order_seq_cst) > 0) {
      wake(1);
    }
  }

  // Runs a task taken from a queue, whose reference we hold; skips one that was
  // cancelled or claimed inline meanwhile. Returns whether it marked the inbox (below).
  bool run(StateBase* task, std::size_t worker, bool top_level = false) noexcept {
    if (!task->try_start()) {
      task->release();
      return false;
    }
    return run_started(*task, worker, /*owned=*/true, top_level);
  }

  // Runs a task whose try_start() we won. `owned`: we hold the queue's reference and
  // drop it with the result (one RMW). A top-level run (by the work loop, not by a
  // waiting task) with nothing queued behind it marks the inbox WATCHED before the
  // result is published: the waiter may submit again at once, and we are about to look
  // (without this, that submit wakes a sleeping worker for nothing). Returns whether it
  // marked the inbox.
  bool run_started(StateBase& task, std::size_t worker, bool owned, bool top_level) noexcept {
    if (observer_ != nullptr) observe([&] { observer_->on_start(task.id, worker); });
    {
      CurrentTaskScope scope(&task);
      task.invoke();
    }
    const bool watch = top_level && deques_[worker].approx_size() == 0;
    if (watch) inbox_.watch();
    const std::uint64_t id = task.id;
    const bool failed = task.error() != nullptr;  // read before others may see the result
    if (owned) {
      task.complete_and_release();
    } else {
      task.complete();
    }
    if (observer_ != nullptr) observe([&] { observer_->on_finish(id, worker, failed); });
    return watch;
  }

  bool any_queued() const noexcept {
    return inbox_.has_tasks() ||
           std::any_of(deques_.begin(), deques_.end(),
                       [](const WorkDeque& d) { return d.approx_size() != 0; });
  }

  // Authoritative: locks each deque; the inbox load is seq_cst (the sleep protocol).
  std::size_t queued_locked() noexcept {
    std::size_t total = inbox_.has_tasks(std::memory_order_seq_cst) ? 1 : 0;
    for (WorkDeque& d : deques_) total += d.locked_size();
    return total;
  }
  bool has_work() noexcept { return queued_locked() != 0; }

  // Spins for work if no other worker does, else sleeps until woken. `watching`: we set
  // the inbox's WATCHED bit (see run()). Returns whether it may still be set by us: the
  // caller clears it unless it takes the inbox, which clears it in the same RMW.
  //
  // Handing on is left to the taking: an inbox batch of more than one task wakes a
  // sleeper (keep_first), a submit after our take finds the inbox unwatched and wakes
  // one itself, a steal that leaves work behind wakes one (find_work).
  bool idle(bool watching) {
    int no_spinner = 0;
    detail::SpinGovernor& governor = detail::this_thread_spin_governor();
    auto last = Clock::now();
    if (options_.idle_spin.count() > 0 && governor.may_poll(last) &&
        spinners_.compare_exchange_strong(no_spinner, 1, std::memory_order_seq_cst)) {
      if (!watching) inbox_.watch();
      const auto end = last + options_.idle_spin;
      bool found = false;
      for (unsigned i = 1;; ++i) {
        if (any_queued() || stopping_.load(std::memory_order_relaxed)) {
          found = true;
          break;
        }
        cpu_relax();
        if (i % 64 == 0) {  // descheduled meanwhile: another program wants the cores
          const auto now = Clock::now();
          if (now >= end || !governor.note_gap(last, now)) break;
          last = now;
        }
      }
      spinners_.fetch_sub(1, std::memory_order_seq_cst);
      if (found) return true;
      inbox_.unwatch();
    } else if (watching) {
      inbox_.unwatch();  // another worker spins: it watches; we sleep
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
    return false;
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

  // After this, submits from outside are refused (the inbox is closed atomically), and
  // so are later submits from tasks; `reason` is what they get.
  void close_gate(std::string reason) {
    {
      Lock lock(reason_mutex_);
      if (closed_reason_.empty()) closed_reason_ = std::move(reason);
    }
    closed_.store(true, std::memory_order_release);
    inbox_.close();
  }

  std::string closed_reason() {
    Lock lock(reason_mutex_);
    return closed_reason_;
  }

  template <class Action>
  void drain(Action action) {
    std::vector<StateBase*> tasks;
    for (StateBase* t = inbox_.take_all(); t != nullptr; t = t->next) tasks.push_back(t);
    for (WorkDeque& d : deques_) d.take_all(tasks);
    for (StateBase* task : tasks) {
      action(task);
      task->release();
    }
  }

  // A worker's initializer failed: fail what is queued and refuse what comes.
  void break_pool(const std::exception_ptr& error) {
    const std::string reason =
        "concur::ThreadPool is broken: a worker initializer failed: " + describe(error);
    close_gate(reason);
    drain([&](StateBase* task) {
      if (task->try_start()) task->fail_unrun(std::make_exception_ptr(BrokenExecutor(reason)));
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
  std::vector<WorkDeque> deques_;
  std::vector<std::thread> threads_;
  Inbox inbox_;

  // Each on its own cache line: the idle counters are written by workers on idle
  // transitions, `stopping_` is polled by the spinning worker, `closed_` is read by
  // every subtask submit. Sharing a line would make each slow the others down.
  alignas(64) std::atomic<bool> closed_{false};
  alignas(64) std::atomic<bool> stopping_{false};
  alignas(64) std::atomic<int> spinners_{0};
  std::atomic<int> sleepers_{0};
  alignas(64) std::atomic<std::uint64_t> next_id_{0};

  // Sleeping (std::atomic::wait is avoided: libstdc++ 12's loses wake-ups under
  // clang + ThreadSanitizer, seen with std::latch in our tests).
  alignas(64) Mutex sleep_mutex_;
  std::condition_variable sleep_cv_;
  std::uint64_t wake_epoch_ CONCUR_GUARDED_BY(sleep_mutex_) = 0;

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
