#include <concur/process/detail/function_locator.hpp>

#include <concur/errors.hpp>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace concur {
namespace {

using detail::FunctionLocation;
using Unary = int (*)(int);

int triple(int x) { return 3 * x; }
int global_data = 7;

TEST(FunctionLocator, MainProgramFunctionRoundTrips) {
  const FunctionLocation where = detail::locate_function(&triple);
  EXPECT_EQ(where.module, "") << "the main program is named by the empty string";
  EXPECT_GT(where.offset, 0u);
  const Unary f = detail::resolve_function<Unary>(where);
  EXPECT_EQ(f, &triple);
  EXPECT_EQ(f(5), 15);
}

TEST(FunctionLocator, CaptureLessLambdaRoundTrips) {
  const Unary square = [](int x) { return x * x; };
  EXPECT_EQ(detail::resolve_function<Unary>(detail::locate_function(square))(9), 81);
}

TEST(FunctionLocator, SharedLibraryFunctionRoundTrips) {
  using Strlen = std::size_t (*)(const char*);
  const Strlen f = &std::strlen;
  const FunctionLocation where = detail::locate_function(f);
  EXPECT_EQ(detail::resolve_function<Strlen>(where)("four"), 4u) << where.module;
}

TEST(FunctionLocator, DataAddressIsNotCode) {
  EXPECT_THROW((void)detail::locate_code(&global_data), InvalidState);
  EXPECT_THROW((void)detail::locate_code(nullptr), InvalidState);
}

TEST(FunctionLocator, OffsetOutsideTheCodeIsRefused) {
  FunctionLocation where = detail::locate_function(&triple);
  const std::uintptr_t base = reinterpret_cast<std::uintptr_t>(&triple) - where.offset;
  for (std::uint64_t bad : {std::uint64_t{1} << 40, ~std::uint64_t{0},
                            std::uint64_t{reinterpret_cast<std::uintptr_t>(&global_data) - base}}) {
    where.offset = bad;
    try {
      (void)detail::resolve_code(where);
      FAIL() << "offset " << bad << " was resolved";
    } catch (const SerializationError& e) {
      EXPECT_NE(std::string(e.what()).find("not inside the code of the main program"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(FunctionLocator, UnknownModuleIsRefused) {
  try {
    (void)detail::resolve_code(FunctionLocation{"/no/such/module.so", 16});
    FAIL();
  } catch (const SerializationError& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/module.so"), std::string::npos);
  }
}

TEST(FunctionLocator, ResolvesInAForkedChild) {
  const FunctionLocation where = detail::locate_function(&triple);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 1;
    try {
      code = detail::resolve_function<Unary>(where)(14) == 42 ? 0 : 2;
    } catch (...) {
      code = 3;
    }
    _exit(code);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// The child half of the test below: run by a fresh exec of this binary, where address-
// space randomisation put the program at another base. Skipped when run on its own.
TEST(FunctionLocator, ChildOfExec) {
  const char* offset = std::getenv("CONCUR_TEST_TRIPLE_OFFSET");
  if (offset == nullptr) GTEST_SKIP() << "only run by ResolvesAfterExec";
  const FunctionLocation where{"", std::strtoull(offset, nullptr, 10)};
  _exit(detail::resolve_function<Unary>(where)(14) == 42 ? 0 : 2);
}

TEST(FunctionLocator, ResolvesAfterExec) {
  const FunctionLocation where = detail::locate_function(&triple);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("CONCUR_TEST_TRIPLE_OFFSET", std::to_string(where.offset).c_str(), 1);
    execl("/proc/self/exe", "function_locator_test", "--gtest_filter=FunctionLocator.ChildOfExec",
          static_cast<char*>(nullptr));
    _exit(4);  // exec failed
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "4: exec failed; 2: wrong function; else: crashed";
}

}  // namespace
}  // namespace concur
