#include <concur/loop/to_thread.hpp>
#include <concur/thread/thread_pool.hpp>

namespace concur {
inline namespace v0 {
namespace detail {

void run_on_default_pool(std::function<void()> job) {
  static ThreadPool pool(ThreadPool::default_workers(), {.name = "concur-to_thread"});
  (void)pool.submit(std::move(job));
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
