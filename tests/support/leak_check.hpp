// Test helpers: resource-leak checks (fds, threads, child processes, /dev/shm) and scaling of loop counts.
#pragma once

#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <chrono>
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
// /dev/shm entries named after this process ("...-<pid>-..." or "...-<pid>"): tests run
// in parallel, so entries of other processes come and go meanwhile.
inline std::size_t shm_entries() {
  std::string pid = "-";  // appended, not "-" + ...: g++ 12 -O3 misreports that (-Wrestrict)
  pid.append(std::to_string(::getpid()));
  std::size_t n = 0;
  if (DIR* dir = opendir("/dev/shm")) {
    while (dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      const std::size_t at = name.find(pid);
      if (at == std::string::npos) continue;
      const std::size_t after = at + pid.size();
      if (after == name.size() || name[after] == '-') ++n;
    }
    closedir(dir);
  }
  return n;
}

// Child processes of this process, zombies included (/proc/self/task/*/children).
inline std::size_t child_processes() {
  std::size_t n = 0;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      std::ifstream children(std::string("/proc/self/task/") + entry->d_name + "/children");
      for (std::string pid; children >> pid;) ++n;
    }
    closedir(dir);
  }
  return n;
}

// pthread_join returns when the thread has left user space, a moment before the kernel
// drops it from /proc/self/task: these wait (bounded) for that.
inline void wait_until_task_gone(pid_t tid) {
  const std::string path = "/proc/self/task/" + std::to_string(tid);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  struct stat info{};
  while (::stat(path.c_str(), &info) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
}
inline std::size_t threads_settled_to(std::size_t expected) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  std::size_t n = live_threads();
  while (n > expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
    n = live_threads();
  }
  return n;
}

// Records the fds and threads of the process on construction and checks, when
// destroyed, that no more are left (declare it before the object under test).
class NoLeaks {
 public:
  NoLeaks() : fds_(0), threads_(0) {
    // Sanitizer runtimes start a helper thread at the first thread creation: let that
    // happen before the baseline is taken.
    pid_t helper = 0;
    std::thread([&helper] { helper = ::gettid(); }).join();
    wait_until_task_gone(helper);
    fds_ = open_fds();
    threads_ = live_threads();
    children_ = child_processes();
    shm_ = shm_entries();
  }
  ~NoLeaks() {
    EXPECT_EQ(open_fds(), fds_) << "file descriptors leaked";
    EXPECT_EQ(threads_settled_to(threads_), threads_) << "threads leaked";
    EXPECT_EQ(child_processes(), children_) << "child processes left (running or unreaped)";
    EXPECT_EQ(shm_entries(), shm_) << "/dev/shm entries left";
  }

 private:
  std::size_t fds_;
  std::size_t threads_;
  std::size_t children_;
  std::size_t shm_;
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
