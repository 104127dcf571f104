// The manager's side of results: read from the workers' result rings (or, when large,
// from their channels), matched to the tasks the workers run, decoded and published.
//
// Why in three steps: a turn of the manager reads every ring without the pool's lock
// (copying each result out, so the ring's room is free at once), then takes the lock
// once for the bookkeeping of all of them, together with the turn's dispatch (loop() in
// pool_manager.cpp), then decodes outside the lock. Taking the lock once per result
// made the submitting thread wait in the kernel for it, often enough to be most of
// what a tiny unbatched task cost.
#include "pool_core.hpp"

#include <algorithm>
#include <cstring>

namespace concur {
inline namespace v0 {
namespace detail {
namespace {

// A result frame's body: kind, task id, status, whether the worker retires, payload.
constexpr std::size_t kResultFields = 1 + sizeof(std::uint64_t) + 2;

std::uint64_t result_id(std::string_view body) {
  std::uint64_t id = 0;
  std::memcpy(&id, body.data() + 1, sizeof id);
  return id;
}

}  // namespace

std::size_t ProcessPoolCore::drain_ring(Slot& slot, bool* took_placeholder) {
  std::size_t handled = 0;
  try {
    while (slot.result_ring) {
      const auto body = slot.result_ring->peek(slot.ring_scratch);
      if (!body) break;
      const auto kind = static_cast<FrameKind>((*body)[0]);
      if (kind == FrameKind::on_channel) {
        if (took_placeholder == nullptr) break;  // that result's turn comes with its frame
        slot.result_ring->pop();
        *took_placeholder = true;
        return handled + 1;
      }
      if (kind != FrameKind::result) {
        throw SerializationError("a frame of kind " + std::to_string(static_cast<int>(kind)));
      }
      if (body->size() < kResultFields) throw SerializationError("a result frame too short");
      arrived_.push_back({&slot, arrived_bytes_.size(), body->size()});
      arrived_bytes_.append(*body);
      slot.result_ring->pop();
      ++handled;
    }
  } catch (const SerializationError& e) {
    std::lock_guard lock(mutex_);
    ring_error_locked(slot, e.what());
  }
  return handled;
}

std::size_t ProcessPoolCore::drain_rings() {
  std::size_t handled = 0;
  for (Slot& slot : slots_) {
    if (slot.result_ring) handled += drain_ring(slot);
  }
  return handled;
}

// What the worker's ring holds can no longer be trusted: the worker is stopped, and the
// task it held fails with the reason.
void ProcessPoolCore::ring_error_locked(Slot& slot, std::string message) {
  slot.protocol_error = "concur::ProcessPool: a malformed result ring from " + where(slot) + ": " + message;
  slot.result_ring.reset();
  stop_worker_locked(slot);
}

void ProcessPoolCore::settle_locked() {
  const Clock::time_point now = Clock::now();
  std::vector<const Slot*> failed;  // whose rings sent a result they were not owed
  for (Arrived& arrived : arrived_) {
    Slot& slot = *arrived.slot;
    if (arrived.task != nullptr || std::find(failed.begin(), failed.end(), &slot) != failed.end()) continue;
    try {
      arrived.task = accept_result_locked(
          slot, std::string_view(arrived_bytes_).substr(arrived.offset, arrived.size), now);
    } catch (const SerializationError& e) {
      ring_error_locked(slot, e.what());
      failed.push_back(&slot);
    }
  }
}

void ProcessPoolCore::deliver_arrived(std::vector<Done>& done) {
  for (const Arrived& arrived : arrived_) {
    if (arrived.task == nullptr) continue;  // its ring failed
    deliver(*arrived.slot, *arrived.task,
            std::string_view(arrived_bytes_).substr(arrived.offset, arrived.size), done);
  }
  arrived_.clear();
  arrived_bytes_.clear();
}

void ProcessPoolCore::settle(std::vector<Done>& done) {
  if (arrived_.empty()) return;
  {
    std::lock_guard lock(mutex_);
    settle_locked();
    dispatch_locked();
  }
  deliver_arrived(done);
}

void ProcessPoolCore::on_result(Slot& slot, std::string_view body, std::vector<Done>& done) {
  if (body.size() < kResultFields) throw SerializationError("a result frame too short");
  ProcessTaskBase* task = nullptr;
  {
    std::lock_guard lock(mutex_);
    task = accept_result_locked(slot, body, Clock::now());
    dispatch_locked();
  }
  deliver(slot, *task, body, done);
}

ProcessTaskBase* ProcessPoolCore::accept_result_locked(Slot& slot, std::string_view body,
                                                       Clock::time_point now) {
  const std::uint64_t id = result_id(body);
  const bool retiring = body[kResultFields - 1] != 0;
  if (slot.in_flight.empty() || slot.in_flight.front()->state().id != id) {
    throw SerializationError("a result for task " + std::to_string(id) +
                             ", which the worker was not running");
  }
  ProcessTaskBase* task = slot.in_flight.front();
  slot.in_flight.pop_front();
  slot.ring_bytes -= ring_entry_bytes(*task);
  if (task->abandoned && slot.phase == Slot::Phase::stopping) slot.stop_target_ended = true;
  slot.last_result = ++results_;
  // The head may have started after `now` was read (a submit between): it took nothing.
  const Clock::duration took = std::max(now - slot.head_started, Clock::duration::zero());
  slot.mean_task = slot.mean_task == Clock::duration::max() ? took
                                                            : slot.mean_task + (took - slot.mean_task) / 8;
  slot.head_deadline.reset();
  if (retiring && slot.phase == Slot::Phase::ready) slot.phase = Slot::Phase::retiring;
  head_started_locked(slot);
  return task;
}

void ProcessPoolCore::deliver(const Slot& slot, ProcessTaskBase& task, std::string_view body,
                              std::vector<Done>& done) {
  if (task.abandoned) {
    done.push_back({&task, slot.index, nullptr, Done::release});
    return;
  }
  const auto status = static_cast<ResultStatus>(body[kResultFields - 2]);
  const std::string_view payload = body.substr(kResultFields);
  std::exception_ptr error;
  try {
    switch (status) {
      case ResultStatus::value:
        task.store_value(payload, where(slot));
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
  done.push_back({&task, slot.index, error, Done::publish});
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
