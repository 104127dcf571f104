// `concur demo`: the classic experiments, measured on this machine.
#pragma once

#include <CLI/CLI.hpp>

namespace concur::cli {

// Adds the `demo` subcommand to `app`.
void add_demo_command(CLI::App& app);

}  // namespace concur::cli
