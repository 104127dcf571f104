// blas::limit_threads: the environment for children, the runtimes already loaded
// (OpenBLAS, OpenMP: loaded here with dlopen, as a numerical library would be), and
// restoration at the end of the scope.
#include <concur/sci/blas.hpp>

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdlib>
#include <string>

namespace concur {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "<unset>" : v;
}

TEST(BlasLimit, SetsAndRestoresTheEnvironment) {
  ::unsetenv("OMP_NUM_THREADS");
  ::setenv("OPENBLAS_NUM_THREADS", "6", 1);
  ::unsetenv("MKL_NUM_THREADS");
  {
    auto outer = blas::limit_threads(2);
    EXPECT_EQ(env("OMP_NUM_THREADS"), "2");
    EXPECT_EQ(env("OPENBLAS_NUM_THREADS"), "2");
    EXPECT_EQ(env("MKL_NUM_THREADS"), "2");
    {
      auto inner = blas::limit_threads(1);
      EXPECT_EQ(inner.threads(), 1u);
      EXPECT_EQ(env("OMP_NUM_THREADS"), "1");
    }
    EXPECT_EQ(env("OMP_NUM_THREADS"), "2") << "nested scopes restore in order";
  }
  EXPECT_EQ(env("OMP_NUM_THREADS"), "<unset>");
  EXPECT_EQ(env("OPENBLAS_NUM_THREADS"), "6");
  EXPECT_EQ(env("MKL_NUM_THREADS"), "<unset>");
}

TEST(BlasLimit, RefusesZeroThreads) { EXPECT_THROW({ blas::ThreadLimit limit(0); }, std::invalid_argument); }

template <class F>
F symbol(const char* name) {
  void* s = ::dlsym(RTLD_DEFAULT, name);
  if (s == nullptr) throw std::runtime_error(std::string("missing symbol ") + name);
  return reinterpret_cast<F>(s);
}

TEST(BlasLimit, ChangesAndRestoresLoadedOpenBlasAndOpenMp) {
  EXPECT_FALSE(blas::loaded_runtimes().openblas) << "nothing of OpenBLAS is linked into this test";
  void* openblas = ::dlopen("libopenblas.so.0", RTLD_NOW | RTLD_GLOBAL);
  ASSERT_NE(openblas, nullptr) << "Debian's libopenblas-dev (scripts/deps.sh): " << ::dlerror();
  void* gomp = ::dlopen("libgomp.so.1", RTLD_NOW | RTLD_GLOBAL);
  ASSERT_NE(gomp, nullptr) << ::dlerror();
  EXPECT_TRUE(blas::loaded_runtimes().openblas);
  EXPECT_TRUE(blas::loaded_runtimes().openmp);
  EXPECT_FALSE(blas::loaded_runtimes().mkl);

  auto openblas_get = symbol<int (*)()>("openblas_get_num_threads");
  auto openblas_set = symbol<void (*)(int)>("openblas_set_num_threads");
  auto omp_get = symbol<int (*)()>("omp_get_max_threads");
  auto omp_set = symbol<void (*)(int)>("omp_set_num_threads");
  openblas_set(2);
  omp_set(3);
  {
    auto limit = blas::limit_threads(1);
    EXPECT_EQ(openblas_get(), 1);
    EXPECT_EQ(omp_get(), 1);
  }
  EXPECT_EQ(openblas_get(), 2);
  EXPECT_EQ(omp_get(), 3);
  // The libraries stay loaded: unloading OpenBLAS with its thread pool running is unsafe.
}

}  // namespace
}  // namespace concur
