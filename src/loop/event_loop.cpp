#include <concur/loop/event_loop.hpp>
#include <concur/loop/spawn.hpp>

#include <uv.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <csignal>
#include <mutex>
#include <string>

namespace concur {
inline namespace v0 {
namespace detail {

struct LoopInbox {
  std::mutex mutex;
  std::vector<std::function<void()>> calls;  // guarded
  uv_async_t* async = nullptr;               // guarded; null once the loop closed
};

bool post_to_inbox(const std::weak_ptr<LoopInbox>& weak, std::function<void()> callback) {
  const std::shared_ptr<LoopInbox> inbox = weak.lock();
  if (!inbox) return false;
  std::lock_guard lock(inbox->mutex);
  if (inbox->async == nullptr) return false;
  inbox->calls.push_back(std::move(callback));
  uv_async_send(inbox->async);  // coalesces; safe from any thread
  return true;
}

void end_spawned_task(PromiseBase& promise) noexcept {
  TaskContext& task = promise.task;
  task.done = true;
  task.waiting_on = nullptr;
  JoinWaiter* joiner = task.joiners;  // newest first: wake from the oldest
  task.joiners = nullptr;
  while (joiner != nullptr && joiner->next_joiner != nullptr) joiner = joiner->next_joiner;
  while (joiner != nullptr) {
    JoinWaiter* newer = joiner->prev_joiner;
    joiner->prev_joiner = joiner->next_joiner = nullptr;
    joiner->wake();  // joiners resume on a later turn, never here
    joiner = newer;
  }
  task.loop->forget_task(task);
  if (task.references == 0) frame_of(promise).destroy();
}

}  // namespace detail

namespace {

thread_local EventLoop* current_loop = nullptr;

void check_uv(int status, const char* what) {
  if (status < 0) throw Error(std::string("concur::EventLoop: ") + what + ": " + uv_strerror(status));
}


}  // namespace

struct EventLoop::Native {
  uv_loop_t loop{};
  uv_async_t async{};
  uv_timer_t timer{};
  uv_signal_t sigint{};
  bool sigint_active = false;
  detail::TaskContext* sigint_target = nullptr;
};

// libuv asserts (aborts) when it closes one of its own fds numbered 0 to 2, which
// happens when the process started with stdin, stdout or stderr closed and libuv took
// that number. Hold those numbers with /dev/null first, as Node does.
void reserve_standard_fds() noexcept {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      const int opened = ::open("/dev/null", O_RDWR);  // the lowest free number: fd
      if (opened > 2) ::close(opened);                // someone else took it meanwhile
    }
  }
}

EventLoop::EventLoop() : native_(std::make_unique<Native>()), inbox_(std::make_shared<detail::LoopInbox>()) {
  if (current_loop != nullptr) throw InvalidState("concur::EventLoop: this thread already runs an event loop");
  reserve_standard_fds();
  check_uv(uv_loop_init(&native_->loop), "uv_loop_init");
  native_->loop.data = this;
  int status = uv_async_init(&native_->loop, &native_->async, [](uv_async_t* async) {
    auto* self = static_cast<EventLoop*>(async->loop->data);
    std::vector<std::function<void()>> calls;
    {
      std::lock_guard lock(self->inbox_->mutex);
      calls.swap(self->inbox_->calls);
    }
    for (auto& call : calls) self->ready_callbacks_.emplace_back(std::move(call));
  });
  if (status == 0) status = uv_timer_init(&native_->loop, &native_->timer);
  if (status == 0) status = uv_signal_init(&native_->loop, &native_->sigint);
  if (status != 0) {
    uv_loop_close(&native_->loop);
    check_uv(status, "handle init");
  }
  native_->sigint.data = native_.get();
  {
    std::lock_guard lock(inbox_->mutex);
    inbox_->async = &native_->async;
  }
  current_loop = this;
}

