// The shared state behind a Future: phase, result, waiters and done-callbacks.
//
// Lifetime: reference counted; the Future copies, the Promise and the executor's queue
// each hold one reference. Task states carry their callable too, so a submit costs one
// allocation. The count and the phase share one atomic word, so an executor can publish
// a result and drop its reference in one RMW.
//
// Phases: pending -> running -> finished, or pending -> cancelled. Exactly one thread
// wins try_start() and then finishes the state once. The result (value or exception) is
// written before the finishing release and read only after an acquire that sees a
// final phase.
//
// Waiters and callbacks use a global parking lot (hashed mutex + condition variable
// buckets): a state holds no mutex, and finishing costs one atomic RMW unless somebody
// waits or registered a callback.
#pragma once

#include <concur/errors.hpp>
#include <concur/export.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace concur {
inline namespace v0 {
namespace detail {

using Clock = std::chrono::steady_clock;
using Deadline = std::optional<Clock::time_point>;

enum class Phase : std::uint32_t { pending = 0, running = 1, finished = 2, cancelled = 3 };

class StateBase;

// A done-callback, owned by the state's list until it has run.
class Callback {
 public:
  virtual ~Callback() = default;
  // Runs user code; reports (never propagates) what it throws.
  virtual void invoke(StateBase& state) noexcept = 0;
  Callback* next = nullptr;
};

class CONCUR_EXPORT StateBase {
 public:
  StateBase(const StateBase&) = delete;
  StateBase& operator=(const StateBase&) = delete;

  void retain() noexcept { word_.fetch_add(kOneRef, std::memory_order_relaxed); }
  void release() noexcept {
    // The sole holder needs no RMW: nobody else can take a reference any more. This
    // keeps the waiter from pulling the line back from the worker that finished it.
    if ((word_.load(std::memory_order_acquire) >> kRefShift) == 1 ||
        (word_.fetch_sub(kOneRef, std::memory_order_acq_rel) >> kRefShift) == 1) {
      delete this;
    }
  }
  bool sole_owner() const noexcept {
    return (word_.load(std::memory_order_acquire) >> kRefShift) == 1;
  }

  Phase phase() const noexcept {
    return static_cast<Phase>(word_.load(std::memory_order_acquire) & kPhaseMask);
  }
  bool ready() const noexcept { return phase() >= Phase::finished; }

  // pending -> running; true for the one caller that may now produce the result.
  bool try_start() noexcept;
  // pending -> cancelled (true, also when already cancelled); a running state gets a
  // stop request and false.
  bool cancel() noexcept;
  bool stop_requested() const noexcept {
    return (word_.load(std::memory_order_relaxed) & kStopRequested) != 0;
  }

  // running -> finished. Call once, after try_start() returned true; a value, if any,
  // must be stored before.
  void finish_with_value() noexcept { finish(); }
  void finish_with_exception(std::exception_ptr error) noexcept {
    store_exception(std::move(error));
    finish();
  }
  // Sets the result to an exception without publishing it (see invoke()).
  void store_exception(std::exception_ptr error) noexcept { error_ = std::move(error); }

  // Blocks until ready or the deadline; false if the deadline passed first. On a
  // worker of an executor, runs this task inline if it is still queued there, and
  // other queued work meanwhile (no nested-wait deadlock).
  bool wait_until(Deadline deadline) const;
  // Blocks without helping; used by executors' helpers.
  bool block_until(Deadline deadline) const;

  // Takes ownership; runs the callback at once (on this thread) if already ready,
  // otherwise on the thread that finishes or cancels the state.
  void add_callback(Callback* callback);

  // Precondition: ready(). Throws CancelledError or the stored exception.
  void check_result() const;
  // Precondition: ready(). The stored exception, or null.
  const std::exception_ptr& error() const noexcept { return error_; }

  // Task states: invoke() runs the callable and stores its result without publishing
  // it; complete() publishes it. Executors may act in between (the thread pool marks
  // its worker as looking for work before the waiter can submit the next task).
  // Precondition: try_start() returned true.
  virtual void invoke() noexcept {}
  void complete() noexcept { finish(); }
  // Called once, on the requesting thread, when a running task first gets a stop
  // request (cancel()); a process pool stops the worker that runs it.
  virtual void on_stop_requested() noexcept {}
  // Finishes a started task with `error` without running it (a broken executor).
  virtual void fail_unrun(std::exception_ptr error) noexcept {
    finish_with_exception(std::move(error));
  }
  // complete(), then release() of the caller's reference, in one RMW when nobody waits
  // asleep or registered a callback (the common case of a task run by an executor).
  void complete_and_release() noexcept;

  // Executors' bookkeeping. `owner` is the executor whose queue holds the state (for
  // inline runs), `next` the intrusive link of that queue (guarded by it), `id` the
  // observer's task id (0 when no observer is attached).
  const void* owner = nullptr;
  StateBase* next = nullptr;
  std::uint64_t id = 0;

 protected:
  explicit StateBase(std::uint32_t references) noexcept
      : word_(std::uint64_t{references} << kRefShift) {}
  virtual ~StateBase();

 private:
  // One word: the reference count in the high half, the phase and flags in the low.
  static constexpr std::uint64_t kPhaseMask = 3;
  static constexpr std::uint64_t kWaiters = 4;
  static constexpr std::uint64_t kCallbacks = 8;
  static constexpr std::uint64_t kStopRequested = 16;
  static constexpr unsigned kRefShift = 32;
  static constexpr std::uint64_t kOneRef = std::uint64_t{1} << kRefShift;

  void finish() noexcept;
  void wake_and_run_callbacks(std::uint64_t flags) noexcept;

  mutable std::atomic<std::uint64_t> word_;
  std::exception_ptr error_;
  Callback* callbacks_ = nullptr;  // guarded by this state's parking-lot bucket
};

// A state with storage for a T.
template <class T>
class State : public StateBase {
 public:
  explicit State(std::uint32_t references) noexcept : StateBase(references) {}
  std::optional<T> value;
};

template <>
class State<void> : public StateBase {
 public:
  explicit State(std::uint32_t references) noexcept : StateBase(references) {}
};

// A task: a callable run once by an executor, its result stored in the state.
//
// The callable lives in raw storage and is destroyed by whoever consumes it: invoke()
// right after the call (captures are released before anyone sees the result), or the
// destructor when the task never ran. The phase tells which, so the waiter that
// destroys the state does not read the callable's cache line, which the worker wrote.
template <class T, class F>
class TaskState final : public State<T> {
 public:
  template <class G>
  explicit TaskState(G&& fn) : State<T>(2) {
    ::new (static_cast<void*>(fn_storage_)) F(std::forward<G>(fn));
  }
  ~TaskState() override {
    if (this->phase() != Phase::finished) destroy_fn();
  }

  void invoke() noexcept override {
    try {
      if constexpr (std::is_void_v<T>) {
        std::invoke(std::move(fn()));
      } else {
        this->value.emplace(std::invoke(std::move(fn())));
      }
    } catch (...) {
      this->store_exception(std::current_exception());
    }
    destroy_fn();
  }

  void fail_unrun(std::exception_ptr error) noexcept override {
    destroy_fn();
    this->finish_with_exception(std::move(error));
  }

 private:
  F& fn() noexcept { return *std::launder(reinterpret_cast<F*>(fn_storage_)); }
  void destroy_fn() noexcept { fn().~F(); }

  alignas(F) unsigned char fn_storage_[sizeof(F)];
};

// A task state holding f(args...), with two references: one for the Future, one for
// the executor's queue.
template <class R, class F, class... Args>
State<R>* make_task(F&& f, Args&&... args) {
  if constexpr (sizeof...(Args) == 0) {
    return new TaskState<R, std::decay_t<F>>(std::forward<F>(f));
  } else {
    auto bound = [fn = std::forward<F>(f), ... as = std::forward<Args>(args)]() mutable -> R {
      return std::invoke(std::move(fn), std::move(as)...);
    };
    return new TaskState<R, decltype(bound)>(std::move(bound));
  }
}

// What an executor's worker does while it waits on a future: run the awaited task
// inline if it is still queued, or other queued work. Installed per worker thread.
class WaitHelper {
 public:
  virtual void try_run_inline(StateBase& target) noexcept = 0;
  virtual bool run_one() noexcept = 0;

 protected:
  ~WaitHelper() = default;
};

// The helper of the calling thread (null outside executors' workers).
CONCUR_EXPORT WaitHelper*& current_wait_helper() noexcept;

// Marks the task running on this thread, for this_task::stop_requested().
class CONCUR_EXPORT CurrentTaskScope {
 public:
  explicit CurrentTaskScope(const StateBase* task) noexcept;
  ~CurrentTaskScope();
  CurrentTaskScope(const CurrentTaskScope&) = delete;
  CurrentTaskScope& operator=(const CurrentTaskScope&) = delete;

 private:
  const StateBase* previous_;
};

// Waits until `ready()` or the deadline, blocking in slices through `block_until`; on
// an executor's worker, runs queued work between slices.
CONCUR_EXPORT bool wait_helping(const std::function<bool()>& ready,
                                const std::function<void(Deadline)>& block_until,
                                Deadline deadline);

// "what()" of an exception, or a description when it is not a std::exception.
CONCUR_EXPORT std::string describe(const std::exception_ptr& error);

}  // namespace detail
}  // namespace v0
}  // namespace concur
