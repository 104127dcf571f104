// `concur clean`: removes the shared-memory segments of SharedArrays whose owner died.
#pragma once

#include <CLI/CLI.hpp>

namespace concur::cli {

// Adds the `clean` subcommand to `app`.
void add_clean_command(CLI::App& app);

}  // namespace concur::cli
