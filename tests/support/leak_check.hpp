// Test helpers: resource-leak checks and scaling of loop counts.
#pragma once

#include <gtest/gtest.h>

#include <dirent.h>

#include <cstddef>
#include <cstdlib>
#include <string>
#include <thread>

namespace concur::test {

// Entries in a /proc directory (fds: /proc/self/fd, threads: /proc/self/task).
inline std::size_t count_entries(const char* path) {
  std::size_t n = 0;
  if (DIR* dir = opendir(path)) {
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++n;
    }
    closedir(dir);
  }
  return n;
}

inline std::size_t open_fds() { return count_entries("/proc/self/fd") - 1; }  // minus the DIR
inline std::size_t live_threads() { return count_entries("/proc/self/task"); }

// Records the fds and threads of the process on construction and checks, when
// destroyed, that no more are left (declare it before the object under test).
class NoLeaks {
 public:
  NoLeaks() : fds_(0), threads_(0) {
    // Sanitizer runtimes start a helper thread at the first thread creation: let that
    // happen before the baseline is taken.
    std::thread([] {}).join();
    fds_ = open_fds();
    threads_ = live_threads();
  }
  ~NoLeaks() {
    EXPECT_EQ(open_fds(), fds_) << "file descriptors leaked";
    EXPECT_EQ(live_threads(), threads_) << "threads leaked";
  }

 private:
  std::size_t fds_;
  std::size_t threads_;
};

// Loop counts of stress tests, multiplied by CONCUR_STRESS_SCALE (default 1; may be a
// fraction such as 0.1 under sanitizers).
inline std::size_t scaled(std::size_t n) {
  const char* scale = std::getenv("CONCUR_STRESS_SCALE");
  const double factor = scale != nullptr ? std::atof(scale) : 1.0;
  const auto result = static_cast<std::size_t>(static_cast<double>(n) * (factor > 0 ? factor : 1.0));
  return result > 0 ? result : 1;
}

}  // namespace concur::test