EventLoop::~EventLoop() {
  {
    std::lock_guard lock(inbox_->mutex);
    inbox_->async = nullptr;  // later posts are dropped
    inbox_->calls.clear();
  }
  cancel_remaining_tasks();
  stop_sigint_watch();
  while (resources_ != nullptr) {
    detail::LoopResource* resource = resources_;
    untrack(*resource);
    resource->close_now();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&native_->async), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&native_->timer), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&native_->sigint), nullptr);
  uv_run(&native_->loop, UV_RUN_DEFAULT);  // runs the close callbacks
  uv_loop_close(&native_->loop);
  if (current_loop == this) current_loop = nullptr;
}

EventLoop* EventLoop::current() noexcept { return current_loop; }

void* EventLoop::native() const noexcept { return &native_->loop; }

void EventLoop::track(detail::LoopResource& resource) noexcept {
  resource.next_resource = resources_;
  resource.prev_resource = nullptr;
  if (resources_ != nullptr) resources_->prev_resource = &resource;
  resources_ = &resource;
}

void EventLoop::untrack(detail::LoopResource& resource) noexcept {
  if (resource.prev_resource != nullptr) resource.prev_resource->next_resource = resource.next_resource;
  if (resource.next_resource != nullptr) resource.next_resource->prev_resource = resource.prev_resource;
  if (resources_ == &resource) resources_ = resource.next_resource;
  resource.prev_resource = resource.next_resource = nullptr;
}

std::size_t EventLoop::open_handles() const noexcept {
  struct Count {
    const Native* own;
    std::size_t n = 0;
  } count{native_.get()};
  uv_walk(
      &native_->loop,
      [](uv_handle_t* handle, void* arg) {
        auto* c = static_cast<Count*>(arg);
        const void* h = handle;
        if (h != &c->own->async && h != &c->own->timer && h != &c->own->sigint) ++c->n;
      },
      &count);
  return count.n;
}


bool EventLoop::call_soon_threadsafe(std::function<void()> callback) {
  return detail::post_to_inbox(inbox_, std::move(callback));
}

// ---- the timer heap -----------------------------------------------------------------------
namespace {

using detail::TimerEntry;

// Equal deadlines (rare: they are nanoseconds): the one added first.
bool earlier(const TimerEntry& a, const TimerEntry& b) noexcept {
  if (a.deadline != b.deadline) return a.deadline < b.deadline;
  return detail::added_before(a.timer->sequence, b.timer->sequence);
}

// Puts `entry` at heap slot i and moves it up or down to where it belongs.
void sift(std::vector<TimerEntry>& heap, std::size_t i, TimerEntry entry) noexcept {
  while (i > 0 && earlier(entry, heap[(i - 1) / 2])) {
    heap[i] = heap[(i - 1) / 2];
    heap[i].timer->heap_index = static_cast<std::uint32_t>(i);
    i = (i - 1) / 2;
  }
  for (;;) {
    const std::size_t left = 2 * i + 1, right = left + 1;
    std::size_t smallest = i;
    const TimerEntry* best = &entry;
    if (left < heap.size() && earlier(heap[left], *best)) {
      smallest = left;
      best = &heap[left];
    }
    if (right < heap.size() && earlier(heap[right], *best)) smallest = right;
    if (smallest == i) break;
    heap[i] = heap[smallest];
    heap[i].timer->heap_index = static_cast<std::uint32_t>(i);
    i = smallest;
  }
  heap[i] = entry;
  entry.timer->heap_index = static_cast<std::uint32_t>(i);
}

}  // namespace

void EventLoop::add_timer(detail::LoopTimer& timer) {
  if (timers_.size() >= detail::LoopTimer::kNotInHeap) throw Error("concur::EventLoop: more than 2^32 - 1 timers");
  timer.sequence = timer_sequence_++;
  timers_.push_back(TimerEntry{timer.deadline, &timer});
  sift(timers_, timers_.size() - 1, timers_.back());
}

void EventLoop::remove_timer(detail::LoopTimer& timer) noexcept {
  const std::size_t i = timer.heap_index;
  if (i >= timers_.size() || timers_[i].timer != &timer) return;
  timer.heap_index = detail::LoopTimer::kNotInHeap;
  const TimerEntry last = timers_.back();
  timers_.pop_back();
  if (i < timers_.size()) sift(timers_, i, last);
}

