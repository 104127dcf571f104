// reduce: f over inputs on any executor, combined in input order, so that a
// floating-point sum gives the same bits on every run, with any worker count.
//
//   double total = concur::reduce(pool, integrate, slices, 0.0, std::plus<>{});
//
// It is op(...op(op(init, f(x0)), f(x1))..., f(xn-1)): the executor's ordered map runs
// f in parallel (chunksize and in_flight as for map) while the caller folds the results
// as they arrive, in order. An exception from f or op is rethrown here; the tasks not yet
// started are then cancelled (the map range is destroyed).
//
// Thread safety: as the executor's map; op runs on the calling thread only.
#pragma once

#include <concur/core/executor.hpp>
#include <concur/core/map.hpp>

#include <ranges>
#include <utility>

namespace concur {
inline namespace v0 {

template <class Executor, class F, std::ranges::input_range R, class T, class Op>
T reduce(Executor& executor, F f, R&& inputs, T init, Op op, MapOptions options = {}) {
  for (auto&& value : executor.map(std::move(f), std::forward<R>(inputs), options)) {
    init = op(std::move(init), std::move(value));
  }
  return init;
}

}  // namespace v0
}  // namespace concur
