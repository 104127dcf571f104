#include "demo.hpp"

#include "cpu_experiment.hpp"
#include "report.hpp"

#include <concur/profile/parallelism_probe.hpp>

#include <fmt/format.h>

#include <memory>
#include <string>

namespace concur::cli {
namespace {

struct DemoOptions {
  CpuExperimentConfig cpu;
  ConcurrencyExperimentConfig concurrency;
  IoExperimentConfig io;
  std::string json_path;
};

void run_demo(const DemoOptions& options) {
  const ParallelismProbe probe = probe_parallelism();
  fmt::print("{}\n\n", parallelism_line(probe));

  const auto results = run_cpu_experiment(options.cpu);
  const std::string verdict = cpu_verdict(probe, results);
  fmt::print("{}\n{}\n", cpu_table(options.cpu, results), verdict);
  for (const Measurement& m : results) {
    if (m.process_start_seconds > 0) {
      fmt::print("ProcessPool costs here: {:.2f} ms from construction to the first result, "
                 "{:.1f} us per submit().get() round trip (median)\n",
                 m.process_start_seconds * 1e3, m.process_round_trip_seconds * 1e6);
    }
  }

  const auto waits = run_concurrency_experiment(options.concurrency);
  const std::string waits_verdict = concurrency_verdict(waits);
  fmt::print("\n{}\n{}\n", concurrency_table(options.concurrency, waits), waits_verdict);

  const auto fetches = run_io_experiment(options.io);
  const std::string io_text = io_verdict(options.io, fetches);
  fmt::print("\n{}\n{}\n", io_table(options.io, fetches), io_text);

  if (!options.json_path.empty()) {
    write_json(options.json_path, {{"machine", to_json(probe)},
                                   {"cpu_bound", to_json(options.cpu, results, verdict)},
                                   {"massive_concurrency", to_json(options.concurrency, waits, waits_verdict)},
                                   {"io_bound", to_json(options.io, fetches, io_text)}});
    fmt::print("\nWrote {}\n", options.json_path);
  }
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* demo = app.add_subcommand(
      "demo",
      "Run the classic experiment here: a CPU-bound Monte Carlo estimate of pi, sequential vs "
      "ThreadPool vs ThreadPool under an emulated GIL vs ProcessPool, after measuring the parallelism this "
      "machine gives right now; then massive concurrency: N waits as threads and as event-loop tasks; then "
      "I/O-bound: files from a local HTTP server fetched sequentially, by thread pools and on the event loop.");
  demo->add_option("--tasks", options->cpu.tasks, "Number of tasks")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  demo->add_option("--draws", options->cpu.draws_per_task, "Random points drawn per task")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{10'000'000'000}))
      ->capture_default_str();
  demo->add_option("--workers", options->cpu.workers, "ThreadPool workers (0: one per core)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  demo->add_option("--gil-interval", options->cpu.gil_switch_interval,
                   "Draws between releases of the emulated GIL (CPython's switch interval)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000'000}))
      ->capture_default_str();
  demo->add_option("--repeat", options->cpu.repeats, "Runs per figure; the median is shown")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  demo->add_option("--waits", options->concurrency.waits,
                   "Concurrent waits of 100 ms: as threads and as tasks (tasks also at 100x)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
      ->capture_default_str();
  demo->add_option("--files", options->io.files, "I/O-bound: files fetched from the local data server")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
      ->capture_default_str();
  demo->add_option("--latency-ms", options->io.latency_ms, "I/O-bound: the server's latency per file")
      ->check(CLI::Range(0, 10'000))
      ->capture_default_str();
  demo->add_option("--cpu-ms", options->io.cpu_ms, "I/O-bound: CPU work per file after it arrived")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  demo->add_option("--sequential-files", options->io.sequential_files,
                   "I/O-bound: files the sequential run fetches (its times are scaled to --files)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
      ->capture_default_str();
  demo->add_option("--json", options->json_path, "Also write the figures to this JSON file");
  demo->callback([options] { run_demo(*options); });
}

}  // namespace concur::cli
