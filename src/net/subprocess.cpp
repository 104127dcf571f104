#include <concur/net/subprocess.hpp>

#include "stream_core.hpp"

#include <concur/loop/spawn.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>

namespace concur {
inline namespace v0 {
namespace detail {

// Owned by the Subprocess and by libuv (until the handle's close callback); the last
// to let go deletes it.
struct ProcessCore final : LoopResource {
  uv_process_t process{};
  EventLoop* loop = nullptr;
  int pid = 0;
  std::optional<int> returncode;
  std::vector<Wakeup*> exit_waiters;
  bool owner_alive = true;
  bool handle_closed = false;

  static void on_closed(uv_handle_t* handle) {
    auto* core = static_cast<ProcessCore*>(handle->data);
    core->handle_closed = true;
    core->loop->untrack(*core);
    if (!core->owner_alive) delete core;
  }
  static void on_exit(uv_process_t* process, int64_t exit_status, int term_signal) {
    auto* core = static_cast<ProcessCore*>(process->data);
    core->exited(term_signal != 0 ? -term_signal : static_cast<int>(exit_status));
  }
  void exited(int code) noexcept {
    returncode = code;
    std::vector<Wakeup*> waiters = std::move(exit_waiters);
    exit_waiters.clear();
    for (Wakeup* w : waiters) w->wake();
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&process))) {
      uv_close(reinterpret_cast<uv_handle_t*>(&process), on_closed);
    }
  }
  // The loop ends with the child running: kill it and reap it here (libuv stops
  // watching a closed process handle).
  void close_now() noexcept override {
    if (!returncode) {
      ::kill(pid, SIGKILL);
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      exited(WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status));
    }
  }
  void release() noexcept {
    owner_alive = false;
    if (handle_closed) {
      delete this;
    } else if (!returncode) {
      uv_process_kill(&process, SIGKILL);  // on_exit reaps it, then the handle closes
    }
  }
};

}  // namespace detail

namespace {

using detail::ProcessCore;

// A pipe for one standard stream: the parent's end as a Stream, and libuv's stdio entry.
Stream make_pipe(EventLoop& loop, uv_stdio_container_t& stdio, int flags) {
  auto* core = new detail::StreamCore(loop);
  if (const int status = uv_pipe_init(core->uv_loop(), &core->uv.pipe, 0); status < 0) {
    delete core;
    throw IoError("concur::create_subprocess_exec: no pipe: " + detail::uv_reason(status), detail::uv_error_code(status));
  }
  core->track();
  stdio.flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | flags);
  stdio.data.stream = &core->uv.stream;
  return Stream(core);
}

// Closes an fd on scope exit (the /dev/null the child inherits).
struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// Starts the child now (a plain function: g++ 12 miscompiles arrays in coroutine frames).
Subprocess spawn_now(std::string& program, std::vector<std::string>& args, const SubprocessOptions& options) {
  constexpr const char* what = "concur::create_subprocess_exec";
  if (program.empty()) throw std::invalid_argument(std::string(what) + ": an empty program name");
  EventLoop* loop = EventLoop::current();
  if (loop == nullptr) throw InvalidState(std::string(what) + ": no event loop runs on this thread");

  uv_stdio_container_t stdio[3] = {};
  Stream pipes[3];
  FdCloser devnull;
  const Redirect modes[3] = {options.stdin_mode, options.stdout_mode, options.stderr_mode};
  for (int i = 0; i < 3; ++i) {
    switch (modes[i]) {
      case Redirect::inherit:
        stdio[i].flags = UV_INHERIT_FD;
        stdio[i].data.fd = i;
        break;
      case Redirect::pipe:
        pipes[i] = make_pipe(*loop, stdio[i], i == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE);
        break;
      case Redirect::devnull:
        if (devnull.fd < 0) devnull.fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull.fd < 0) {
          throw IoError(std::string(what) + ": cannot open /dev/null", std::error_code(errno, std::generic_category()));
        }
        stdio[i].flags = UV_INHERIT_FD;
        stdio[i].data.fd = devnull.fd;
        break;
    }
  }
  std::vector<char*> argv;
  argv.push_back(program.data());
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = options.env.value_or(std::vector<std::string>{});
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  auto* core = new ProcessCore();
  core->loop = loop;
  uv_process_options_t spawn{};
  spawn.exit_cb = ProcessCore::on_exit;
  spawn.file = program.c_str();
  spawn.args = argv.data();
  spawn.env = options.env ? envp.data() : nullptr;
  spawn.cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  spawn.stdio_count = 3;
  spawn.stdio = stdio;
  const int status = uv_spawn(static_cast<uv_loop_t*>(loop->native()), &core->process, &spawn);
  core->process.data = core;
  loop->track(*core);
  if (status < 0) {
    core->owner_alive = false;  // the handle is initialised and must be closed
    uv_close(reinterpret_cast<uv_handle_t*>(&core->process), ProcessCore::on_closed);
    throw IoError(std::string(what) + ": cannot run '" + program + "': " + detail::uv_reason(status),
                  detail::uv_error_code(status));
  }
  core->pid = core->process.pid;
  return Subprocess(core, std::move(pipes[0]), std::move(pipes[1]), std::move(pipes[2]));
}

}  // namespace

