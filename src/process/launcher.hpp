// How worker processes start: the three start methods behind one interface.
//
// fork and spawn start a worker at once, as a child of this process (the pool's manager
// thread calls them, so PR_SET_PDEATHSIG follows that long-lived thread). forkserver
// asks its zygote, a single-threaded child forked when the pool is built, which forks
// the pool's first workers at once and the others on request. The zygote passes each
// worker's channel, stderr pipe and pidfd back over a SOCK_SEQPACKET socket, reaps it
// when it exits and reports the status.
//
// Thread safety: one thread (the manager) uses a launcher, except the constructor.
#pragma once

#include "posix.hpp"

#include <concur/process/process_pool.hpp>

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace concur {
inline namespace v0 {
namespace detail {

struct ExitStatus {
  std::optional<int> signal;
  std::optional<int> exit_code;  // neither: unknown (reaped by someone else)
};

struct LaunchedWorker {
  std::size_t index = 0;
  pid_t pid = -1;
  Fd channel;       // the parent's end
  Fd stderr_read;   // the worker's fd 2
  Fd pidfd;         // for signals; readable at exit for direct children
};

using Environment = std::vector<std::pair<std::string, std::string>>;

class Launcher {
 public:
  virtual ~Launcher() = default;

  // Starts worker `index`: returns it (fork, spawn) or nullopt when it will arrive as an
  // event (forkserver). Throws Error when no process can be made.
  virtual std::optional<LaunchedWorker> launch(std::size_t index) = 0;

  // The fd to poll for events, or -1 (no events).
  virtual int event_fd() const noexcept { return -1; }
  struct Events {
    std::vector<LaunchedWorker> started;
    std::vector<std::pair<std::size_t, std::string>> failed;  // index, reason
    std::vector<std::pair<pid_t, ExitStatus>> exited;
    bool closed = false;  // the zygote is gone
  };
  virtual void read_events(Events& /*events*/) {}

  // Direct children are reaped through their pidfd (reap()); a forkserver's arrive as
  // `exited` events.
  virtual bool reaps_directly() const noexcept = 0;
};

// The status of a direct child whose pidfd is readable; nullopt if it has not exited.
std::optional<ExitStatus> reap(int pidfd);

// Throws InvalidState when `method` cannot be used in this process now. The first
// launches of workers 0 to first_workers - 1 are expected next (a fork server starts
// them with itself).
std::unique_ptr<Launcher> make_launcher(StartMethod method, bool allow_fork_with_threads,
                                        const Environment& environment, std::size_t first_workers);

}  // namespace detail
}  // namespace v0
}  // namespace concur
