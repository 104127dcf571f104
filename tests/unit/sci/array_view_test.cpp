// Shape and ArrayView: extents, element access, rows, conversions and checked access.
#include <concur/sci/array_view.hpp>

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace concur {
namespace {

TEST(Shape, CountsElementsAndPrints) {
  const Shape s{2, 3, 4};
  EXPECT_EQ(s.rank(), 3u);
  EXPECT_EQ(s.elements(), 24u);
  EXPECT_EQ(s.to_string(), "{2, 3, 4}");
  EXPECT_EQ(s.inner(), (Shape{3, 4}));
  EXPECT_EQ(Shape{5}.inner().rank(), 0u);
}

TEST(Shape, RefusesRankZeroAboveEightAndOverflow) {
  EXPECT_THROW(Shape(std::span<const std::size_t>{}), std::invalid_argument);
  EXPECT_THROW((Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}), std::invalid_argument);
  try {
    Shape{std::size_t{1} << 40, std::size_t{1} << 40};
    FAIL();
  } catch (const std::length_error& e) {
    EXPECT_NE(std::string(e.what()).find("{1099511627776, 1099511627776}"), std::string::npos) << e.what();
  }
  EXPECT_EQ((Shape{0, 5}).elements(), 0u) << "a zero extent is a valid (empty) shape";
}

TEST(ArrayView, RowMajorAccessRowsAndIteration) {
  std::vector<int> data(24);
  std::iota(data.begin(), data.end(), 0);
  ArrayView<int> v(data.data(), {2, 3, 4});
  EXPECT_EQ(v(1, 2, 3), 23);
  EXPECT_EQ(v(0, 1, 0), 4);
  EXPECT_EQ(v.row(1).shape(), (Shape{3, 4}));
  EXPECT_EQ(v.row(1)(0, 0), 12);
  EXPECT_EQ(v.row(1).row(2)[1], 21);
  EXPECT_EQ(v.rows(1, 1)(0, 0, 0), 12);
  int sum = 0;
  for (int x : v) sum += x;
  EXPECT_EQ(sum, 276);
  v(0, 0, 0) = 100;
  EXPECT_EQ(data[0], 100) << "a view writes through";
  ArrayView<const int> c = v;
  EXPECT_EQ(c(0, 0, 0), 100);
}

TEST(ArrayView, CheckedAccessNamesTheShape) {
  std::vector<double> data(6);
  ArrayView<double> v(data.data(), {2, 3});
  EXPECT_NO_THROW(v.at(1, 2));
  EXPECT_THROW(v.at(2, 0), std::out_of_range);
  EXPECT_THROW(v.at(0, 3), std::out_of_range);
  EXPECT_THROW(v.at(0), std::out_of_range) << "wrong number of indices";
  EXPECT_THROW(v.row(2), std::out_of_range);
  EXPECT_THROW(v.rows(1, 2), std::out_of_range);
  EXPECT_THROW(v.row(0).row(0), std::invalid_argument) << "a rank-1 view has no rows";
  try {
    (void)v.at(5, 5);
  } catch (const std::out_of_range& e) {
    EXPECT_NE(std::string(e.what()).find("{2, 3}"), std::string::npos);
  }
}

}  // namespace
}  // namespace concur
