#include "clean.hpp"

#include <concur/sci/shared_array.hpp>

#include <fmt/core.h>

#include <memory>

namespace concur::cli {
namespace {

struct CleanOptions {
  bool dry_run = false;
};

void run_clean(const CleanOptions& options) {
  std::size_t stale = 0, in_use = 0, bytes = 0;
  const auto segments = options.dry_run ? list_shared_segments() : remove_stale_shared_segments();
  for (const SharedSegmentInfo& info : segments) {
    if (info.owner_alive) {
      ++in_use;
      continue;
    }
    ++stale;
    bytes += info.bytes;
    fmt::print("{} /dev/shm{}  {} bytes  (owner pid {} is gone)\n", options.dry_run ? "would remove" : "removed",
               info.name, info.bytes, info.owner_pid);
  }
  if (!options.dry_run) in_use = list_shared_segments().size();
  fmt::print("{} stale segment{} {} ({} bytes); {} in use left alone\n", stale, stale == 1 ? "" : "s",
             options.dry_run ? "found" : "removed", bytes, in_use);
}

}  // namespace

void add_clean_command(CLI::App& app) {
  auto options = std::make_shared<CleanOptions>();
  CLI::App* clean = app.add_subcommand(
      "clean",
      "Remove the /dev/shm segments of concur SharedArrays whose owning process has exited without "
      "unlinking them (killed, crashed). Segments of running processes are left alone.");
  clean->add_flag("--dry-run", options->dry_run, "Only list what would be removed");
  clean->callback([options] { run_clean(*options); });
}

}  // namespace concur::cli
