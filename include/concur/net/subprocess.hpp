// create_subprocess_exec: a child process on the event loop, with its standard streams
// as Streams (Python: asyncio.create_subprocess_exec).
//
//   concur::Subprocess p = co_await concur::create_subprocess_exec(
//       "sort", {"-r"}, {.stdin_mode = concur::Redirect::pipe, .stdout_mode = concur::Redirect::pipe});
//   auto [out, err, code] = co_await p.communicate("b\na\nc\n");   // out == "c\nb\na\n"
//
// `program` is looked up in PATH as execvp does; `args` follow it (argv[0] is the
// program). A program that cannot start is an IoError naming it (ENOENT, EACCES).
// returncode() is the exit code, or minus the signal that killed the child (asyncio's
// convention). wait() waits for the exit; communicate() writes `input`, closes stdin,
// and reads stdout and stderr to their ends concurrently (no pipe can fill up and stall
// the child) before it waits. Cancelling wait() or communicate() leaves the child
// running: kill() or terminate() it.
//
// Lifetime: destroying a Subprocess whose child still runs kills it (SIGKILL) and reaps
// it: no child outlives its handle unnoticed, none is left a zombie. The loop's end does
// the same for children of Subprocesses that outlive it.
// Thread safety: loop-thread only.
#pragma once

#include <concur/export.hpp>
#include <concur/loop/task.hpp>
#include <concur/net/stream.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace concur {
inline namespace v0 {

namespace detail {
struct ProcessCore;  // src/net/subprocess.cpp
}

// Where a standard stream of the child goes (Python: None, PIPE, DEVNULL).
enum class Redirect { inherit, pipe, devnull };

struct SubprocessOptions {
  Redirect stdin_mode = Redirect::inherit;
  Redirect stdout_mode = Redirect::inherit;
  Redirect stderr_mode = Redirect::inherit;
  std::string cwd;                              // empty: the parent's
  std::optional<std::vector<std::string>> env;  // "NAME=value" entries; nullopt: the parent's
};

struct SubprocessOutput {
  std::string out;  // stdout, when piped
  std::string err;  // stderr, when piped
  int returncode = 0;
};

class CONCUR_EXPORT Subprocess {
 public:
  static constexpr std::size_t default_output_limit = std::size_t{1} << 30;  // 1 GiB per stream

  Subprocess() noexcept = default;
  Subprocess(detail::ProcessCore* core, Stream in, Stream out, Stream err) noexcept;
  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  ~Subprocess();

  int pid() const;
  // The parent's ends of the pipes; InvalidState when that stream was not piped.
  Stream& stdin_pipe();
  Stream& stdout_pipe();
  Stream& stderr_pipe();

  // Exit code or -signal once the child has exited (and the loop has seen it).
  std::optional<int> returncode() const noexcept;
  Task<int> wait();
  // LimitOverrunError when stdout or stderr passes `max_output` bytes.
  Task<SubprocessOutput> communicate(std::string input, std::size_t max_output = default_output_limit);
  Task<SubprocessOutput> communicate() { return communicate(std::string()); }

  // Signals the child (no effect once it has exited).
  void send_signal(int signal);
  void terminate();  // SIGTERM
  void kill();       // SIGKILL

 private:
  detail::ProcessCore& live(const char* what) const;
  detail::ProcessCore* core_ = nullptr;
  Stream in_, out_, err_;
};

// std::invalid_argument for an empty program; IoError when it cannot start.
// (Overloads, not default arguments: g++ 12 frees a coroutine's class-type default
// argument twice when the call is made inside another coroutine.)
CONCUR_EXPORT Task<Subprocess> create_subprocess_exec(std::string program, std::vector<std::string> args,
                                                      SubprocessOptions options);
inline Task<Subprocess> create_subprocess_exec(std::string program, std::vector<std::string> args) {
  return create_subprocess_exec(std::move(program), std::move(args), SubprocessOptions());
}
inline Task<Subprocess> create_subprocess_exec(std::string program) {
  return create_subprocess_exec(std::move(program), std::vector<std::string>(), SubprocessOptions());
}

}  // namespace v0
}  // namespace concur
