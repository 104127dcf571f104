#include "launcher.hpp"

#include "worker.hpp"

#include <concur/errors.hpp>
#include <concur/process/worker_entry.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>

extern char** environ;

namespace concur {
inline namespace v0 {
namespace detail {
namespace {

constexpr const char* kChannelVariable = "CONCUR_WORKER_CHANNEL";
constexpr const char* kParentVariable = "CONCUR_WORKER_PARENT";

ExitStatus from_wait_status(int status) {
  ExitStatus exit;
  if (WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
  if (WIFEXITED(status)) exit.exit_code = WEXITSTATUS(status);
  return exit;
}

// ---- fork ------------------------------------------------------------------------------
class ForkLauncher final : public Launcher {
 public:
  std::optional<LaunchedWorker> launch(std::size_t index) override {
    auto [channel, child_channel] = make_socket_pair();
    auto [stderr_read, stderr_write] = make_pipe();
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) become_worker(child_channel.get(), stderr_write.get(), parent);
    if (pid < 0) throw_errno("fork a worker process");
    return LaunchedWorker{index, pid, std::move(channel), std::move(stderr_read), pidfd_open(pid)};
  }
  bool reaps_directly() const noexcept override { return true; }
};

// ---- spawn -----------------------------------------------------------------------------
class SpawnLauncher final : public Launcher {
 public:
  explicit SpawnLauncher(const Environment& environment) {
    std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
    std::getline(cmdline, argv0_, '\0');
    if (argv0_.empty()) argv0_ = "concur-worker";
    for (char** entry = environ; *entry != nullptr; ++entry) {
      const std::string_view variable(*entry);
      const std::string name(variable.substr(0, variable.find('=')));
      if (name == kChannelVariable || name == kParentVariable) continue;
      bool replaced = false;
      for (const auto& [key, value] : environment) replaced = replaced || key == name;
      if (!replaced) environment_.emplace_back(variable);
    }
    for (const auto& [key, value] : environment) environment_.push_back(key + "=" + value);
    environment_.push_back(std::string(kChannelVariable) + "=" + std::to_string(kWorkerChannelFd));
    environment_.push_back(std::string(kParentVariable) + "=" + std::to_string(::getpid()));
  }

  std::optional<LaunchedWorker> launch(std::size_t index) override {
    auto [channel, child_channel] = make_socket_pair();
    auto [stderr_read, stderr_write] = make_pipe();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, stderr_write.get(), 2);
    posix_spawn_file_actions_adddup2(&actions, child_channel.get(), kWorkerChannelFd);
    posix_spawn_file_actions_addclosefrom_np(&actions, kWorkerChannelFd + 1);
    std::vector<char*> argv{argv0_.data(), nullptr};
    std::vector<char*> envp;
    for (std::string& variable : environment_) envp.push_back(variable.data());
    envp.push_back(nullptr);
    pid_t pid = -1;
    const int error =
        ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
      errno = error;
      throw_errno("spawn a worker process (/proc/self/exe)");
    }
    return LaunchedWorker{index, pid, std::move(channel), std::move(stderr_read), pidfd_open(pid)};
  }
  bool reaps_directly() const noexcept override { return true; }

 private:
  std::string argv0_;
  std::vector<std::string> environment_;
};

// ---- forkserver ----------------------------------------------------------------------------
struct ZygoteMessage {
  enum Kind : std::uint32_t { spawn = 1, spawned = 2, spawn_failed = 3, exited = 4 };
  std::uint32_t kind = 0;
  std::int32_t pid = 0;
  std::int32_t value = 0;  // wait status (exited), errno (spawn_failed)
  std::uint32_t index = 0;
};

bool send_message(int socket, const ZygoteMessage& message, std::span<const int> fds = {}) {
  return send_with_fds(
      socket, std::string_view(reinterpret_cast<const char*>(&message), sizeof message), fds);
}

// The zygote's loop; never returns. Single-threaded: forks are clean. Workers 0 to
// first_workers - 1 are forked at once, the others on request.
[[noreturn]] void run_zygote(int control_fd, bool die_with_parent, pid_t parent,
                             std::uint32_t first_workers) noexcept {
  discard_inherited_output();
  if (die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(0);
  }
  ::prctl(PR_SET_NAME, "concur-zygote");
  ::signal(SIGINT, SIG_IGN);  // the parent decides; its death ends us (end-of-file)
  const int control = ::fcntl(control_fd, F_DUPFD_CLOEXEC, kWorkerChannelFd);
  if (control < 0 || ::dup2(control, kWorkerChannelFd) < 0) ::_exit(kProtocolExit);
  ::close_range(kWorkerChannelFd + 1, ~0U, 0);  // other pools' channels must not linger here
  sigset_t child_signals;
  sigemptyset(&child_signals);
  sigaddset(&child_signals, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &child_signals, nullptr);
  const int children = ::signalfd(-1, &child_signals, SFD_CLOEXEC);
  if (children < 0) ::_exit(kProtocolExit);
  std::set<pid_t> live;
  const pid_t self = ::getpid();
  const auto spawn = [&](std::uint32_t index) {
    try {
      auto [channel, child_channel] = make_socket_pair();
      auto [stderr_read, stderr_write] = make_pipe();
      // _Fork, not fork: no pthread_atfork handler may run here. The zygote closed every
      // fd it does not need, so a handler of a library the parent had loaded would act on
      // stale fd numbers (libuv's re-creates its signal pipe by closing fds 5 and 6 —
      // now the new worker's channel).
      const pid_t pid = ::_Fork();
      if (pid == 0) {
        ::close(children);
        become_worker(child_channel.get(), stderr_write.get(), self);
      }
      if (pid < 0) throw_errno("fork");
      live.insert(pid);
      const Fd pidfd = pidfd_open(pid);
      const std::array<int, 3> passed{channel.get(), stderr_read.get(), pidfd.get()};
      send_message(kWorkerChannelFd, {ZygoteMessage::spawned, pid, 0, index}, passed);
    } catch (...) {
      send_message(kWorkerChannelFd, {ZygoteMessage::spawn_failed, 0, errno, index});
    }
  };
  // The pool's first workers without waiting for its requests (ForkServerLauncher).
  for (std::uint32_t index = 0; index < first_workers; ++index) spawn(index);
  for (;;) {
    std::array<pollfd, 2> fds{{{kWorkerChannelFd, POLLIN, 0}, {children, POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    if (fds[1].revents != 0) {
      signalfd_siginfo info;
      while (::read(children, &info, sizeof info) < 0 && errno == EINTR) {
      }
      int status = 0;
      for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
        live.erase(pid);
        send_message(kWorkerChannelFd, {ZygoteMessage::exited, pid, status, 0});
      }
    }
    if (fds[0].revents == 0) continue;
    ZygoteMessage request;
    const ssize_t n = ::recv(kWorkerChannelFd, &request, sizeof request, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof request)) break;  // end-of-file: the pool is gone
    spawn(request.index);
  }
  for (const pid_t pid : live) ::kill(pid, SIGKILL);
  while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
  }
  ::_exit(0);
}

class ForkServerLauncher final : public Launcher {
 public:
  // Workers 0 to first_workers - 1 start with the zygote: the pool's first launches of
  // them ask for nothing.
  explicit ForkServerLauncher(std::size_t first_workers) : unrequested_(first_workers, true) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
      throw_errno("socketpair for the fork server");
    }
    Fd mine(fds[0]), theirs(fds[1]);
    const pid_t parent = ::getpid();
    const bool main_thread = ::gettid() == parent;
    const pid_t pid = ::fork();
    if (pid == 0) {
      run_zygote(theirs.get(), main_thread, parent, static_cast<std::uint32_t>(first_workers));
    }
    if (pid < 0) throw_errno("fork the fork server");
    zygote_ = pid;
    control_ = std::move(mine);
  }
  ~ForkServerLauncher() override {
    control_.reset();  // end-of-file: the zygote kills what is left, reaps and exits
    while (::waitpid(zygote_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }

  std::optional<LaunchedWorker> launch(std::size_t index) override {
    if (index < unrequested_.size() && unrequested_[index]) {
      unrequested_[index] = false;
      return std::nullopt;
    }
    if (!send_message(control_.get(), {ZygoteMessage::spawn, 0, 0, static_cast<std::uint32_t>(index)})) {
      throw_errno("ask the fork server for a worker");
    }
    return std::nullopt;
  }

  int event_fd() const noexcept override { return control_.get(); }

  void read_events(Events& events) override {
    for (;;) {
      std::vector<Fd> fds;
      ZygoteMessage message;
      std::string bytes;
      try {
        bytes = receive_nonblocking(fds);
      } catch (const Error&) {
        events.closed = true;
        return;
      }
      if (bytes.empty()) return;
      if (bytes.size() != sizeof message) {
        events.closed = true;
        return;
      }
      std::memcpy(&message, bytes.data(), sizeof message);
      switch (message.kind) {
        case ZygoteMessage::spawned:
          if (fds.size() != 3) {
            events.failed.emplace_back(message.index, "the fork server passed no channel");
            break;
          }
          events.started.push_back(LaunchedWorker{message.index, message.pid, std::move(fds[0]),
                                                  std::move(fds[1]), std::move(fds[2])});
          break;
        case ZygoteMessage::spawn_failed:
          events.failed.emplace_back(message.index, std::string("the fork server could not fork: ") +
                                                        std::strerror(message.value));
          break;
        case ZygoteMessage::exited:
          events.exited.emplace_back(message.pid, from_wait_status(message.value));
          break;
        default:
          events.closed = true;
          return;
      }
    }
  }

  bool reaps_directly() const noexcept override { return false; }

 private:
  // One message, or "" when none is waiting; throws at end-of-file.
  std::string receive_nonblocking(std::vector<Fd>& fds) {
    pollfd ready{control_.get(), POLLIN, 0};
    if (::poll(&ready, 1, 0) <= 0) return {};
    std::string bytes = receive_with_fds(control_.get(), fds, 3);
    if (bytes.empty()) throw Error("concur: the fork server exited");
    return bytes;
  }

  pid_t zygote_ = -1;
  Fd control_;
  std::vector<bool> unrequested_;  // forked by the zygote unasked, not yet launched
};

}  // namespace

std::optional<ExitStatus> reap(int pidfd) {
  siginfo_t info{};
  constexpr idtype_t kPidFd = static_cast<idtype_t>(3);  // P_PIDFD, Linux >= 5.4
  if (::waitid(kPidFd, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG) != 0) {
    return ExitStatus{};  // ECHILD: reaped by someone else (SIGCHLD ignored, a waitpid(-1))
  }
  if (info.si_pid == 0) return std::nullopt;
  ExitStatus exit;
  if (info.si_code == CLD_EXITED) {
    exit.exit_code = info.si_status;
  } else {
    exit.signal = info.si_status;
  }
  return exit;
}

std::unique_ptr<Launcher> make_launcher(StartMethod method, bool allow_fork_with_threads,
                                        const Environment& environment, std::size_t first_workers) {
  if (std::getenv(kChannelVariable) != nullptr) {
    throw InvalidState(
        "concur::ProcessPool: this process was started as a spawn worker, but main() did not "
        "call concur::serve_if_worker(argc, argv) first");
  }
  switch (method) {
    case StartMethod::fork:
      if (!allow_fork_with_threads && thread_count() > 1) {
        throw InvalidState(
            "concur::ProcessPool: StartMethod::fork refused: this process runs " +
            std::to_string(thread_count()) +
            " threads, and a forked child would inherit the locks they hold. Use forkserver "
            "(the default) or spawn, or set allow_fork_with_threads");
      }
      return std::make_unique<ForkLauncher>();
    case StartMethod::spawn:
      return std::make_unique<SpawnLauncher>(environment);
    case StartMethod::forkserver:
      break;
  }
  return std::make_unique<ForkServerLauncher>(first_workers);
}

}  // namespace detail

void serve_if_worker(int /*argc*/, char** /*argv*/) noexcept {
  const char* channel = std::getenv(detail::kChannelVariable);
  const char* parent = std::getenv(detail::kParentVariable);
  if (channel == nullptr || parent == nullptr) return;
  const int fd = std::atoi(channel);
  const pid_t parent_pid = std::atoi(parent);
  ::unsetenv(detail::kChannelVariable);
  ::unsetenv(detail::kParentVariable);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent_pid) ::_exit(0);
  ::signal(SIGINT, SIG_IGN);
  detail::run_worker(fd);
}

}  // namespace v0
}  // namespace concur
