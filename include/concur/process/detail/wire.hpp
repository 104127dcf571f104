// How values travel between a ProcessPool and its workers: cereal binary archives over
// an in-memory buffer, inside length-prefixed frames.
//
// A value is transportable when cereal can serialize it (arithmetic types, the standard
// containers included below, user types with a serialize/save/load) or, failing that,
// when it is trivially copyable and not a pointer (it is then copied bytewise). Anything
// else is a compile-time error that names the type.
//
// Thread safety: the types here are plain values; use one per thread.
#pragma once

#include <concur/errors.hpp>

#include <cereal/archives/binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/complex.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace concur {
inline namespace v0 {
namespace detail {

// ---- frames ------------------------------------------------------------------------------
// A frame is an 8-byte little-endian body length, then the body; the body starts with
// one FrameKind byte.
inline constexpr std::size_t kFrameHeader = 8;

enum class FrameKind : std::uint8_t {
  config = 1,       // parent -> worker, first: initializer, limits
  task = 2,         // parent -> worker (in the task ring, or on the channel): id, entry, payload
  hello = 3,        // worker -> parent: entered the worker loop; carries its task and result rings' fds
  ready = 4,        // worker -> parent: initializer done
  init_failed = 5,  // worker -> parent: the initializer threw (type, message)
  result = 6,       // worker -> parent (in the result ring, or on the channel): id, status, retiring, payload
  protocol_error = 7,  // worker -> parent: a frame it could not read; it exits next
  on_channel = 8,      // in either ring: the next frame is on the channel (too large for the ring)
  wake = 9,            // on the channel, either way: frames wait in the ring (its reader was blocking)
};

enum class ResultStatus : std::uint8_t {
  value = 0,          // payload: the encoded result
  raised = 1,         // payload: exception type name and message
  serialization = 2,  // payload: what could not be encoded or decoded
};

// ---- streams over memory -------------------------------------------------------------
// Appends everything written to a std::string.
class StringSink final : public std::streambuf {
 public:
  StringSink() = default;
  explicit StringSink(std::string& out) : out_(&out) {}
  void target(std::string& out) noexcept { out_ = &out; }

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) out_->push_back(static_cast<char>(c));
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_->append(s, static_cast<std::size_t>(n));
    return n;
  }

 private:
  std::string* out_ = nullptr;
};

// Reads a byte range; reading past its end fails (cereal then throws).
class SpanSource final : public std::streambuf {
 public:
  SpanSource() = default;
  explicit SpanSource(std::string_view bytes) { target(bytes); }
  void target(std::string_view bytes) noexcept {
    char* begin = const_cast<char*>(bytes.data());  // only ever read
    setg(begin, begin, begin + bytes.size());
  }
  std::size_t consumed() const noexcept { return static_cast<std::size_t>(gptr() - eback()); }
};

// A stream over a retargetable buffer. Building a std::ios costs more than encoding a
// small task (its locale set-up makes several dynamic_casts), so each thread keeps one
// of each kind and lends it out; an Encoder or Decoder made while the thread's own is
// lent (a nested one) builds a stream of its own.
template <class Buffer, class Stream>
class LentStream {
 public:
  LentStream() {
    Slot& slot = thread_slot();
    if (!slot.lent) {
      slot.lent = true;
      slot_ = &slot;
    } else {
      slot_ = &own_.emplace();
    }
    slot_->stream.clear();  // a failed read or write before may have left its flags
  }
  ~LentStream() {
    if (slot_ == &thread_slot()) slot_->lent = false;
  }
  LentStream(const LentStream&) = delete;
  LentStream& operator=(const LentStream&) = delete;
  // The stream, reading or writing `target` now.
  template <class Target>
  Stream& over(Target&& target) noexcept {
    slot_->buffer.target(std::forward<Target>(target));
    return slot_->stream;
  }
  const Buffer& buffer() const noexcept { return slot_->buffer; }

