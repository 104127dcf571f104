// The manager thread of a ProcessPool: starts workers, reads their results and exits,
// enforces deadlines and stop requests (see pool_core.hpp and docs/design.md).
#include "pool_core.hpp"

#include <concur/core/detail/spin_governor.hpp>
#include <concur/core/unhandled_exception.hpp>

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
        slot.ring_bytes = 0;
      }
      kill_workers_locked();
    }
    finish(done);
  }
  end_first_launches();  // also when the manager failed before
  launcher_.reset();  // the fork server exits and is reaped
}

void ProcessPoolCore::end_first_launches() noexcept {
  first_launches_done_.store(true);
  first_launches_done_.notify_all();
}

void ProcessPoolCore::kill_workers_locked() noexcept {
  for (Slot& slot : slots_) {
    if (slot.pidfd) pidfd_signal(slot.pidfd.get(), SIGKILL);
    if (launcher_->reaps_directly() && slot.pid > 0) {
      while (::waitpid(slot.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    slot.phase = Slot::Phase::empty;
  }
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
  end_first_launches();
  std::array<epoll_event, 64> events;
  std::vector<Done> done;
  auto spin_until = Clock::now();
  auto locked_turn_at = spin_until;  // when a turn holds the lock even if nothing came in
  unsigned turns_unpolled = 0;
  detail::SpinGovernor& governor = detail::this_thread_spin_governor();
  for (;;) {
    const bool spinning = Clock::now() < spin_until && governor.yield();
    std::size_t drained = drain_rings();
    int timeout = spinning || drained > 0 ? 0 : next_timeout();  // results in hand: no wait
    // About to block: the workers are told to wake us, and the rings read once more
    // for results published before they saw it (frame_ring.hpp).
    const bool blocking = timeout != 0;
    if (blocking) {
      for (Slot& slot : slots_) {
        if (slot.result_ring) slot.result_ring->set_reader_sleeps(true);
      }
      drained = drain_rings();
      if (drained > 0) timeout = 0;
    }
    // While results flow, the fds are polled every kTurnsPerPoll turns: epoll_wait is a
    // system call, reading the rings is not.
    int n = 0;
    if (blocking || drained == 0 || ++turns_unpolled >= kTurnsPerPoll) {
      turns_unpolled = 0;
      n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), timeout);
      if (n < 0 && errno != EINTR) throw_errno("epoll_wait in a ProcessPool");
    }
    if (blocking) {
      for (Slot& slot : slots_) {
        if (slot.result_ring) slot.result_ring->set_reader_sleeps(false);
      }
    }
    for (int i = 0; i < n; ++i) handle(events[i].data.u64, events[i].events, done);
    const auto now = Clock::now();
    if (n > 0 || drained > 0) spin_until = now + kSpin;  // the governor's quiet period still wins
    // The lock is taken when something came in (what comes from other threads, a stop
    // request or a shutdown, comes with an eventfd event), and otherwise every
    // kLockedTurnEvery for the deadlines: an idle turn that took it would hold up
    // submits.
    if (arrived_.empty() && n <= 0 && !blocking && now < locked_turn_at) continue;
    locked_turn_at = now + kLockedTurnEvery;
    bool finished;
    {  // the turn's one hold of the lock, whatever came in
      std::lock_guard lock(mutex_);
      settle_locked();
      handle_stop_requests_locked(done);
      check_deadlines_locked(done);
      dispatch_locked();
      flush_all_locked();
      finished = finished_locked();
    }
    deliver_arrived(done);
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
      if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
        read_channel(slot, done);
        drain_ring(slot);  // a wake frame, or a worker's end
      }
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
  slot.ring_fds.clear();
  slot.task_ring.reset();
  slot.result_ring.reset();
  slot.woken = 0;
  slot.task_ring_full = false;
  slot.exited = false;
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
    char* const to = slot.in.data() + slot.in_size;
    const std::size_t room = slot.in.size() - slot.in_size;
    ssize_t n;
    if (!slot.hello && slot.ring_fds.empty()) {  // the rings come with `hello`
      n = read_with_fds(slot.channel.get(), to, room, slot.ring_fds, 2);
    } else {
      n = ::read(slot.channel.get(), to, room);
    }
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
        if (slot.hello || slot.ring_fds.size() != 2) {
          throw SerializationError("its hello came without its task and result rings");
        }
        FrameRing tasks = FrameRing::open(std::move(slot.ring_fds[0]));
        FrameRing results = FrameRing::open(std::move(slot.ring_fds[1]));
        slot.ring_fds.clear();
        slot.result_ring.emplace(std::move(results));
        std::lock_guard lock(mutex_);
        slot.task_ring.emplace(std::move(tasks));
        slot.hello = true;
        slot.start_deadline.reset();
        return;
      }
      case FrameKind::ready: {
        if (!slot.hello) throw SerializationError("ready before hello");
        {
          std::lock_guard lock(mutex_);
          slot.start_deadline.reset();
          if (slot.phase == Slot::Phase::starting) slot.phase = Slot::Phase::ready;
          slot.was_ready = true;
          slot.start_failures = 0;
          dispatch_locked();
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
      case FrameKind::result: {  // too large for the ring, which says where it goes
        bool in_place = false;
        drain_ring(slot, &in_place);
        settle(done);  // the results before it
        if (!in_place) {
          if (!slot.protocol_error.empty()) return;  // the ring was malformed: already stopping
          throw SerializationError("a result on the channel without its place in the result ring");
        }
        on_result(slot, body, done);
        return;
      }
      case FrameKind::wake:  // the ring is read after the channel
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
  } catch (const Error& e) {  // its result ring cannot be mapped
    slot.protocol_error = "concur::ProcessPool: " + where(slot) + ": " + e.what();
  }
  std::lock_guard lock(mutex_);
  stop_worker_locked(slot);
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
  {  // the results read below must not make room for new tasks in a dead worker
    std::lock_guard lock(mutex_);
    slot.exited = true;
  }
  if (slot.channel && !slot.eof) read_channel(slot, done);  // results sent before it died
  drain_ring(slot);  // and published
  settle(done);
  if (slot.stderr_read) read_stderr(slot);
  std::lock_guard lock(mutex_);
  if (slot.task_ring_full && slot.protocol_error.empty()) {
    slot.protocol_error = "concur::ProcessPool: the task ring of " + where(slot) + " was full";
  }
  std::deque<ProcessTaskBase*> unstarted;
  // A retiring worker ran them all; one stopped for a task that had already ended was
  // killed running a task that did nothing wrong.
  const bool head_ran = slot.phase != Slot::Phase::retiring && !slot.stop_target_ended;
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
  slot.ring_bytes = 0;
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
  slot.ring_fds.clear();
  slot.task_ring.reset();
  slot.result_ring.reset();
  slot.phase = Slot::Phase::empty;
  slot.stop_target_ended = false;
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

void ProcessPoolCore::check_deadlines_locked(std::vector<Done>& done) {
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

void ProcessPoolCore::handle_stop_requests_locked(std::vector<Done>& done) {
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
}  // namespace v0
}  // namespace concur
