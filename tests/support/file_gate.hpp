// Synchronisation between a test and tasks in worker processes, through files in a
// private temporary directory (worker processes share no memory with the test).
// Waiting polls for a condition, bounded in time; it never assumes that time passing
// made something happen.
#pragma once

#include "support/temp_dir.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace concur::test {

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
