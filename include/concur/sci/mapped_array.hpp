// MappedArray<T>: a typed array backed by a file and mapped into memory (Python:
// numpy.memmap). Raw elements, row-major, no header: the file is the array's bytes.
//
//   auto out = concur::MappedArray<float>::create("grid.f32", {4096, 4096});
//   out.view()(i, j) = 1.0f;
//   out.flush();                                        // msync: on disk now
//   auto in = concur::MappedArray<float>::open("grid.f32", {4096, 4096});
//   pool.map(process_piece, in.chunks(16));             // page-aligned row blocks
//
// create reserves the file's blocks (posix_fallocate), so a full disk is a clear Error
// then, never a SIGBUS at a later write. open checks that the file holds the shape: a
// shape past the file's end is a clear Error, never a SIGBUS at a later read.
//
// chunks(n): at most n pieces of whole rows (the outermost dimension), each starting
// at a page-aligned byte offset, together covering the array. A MappedChunk is a small
// value (path, rows, shape) that a ProcessPool task receives by value; chunk.open()
// maps just its pages, in any process.
//
// Lifetime: a MappedArray owns its mapping (move-only) and unmaps it when destroyed;
// the file stays. Views must not outlive it.
// Thread safety: like an array: concurrent reads are safe, writes need the caller's
// synchronisation. flush() may run concurrently with reads.
#pragma once

#include <concur/errors.hpp>
#include <concur/export.hpp>
#include <concur/sci/array_view.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace concur {
inline namespace v0 {

enum class MapMode { read_only, read_write };

namespace detail {
// The untyped mapping of [offset, offset + bytes) of a file.
class CONCUR_EXPORT FileMapping {
 public:
  FileMapping() = default;
  // Creates the file (Error if it exists and !overwrite), reserves `bytes` and maps
  // them read-write.
  static FileMapping create(const std::string& path, std::size_t bytes, bool overwrite);
  // Maps [offset, offset + bytes) of an existing file; bytes 0 means to its end, which
  // must then be a whole number of elements. Error when the range passes the file's end.
  static FileMapping open(const std::string& path, MapMode mode, std::size_t offset, std::size_t bytes,
                          std::size_t element_size);
  FileMapping(FileMapping&& other) noexcept { swap(other); }
  FileMapping& operator=(FileMapping other) noexcept {
    swap(other);
    return *this;
  }
  ~FileMapping();

  void* data() const noexcept { return data_; }
  std::size_t bytes() const noexcept { return bytes_; }
  bool writable() const noexcept { return writable_; }
  const std::string& path() const noexcept { return path_; }
  void flush() const;
  static std::size_t page_size() noexcept;

 private:
  void swap(FileMapping& other) noexcept {
    std::swap(path_, other.path_);
    std::swap(base_, other.base_);
    std::swap(mapped_, other.mapped_);
    std::swap(data_, other.data_);
    std::swap(bytes_, other.bytes_);
    std::swap(writable_, other.writable_);
  }
  std::string path_;
  void* base_ = nullptr;  // what mmap returned
  std::size_t mapped_ = 0;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  bool writable_ = false;
};
}  // namespace detail

template <class T>
class MappedArray;

// A block of whole rows of a mapped file; travels to worker processes by value.
template <class T>
struct MappedChunk {
  std::string path;
  std::size_t first_row = 0;
  std::size_t rows = 0;
  std::vector<std::uint64_t> shape;  // of the whole array
  bool writable = false;

  // Maps this chunk's rows: an array of shape {rows, inner extents...}.
  MappedArray<T> open() const;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(path, first_row, rows, shape, writable);
  }
};

template <class T>
class MappedArray {
  static_assert(std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> && !std::is_const_v<T>,
                "concur::MappedArray<T>: T must be a non-const trivially copyable type, not a pointer");

 public:
  MappedArray() = default;

