#include "frame_ring.hpp"

#include <concur/errors.hpp>
#include <concur/process/detail/wire.hpp>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace concur {
inline namespace v0 {
namespace detail {

// The shared page before the entries. Each word on its own cache line: the producer
// writes `published`, the consumer `consumed` and `reader_sleeps`.
struct FrameRing::Control {
  alignas(64) std::atomic<std::uint64_t> published;  // bytes ever written (a position, never wrapped)
  alignas(64) std::atomic<std::uint64_t> consumed;   // bytes ever read
  alignas(64) std::atomic<std::uint32_t> reader_sleeps;
};

namespace {
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "the ring's words must be lock-free to be shared between processes");
static_assert((FrameRing::kCapacity & (FrameRing::kCapacity - 1)) == 0, "positions wrap by masking");

constexpr std::size_t kControlBytes = 4096;
constexpr std::size_t kMappedBytes = kControlBytes + FrameRing::kCapacity;
static_assert(sizeof(std::atomic<std::uint64_t>) * 3 <= 192 && 192 <= kControlBytes);

void* map(int fd) {
  void* base = ::mmap(nullptr, kMappedBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) throw_errno("mmap of a ProcessPool frame ring");
  return base;
}
}  // namespace

FrameRing FrameRing::create(const char* name) {
  Fd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd) throw_errno("memfd_create for a ProcessPool frame ring");
  if (::ftruncate(fd.get(), kMappedBytes) != 0) throw_errno("ftruncate of a ProcessPool frame ring");
  void* base = map(fd.get());  // zero-filled: positions 0, the reader awake
  return FrameRing(std::move(fd), base);
}

FrameRing FrameRing::open(Fd fd) {
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) throw_errno("fstat of a ProcessPool frame ring");
  if (!S_ISREG(status.st_mode) || static_cast<std::size_t>(status.st_size) != kMappedBytes) {
    throw SerializationError("concur::ProcessPool: a worker sent a frame ring of " +
                             std::to_string(status.st_size) + " bytes, not " + std::to_string(kMappedBytes));
  }
  void* base = map(fd.get());
  FrameRing ring(Fd(), base);  // the mapping keeps the memory; the fd is not needed
  ring.head_ = ring.control().consumed.load(std::memory_order_relaxed);
  return ring;
}

FrameRing::FrameRing(Fd fd, void* base) noexcept : fd_(std::move(fd)), base_(base) {}

FrameRing::FrameRing(FrameRing&& other) noexcept
    : fd_(std::move(other.fd_)),
      base_(std::exchange(other.base_, nullptr)),
      head_(other.head_),
      peeked_size_(std::exchange(other.peeked_size_, 0)),
      sleeps_(other.sleeps_) {}

FrameRing& FrameRing::operator=(FrameRing&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) ::munmap(base_, kMappedBytes);
    fd_ = std::move(other.fd_);
    base_ = std::exchange(other.base_, nullptr);
    head_ = other.head_;
    peeked_size_ = std::exchange(other.peeked_size_, 0);
    sleeps_ = other.sleeps_;
  }
  return *this;
}

FrameRing::~FrameRing() {
  if (base_ != nullptr) ::munmap(base_, kMappedBytes);
}

FrameRing::Control& FrameRing::control() const noexcept { return *static_cast<Control*>(base_); }
char* FrameRing::data() const noexcept { return static_cast<char*>(base_) + kControlBytes; }

bool FrameRing::try_write(std::string_view frame) noexcept {
  Control& c = control();
  const std::uint64_t tail = c.published.load(std::memory_order_relaxed);  // ours alone
  const std::uint64_t head = c.consumed.load(std::memory_order_acquire);   // the reader is done with it
  if (frame.size() > kMaxEntry || frame.size() > kCapacity - (tail - head)) return false;
  const std::size_t at = tail & (kCapacity - 1);
  const std::size_t first = std::min(frame.size(), kCapacity - at);
  std::memcpy(data() + at, frame.data(), first);
  std::memcpy(data(), frame.data() + first, frame.size() - first);
  c.published.store(tail + frame.size(), std::memory_order_seq_cst);  // see reader_sleeps()
  return true;
}

// The handshake: the producer stores `published`, then loads `reader_sleeps`; the
// reader stores `reader_sleeps`, then loads `published` (peek). All four seq_cst, so at
// least one side sees the other's store: the producer wakes the reader, or the reader
// finds the entry before it blocks.
std::uint32_t FrameRing::reader_sleeps() const noexcept {
  return control().reader_sleeps.load(std::memory_order_seq_cst);
}

void FrameRing::copy_out(std::uint64_t at, char* out, std::size_t size) const noexcept {
  const std::size_t from = at & (kCapacity - 1);
  const std::size_t first = std::min(size, kCapacity - from);
  std::memcpy(out, data() + from, first);
  std::memcpy(out + first, data(), size - first);
}

std::optional<std::string_view> FrameRing::peek(std::string& scratch) {
  const std::uint64_t tail = control().published.load(std::memory_order_seq_cst);
  if (tail == head_) return std::nullopt;
  const std::uint64_t available = tail - head_;
  if (available > kCapacity || available < kFrameHeader) {
    throw SerializationError("concur::ProcessPool: a frame ring claims " + std::to_string(available) +
                             " bytes published");
  }
  char header[kFrameHeader];
  copy_out(head_, header, kFrameHeader);
  const std::uint64_t length = read_frame_length(header);
  if (length == 0 || length > kMaxEntry - kFrameHeader || length > available - kFrameHeader) {
    throw SerializationError("concur::ProcessPool: a malformed entry (" + std::to_string(length) +
                             " bytes) in a frame ring");
  }
  peeked_size_ = kFrameHeader + length;
  const std::uint64_t body = head_ + kFrameHeader;
  const std::size_t from = body & (kCapacity - 1);
  if (from + length <= kCapacity) return std::string_view(data() + from, length);
  scratch.resize(length);
  copy_out(body, scratch.data(), length);
  return std::string_view(scratch);
}

void FrameRing::pop() noexcept {
  head_ += std::exchange(peeked_size_, 0);
  control().consumed.store(head_, std::memory_order_release);
}

void FrameRing::set_reader_sleeps(bool sleeps) noexcept {
  if (sleeps && ++sleeps_ == 0) sleeps_ = 1;  // never 0, which means awake
  control().reader_sleeps.store(sleeps ? sleeps_ : 0, std::memory_order_seq_cst);
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
