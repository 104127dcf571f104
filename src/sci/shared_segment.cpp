#include <concur/sci/detail/shared_segment.hpp>

#include "../process/posix.hpp"

#include <concur/errors.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <list>
#include <mutex>
#include <sstream>

namespace concur {
inline namespace v0 {
namespace detail {
namespace {

constexpr const char* kPrefix = "concur-";
// Attachments a process keeps mapped for reuse (see attach_cached).
constexpr std::size_t kCachedAttachments = 8;

// Field 22 of /proc/<pid>/stat: the process's start time in clock ticks since boot;
// nullopt when the process does not exist or has exited (a zombie).
std::optional<unsigned long long> start_time(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const std::size_t paren = stat.rfind(')');
  if (!file.good() && stat.empty()) return std::nullopt;
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(paren + 2));  // field 3 onwards
  std::string field;
  for (int i = 3; i < 22 && fields >> field; ++i) {
    if (i == 3 && (field == "Z" || field == "X")) return std::nullopt;
  }
  unsigned long long ticks = 0;
  if (!(fields >> ticks)) return std::nullopt;
  return ticks;
}

std::string fresh_name() {
  static std::atomic<unsigned long> counter{0};
  static const pid_t pid = ::getpid();  // refreshed below after fork
  static const unsigned long long started = start_time(pid).value_or(0);
  const pid_t now = ::getpid();
  const unsigned long long ticks = now == pid ? started : start_time(now).value_or(0);
  std::string name = "/";  // appended piecewise: g++ 12 -O3 misreports operator+ chains (-Wrestrict)
  name.append(kPrefix).append(std::to_string(now)).append("-").append(std::to_string(ticks)).append("-");
  name.append(std::to_string(counter.fetch_add(1, std::memory_order_relaxed)));
  return name;
}

// Parses "/concur-<pid>-<start>-<n>"; nullopt for any other name.
std::optional<std::pair<pid_t, unsigned long long>> parse_name(std::string_view name) {
  if (!name.starts_with('/')) return std::nullopt;
  name.remove_prefix(1);
  if (!name.starts_with(kPrefix)) return std::nullopt;
  name.remove_prefix(std::strlen(kPrefix));
  unsigned long long values[3];
  for (int i = 0; i < 3; ++i) {
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), values[i]);
    if (ec != std::errc{} || end == name.data()) return std::nullopt;
    name.remove_prefix(static_cast<std::size_t>(end - name.data()));
    if (i < 2) {
      if (!name.starts_with('-')) return std::nullopt;
      name.remove_prefix(1);
    }
  }
  if (!name.empty() || values[0] == 0) return std::nullopt;
  return std::pair{static_cast<pid_t>(values[0]), values[1]};
}

void check_name(const std::string& name) {
  if (name.size() < 2 || name[0] != '/' || name.find('/', 1) != std::string::npos || name.size() > 255) {
    throw std::invalid_argument("concur::SharedArray: segment name \"" + name +
                                "\" must be '/' and then up to 254 characters without '/'");
  }
}

std::string free_space() {
  struct statvfs fs{};
  if (::statvfs("/dev/shm", &fs) != 0) return "unknown";
  return std::to_string(static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize) + " bytes";
}

void* map(int fd, std::size_t bytes, bool writable, const std::string& name) {
  void* data = ::mmap(nullptr, bytes, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) throw_errno("mmap of shared segment " + name);
  return data;
}

struct Cache {
  std::mutex mutex;
  std::list<std::shared_ptr<SharedSegment>> entries;  // most recently used first
};
Cache& cache() {
  static auto* instance = new Cache;  // leaked: attachments may outlive static destruction
  return *instance;
}

}  // namespace