  // A new file of shape.elements() zero elements, mapped read-write. Error if the file
  // exists (unless overwrite) or the disk cannot hold it; std::invalid_argument for a
  // shape without elements.
  static MappedArray create(const std::filesystem::path& path, Shape shape, bool overwrite = false) {
    require_elements(shape);
    return MappedArray(detail::FileMapping::create(path.string(), bytes_of(shape), overwrite), shape);
  }
  // An existing file, as a rank-1 array of all its elements.
  static MappedArray open(const std::filesystem::path& path, MapMode mode = MapMode::read_only) {
    detail::FileMapping mapping = detail::FileMapping::open(path.string(), mode, 0, 0, sizeof(T));
    const Shape shape{mapping.bytes() / sizeof(T)};
    return MappedArray(std::move(mapping), shape);
  }
  // An existing file with this shape. Error when the file is shorter than the shape.
  static MappedArray open(const std::filesystem::path& path, Shape shape, MapMode mode = MapMode::read_only) {
    require_elements(shape);
    return MappedArray(detail::FileMapping::open(path.string(), mode, 0, bytes_of(shape), sizeof(T)), shape);
  }

  const Shape& shape() const noexcept { return shape_; }
  std::size_t size() const noexcept { return shape_.elements(); }
  const std::string& path() const noexcept { return mapping_.path(); }
  bool writable() const noexcept { return mapping_.writable(); }
  T* data() const noexcept { return static_cast<T*>(mapping_.data()); }
  // A read-only mapping hands out const views only.
  ArrayView<T> view() {
    if (!writable()) throw InvalidState("concur::MappedArray: " + path() + " is mapped read-only; use const_view()");
    return ArrayView<T>(data(), shape_);
  }
  ArrayView<const T> const_view() const { return ArrayView<const T>(data(), shape_); }
  // Writes the changed pages to the file (msync). Error on I/O failure.
  void flush() const { mapping_.flush(); }

  // At most n (>= 1) page-aligned pieces of whole rows covering the array.
  std::vector<MappedChunk<T>> chunks(std::size_t n) const {
    if (n == 0) throw std::invalid_argument("concur::MappedArray::chunks: n must be at least 1");
    const std::size_t rows = shape_[0];
    const std::size_t row_bytes = bytes_of(shape_) / (rows == 0 ? 1 : rows);
    // Rows per piece must make whole pages: a multiple of page / gcd(page, row_bytes).
    const std::size_t page = detail::FileMapping::page_size();
    const std::size_t granule = page / std::gcd(page, row_bytes);
    std::size_t per_piece = (rows + n - 1) / n;
    per_piece = (per_piece + granule - 1) / granule * granule;
    std::vector<MappedChunk<T>> pieces;
    const std::vector<std::uint64_t> extents(shape_.extents().begin(), shape_.extents().end());
    for (std::size_t first = 0; first < rows; first += per_piece) {
      pieces.push_back({path(), first, std::min(per_piece, rows - first), extents, writable()});
    }
    return pieces;
  }

 private:
  friend struct MappedChunk<T>;
  MappedArray(detail::FileMapping mapping, Shape shape) : mapping_(std::move(mapping)), shape_(shape) {}

  static void require_elements(const Shape& shape) {
    if (shape.elements() == 0) {
      throw std::invalid_argument("concur::MappedArray: shape " + shape.to_string() + " has no elements");
    }
  }
  static std::size_t bytes_of(const Shape& shape) {
    if (shape.elements() > static_cast<std::size_t>(-1) / sizeof(T)) {
      throw std::length_error("concur::MappedArray: shape " + shape.to_string() + " needs more bytes than size_t holds");
    }
    return shape.elements() * sizeof(T);
  }

  detail::FileMapping mapping_;
  Shape shape_;
};

template <class T>
MappedArray<T> MappedChunk<T>::open() const {
  std::vector<std::size_t> extents(shape.begin(), shape.end());
  if (extents.empty() || first_row > extents[0] || rows > extents[0] - first_row || rows == 0) {
    throw std::invalid_argument("concur::MappedChunk: rows [" + std::to_string(first_row) + ", +" +
                                std::to_string(rows) + ") are not inside the array");
  }
  const Shape whole{std::span<const std::size_t>(extents)};
  const std::size_t row_bytes = whole.elements() / extents[0] * sizeof(T);
  extents[0] = rows;
  const Shape piece{std::span<const std::size_t>(extents)};
  detail::FileMapping mapping = detail::FileMapping::open(
      path, writable ? MapMode::read_write : MapMode::read_only, first_row * row_bytes, rows * row_bytes, sizeof(T));
  return MappedArray<T>(std::move(mapping), piece);
}

}  // namespace v0
}  // namespace concur
