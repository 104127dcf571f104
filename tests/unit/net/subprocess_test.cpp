// Subprocesses on the loop: pipes both ways, exit codes and signals, output limits, a
// child that stops reading, bad programs, cancellation, and no child left behind.
#include <concur/net/subprocess.hpp>

#include <concur/loop/run.hpp>
#include <concur/loop/sleep.hpp>
#include <concur/loop/spawn.hpp>

#include "support/leak_check.hpp"
#include "support/net_tasks.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <stdexcept>
#include <string>

namespace concur {
namespace {

using namespace std::chrono_literals;

// The argument list, built outside the co_await: g++ 12 fails on a braced list of
// strings inside one ("array used as initializer").
template <class... A>
std::vector<std::string> args(A... a) {
  return {std::string(a)...};
}

SubprocessOptions all_piped() {
  return {.stdin_mode = Redirect::pipe, .stdout_mode = Redirect::pipe, .stderr_mode = Redirect::pipe};
}

Task<void> pipes_both_ways() {
  Subprocess sort = co_await create_subprocess_exec("sort", args("-r"), all_piped());
  EXPECT_GT(sort.pid(), 0);
  SubprocessOutput result = co_await sort.communicate("b\na\nc\n");
  EXPECT_EQ(result.out, "c\nb\na\n");
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.returncode, 0);
  EXPECT_EQ(sort.returncode(), 0);
  sort = Subprocess();  // closes the pipes
  EXPECT_EQ(co_await test::handles_left_open(), 0u) << "pipes or the process handle stay open";
}

TEST(Subprocess, CommunicatePipesBothWays) {
  { EventLoop first; }
  test::NoLeaks no_leaks;
  run(pipes_both_ways());
}

Task<void> exit_codes_and_signals() {
  Subprocess three = co_await create_subprocess_exec("sh", args("-c", "exit 3"));
  EXPECT_EQ(co_await three.wait(), 3);
  Subprocess sleeper = co_await create_subprocess_exec("sleep", args("30"));
  EXPECT_FALSE(sleeper.returncode().has_value());
  sleeper.kill();
  EXPECT_EQ(co_await sleeper.wait(), -SIGKILL);
  sleeper.terminate();  // after the exit: no effect, no error
  Subprocess termed = co_await create_subprocess_exec("sleep", args("30"));
  termed.terminate();
  EXPECT_EQ(co_await termed.wait(), -SIGTERM);
}

TEST(Subprocess, ExitCodesAndSignalsAsAsyncio) { run(exit_codes_and_signals()); }

Task<void> large_outputs_on_both_streams() {
  // 4 MiB on stdout, then 4 MiB on stderr: a reader of one stream alone would leave the
  // child blocked on the other's full pipe.
  Subprocess p = co_await create_subprocess_exec("sh", args("-c", "head -c 4194304 /dev/zero; head -c 4194304 /dev/zero >&2"), all_piped());
  SubprocessOutput result = co_await p.communicate();
  EXPECT_EQ(result.out.size(), 4194304u);
  EXPECT_EQ(result.err.size(), 4194304u);
  EXPECT_EQ(result.returncode, 0);
  Subprocess limited = co_await create_subprocess_exec("head", args("-c", "100000", "/dev/zero"), all_piped());
  EXPECT_TRUE((co_await test::error_of<LimitOverrunError>(limited.communicate("", 1000))).has_value());
}

TEST(Subprocess, LargeOutputsOnBothStreamsDoNotStall) { run(large_outputs_on_both_streams()); }

Task<void> child_that_does_not_read() {
  // 8 MiB of input to a child that exits at once: EPIPE, not SIGPIPE, and no error.
  Subprocess p = co_await create_subprocess_exec("true", args(), all_piped());
  SubprocessOutput result = co_await p.communicate(std::string(8 << 20, 'x'));
  EXPECT_EQ(result.returncode, 0);
}

TEST(Subprocess, AChildThatStopsReadingIsNotAnError) { run(child_that_does_not_read()); }

Task<void> streams_directly() {
  Subprocess cat = co_await create_subprocess_exec("cat", args(), all_piped());
  cat.stdin_pipe().write("one\n");
  EXPECT_EQ(co_await cat.stdout_pipe().read_line(), "one\n");
  cat.stdin_pipe().write("two\n");
  EXPECT_EQ(co_await cat.stdout_pipe().read_line(), "two\n");
  cat.stdin_pipe().close();
  EXPECT_EQ(co_await cat.stdout_pipe().read_to_end(10), "");
  EXPECT_EQ(co_await cat.wait(), 0);
}

TEST(Subprocess, PipesAreStreams) { run(streams_directly()); }

Task<void> environment_cwd_devnull() {
  SubprocessOptions options = all_piped();
  options.env = std::vector<std::string>{"CONCUR_TEST_VALUE=42"};
  options.cwd = "/tmp";
  Subprocess p = co_await create_subprocess_exec("/bin/sh", args("-c", "echo $CONCUR_TEST_VALUE $(pwd) $HOME"), options);
  EXPECT_EQ((co_await p.communicate()).out, "42 /tmp\n");
  // Named, not braced inside the co_await: g++ 12 mishandles braced aggregates there.
  const SubprocessOptions silent{.stdout_mode = Redirect::devnull, .stderr_mode = Redirect::devnull};
  Subprocess quiet = co_await create_subprocess_exec("sh", args("-c", "echo hidden; echo hidden >&2"), silent);
  EXPECT_EQ((co_await quiet.communicate()).returncode, 0);
}

TEST(Subprocess, EnvironmentWorkingDirectoryAndDevNull) { run(environment_cwd_devnull()); }

Task<void> bad_programs() {
  auto missing = co_await test::error_of<IoError>(create_subprocess_exec("concur-no-such-program"));
  EXPECT_TRUE(missing.has_value());
  EXPECT_NE(missing.value_or("").find("cannot run 'concur-no-such-program'"), std::string::npos) << missing.value_or("");
  EXPECT_NE(missing.value_or("").find("ENOENT"), std::string::npos) << missing.value_or("");
  EXPECT_THROW(co_await create_subprocess_exec(""), std::invalid_argument);
  Subprocess p = co_await create_subprocess_exec("true");
  EXPECT_THROW(p.stdout_pipe(), InvalidState);
  EXPECT_THROW(co_await p.communicate("input"), InvalidState);
  EXPECT_EQ(co_await p.wait(), 0);
  Subprocess empty;
  EXPECT_THROW(empty.pid(), InvalidState);
}

TEST(Subprocess, BadProgramsAndMisuseAreClearErrors) {
  { EventLoop first; }
  test::NoLeaks no_leaks;
  run(bad_programs());
}

Task<void> cancel_wait() {
  Subprocess p = co_await create_subprocess_exec("sleep", args("30"));
  auto waiting = spawn(p.wait());
  co_await sleep(1ms);
  waiting.cancel();
  EXPECT_THROW(co_await waiting, CancelledError);
  EXPECT_FALSE(p.returncode().has_value()) << "cancelling wait() leaves the child running";
  p.kill();
  EXPECT_EQ(co_await p.wait(), -SIGKILL);
}

TEST(Subprocess, CancellingWaitLeavesTheChildRunning) { run(cancel_wait()); }

Task<void> dropped_while_running() {
  {
    Subprocess p = co_await create_subprocess_exec("sleep", args("30"), all_piped());
  }  // killed and reaped
  EXPECT_EQ(co_await test::handles_left_open(), 0u);
}

Task<void> left_at_loop_end(Subprocess& kept) {
  kept = co_await create_subprocess_exec("sleep", args("30"));
}

TEST(Subprocess, NoChildOutlivesItsHandleOrItsLoop) {
  { EventLoop first; }
  test::NoLeaks no_leaks;
  run(dropped_while_running());
  Subprocess kept;
  run(left_at_loop_end(kept));
  EXPECT_EQ(kept.returncode(), -SIGKILL);
}

}  // namespace
}  // namespace concur
