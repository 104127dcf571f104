#include <concur/errors.hpp>

#include <csignal>
#include <cstring>
#include <string>

namespace concur {
inline namespace v0 {
namespace {

std::string worker_died_message(int pid, std::optional<int> signal,
                                std::optional<int> exit_code, const std::string& tail) {
  std::string message = "worker process " + std::to_string(pid) + " died";
  if (signal) {
    const char* name = sigabbrev_np(*signal);
    message += " from signal " + std::to_string(*signal);
    if (name != nullptr) message += std::string(" (SIG") + name + ")";
  } else if (exit_code) {
    message += " with exit code " + std::to_string(*exit_code);
  }
  if (!tail.empty()) message += "; its last stderr lines:\n" + tail;
  return message;
}

}  // namespace

CancelledError::CancelledError() : Error("the task was cancelled") {}

QueueShutDown::QueueShutDown() : Error("the queue is shut down") {}

namespace {

std::string group_message(const std::string& who, std::size_t total, const std::string& what,
                          const std::vector<std::exception_ptr>& exceptions) {
  std::string first = "none";
  if (!exceptions.empty()) {
    try {
      std::rethrow_exception(exceptions.front());
    } catch (const std::exception& e) {
      first = e.what();
    } catch (...) {
      first = "a non-standard exception";
    }
  }
  return who + ": " + std::to_string(exceptions.size()) + " of " + std::to_string(total) + " " + what +
         " failed; the first: " + first;
}

}  // namespace

ExceptionGroup::ExceptionGroup(const std::string& who, std::size_t total, const std::string& what,
                               std::vector<std::exception_ptr> exceptions)
    : Error(group_message(who, total, what, exceptions)), exceptions_(std::move(exceptions)) {}

WorkerDied::WorkerDied(int pid, std::optional<int> signal, std::optional<int> exit_code,
                       std::string stderr_tail)
    : Error(worker_died_message(pid, signal, exit_code, stderr_tail)),
      pid_(pid),
      signal_(signal),
      exit_code_(exit_code),
      stderr_tail_(std::move(stderr_tail)) {}

RemoteError::RemoteError(std::string type_name, std::string message, std::string where)
    : Error(type_name + ": " + message + (where.empty() ? "" : " (raised in " + where + ")")),
      type_name_(std::move(type_name)),
      message_(std::move(message)),
      where_(std::move(where)) {}

}  // namespace v0
}  // namespace concur
