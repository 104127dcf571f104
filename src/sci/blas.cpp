#include <concur/sci/blas.hpp>

#include <dlfcn.h>

#include <cstdlib>
#include <stdexcept>

namespace concur {
inline namespace v0 {
namespace blas {
namespace {

constexpr const char* kVariables[3] = {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"};

using GetThreads = int (*)();
using SetThreads = void (*)(int);

// A runtime's getter and setter when it is loaded in this process.
struct Runtime {
  GetThreads get = nullptr;
  SetThreads set = nullptr;
  explicit operator bool() const noexcept { return get != nullptr && set != nullptr; }
};

Runtime find(const char* get, const char* set) noexcept {
  Runtime r;
  r.get = reinterpret_cast<GetThreads>(::dlsym(RTLD_DEFAULT, get));
  r.set = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, set));
  return r;
}
Runtime openblas() noexcept { return find("openblas_get_num_threads", "openblas_set_num_threads"); }
Runtime openmp() noexcept { return find("omp_get_max_threads", "omp_set_num_threads"); }
Runtime mkl() noexcept { return find("mkl_get_max_threads", "mkl_set_num_threads"); }

// Sets the runtime's thread count; returns the previous one (-1 when not loaded).
int exchange(const Runtime& runtime, int threads) noexcept {
  if (!runtime) return -1;
  const int previous = runtime.get();
  runtime.set(threads);
  return previous;
}
void restore(const Runtime& runtime, int previous) noexcept {
  if (runtime && previous > 0) runtime.set(previous);
}

}  // namespace

Runtimes loaded_runtimes() noexcept {
  return {static_cast<bool>(openblas()), static_cast<bool>(openmp()), static_cast<bool>(mkl())};
}

ThreadLimit::ThreadLimit(unsigned threads) : threads_(threads) {
  if (threads == 0) throw std::invalid_argument("concur::blas::limit_threads: threads must be at least 1");
  const std::string value = std::to_string(threads);
  for (int i = 0; i < 3; ++i) {
    if (const char* old = std::getenv(kVariables[i])) previous_env_[i] = old;
    ::setenv(kVariables[i], value.c_str(), 1);
  }
  const int n = static_cast<int>(threads);
  previous_openblas_ = exchange(openblas(), n);
  previous_openmp_ = exchange(openmp(), n);
  previous_mkl_ = exchange(mkl(), n);
}

ThreadLimit::~ThreadLimit() {
  restore(mkl(), previous_mkl_);
  restore(openmp(), previous_openmp_);
  restore(openblas(), previous_openblas_);
  for (int i = 0; i < 3; ++i) {
    if (previous_env_[i]) {
      ::setenv(kVariables[i], previous_env_[i]->c_str(), 1);
    } else {
      ::unsetenv(kVariables[i]);
    }
  }
}

}  // namespace blas
}  // namespace v0
}  // namespace concur
