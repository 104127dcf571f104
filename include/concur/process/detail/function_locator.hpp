// How a function travels to a worker process: as the module that holds it and its offset
// inside that module, so the same binary resolves it after fork, after exec (where
// address-space randomisation moves every module) and under MPI, with no registration.
//
// A worker resolves only offsets that fall inside the executable code of a module loaded
// in its own process; anything else is refused with SerializationError, never called.
//
// Thread safety: both functions may be called concurrently (they read the dynamic
// linker's module list, which it guards itself).
#pragma once

#include <concur/export.hpp>

#include <cstdint>
#include <string>

namespace concur {
inline namespace v0 {
namespace detail {

struct FunctionLocation {
  std::string module;  // the loaded object's path; empty for the main program
  std::uint64_t offset = 0;
  bool operator==(const FunctionLocation&) const = default;
};

// Where `code` lives. Throws InvalidState if it is not inside the executable code of a
// loaded module (a data address, a JIT buffer).
CONCUR_EXPORT FunctionLocation locate_code(const void* code);

// The address of `location` in this process. Throws SerializationError if its module is
// not loaded here or the offset is not inside that module's executable code.
CONCUR_EXPORT const void* resolve_code(const FunctionLocation& location);

template <class R, class... Args>
FunctionLocation locate_function(R (*function)(Args...)) {
  return locate_code(reinterpret_cast<const void*>(function));
}

template <class Function>
Function resolve_function(const FunctionLocation& location) {
  return reinterpret_cast<Function>(const_cast<void*>(resolve_code(location)));
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
