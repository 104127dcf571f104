// SharedArray<T>: a typed multi-dimensional array in POSIX shared memory, shared by a
// process and its ProcessPool workers without copies (Python: multiprocessing.
// shared_memory.SharedMemory with a numpy array on top).
//
//   concur::SharedArray<double> data({1000, 1000});    // zero-filled, in /dev/shm
//   data.view()(3, 4) = 1.0;
//   pool.submit(sum_rows, data.read_only(), 0, 500);   // travels as (name, shape)
//
//   double sum_rows(concur::SharedArray<const double> a, std::size_t first, std::size_t n);
//
// Creation: exclusive (O_EXCL), mode 0600, its memory reserved at once, so a full
// /dev/shm is a clear Error here and never a SIGBUS later. The name carries the creating
// process's pid and start time; `concur clean` removes segments whose creator died
// without unlinking them (SIGKILL).
//
// Travelling to a worker: a SharedArray argument of a ProcessPool task is sent as a
// handle (name, shape, element size, read-only flag), whatever its size; the worker maps
// the same memory. SharedArray<const T> is mapped read-only there (a write faults). A
// writable SharedArray<T> parameter refuses a read-only handle with SerializationError.
// Workers keep up to 8 recent attachments mapped, so a worker running many tasks on one
// array maps and faults its pages in once.
//
// Lifetime: copies share one mapping (like shared_ptr). The creating process unlinks the
// name when its last copy goes; other processes' mappings stay valid until they unmap.
// Views must not outlive the last copy in their process.
//
// Thread safety: copying and destroying copies from several threads is safe; element
// access is as safe as the caller makes it (no locking).
#pragma once

#include <concur/errors.hpp>
#include <concur/sci/array_view.hpp>
#include <concur/sci/detail/shared_segment.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace concur {
inline namespace v0 {

template <class T>
class SharedArray {
  using Value = std::remove_const_t<T>;
  static_assert(std::is_trivially_copyable_v<Value> && !std::is_pointer_v<Value>,
                "concur::SharedArray<T>: T must be trivially copyable and not a pointer "
                "(the bytes are shared between processes)");
  static_assert(!std::is_volatile_v<T>, "concur::SharedArray<T>: T must not be volatile");

 public:
  using element_type = T;

  // An empty array (no segment).
  SharedArray() = default;
  // Creates a zero-filled segment of shape.elements() elements. An empty name makes a
  // fresh one; a given name ("/my-data") must not exist (Error) and is not cleaned by
  // `concur clean`. std::invalid_argument for a shape with no elements; std::length_error
  // when the byte count overflows; Error when /dev/shm cannot hold it.
  explicit SharedArray(Shape shape, const std::string& name = {})
    requires(!std::is_const_v<T>)
      : shape_(shape) {
    if (shape.elements() == 0) {
      throw std::invalid_argument("concur::SharedArray: shape " + shape.to_string() + " has no elements");
    }
    segment_ = detail::SharedSegment::create(checked_bytes(shape), name);
  }
  // Maps an existing segment by name (made by another SharedArray, here or elsewhere).
  static SharedArray attach(const std::string& name, Shape shape) {
    SharedArray a;
    a.shape_ = shape;
    a.segment_ = detail::SharedSegment::attach(name, checked_bytes(shape), !std::is_const_v<T>);
    return a;
  }

  // The same segment, typed read-only; sent to a worker, it is mapped read-only there.
  SharedArray<const Value> read_only() const {
    SharedArray<const Value> a;
    a.segment_ = segment_;
    a.shape_ = shape_;
    return a;
  }

  explicit operator bool() const noexcept { return segment_ != nullptr; }
  const std::string& name() const { return segment().name(); }
  const Shape& shape() const noexcept { return shape_; }
  std::size_t size() const noexcept { return segment_ ? shape_.elements() : 0; }
  std::size_t size_bytes() const noexcept { return size() * sizeof(T); }
  // True in the process that created the segment (and will unlink it).
  bool owner() const noexcept { return segment_ && segment_->owner(); }

  T* data() const { return static_cast<T*>(segment().data()); }
  ArrayView<T> view() const { return ArrayView<T>(data(), shape_); }
  ArrayView<const Value> const_view() const { return view(); }
  std::span<T> span() const { return {data(), size()}; }

  // cereal: the handle, never the bytes.
  template <class Archive>
  void save(Archive& archive) const {
    const detail::SharedSegment& s = segment();
    std::vector<std::uint64_t> extents(shape_.extents().begin(), shape_.extents().end());
    archive(s.name(), extents, static_cast<std::uint64_t>(sizeof(T)),
            static_cast<std::uint8_t>(std::is_const_v<T> || !s.writable() ? 1 : 0));
  }
  template <class Archive>
  void load(Archive& archive) {
    std::string name;
    std::vector<std::uint64_t> extents;
    std::uint64_t element_size = 0;
    std::uint8_t read_only = 0;
    archive(name, extents, element_size, read_only);
    if (element_size != sizeof(T)) {
      throw SerializationError("concur::SharedArray: " + name + " holds elements of " +
                               std::to_string(element_size) + " bytes, received as elements of " +
                               std::to_string(sizeof(T)));
    }
    if (read_only != 0 && !std::is_const_v<T>) {
      throw SerializationError("concur::SharedArray: " + name +
                               " was sent read-only; receive it as SharedArray<const T>");
    }
    const std::vector<std::size_t> dims(extents.begin(), extents.end());
    shape_ = Shape(std::span<const std::size_t>(dims));
    segment_ = detail::SharedSegment::attach_cached(name, checked_bytes(shape_), !std::is_const_v<T>);
  }

 private:
  template <class U>
  friend class SharedArray;

  static std::size_t checked_bytes(const Shape& shape) {
    if (shape.elements() > static_cast<std::size_t>(-1) / sizeof(T)) {
      throw std::length_error("concur::SharedArray: shape " + shape.to_string() + " needs more bytes than size_t holds");
    }
    return shape.elements() * sizeof(T);
  }
  const detail::SharedSegment& segment() const {
    if (!segment_) throw InvalidState("concur::SharedArray: the array is empty (default-constructed or moved from)");
    return *segment_;
  }

  std::shared_ptr<detail::SharedSegment> segment_;
  Shape shape_;
};

// Segments named by concur in /dev/shm, with their owner's pid and whether it still runs
// (what `concur clean` lists).
using SharedSegmentInfo = detail::SegmentInfo;
inline std::vector<SharedSegmentInfo> list_shared_segments() { return detail::list_segments(); }
// Unlinks the segments whose owner has exited without unlinking them (SIGKILL, a crash);
// returns them. Segments of running processes are left alone.
inline std::vector<SharedSegmentInfo> remove_stale_shared_segments() { return detail::remove_stale_segments(); }

}  // namespace v0
}  // namespace concur
