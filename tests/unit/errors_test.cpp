#include <concur/errors.hpp>

#include <gtest/gtest.h>

#include <csignal>

namespace concur {
namespace {

TEST(Errors, AllDeriveFromErrorAndRuntimeError) {
  EXPECT_THROW(throw CancelledError(), Error);
  EXPECT_THROW(throw TimeoutError("t"), Error);
  EXPECT_THROW(throw BrokenExecutor("b"), Error);
  EXPECT_THROW(throw SerializationError("s"), Error);
  EXPECT_THROW(throw InvalidState("i"), Error);
  EXPECT_THROW(throw QueueShutDown(), Error);
  EXPECT_THROW(throw WorkerDied(1, SIGKILL, std::nullopt, ""), std::runtime_error);
  EXPECT_THROW(throw RemoteError("T", "m", "w"), std::runtime_error);
}

TEST(Errors, WorkerDiedNamesPidSignalAndStderr) {
  const WorkerDied died(4242, SIGSEGV, std::nullopt, "boom\n");
  EXPECT_EQ(died.pid(), 4242);
  EXPECT_EQ(died.signal(), SIGSEGV);
  EXPECT_FALSE(died.exit_code().has_value());
  const std::string what = died.what();
  EXPECT_NE(what.find("4242"), std::string::npos) << what;
  EXPECT_NE(what.find("SIGSEGV"), std::string::npos) << what;
  EXPECT_NE(what.find("boom"), std::string::npos) << what;
}

TEST(Errors, WorkerDiedWithExitCode) {
  const WorkerDied died(7, std::nullopt, 3, "");
  EXPECT_EQ(died.exit_code(), 3);
  EXPECT_NE(std::string(died.what()).find("exit code 3"), std::string::npos);
}

TEST(Errors, RemoteErrorKeepsTypeMessageAndPlace) {
  const RemoteError e("std::out_of_range", "index 9", "worker 12");
  EXPECT_EQ(e.type_name(), "std::out_of_range");
  EXPECT_EQ(e.message(), "index 9");
  EXPECT_EQ(e.where(), "worker 12");
  EXPECT_STREQ(e.what(), "std::out_of_range: index 9 (raised in worker 12)");
}

}  // namespace
}  // namespace concur