 private:
  struct Slot {
    Buffer buffer;
    Stream stream{&buffer};
    bool lent = false;
  };
  static Slot& thread_slot() {
    thread_local Slot slot;
    return slot;
  }
  std::optional<Slot> own_;
  Slot* slot_;
};

// An archive writing to (appending to) a string.
class Encoder {
 public:
  explicit Encoder(std::string& out) : archive_(stream_.over(out)) {}
  cereal::BinaryOutputArchive& archive() noexcept { return archive_; }

 private:
  LentStream<StringSink, std::ostream> stream_;
  cereal::BinaryOutputArchive archive_;
};

// An archive reading a byte range.
class Decoder {
 public:
  explicit Decoder(std::string_view bytes) : archive_(stream_.over(bytes)) {}
  cereal::BinaryInputArchive& archive() noexcept { return archive_; }
  std::size_t consumed() const noexcept { return stream_.buffer().consumed(); }

 private:
  LentStream<SpanSource, std::istream> stream_;
  cereal::BinaryInputArchive archive_;
};

// ---- what can travel -------------------------------------------------------------------
template <class T>
inline constexpr bool cereal_serializable =
    cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value &&
    cereal::traits::is_input_serializable<T, cereal::BinaryInputArchive>::value;

template <class T>
inline constexpr bool bytewise_transportable =
    std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> && !std::is_member_pointer_v<T> &&
    !std::is_reference_v<T>;

template <class T>
inline constexpr bool transportable =
    std::is_void_v<T> || (!std::is_pointer_v<T> && !std::is_reference_v<T> &&
                          (cereal_serializable<T> || bytewise_transportable<T>));

// Instantiated per argument and result type so that the compiler's error names the type.
template <class T>
struct RequireTransportable {
  static_assert(transportable<T>,
                "concur::ProcessPool: this argument or result type cannot travel to a worker "
                "process: it has no cereal serialize()/save()/load() and is not trivially "
                "copyable (pointers and references never travel). The type is T in this "
                "instantiation.");
  static constexpr bool value = true;
};

template <class T>
void put(cereal::BinaryOutputArchive& archive, const T& value) {
  if constexpr (cereal_serializable<T>) {
    archive(value);
  } else {
    archive(cereal::binary_data(&value, sizeof(T)));
  }
}

template <class T>
T take(cereal::BinaryInputArchive& archive) {
  if constexpr (cereal_serializable<T>) {
    T value{};
    archive(value);
    return value;
  } else {
    std::array<unsigned char, sizeof(T)> bytes{};
    archive(cereal::binary_data(bytes.data(), bytes.size()));
    return std::bit_cast<T>(bytes);
  }
}

// Reserves a frame header at the end of `out`; finish_frame() fills it in.
inline std::size_t begin_frame(std::string& out, FrameKind kind) {
  const std::size_t start = out.size();
  out.append(kFrameHeader, '\0');
  out.push_back(static_cast<char>(kind));
  return start;
}

inline void finish_frame(std::string& out, std::size_t start) {
  std::uint64_t length = out.size() - start - kFrameHeader;
  for (std::size_t i = 0; i < kFrameHeader; ++i) {
    out[start + i] = static_cast<char>(length & 0xff);
    length >>= 8;
  }
}

// A whole frame of `kind` carrying `fields`.
template <class... Fields>
std::string make_frame(FrameKind kind, const Fields&... fields) {
  std::string frame;
  const std::size_t start = begin_frame(frame, kind);
  if constexpr (sizeof...(Fields) > 0) {
    Encoder encoder(frame);
    encoder.archive()(fields...);
  }
  finish_frame(frame, start);
  return frame;
}

inline std::uint64_t read_frame_length(const char* header) noexcept {
  std::uint64_t length = 0;
  for (std::size_t i = kFrameHeader; i-- > 0;) {
    length = (length << 8) | static_cast<unsigned char>(header[i]);
  }
  return length;
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
