// ArrayView<T>: a non-owning, row-major view of a multi-dimensional array, the subset of
// std::mdspan (layout_right, dynamic extents) that SharedArray and MappedArray hand out.
//
//   concur::ArrayView<double> m = array.view();     // shape {rows, cols}
//   m(i, j) = 1.0;                                   // element access
//   concur::ArrayView<double> row = m.row(i);        // shape {cols}, no copy
//   for (double& x : m) x *= 2;                      // flat, in memory order
//
// Shape: the extents, outermost first, rank 1 to kMaxRank; its element count is checked
// for overflow when it is built.
//
// Lifetime: a view borrows the memory of the array it came from and must not outlive it.
// Thread safety: a view is a plain value (pointer and extents); what it points to is as
// thread-safe as the caller makes it. Element access is unchecked; at() checks.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace concur {
inline namespace v0 {

inline constexpr std::size_t kMaxRank = 8;

class Shape {
 public:
  Shape() = default;  // rank 0: the shape of an empty array
  Shape(std::initializer_list<std::size_t> extents) : Shape(std::span(extents.begin(), extents.size())) {}
  // Throws std::invalid_argument for rank 0 or above kMaxRank, std::length_error when the
  // element count does not fit in std::size_t.
  explicit Shape(std::span<const std::size_t> extents) : rank_(extents.size()) {
    if (rank_ == 0 || rank_ > kMaxRank) {
      throw std::invalid_argument("concur::Shape: rank " + std::to_string(rank_) +
                                  " is outside 1.." + std::to_string(kMaxRank));
    }
    std::copy(extents.begin(), extents.end(), extents_.begin());
    elements_ = 1;
    for (std::size_t e : extents) {
      if (e != 0 && elements_ > static_cast<std::size_t>(-1) / e) {
        throw std::length_error("concur::Shape: " + to_string() + " has more elements than size_t holds");
      }
      elements_ *= e;
    }
  }

  std::size_t rank() const noexcept { return rank_; }
  std::size_t operator[](std::size_t dim) const noexcept { return extents_[dim]; }
  std::size_t elements() const noexcept { return elements_; }
  std::span<const std::size_t> extents() const noexcept { return {extents_.data(), rank_}; }
  // The shape without its outermost extent (a row's shape); rank 1 gives rank 0.
  Shape inner() const {
    Shape s;
    if (rank_ > 1) s = Shape(extents().subspan(1));
    return s;
  }
  std::string to_string() const {
    std::string s = "{";
    for (std::size_t i = 0; i < rank_; ++i) s += (i != 0 ? ", " : "") + std::to_string(extents_[i]);
    return s + "}";
  }
  friend bool operator==(const Shape& a, const Shape& b) noexcept {
    return std::ranges::equal(a.extents(), b.extents());
  }

 private:
  std::array<std::size_t, kMaxRank> extents_{};
  std::size_t rank_ = 0;
  std::size_t elements_ = 0;
};

template <class T>
class ArrayView {
 public:
  using element_type = T;
  using value_type = std::remove_cv_t<T>;
  using iterator = T*;

  ArrayView() = default;
  ArrayView(T* data, Shape shape) : data_(data), shape_(shape) {
    std::size_t stride = 1;
    for (std::size_t d = shape_.rank(); d-- > 0;) {
      strides_[d] = stride;
      stride *= shape_[d];
    }
  }
  // A view of T converts to a view of const T.
  template <class U>
    requires std::is_same_v<const U, T> && (!std::is_same_v<U, T>)
  ArrayView(const ArrayView<U>& other) : ArrayView(other.data(), other.shape()) {}

  T* data() const noexcept { return data_; }
  const Shape& shape() const noexcept { return shape_; }
  std::size_t rank() const noexcept { return shape_.rank(); }
  std::size_t extent(std::size_t dim) const noexcept { return shape_[dim]; }
  std::size_t size() const noexcept { return shape_.elements(); }
  bool empty() const noexcept { return size() == 0; }
  std::size_t size_bytes() const noexcept { return size() * sizeof(T); }
  std::span<T> span() const noexcept { return {data_, size()}; }
  T* begin() const noexcept { return data_; }
  T* end() const noexcept { return data_ + size(); }

  // Element (i0, i1, ...): one index per dimension, unchecked.
  template <class... I>
    requires(sizeof...(I) >= 1 && sizeof...(I) <= kMaxRank && (std::is_integral_v<I> && ...))
  T& operator()(I... index) const noexcept {
    std::size_t offset = 0;
    std::size_t d = 0;
    ((offset += static_cast<std::size_t>(index) * strides_[d++]), ...);
    return data_[offset];
  }
  // Element i in memory order, unchecked.
  T& operator[](std::size_t i) const noexcept { return data_[i]; }

  // Checked element access: std::out_of_range names the index and the shape.
  template <class... I>
  T& at(I... index) const {
    const std::array<std::size_t, sizeof...(I)> idx{static_cast<std::size_t>(index)...};
    bool ok = idx.size() == rank();
    for (std::size_t d = 0; ok && d < idx.size(); ++d) ok = idx[d] < shape_[d];
    if (!ok) throw std::out_of_range("concur::ArrayView::at: index out of shape " + shape_.to_string());
    return (*this)(index...);
  }

  // Row i of a rank >= 2 view: rank - 1 dimensions, no copy. Checked.
  ArrayView row(std::size_t i) const {
    if (rank() < 2) throw std::invalid_argument("concur::ArrayView::row: a rank-1 view has no rows");
    if (i >= shape_[0]) {
      throw std::out_of_range("concur::ArrayView::row: row " + std::to_string(i) + " of shape " +
                              shape_.to_string());
    }
    return ArrayView(data_ + i * strides_[0], shape_.inner());
  }
  // Rows [first, first + count) as a view of the same rank. Checked.
  ArrayView rows(std::size_t first, std::size_t count) const {
    if (rank() == 0 || first > shape_[0] || count > shape_[0] - first) {
      throw std::out_of_range("concur::ArrayView::rows: rows [" + std::to_string(first) + ", +" +
                              std::to_string(count) + ") of shape " + shape_.to_string());
    }
    std::array<std::size_t, kMaxRank> extents{};
    std::copy(shape_.extents().begin(), shape_.extents().end(), extents.begin());
    extents[0] = count;
    return ArrayView(data_ + first * strides_[0], Shape(std::span(extents.data(), rank())));
  }

 private:
  T* data_ = nullptr;
  Shape shape_;
  std::array<std::size_t, kMaxRank> strides_{};
};

}  // namespace v0
}  // namespace concur
