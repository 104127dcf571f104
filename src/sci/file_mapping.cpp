#include <concur/sci/mapped_array.hpp>

#include "../process/posix.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace concur {
inline namespace v0 {
namespace detail {

std::size_t FileMapping::page_size() noexcept {
  static const auto size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

FileMapping FileMapping::create(const std::string& path, std::size_t bytes, bool overwrite) {
  const int flags = O_RDWR | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  Fd fd(::open(path.c_str(), flags, 0644));
  if (!fd) {
    if (errno == EEXIST) throw Error("concur::MappedArray: " + path + " already exists (pass overwrite to replace it)");
    throw_errno("open " + path);
  }
  // Reserve the blocks: a sparse file on a full disk turns a later write into SIGBUS.
  if (const int error = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(bytes)); error != 0) {
    ::unlink(path.c_str());
    throw Error("concur::MappedArray: cannot reserve " + std::to_string(bytes) + " bytes for " + path + ": " +
                std::strerror(error));
  }
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (base == MAP_FAILED) {
    const int error = errno;
    ::unlink(path.c_str());
    errno = error;
    throw_errno("mmap " + path);
  }
  FileMapping m;
  m.path_ = path;
  m.base_ = m.data_ = base;
  m.mapped_ = m.bytes_ = bytes;
  m.writable_ = true;
  return m;
}

FileMapping FileMapping::open(const std::string& path, MapMode mode, std::size_t offset, std::size_t bytes,
                              std::size_t element_size) {
  const bool writable = mode == MapMode::read_write;
  Fd fd(::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC));
  if (!fd) throw_errno("open " + path);
  struct stat info{};
  if (::fstat(fd.get(), &info) != 0) throw_errno("fstat " + path);
  const auto size = static_cast<std::size_t>(info.st_size);
  if (bytes == 0) {  // the whole file from offset
    if (offset >= size || (size - offset) % element_size != 0) {
      throw Error("concur::MappedArray: " + path + " has " + std::to_string(size) +
                  " bytes, not a positive whole number of " + std::to_string(element_size) + "-byte elements");
    }
    bytes = size - offset;
  }
  if (offset > size || bytes > size - offset) {
    throw Error("concur::MappedArray: " + path + " has " + std::to_string(size) + " bytes; bytes [" +
                std::to_string(offset) + ", " + std::to_string(offset + bytes) +
                ") would read past the file's end");
  }
  const std::size_t delta = offset % page_size();
  void* base = ::mmap(nullptr, bytes + delta, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd.get(),
                      static_cast<off_t>(offset - delta));
  if (base == MAP_FAILED) throw_errno("mmap " + path);
  FileMapping m;
  m.path_ = path;
  m.base_ = base;
  m.mapped_ = bytes + delta;
  m.data_ = static_cast<char*>(base) + delta;
  m.bytes_ = bytes;
  m.writable_ = writable;
  return m;
}

FileMapping::~FileMapping() {
  if (base_ != nullptr) ::munmap(base_, mapped_);
}

void FileMapping::flush() const {
  if (base_ == nullptr || !writable_) return;
  if (::msync(base_, mapped_, MS_SYNC) != 0) throw_errno("msync " + path_);
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
