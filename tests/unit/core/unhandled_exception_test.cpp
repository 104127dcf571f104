#include <concur/core/unhandled_exception.hpp>

#include <concur/core/promise.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace concur {
namespace {

TEST(UnhandledException, ThrowingCallbackReachesTheHandler) {
  std::string where;
  std::string what;
  auto previous = set_unhandled_exception_handler([&](std::exception_ptr e, std::string_view w) {
    where = w;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    }
  });
  Promise<int> p;
  bool second_ran = false;
  p.get_future().add_done_callback([] { throw std::runtime_error("callback failed"); });
  p.get_future().add_done_callback([&] { second_ran = true; });
  p.set_value(1);
  set_unhandled_exception_handler(previous);
  EXPECT_EQ(where, "a Future done-callback");
  EXPECT_EQ(what, "callback failed");
  EXPECT_TRUE(second_ran) << "one failing callback must not stop the others";
}

TEST(UnhandledException, DefaultHandlerPrintsToStderr) {
  set_unhandled_exception_handler(nullptr);
  testing::internal::CaptureStderr();
  detail::report_unhandled_exception(std::make_exception_ptr(std::runtime_error("lost?")),
                                     "a test");
  const std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_EQ(printed, "concur: unhandled exception in a test: lost?\n");
}

TEST(UnhandledException, ThrowingHandlerDoesNotEscape) {
  auto previous = set_unhandled_exception_handler(
      [](std::exception_ptr, std::string_view) { throw std::logic_error("handler broke"); });
  testing::internal::CaptureStderr();
  EXPECT_NO_THROW(detail::report_unhandled_exception(
      std::make_exception_ptr(std::runtime_error("x")), "a test"));
  const std::string printed = testing::internal::GetCapturedStderr();
  set_unhandled_exception_handler(previous);
  EXPECT_NE(printed.find("handler broke"), std::string::npos);
}

}  // namespace
}  // namespace concur