Task<Subprocess> create_subprocess_exec(std::string program, std::vector<std::string> args, SubprocessOptions options) {
  co_return spawn_now(program, args, options);
}

Subprocess::Subprocess(detail::ProcessCore* core, Stream in, Stream out, Stream err) noexcept
    : core_(core), in_(std::move(in)), out_(std::move(out)), err_(std::move(err)) {}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : core_(std::exchange(other.core_, nullptr)),
      in_(std::move(other.in_)),
      out_(std::move(other.out_)),
      err_(std::move(other.err_)) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    if (core_ != nullptr) core_->release();
    core_ = std::exchange(other.core_, nullptr);
    in_ = std::move(other.in_);
    out_ = std::move(other.out_);
    err_ = std::move(other.err_);
  }
  return *this;
}

Subprocess::~Subprocess() {
  if (core_ != nullptr) core_->release();
}

detail::ProcessCore& Subprocess::live(const char* what) const {
  if (core_ == nullptr) throw InvalidState(std::string(what) + ": an empty Subprocess");
  return *core_;
}

int Subprocess::pid() const { return live("concur::Subprocess::pid").pid; }

Stream& Subprocess::stdin_pipe() {
  if (!in_) throw InvalidState("concur::Subprocess::stdin_pipe: stdin was not piped (Redirect::pipe)");
  return in_;
}
Stream& Subprocess::stdout_pipe() {
  if (!out_) throw InvalidState("concur::Subprocess::stdout_pipe: stdout was not piped (Redirect::pipe)");
  return out_;
}
Stream& Subprocess::stderr_pipe() {
  if (!err_) throw InvalidState("concur::Subprocess::stderr_pipe: stderr was not piped (Redirect::pipe)");
  return err_;
}

std::optional<int> Subprocess::returncode() const noexcept {
  return core_ == nullptr ? std::nullopt : core_->returncode;
}

Task<int> Subprocess::wait() {
  ProcessCore& core = live("concur::Subprocess::wait");
  while (!core.returncode) {
    detail::Wakeup waiter;
    core.exit_waiters.push_back(&waiter);
    co_await waiter.wait(detail::LoopClock::duration::max());
    std::erase(core.exit_waiters, &waiter);
    waiter.throw_if_interrupted("concur::Subprocess::wait");
  }
  co_return *core.returncode;
}

namespace {

Task<std::string> read_all(Stream& stream, std::size_t max) {
  if (!stream) co_return std::string();
  co_return co_await stream.read_to_end(max);
}

}  // namespace

Task<SubprocessOutput> Subprocess::communicate(std::string input, std::size_t max_output) {
  (void)live("concur::Subprocess::communicate");
  if (!input.empty() && !in_) {
    throw InvalidState("concur::Subprocess::communicate: input given but stdin was not piped (Redirect::pipe)");
  }
  auto out = spawn(read_all(out_, max_output));
  auto err = spawn(read_all(err_, max_output));
  std::exception_ptr failure;
  SubprocessOutput result;
  try {
    if (in_) {
      try {  // a child that exits without reading all its input is not an error (asyncio)
        in_.write(input);
        co_await in_.drain();
      } catch (const ConnectionError&) {
      }
      in_.close();
    }
    result.out = co_await out;
    result.err = co_await err;
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {  // cancelled, or a reader failed: stop both readers before leaving
    out.cancel();
    err.cancel();
    for (auto* h : {&out, &err}) {
      try {
        co_await *h;
      } catch (...) {  // cancelled as asked, or the failure being raised
      }
    }
    std::rethrow_exception(failure);
  }
  result.returncode = co_await wait();
  co_return result;
}

void Subprocess::send_signal(int signal) {
  ProcessCore& core = live("concur::Subprocess::send_signal");
  if (core.returncode) return;
  if (const int status = uv_process_kill(&core.process, signal); status < 0 && status != UV_ESRCH) {
    throw IoError("concur::Subprocess::send_signal: " + detail::uv_reason(status), detail::uv_error_code(status));
  }
}

void Subprocess::terminate() { send_signal(SIGTERM); }
void Subprocess::kill() { send_signal(SIGKILL); }

}  // namespace v0
}  // namespace concur
