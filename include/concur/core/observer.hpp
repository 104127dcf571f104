// Observer: the events of an executor, for profilers and tracers (the model is
// taskflow's ObserverInterface). Attaching none costs one null check per event.
//
// Thread safety: called concurrently from the executor's workers and submitters; an
// implementation must be thread-safe and quick. What it throws goes to the
// unhandled-exception handler; the task is not affected.
#pragma once

#include <cstddef>
#include <cstdint>

namespace concur {
inline namespace v0 {

class Observer {
 public:
  virtual ~Observer() = default;
  // `worker` is the worker's index in its executor, 0 .. workers()-1.
  virtual void on_worker_start(std::size_t /*worker*/) {}
  virtual void on_worker_stop(std::size_t /*worker*/) {}
  // A process pool's worker `worker` is now the process `pid`: at start and after each
  // replacement.
  virtual void on_worker_process(std::size_t /*worker*/, int /*pid*/) {}
  // `task` numbers the executor's tasks from 1 in submission order.
  virtual void on_submit(std::uint64_t /*task*/) {}
  virtual void on_start(std::uint64_t /*task*/, std::size_t /*worker*/) {}
  virtual void on_finish(std::uint64_t /*task*/, std::size_t /*worker*/, bool /*failed*/) {}
};

}  // namespace v0
}  // namespace concur