std::shared_ptr<SharedSegment> SharedSegment::create(std::size_t bytes, const std::string& name) {
  if (bytes == 0) throw std::invalid_argument("concur::SharedArray: a segment of 0 bytes cannot be created");
  if (!name.empty()) check_name(name);
  std::string chosen = name.empty() ? fresh_name() : name;
  Fd fd;
  for (int attempt = 0;; ++attempt) {
    fd = Fd(::shm_open(chosen.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd) break;
    if (errno == EEXIST && name.empty() && attempt < 100) {  // a stale segment of a reused pid
      chosen = fresh_name();
      continue;
    }
    if (errno == EEXIST) {
      throw Error("concur::SharedArray: shared segment " + chosen + " already exists");
    }
    throw_errno("shm_open of shared segment " + chosen);
  }
  const pid_t self = ::getpid();
  // Reserve the pages now: on a full /dev/shm a plain ftruncate succeeds and the first
  // write past the available memory kills the process with SIGBUS.
  if (const int error = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(bytes)); error != 0) {
    ::shm_unlink(chosen.c_str());
    const std::string available = free_space();
    throw Error("concur::SharedArray: cannot reserve " + std::to_string(bytes) + " bytes for " + chosen +
                " in /dev/shm (" + available + " available): " + std::strerror(error));
  }
  void* data = nullptr;
  try {
    data = map(fd.get(), bytes, true, chosen);
  } catch (...) {
    ::shm_unlink(chosen.c_str());
    throw;
  }
  return std::shared_ptr<SharedSegment>(new SharedSegment(std::move(chosen), data, bytes, self, true));
}

std::shared_ptr<SharedSegment> SharedSegment::attach(const std::string& name, std::size_t bytes, bool writable) {
  check_name(name);
  Fd fd(::shm_open(name.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0));
  if (!fd) {
    if (errno == ENOENT) {
      throw Error("concur::SharedArray: shared segment " + name +
                  " does not exist (its owner destroyed it or exited)");
    }
    throw_errno("shm_open of shared segment " + name);
  }
  struct stat info{};
  if (::fstat(fd.get(), &info) != 0) throw_errno("fstat of shared segment " + name);
  if (static_cast<std::size_t>(info.st_size) < bytes || bytes == 0) {
    throw Error("concur::SharedArray: shared segment " + name + " has " + std::to_string(info.st_size) +
                " bytes; the array needs " + std::to_string(bytes));
  }
  void* data = map(fd.get(), bytes, writable, name);
  return std::shared_ptr<SharedSegment>(new SharedSegment(name, data, bytes, 0, writable));
}

std::shared_ptr<SharedSegment> SharedSegment::attach_cached(const std::string& name, std::size_t bytes,
                                                            bool writable) {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  for (auto it = c.entries.begin(); it != c.entries.end(); ++it) {
    const SharedSegment& s = **it;
    if (s.name() == name && s.bytes() == bytes && s.writable() == writable) {
      c.entries.splice(c.entries.begin(), c.entries, it);
      return *it;
    }
  }
  // A miss: drop what the owners have unlinked (their memory stays allocated while mapped).
  std::erase_if(c.entries, [](const std::shared_ptr<SharedSegment>& s) {
    struct stat info{};
    return ::stat(("/dev/shm" + s->name()).c_str(), &info) != 0;
  });
  auto segment = attach(name, bytes, writable);
  c.entries.push_front(segment);
  if (c.entries.size() > kCachedAttachments) c.entries.pop_back();
  return segment;
}

SharedSegment::~SharedSegment() {
  ::munmap(data_, bytes_);
  if (owner_pid_ > 0 && owner_pid_ == ::getpid()) ::shm_unlink(name_.c_str());
}

std::vector<SegmentInfo> list_segments() {
  std::vector<SegmentInfo> found;
  DIR* dir = ::opendir("/dev/shm");
  if (dir == nullptr) throw_errno("opendir /dev/shm");
  while (const dirent* entry = ::readdir(dir)) {
    std::string name = "/";
    name.append(entry->d_name);
    const auto owner = parse_name(name);
    if (!owner) continue;
    SegmentInfo info{name, owner->first};
    struct stat st{};
    if (::stat(("/dev/shm" + name).c_str(), &st) == 0) info.bytes = static_cast<std::size_t>(st.st_size);
    const auto started = start_time(owner->first);
    info.owner_alive = started.has_value() && *started == owner->second;
    found.push_back(std::move(info));
  }
  ::closedir(dir);
  std::ranges::sort(found, {}, &SegmentInfo::name);
  return found;
}

std::vector<SegmentInfo> remove_stale_segments() {
  std::vector<SegmentInfo> removed;
  for (SegmentInfo& info : list_segments()) {
    if (info.owner_alive) continue;
    if (::shm_unlink(info.name.c_str()) == 0 || errno == ENOENT) removed.push_back(std::move(info));
  }
  return removed;
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
