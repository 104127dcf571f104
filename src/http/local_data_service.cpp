#include <concur/http/data_service.hpp>

#include <concur/loop/event.hpp>
#include <concur/core/unhandled_exception.hpp>
#include <concur/loop/run.hpp>

#include <pthread.h>
#include <time.h>

#include <exception>
#include <future>
#include <thread>

namespace concur {
inline namespace v0 {
namespace http {

struct LocalDataService::State {
  std::thread thread;
  EventLoop* loop = nullptr;  // the server thread's, set before the port is published
  Event* stop = nullptr;      // the server thread's; set only on its loop
  clockid_t cpu_clock{};
};

namespace {
Task<void> serve_until_stopped(DataServiceOptions options, std::promise<std::uint16_t>& ready, bool& listening,
                               EventLoop*& loop, Event*& stop);
}  // namespace

LocalDataService::LocalDataService() : LocalDataService(DataServiceOptions()) {}

LocalDataService::LocalDataService(DataServiceOptions options) : state_(std::make_unique<State>()) {
  (void)data_service(options);  // bad options are refused here, on the caller's thread
  std::promise<std::uint16_t> ready;
  std::future<std::uint16_t> port = ready.get_future();
  state_->thread = std::thread([this, options, &ready] {
    bool listening = false;
    try {
      run(serve_until_stopped(options, ready, listening, state_->loop, state_->stop));
    } catch (...) {
      if (!listening) {
        ready.set_exception(std::current_exception());  // the constructor rethrows it
      } else {  // failed handlers, raised by the close: nobody awaits them but the report
        concur::detail::report_unhandled_exception(std::current_exception(), "concur::http::LocalDataService");
      }
    }
  });
  try {
    port_ = port.get();
  } catch (...) {
    state_->thread.join();
    throw;
  }
  pthread_getcpuclockid(state_->thread.native_handle(), &state_->cpu_clock);
}

LocalDataService::~LocalDataService() {
  State& s = *state_;
  s.loop->call_soon_threadsafe([&s] { s.stop->set(); });
  s.thread.join();
}

double LocalDataService::cpu_seconds() const noexcept {
  timespec t{};
  if (clock_gettime(state_->cpu_clock, &t) != 0) return 0;
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

namespace {
Task<void> serve_until_stopped(DataServiceOptions options, std::promise<std::uint16_t>& ready, bool& listening,
                               EventLoop*& loop, Event*& stop) {
  Event stopped;
  Server server = co_await start_server(data_service(options), "127.0.0.1", 0);
  loop = EventLoop::current();
  stop = &stopped;
  listening = true;
  ready.set_value(server.port());
  co_await stopped.wait();
  server.close();
  co_await server.wait_closed();
}
}  // namespace

}  // namespace http
}  // namespace v0
}  // namespace concur