// ---- running ----------------------------------------------------------------------------------
void EventLoop::run_once() {
  // What became ready before this turn runs now; what it makes ready waits a turn.
  const bool had_work = !ready_handles_.empty() || !ready_callbacks_.empty();
  if (!ready_handles_.empty()) ready_handles_.run_batch();  // never throws
  // The callbacks after a failing one stay queued, first in line.
  if (!ready_callbacks_.empty()) ready_callbacks_.run_batch();
  const bool fired = fire_due_timers();
  if (had_work || fired) {
    // More is ready already: poll I/O without waiting, but not on every turn (each poll
    // is a system call): every 64 busy turns. When nothing is left ready, the next turn
    // waits for I/O anyway.
    const bool more = !ready_handles_.empty() || !ready_callbacks_.empty();
    if (!more || ++busy_turns_ < 64) return;
    busy_turns_ = 0;
    uv_run(&native_->loop, UV_RUN_NOWAIT);
    return;
  }
  busy_turns_ = 0;
  // Nothing to do now: wait for I/O, the next timer or another thread.
  if (!timers_.empty()) {
    uv_update_time(&native_->loop);  // libuv times from its cached clock
    const auto wait = timers_.front().deadline - detail::LoopClock::now();
    const auto ms = std::max<long long>(0, std::chrono::ceil<std::chrono::milliseconds>(wait).count());
    // The callback stops the turn: libuv 1.44 runs due timers *before* polling in
    // UV_RUN_ONCE, and would then poll with no timeout at all (a hang) if this timer
    // had already fired; uv_stop makes that poll return at once.
    uv_timer_start(&native_->timer, [](uv_timer_t* timer) { uv_stop(timer->loop); }, static_cast<std::uint64_t>(ms), 0);
  }
  uv_run(&native_->loop, UV_RUN_ONCE);
  uv_timer_stop(&native_->timer);
  (void)fire_due_timers();
}

bool EventLoop::fire_due_timers() {
  if (timers_.empty()) return false;
  bool fired = false;
  const auto now = detail::LoopClock::now();
  while (!timers_.empty() && timers_.front().deadline <= now) {
    detail::LoopTimer& timer = *timers_.front().timer;
    remove_timer(timer);
    timer.fire(timer);
    fired = true;
  }
  return fired;
}

std::size_t EventLoop::pending() const noexcept {
  return ready_handles_.size() + ready_callbacks_.size() + timers_.size() + task_count_;
}

void EventLoop::adopt_task(detail::TaskContext& task) noexcept {
  task.next = tasks_;
  task.prev = nullptr;
  if (tasks_ != nullptr) tasks_->prev = &task;
  tasks_ = &task;
  ++task_count_;
}

void EventLoop::forget_task(detail::TaskContext& task) noexcept {
  if (task.prev != nullptr) task.prev->next = task.next;
  if (task.next != nullptr) task.next->prev = task.prev;
  if (tasks_ == &task) tasks_ = task.next;
  task.prev = task.next = nullptr;
  --task_count_;
}

void EventLoop::cancel_remaining_tasks() {
  // As asyncio.run: cancel what is left and let it unwind. A task that ignores the
  // cancellation and keeps waiting is cancelled again on each pass.
  while (task_count_ > 0) {
    for (detail::TaskContext* task = tasks_; task != nullptr; task = task->next) (void)task->cancel();
    for (int turn = 0; turn < 8 && task_count_ > 0; ++turn) run_once();
  }
  while (!ready_handles_.empty() || !ready_callbacks_.empty()) run_once();
}

void EventLoop::start_sigint_watch(detail::TaskContext& main) {
  native_->sigint_target = &main;
  const int status = uv_signal_start(
      &native_->sigint,
      [](uv_signal_t* signal, int) {
        auto* native = static_cast<Native*>(signal->data);
        if (native->sigint_target != nullptr) (void)native->sigint_target->cancel();
      },
      SIGINT);
  check_uv(status, "uv_signal_start(SIGINT)");
  native_->sigint_active = true;
}

void EventLoop::stop_sigint_watch() noexcept {
  if (!native_->sigint_active) return;
  uv_signal_stop(&native_->sigint);
  native_->sigint_active = false;
  native_->sigint_target = nullptr;
}

}  // namespace v0
}  // namespace concur
