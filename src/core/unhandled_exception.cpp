#include <concur/core/unhandled_exception.hpp>

#include <concur/core/detail/mutex.hpp>
#include <concur/core/detail/shared_state.hpp>

#include <cstdio>
#include <string>

namespace concur {
inline namespace v0 {
namespace {

struct HandlerSlot {
  detail::Mutex mutex;
  UnhandledExceptionHandler handler CONCUR_GUARDED_BY(mutex);
};

HandlerSlot& slot() {
  static HandlerSlot instance;
  return instance;
}

void print_to_stderr(const std::exception_ptr& error, std::string_view where) {
  const std::string line = "concur: unhandled exception in " + std::string(where) + ": " +
                           detail::describe(error) + "\n";
  std::fputs(line.c_str(), stderr);
}

}  // namespace

UnhandledExceptionHandler set_unhandled_exception_handler(UnhandledExceptionHandler handler) {
  HandlerSlot& s = slot();
  detail::Lock lock(s.mutex);
  return std::exchange(s.handler, std::move(handler));
}

void detail::report_unhandled_exception(std::exception_ptr error,
                                        std::string_view where) noexcept {
  try {
    UnhandledExceptionHandler handler;
    {
      HandlerSlot& s = slot();
      Lock lock(s.mutex);
      handler = s.handler;
    }
    if (handler) {
      handler(error, where);
    } else {
      print_to_stderr(error, where);
    }
  } catch (...) {
    print_to_stderr(std::current_exception(), "the unhandled-exception handler");
  }
}

}  // namespace v0
}  // namespace concur
