#include <concur/process/detail/function_locator.hpp>

#include <concur/errors.hpp>

#include <link.h>

#include <cstdio>

namespace concur {
inline namespace v0 {
namespace detail {
namespace {

// True when [address, address + 1) lies in an executable PT_LOAD segment of `info`.
bool in_code(const dl_phdr_info& info, std::uintptr_t address) {
  for (ElfW(Half) i = 0; i < info.dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info.dlpi_phdr[i];
    if (segment.p_type != PT_LOAD || (segment.p_flags & PF_X) == 0) continue;
    const std::uintptr_t start = info.dlpi_addr + segment.p_vaddr;
    if (address >= start && address - start < segment.p_memsz) return true;
  }
  return false;
}

struct Search {
  std::uintptr_t address = 0;      // locate: the code address; resolve: the offset
  const std::string* module = nullptr;  // resolve: the module wanted
  bool found_module = false;
  bool found = false;
  FunctionLocation location;
  std::uintptr_t resolved = 0;
};

int locate_in(dl_phdr_info* info, std::size_t, void* data) {
  auto& search = *static_cast<Search*>(data);
  if (!in_code(*info, search.address)) return 0;
  search.found = true;
  search.location.module = info->dlpi_name != nullptr ? info->dlpi_name : "";
  search.location.offset = search.address - info->dlpi_addr;
  return 1;
}

int resolve_in(dl_phdr_info* info, std::size_t, void* data) {
  auto& search = *static_cast<Search*>(data);
  const char* name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  if (*search.module != name) return 0;
  search.found_module = true;
  const std::uintptr_t address = info->dlpi_addr + search.address;
  if (address >= info->dlpi_addr && in_code(*info, address)) {  // no wrap-around
    search.found = true;
    search.resolved = address;
  }
  return 1;
}

std::string module_name(const std::string& module) {
  return module.empty() ? "the main program" : "module " + module;
}

}  // namespace

FunctionLocation locate_code(const void* code) {
  Search search;
  search.address = reinterpret_cast<std::uintptr_t>(code);
  dl_iterate_phdr(locate_in, &search);
  if (!search.found) {
    char text[32];
    std::snprintf(text, sizeof text, "%p", code);
    throw InvalidState(std::string("concur: address ") + text +
                       " is not inside the code of a loaded module, so it cannot run in "
                       "another process");
  }
  return search.location;
}

const void* resolve_code(const FunctionLocation& location) {
  Search search;
  search.address = static_cast<std::uintptr_t>(location.offset);
  search.module = &location.module;
  dl_iterate_phdr(resolve_in, &search);
  if (!search.found_module) {
    throw SerializationError("concur: a task names " + module_name(location.module) +
                             ", which is not loaded in this process");
  }
  if (!search.found) {
    throw SerializationError("concur: offset " + std::to_string(location.offset) + " is not inside the code of " +
                             module_name(location.module) + "; refused");
  }
  return reinterpret_cast<const void*>(search.resolved);
}

}  // namespace detail
}  // namespace v0
}  // namespace concur
