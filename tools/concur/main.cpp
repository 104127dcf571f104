// The concur command-line tool: experiments and utilities around the library.
#include "clean.hpp"
#include "demo.hpp"
#include "serve.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  CLI::App app{"concur: Python's concurrency models for scientific C++, measured on this machine"};
  app.require_subcommand(1);
  concur::cli::add_demo_command(app);
  concur::cli::add_clean_command(app);
  concur::cli::add_serve_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "concur: %s\n", e.what());
    return 1;
  }
  return 0;
}
