// `concur serve`: the synthetic data service (http/data_service.hpp) as a standalone
// HTTP server, for the I/O experiments, benchmarks and anyone's own clients.
#pragma once

#include <CLI/CLI.hpp>

namespace concur::cli {

void add_serve_command(CLI::App& app);

}  // namespace concur::cli
