// main() of the process tests: a spawned worker (StartMethod::spawn) executes the test
// binary again and must enter the worker loop before GoogleTest starts.
#include <concur/process/worker_entry.hpp>

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  concur::serve_if_worker(argc, argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
