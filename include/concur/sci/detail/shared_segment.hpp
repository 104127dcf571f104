// The untyped part of SharedArray: one POSIX shared-memory segment mapped into this
// process, and the names that tie a segment to the process that created it.
//
// A name made here is "/concur-<pid>-<start>-<n>": the creator's pid, its start time in
// clock ticks since boot (/proc/<pid>/stat, so a reused pid is not mistaken for the
// owner) and a per-process counter. `concur clean` removes segments whose owner is gone.
//
// Thread safety: a SharedSegment is immutable after construction; the attachment cache
// behind attach_cached() is internally locked.
#pragma once

#include <concur/export.hpp>

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace concur {
inline namespace v0 {
namespace detail {

class CONCUR_EXPORT SharedSegment {
 public:
  // Creates a segment of `bytes` (> 0) with O_EXCL and mode 0600, reserves its memory
  // (a full /dev/shm fails here with a clear Error, never with SIGBUS later) and maps it
  // read-write. An empty name makes a fresh one that carries this process's identity.
  static std::shared_ptr<SharedSegment> create(std::size_t bytes, const std::string& name = {});
  // Maps an existing segment of at least `bytes`. Error when it does not exist or is
  // smaller; read-only maps it PROT_READ from an O_RDONLY descriptor.
  static std::shared_ptr<SharedSegment> attach(const std::string& name, std::size_t bytes, bool writable);
  // As attach, through a small per-process cache, so that a worker running many tasks
  // on one array maps (and faults in) its pages once. Segments unlinked by their owner
  // leave the cache the next time it misses.
  static std::shared_ptr<SharedSegment> attach_cached(const std::string& name, std::size_t bytes,
                                                      bool writable);

  SharedSegment(const SharedSegment&) = delete;
  SharedSegment& operator=(const SharedSegment&) = delete;
  // Unmaps; the creating process (never a forked copy of it) also unlinks the name.
  ~SharedSegment();

  void* data() const noexcept { return data_; }
  std::size_t bytes() const noexcept { return bytes_; }
  const std::string& name() const noexcept { return name_; }
  bool owner() const noexcept { return owner_pid_ > 0; }
  bool writable() const noexcept { return writable_; }

 private:
  SharedSegment(std::string name, void* data, std::size_t bytes, pid_t owner_pid, bool writable)
      : name_(std::move(name)), data_(data), bytes_(bytes), owner_pid_(owner_pid), writable_(writable) {}

  std::string name_;
  void* data_;
  std::size_t bytes_;
  pid_t owner_pid_;  // 0: attached, not created here
  bool writable_;
};

// A segment in /dev/shm named by concur, with what is known of its owner.
struct SegmentInfo {
  std::string name;  // with its leading '/'
  pid_t owner_pid = 0;
  std::size_t bytes = 0;
  bool owner_alive = false;
};

// Segments whose names concur made, alive or not, in name order.
CONCUR_EXPORT std::vector<SegmentInfo> list_segments();
// Unlinks the segments whose owner is dead; returns what it removed.
CONCUR_EXPORT std::vector<SegmentInfo> remove_stale_segments();

}  // namespace detail
}  // namespace v0
}  // namespace concur
