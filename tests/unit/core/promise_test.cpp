#include <concur/core/promise.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace concur {
namespace {

TEST(Promise, SettingTwiceThrowsInvalidState) {
  Promise<int> p;
  p.set_value(1);
  EXPECT_THROW(p.set_value(2), InvalidState);
  EXPECT_THROW(p.set_exception(std::make_exception_ptr(std::runtime_error("x"))), InvalidState);
  EXPECT_EQ(p.get_future().get(), 1);
}

TEST(Promise, DestroyedWithoutResultFailsTheFuture) {
  Future<int> f;
  {
    Promise<int> p;
    f = p.get_future();
  }
  ASSERT_TRUE(f.ready());
  try {
    (void)f.get();
    FAIL() << "expected InvalidState";
  } catch (const InvalidState& e) {
    EXPECT_NE(std::string(e.what()).find("destroyed before it set a result"), std::string::npos);
  }
}

TEST(Promise, MovedFromPromiseThrows) {
  Promise<int> p;
  Promise<int> q = std::move(p);
  EXPECT_THROW((void)p.get_future(), InvalidState);  // NOLINT(bugprone-use-after-move)
  q.set_value(1);
  EXPECT_EQ(q.get_future().get(), 1);
}

TEST(Promise, NullExceptionIsRejected) {
  Promise<int> p;
  EXPECT_THROW(p.set_exception(nullptr), InvalidState);
}

TEST(Promise, ThrowingValueConstructorFailsTheFutureAndTheCaller) {
  struct Explodes {
    explicit Explodes(int) { throw std::runtime_error("constructor failed"); }
  };
  Promise<Explodes> p;
  Future<Explodes> f = p.get_future();
  EXPECT_THROW(p.set_value(1), std::runtime_error);
  EXPECT_THROW((void)f.get(), std::runtime_error);
}

TEST(Promise, EveryFutureSharesTheResult) {
  Promise<int> p;
  Future<int> a = p.get_future();
  Future<int> b = p.get_future();
  p.set_value(3);
  EXPECT_EQ(a.get(), 3);
  EXPECT_EQ(b.get(), 3);
}

}  // namespace
}  // namespace concur
