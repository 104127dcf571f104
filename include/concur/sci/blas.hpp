// BLAS and OpenMP thread control: keep numerical libraries from oversubscribing the
// cores that an executor already uses (the lecture's "BLAS oversubscription").
//
//   {
//     auto limit = concur::blas::limit_threads(1);   // this process and its children
//     pool.map(solve, systems);                       // each task's BLAS runs on 1 thread
//   }                                                 // the previous settings are back
//
// A ThreadLimit sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS (read by
// processes started afterwards and by libraries loaded afterwards), and, for runtimes
// already loaded in this process, calls openblas_set_num_threads, omp_set_num_threads
// and mkl_set_num_threads, found with dlsym: concur does not link any of them. Its
// destructor restores the environment and the runtime values it changed. For
// ProcessPool workers, ProcessPoolOptions::threads_per_worker does the same per pool.
//
// Thread safety: it changes the process environment (setenv), which is not thread-safe
// with concurrent getenv: make and end limits while no other thread reads the
// environment, typically in main before the pools start. Nest them in LIFO order.
#pragma once

#include <concur/export.hpp>

#include <optional>
#include <string>

namespace concur {
inline namespace v0 {
namespace blas {

// Which thread-controlling runtimes are loaded in this process now.
struct Runtimes {
  bool openblas = false;
  bool openmp = false;
  bool mkl = false;
};
CONCUR_EXPORT Runtimes loaded_runtimes() noexcept;

class CONCUR_EXPORT [[nodiscard]] ThreadLimit {
 public:
  // std::invalid_argument when threads is 0.
  explicit ThreadLimit(unsigned threads);
  ~ThreadLimit();
  ThreadLimit(const ThreadLimit&) = delete;
  ThreadLimit& operator=(const ThreadLimit&) = delete;

  unsigned threads() const noexcept { return threads_; }

 private:
  unsigned threads_;
  std::optional<std::string> previous_env_[3];
  int previous_openblas_ = -1;  // -1: that runtime was not loaded
  int previous_openmp_ = -1;
  int previous_mkl_ = -1;
};

// The scope above, by name.
[[nodiscard]] inline ThreadLimit limit_threads(unsigned threads) { return ThreadLimit(threads); }

}  // namespace blas
}  // namespace v0
}  // namespace concur
