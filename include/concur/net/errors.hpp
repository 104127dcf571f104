// The errors of concur's network and subprocess layer (Python: OSError and its
// ConnectionError family, socket.gaierror, asyncio.IncompleteReadError and
// asyncio.LimitOverrunError).
//
// IoError carries the operating system's error (std::errc values, e.g.
// connection_refused); what() names the operation, the peer and the reason.
#pragma once

#include <concur/errors.hpp>
#include <concur/export.hpp>

#include <cstddef>
#include <string>
#include <system_error>
#include <utility>

namespace concur {
inline namespace v0 {

// An operating-system level failure of a socket, pipe or process (Python: OSError).
class CONCUR_EXPORT IoError : public Error {
 public:
  IoError(const std::string& message, std::error_code code) : Error(message), code_(code) {}
  std::error_code code() const noexcept { return code_; }

 private:
  std::error_code code_;
};

// The connection failed or broke: refused, reset, aborted, a broken pipe, or the stream
// was closed on this side (Python: ConnectionError and its subclasses).
class CONCUR_EXPORT ConnectionError : public IoError {
 public:
  using IoError::IoError;
};

// A host name could not be resolved (Python: socket.gaierror).
class CONCUR_EXPORT ResolveError : public IoError {
 public:
  using IoError::IoError;
};

// The stream ended before a read was satisfied (Python: asyncio.IncompleteReadError).
// partial() holds the bytes that were read (and consumed) before the end.
class CONCUR_EXPORT IncompleteReadError : public Error {
 public:
  IncompleteReadError(const std::string& message, std::string partial, std::size_t expected)
      : Error(message), partial_(std::move(partial)), expected_(expected) {}
  const std::string& partial() const noexcept { return partial_; }
  std::size_t expected() const noexcept { return expected_; }

 private:
  std::string partial_;
  std::size_t expected_;
};

// A delimited read found no delimiter within its limit (Python:
// asyncio.LimitOverrunError). The bytes stay buffered in the stream.
class CONCUR_EXPORT LimitOverrunError : public Error {
 public:
  LimitOverrunError(const std::string& message, std::size_t buffered) : Error(message), buffered_(buffered) {}
  std::size_t buffered() const noexcept { return buffered_; }

 private:
  std::size_t buffered_;
};

}  // namespace v0
}  // namespace concur
