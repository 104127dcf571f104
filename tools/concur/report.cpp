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

std::string concurrency_table(const ConcurrencyExperimentConfig& config,
                              const std::vector<ConcurrencyMeasurement>& results) {
  std::string out = fmt::format("Massive concurrency: waits of {} ms each, as threads and as event-loop tasks\n",
                                config.wait_ms);
  out += fmt::format("  {:<12} {:>9} {:>10} {:>14} {:>12}\n", "mode", "waits", "time (s)", "memory (MiB)",
                     "per wait");
  for (const auto& m : results) {
    const double per = m.waits > 0 ? m.memory_bytes / static_cast<double>(m.waits) : 0;
    out += fmt::format("  {:<12} {:>9} {:>10.3f} {:>14.1f} {:>10.0f} B\n", m.mode, m.waits, m.seconds,
                       m.memory_bytes / (1 << 20), per);
    if (!m.failure.empty()) out += fmt::format("    ({})\n", m.failure);
  }
  return out;
}

std::string concurrency_verdict(const std::vector<ConcurrencyMeasurement>& results) {
  const ConcurrencyMeasurement& threads = results.at(0);
  const ConcurrencyMeasurement& tasks = results.at(1);
  const ConcurrencyMeasurement& many = results.at(2);
  const double thread_each = threads.waits > 0 ? threads.memory_bytes / static_cast<double>(threads.waits) : 0;
  const double task_each = tasks.waits > 0 ? tasks.memory_bytes / static_cast<double>(tasks.waits) : 0;
  return fmt::format(
      "Verdict: a waiting thread held {:.1f} KiB here (plus an 8 MiB stack reserved), a waiting task {:.0f} "
      "bytes: {:.0f}x less. {} tasks waited together in {:.2f} s on one thread. For thousands of concurrent "
      "waits, the event loop is the tool; threads suit tens to hundreds.",
      thread_each / 1024, task_each, task_each > 0 ? thread_each / task_each : 0, many.waits, many.seconds);
}

nlohmann::json to_json(const ConcurrencyExperimentConfig& config, const std::vector<ConcurrencyMeasurement>& results,
                       const std::string& verdict) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& m : results) {
    rows.push_back({{"mode", m.mode},
                    {"waits", m.waits},
                    {"seconds", m.seconds},
                    {"memory_bytes", m.memory_bytes},
                    {"failure", m.failure}});
  }
  return {{"waits", config.waits}, {"wait_ms", config.wait_ms}, {"results", rows}, {"verdict", verdict}};
}

std::string io_table(const IoExperimentConfig& config, const std::vector<IoMeasurement>& results) {
  std::string out = fmt::format(
      "I/O-bound: {} files of {} B from a local server answering after {} ms, {:.1f} ms of CPU each\n", config.files,
      config.file_size, config.latency_ms, config.cpu_ms);
  out += fmt::format("  {:<22} {:>10} {:>10} {:>12}\n", "mode", "time (s)", "CPU (s)", "requests/s");
  for (const auto& m : results) {
    out += fmt::format("  {:<22} {:>10.2f} {:>10.2f} {:>12.0f}{}\n", m.mode, m.seconds, m.cpu_seconds,
                       m.requests_per_second,
                       m.scaled ? fmt::format("   ({} files fetched, times scaled to {})", m.fetched, config.files)
                                : std::string());
  }
  return out;
}

std::string io_verdict(const IoExperimentConfig& config, const std::vector<IoMeasurement>& results) {
  const IoMeasurement* best = &results.at(0);
  for (const auto& m : results) {
    if (m.seconds < best->seconds) best = &m;
  }
  const double cpu_total = config.cpu_ms * 1e-3 * static_cast<double>(config.files);
  return fmt::format(
      "Verdict: fastest here: {} ({:.2f} s, {:.0f}x sequential). Waiting overlaps in every concurrent mode; "
      "what is left is the CPU part ({:.2f} s in all), which one loop thread runs alone and threads spread over "
      "the cores. Many waits and little CPU: the loop; much CPU per item: hand it to threads or processes from "
      "the loop (to_thread, run_in).",
      best->mode, best->seconds, best->seconds > 0 ? results.at(0).seconds / best->seconds : 0, cpu_total);
}

nlohmann::json to_json(const IoExperimentConfig& config, const std::vector<IoMeasurement>& results,
                       const std::string& verdict) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& m : results) {
    rows.push_back({{"mode", m.mode},
                    {"fetched", m.fetched},
                    {"seconds", m.seconds},
                    {"cpu_seconds", m.cpu_seconds},
                    {"requests_per_second", m.requests_per_second},
                    {"scaled", m.scaled}});
  }
  return {{"files", config.files},       {"latency_ms", config.latency_ms}, {"cpu_ms", config.cpu_ms},
          {"file_size", config.file_size}, {"results", rows},                 {"verdict", verdict}};
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
