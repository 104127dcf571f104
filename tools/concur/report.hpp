// How the CLI shows results: an aligned table on stdout, and the same figures as JSON.
#pragma once

#include "concurrency_experiment.hpp"
#include "cpu_experiment.hpp"
#include "io_experiment.hpp"

#include <concur/profile/parallelism_probe.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace concur::cli {

std::string parallelism_line(const ParallelismProbe& probe);
std::string cpu_table(const CpuExperimentConfig& config, const std::vector<Measurement>& results);
std::string cpu_verdict(const ParallelismProbe& probe, const std::vector<Measurement>& results);

std::string concurrency_table(const ConcurrencyExperimentConfig& config,
                              const std::vector<ConcurrencyMeasurement>& results);
std::string concurrency_verdict(const std::vector<ConcurrencyMeasurement>& results);

std::string io_table(const IoExperimentConfig& config, const std::vector<IoMeasurement>& results);
std::string io_verdict(const IoExperimentConfig& config, const std::vector<IoMeasurement>& results);

nlohmann::json to_json(const ParallelismProbe& probe);
nlohmann::json to_json(const IoExperimentConfig& config, const std::vector<IoMeasurement>& results,
                       const std::string& verdict);
nlohmann::json to_json(const ConcurrencyExperimentConfig& config, const std::vector<ConcurrencyMeasurement>& results,
                       const std::string& verdict);
nlohmann::json to_json(const CpuExperimentConfig& config, const std::vector<Measurement>& results,
                       const std::string& verdict);

// Writes `document` to `path`; throws std::runtime_error naming the path on failure.
void write_json(const std::string& path, const nlohmann::json& document);

}  // namespace concur::cli
