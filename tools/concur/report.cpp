#include "report.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace concur::cli {

std::string parallelism_line(const ParallelismProbe& probe) {
  return fmt::format(
      "Parallelism available now: {:.2f}x with two threads ({} hardware threads; the same spin "
      "work took {:.1f} ms on one thread, {:.1f} ms on each of two)",
      probe.parallelism(), std::thread::hardware_concurrency(), probe.one_thread_seconds * 1e3,
      probe.two_threads_seconds * 1e3);
}

std::string cpu_table(const CpuExperimentConfig& config, const std::vector<Measurement>& results) {
  std::string out = fmt::format(
      "CPU-bound: Monte Carlo pi, {} tasks x {} draws (median of {} runs)\n", config.tasks,
      config.draws_per_task, config.repeats);
  out += fmt::format("  {:<27} {:>7} {:>10} {:>14} {:>8} {:>9}\n", "mode", "workers", "time (s)",
                     "draws/s", "speedup", "pi");
  for (const auto& m : results) {
    out += fmt::format("  {:<27} {:>7} {:>10.3f} {:>14.3e} {:>7.2f}x {:>9.5f}\n", m.mode, m.workers,
                       m.seconds, m.draws_per_second, m.speedup, m.pi);
  }
  return out;
}

std::string cpu_verdict(const ParallelismProbe& probe, const std::vector<Measurement>& results) {
  const Measurement& threads = results.at(1);
  const Measurement& gil = results.at(2);
  std::string verdict = fmt::format(
      "Verdict: with {} workers, threads ran at {:.2f}x the sequential speed; under an emulated "
      "GIL, at {:.2f}x. The lecture's \"threads disappoint\" is the GIL, not threads: in C++ a "
      "ThreadPool is the tool for CPU-bound work.",
      threads.workers, threads.speedup, gil.speedup);
  if (probe.parallelism() < 1.3) {
    verdict += fmt::format(
        " (This machine gives only {:.2f}x parallelism right now, so no speedup was possible; run "
        "again when the second core is back.)",
        probe.parallelism());
  }
  return verdict;
}

nlohmann::json to_json(const ParallelismProbe& probe) {
  return {{"hardware_threads", std::thread::hardware_concurrency()},
          {"parallelism", probe.parallelism()},
          {"one_thread_seconds", probe.one_thread_seconds},
          {"two_threads_seconds", probe.two_threads_seconds}};
}

nlohmann::json to_json(const CpuExperimentConfig& config, const std::vector<Measurement>& results,
                       const std::string& verdict) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& m : results) {
    rows.push_back({{"mode", m.mode},
                    {"workers", m.workers},
                    {"seconds", m.seconds},
                    {"draws_per_second", m.draws_per_second},
                    {"speedup", m.speedup},
                    {"pi", m.pi}});
    if (m.process_start_seconds > 0) {
      rows.back()["process_start_seconds"] = m.process_start_seconds;
      rows.back()["process_round_trip_seconds"] = m.process_round_trip_seconds;
    }
  }
  return {{"tasks", config.tasks},
          {"draws_per_task", config.draws_per_task},
          {"gil_switch_interval", config.gil_switch_interval},
          {"repeats", config.repeats},
          {"results", rows},
          {"verdict", verdict}};
}

void write_json(const std::string& path, const nlohmann::json& document) {
  std::ofstream file(path);
  if (!file) {
    throw std::runtime_error(fmt::format("cannot open {} for writing: {}", path, std::strerror(errno)));
  }
  file << document.dump(2) << '\n';
  file.close();
  if (!file) throw std::runtime_error(fmt::format("cannot write {}", path));
}

}  // namespace concur::cli
