// The whole error taxonomy of concur, mirroring Python's exceptions.
//
// Every failure of a task reaches the caller through its Future (get() rethrows it) or
// as one of these types thrown by the call that failed. Argument errors (a chunksize of
// zero, a worker count of zero) are std::invalid_argument, as in the standard library.
#pragma once

#include <concur/export.hpp>

#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace concur {
inline namespace v0 {

// Base of every concur error.
class CONCUR_EXPORT Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The task was cancelled before it ran (Python: concurrent.futures.CancelledError).
class CONCUR_EXPORT CancelledError : public Error {
 public:
  CancelledError();
  using Error::Error;
};

// A deadline passed (Python: TimeoutError).
class CONCUR_EXPORT TimeoutError : public Error {
 public:
  using Error::Error;
};

// The executor cannot take or finish work: it was shut down, or a worker initializer
// failed (Python: BrokenExecutor, RuntimeError after shutdown).
class CONCUR_EXPORT BrokenExecutor : public Error {
 public:
  using Error::Error;
};

// A worker process died while it held the task (Python: BrokenProcessPool, but only the
// task's own future fails).
class CONCUR_EXPORT WorkerDied : public Error {
 public:
  WorkerDied(int pid, std::optional<int> signal, std::optional<int> exit_code,
             std::string stderr_tail);
  int pid() const noexcept { return pid_; }
  std::optional<int> signal() const noexcept { return signal_; }
  std::optional<int> exit_code() const noexcept { return exit_code_; }
  const std::string& stderr_tail() const noexcept { return stderr_tail_; }

 private:
  int pid_;
  std::optional<int> signal_;
  std::optional<int> exit_code_;
  std::string stderr_tail_;
};

// An exception raised in another process, carried back by name and message.
class CONCUR_EXPORT RemoteError : public Error {
 public:
  RemoteError(std::string type_name, std::string message, std::string where);
  const std::string& type_name() const noexcept { return type_name_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& where() const noexcept { return where_; }

 private:
  std::string type_name_;
  std::string message_;
  std::string where_;
};

// A value could not be encoded or decoded for transport (a malformed or oversized frame).
class CONCUR_EXPORT SerializationError : public Error {
 public:
  using Error::Error;
};

// An operation that the object's state does not allow (Python: InvalidStateError), such
// as using an empty Future or setting a Promise twice.
class CONCUR_EXPORT InvalidState : public Error {
 public:
  using Error::Error;
};

// The queue was closed: no more puts, and gets find nothing left (Python 3.13:
// queue.ShutDown, asyncio.QueueShutDown).
class CONCUR_EXPORT QueueShutDown : public Error {
 public:
  QueueShutDown();
  using Error::Error;
};

// Several tasks failed together (Python: ExceptionGroup, raised by asyncio.TaskGroup).
// what() names how many failed and the first failure; exceptions() holds them all, in
// the order the tasks were started.
class CONCUR_EXPORT ExceptionGroup : public Error {
 public:
  ExceptionGroup(const std::string& message, std::vector<std::exception_ptr> exceptions)
      : Error(message), exceptions_(std::move(exceptions)) {}
  // "<who>: <n> of <total> <what> failed; the first: <its what()>".
  ExceptionGroup(const std::string& who, std::size_t total, const std::string& what,
                 std::vector<std::exception_ptr> exceptions);
  const std::vector<std::exception_ptr>& exceptions() const noexcept { return exceptions_; }

 private:
  std::vector<std::exception_ptr> exceptions_;
};

}  // namespace v0
}  // namespace concur
