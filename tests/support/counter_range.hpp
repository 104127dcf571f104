// An input range of the integers 0, 1, 2, ... (endless, or up to `limit`). Written by
// hand rather than std::views::iota: clang 14 cannot compile libstdc++ 12's views, and
// it shows that map takes any input range, not only containers.
#pragma once

#include <cstddef>
#include <iterator>

namespace concur::test {

struct Counter {
  struct iterator {
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    int value = 0;
    int operator*() const { return value; }
    iterator& operator++() {
      ++value;
      return *this;
    }
    iterator operator++(int) { return iterator{value++}; }
    bool operator==(const iterator&) const = default;
  };
  struct sentinel {
    int limit = -1;  // negative: endless
    friend bool operator==(const iterator& it, const sentinel& s) {
      return s.limit >= 0 && it.value >= s.limit;
    }
  };

  int limit = -1;
  iterator begin() const { return iterator{0}; }
  sentinel end() const { return sentinel{limit}; }
};

}  // namespace concur::test
