// Synchronisation between a test and tasks in worker processes, through files in a
// private temporary directory (worker processes share no memory with the test).
// Waiting polls for a condition, bounded in time; it never assumes that time passing
// made something happen.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace concur::test {

// A fresh directory under /tmp, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "concur-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void touch(const std::string& path) { std::ofstream(path, std::ios::app) << ""; }

// Appends one byte: counts events (a task started) across processes.
inline void append_byte(const std::string& path) { std::ofstream(path, std::ios::app) << 'x'; }

inline std::size_t file_size_or_zero(const std::string& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  return error ? 0 : static_cast<std::size_t>(size);
}

// Polls until `path` holds at least `bytes` bytes (exists, for 0); throws after `limit`.
inline void wait_for_file(const std::string& path, std::size_t bytes = 0,
                          std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!std::filesystem::exists(path) || file_size_or_zero(path) < bytes) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("timed out waiting for " + path);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace concur::test
