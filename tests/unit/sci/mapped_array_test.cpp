// MappedArray: create, open, flush, page-aligned chunks handed to worker processes, and
// the clear errors (existing file, shapes past the file's end, read-only writes).
#include <concur/sci/mapped_array.hpp>

#include <concur/process/process_pool.hpp>

#include "support/file_gate.hpp"
#include "support/leak_check.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <numeric>

namespace concur {
namespace {

TEST(MappedArray, CreateWriteFlushAndReopen) {
  test::NoLeaks no_leaks;
  test::TempDir dir;
  const std::string path = dir.file("grid.f64");
  {
    auto a = MappedArray<double>::create(path, {100, 3});
    EXPECT_TRUE(a.writable());
    for (double x : a.const_view()) EXPECT_EQ(x, 0.0);
    a.view()(99, 2) = 4.25;
    a.flush();
  }
  EXPECT_EQ(std::filesystem::file_size(path), 2400u);
  auto b = MappedArray<double>::open(path, {100, 3});
  EXPECT_FALSE(b.writable());
  EXPECT_EQ(b.const_view()(99, 2), 4.25);
  EXPECT_THROW((void)b.view(), InvalidState) << "a read-only mapping gives const views only";
  auto whole = MappedArray<double>::open(path);
  EXPECT_EQ(whole.shape(), (Shape{300}));
  auto rw = MappedArray<double>::open(path, {300}, MapMode::read_write);
  rw.view()[0] = 1.5;
  rw.flush();
  EXPECT_EQ(whole.const_view()[0], 1.5) << "mappings of one file share its pages";
}

TEST(MappedArray, ClearErrors) {
  test::NoLeaks no_leaks;
  test::TempDir dir;
  const std::string path = dir.file("a.i32");
  auto a = MappedArray<int>::create(path, {10});
  try {
    (void)MappedArray<int>::create(path, {10});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already exists"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW((void)MappedArray<int>::create(path, {20}, /*overwrite=*/true));
  try {
    (void)MappedArray<int>::open(path, {21});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("past the file's end"), std::string::npos) << e.what();
  }
  std::ofstream(dir.file("odd")) << "12345";
  EXPECT_THROW((void)MappedArray<int>::open(dir.file("odd")), Error) << "5 bytes are not whole ints";
  std::ofstream(dir.file("empty")) << "";
  EXPECT_THROW((void)MappedArray<int>::open(dir.file("empty")), Error);
  try {
    (void)MappedArray<int>::open(dir.file("missing"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)MappedArray<int>::create(dir.file("zero"), {0}), std::invalid_argument);
  EXPECT_THROW((void)a.chunks(0), std::invalid_argument);
  EXPECT_THROW((void)MappedArray<int>::create("/nonexistent-dir/x", {1}), Error);
}

TEST(MappedArray, ChunksArePageAlignedWholeRowsCoveringTheArray) {
  test::NoLeaks no_leaks;
  test::TempDir dir;
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  for (std::size_t cols : {1u, 3u, 512u, 1000u}) {
    auto a = MappedArray<double>::create(dir.file("c" + std::to_string(cols)), {5000, cols});
    for (std::size_t n : {1u, 2u, 7u, 64u}) {
      const auto pieces = a.chunks(n);
      ASSERT_LE(pieces.size(), n);
      std::size_t next = 0;
      for (const auto& piece : pieces) {
        EXPECT_EQ(piece.first_row, next);
        EXPECT_EQ(piece.first_row * cols * sizeof(double) % page, 0u) << cols << " cols, " << n << " pieces";
        next += piece.rows;
      }
      EXPECT_EQ(next, 5000u);
    }
  }
  auto a = MappedArray<int>::create(dir.file("values"), {4096, 2});
  std::iota(a.view().begin(), a.view().end(), 0);
  for (const auto& piece : a.chunks(3)) {
    auto mapped = piece.open();
    EXPECT_EQ(mapped.shape()[0], piece.rows);
    EXPECT_EQ(mapped.const_view()(0, 1), static_cast<int>(piece.first_row * 2 + 1));
  }
  MappedChunk<int> bad = a.chunks(1)[0];
  bad.rows = 5000;
  EXPECT_THROW((void)bad.open(), std::invalid_argument);
}

long long sum_piece(MappedChunk<int> piece) {
  auto mapped = piece.open();
  return std::accumulate(mapped.const_view().begin(), mapped.const_view().end(), 0LL);
}
void square_piece(MappedChunk<int> piece) {
  auto mapped = piece.open();
  for (int& x : mapped.view()) x *= x;
  mapped.flush();
}

TEST(MappedArray, WorkerProcessesReadAndWriteTheirChunks) {
  test::NoLeaks no_leaks;
  test::TempDir dir;
  auto a = MappedArray<int>::create(dir.file("data"), {10000, 10});
  std::iota(a.view().begin(), a.view().end(), 0);
  ProcessPool pool(2);
  long long total = 0;
  for (long long s : pool.map(sum_piece, a.chunks(8))) total += s;
  EXPECT_EQ(total, 99999LL * 100000 / 2);
  for (auto& done : pool.map(square_piece, a.chunks(4))) (void)done;
  for (int i : {0, 7, 4095, 99999}) EXPECT_EQ(a.const_view()[static_cast<std::size_t>(i)], i * i);
}

}  // namespace
}  // namespace concur
