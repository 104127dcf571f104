// Scientific pieces: array hand-off to a worker process (SharedArray vs by value), the
// worker's read bandwidth vs one thread's here, Random's throughput and Monte Carlo pi.
// bench/sci/python_peer.py measures shared_memory + numpy, pickling and numpy's
// Generator; bench/run.py prints the ratios.
#include <concur/process/process_pool.hpp>
#include <concur/sci/random.hpp>
#include <concur/sci/shared_array.hpp>

#include <benchmark/benchmark.h>

#include <numeric>
#include <vector>

namespace {

constexpr std::int64_t kMiB = 1 << 20;

double first(concur::SharedArray<const double> a) { return a.span()[0]; }
double first_of_copy(std::vector<double> v) { return v[0]; }
double sum_all(concur::SharedArray<const double> a) { return std::accumulate(a.span().begin(), a.span().end(), 0.0); }

// Submit -> worker has the array -> result: the cost of handing the array over.
void BM_SharedArray_Handoff(benchmark::State& state) {
  concur::SharedArray<double> a({static_cast<std::size_t>(state.range(0)) / sizeof(double)});
  concur::ProcessPool pool(1);
  pool.submit(first, a.read_only()).get();
  for (auto _ : state) benchmark::DoNotOptimize(pool.submit(first, a.read_only()).get());
}
BENCHMARK(BM_SharedArray_Handoff)->Arg(kMiB)->Arg(32 * kMiB)->Arg(1024 * kMiB)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_ByValue_Handoff(benchmark::State& state) {
  const std::vector<double> v(static_cast<std::size_t>(state.range(0)) / sizeof(double), 1.0);
  concur::ProcessPool pool(1);
  pool.submit(first_of_copy, std::vector<double>{1.0}).get();
  for (auto _ : state) benchmark::DoNotOptimize(pool.submit(first_of_copy, v).get());
}
BENCHMARK(BM_ByValue_Handoff)->Arg(kMiB)->Arg(32 * kMiB)->Arg(1024 * kMiB)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The worker's sum over a shared array (its mapping warm) vs one thread's sum here.
void BM_SharedArray_WorkerSum(benchmark::State& state) {
  concur::SharedArray<double> a({static_cast<std::size_t>(state.range(0)) / sizeof(double)});
  std::iota(a.span().begin(), a.span().end(), 0.0);
  concur::ProcessPool pool(1);
  pool.submit(sum_all, a.read_only()).get();
  for (auto _ : state) benchmark::DoNotOptimize(pool.submit(sum_all, a.read_only()).get());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_SharedArray_WorkerSum)->Arg(256 * kMiB)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_LocalSum(benchmark::State& state) {
  concur::SharedArray<double> a({static_cast<std::size_t>(state.range(0)) / sizeof(double)});
  std::iota(a.span().begin(), a.span().end(), 0.0);
  for (auto _ : state) benchmark::DoNotOptimize(sum_all(a.read_only()));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_LocalSum)->Arg(256 * kMiB)->UseRealTime()->Unit(benchmark::kMillisecond);

// Uniform doubles, per double.
void BM_Random_FillUniform(benchmark::State& state) {
  std::vector<double> out(1 << 20);
  concur::Random rng(1, 2);
  for (auto _ : state) {
    rng.fill_uniform(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}
BENCHMARK(BM_Random_FillUniform)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Uniform floats (24 bits each, two per word), per float: numpy's dtype=float32.
void BM_Random_FillUniformFloat(benchmark::State& state) {
  std::vector<float> out(1 << 20);
  concur::Random rng(1, 2);
  for (auto _ : state) {
    rng.fill_uniform(std::span<float>(out));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}
BENCHMARK(BM_Random_FillUniformFloat)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_Random_UniformOneByOne(benchmark::State& state) {
  concur::Random rng(1, 2);
  for (auto _ : state) {
    double s = 0;
    for (int i = 0; i < 1 << 20; ++i) s += rng.uniform();
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * (1 << 20));
}
BENCHMARK(BM_Random_UniformOneByOne)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Monte Carlo pi on one core, per point.
void BM_MonteCarloPi_PerPoint(benchmark::State& state) {
  std::uint64_t task = 0;
  for (auto _ : state) {
    concur::Random rng(2026, task++);
    long inside = 0;
    for (int i = 0; i < 1 << 20; ++i) {
      const double x = rng.uniform(), y = rng.uniform();
      inside += x * x + y * y < 1.0;
    }
    benchmark::DoNotOptimize(inside);
  }
  state.SetItemsProcessed(state.iterations() * (1 << 20));
}
BENCHMARK(BM_MonteCarloPi_PerPoint)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The same with bulk draws, as numpy code is written (x = rng.random(n); y = ...): 4,096
// points at a time, doubles (two words a point) and floats (one word a point).
template <class Real>
void BM_MonteCarloPi_Bulk(benchmark::State& state) {
  std::uint64_t task = 0;
  std::vector<Real> x(4096), y(4096);
  for (auto _ : state) {
    concur::Random rng(2026, task++);
    long inside = 0;
    for (int chunk = 0; chunk < (1 << 20) / 4096; ++chunk) {
      rng.fill_uniform(std::span<Real>(x));
      rng.fill_uniform(std::span<Real>(y));
      int in_chunk = 0;
      for (std::size_t i = 0; i < x.size(); ++i) in_chunk += x[i] * x[i] + y[i] * y[i] < Real(1);
      inside += in_chunk;
    }
    benchmark::DoNotOptimize(inside);
  }
  state.SetItemsProcessed(state.iterations() * (1 << 20));
}
BENCHMARK(BM_MonteCarloPi_Bulk<double>)->Name("BM_MonteCarloPi_BulkDouble")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MonteCarloPi_Bulk<float>)->Name("BM_MonteCarloPi_BulkFloat")->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
