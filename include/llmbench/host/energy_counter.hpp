// llmbench/host/energy_counter.hpp - what every energy source reads: cumulative counters.
//
// RAPL, amdgpu and NVML keep such counters; powermetrics' samples are summed into them
// (host/powermetrics.hpp). energy_between() (host/energy.hpp) turns two readings into a run's
// energy, whatever the source.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace llmbench {

/// One counter at one moment: cumulative joules, and where it wraps (if it says).
struct EnergyCounter {
    std::string id;      ///< unique and stable: "rapl:intel-rapl:0", "amdgpu:card0", "nvml:gpu0", "powermetrics:cpu"
    std::string source;  ///< "rapl", "amdgpu", "nvml", "powermetrics"
    std::string name;    ///< the zone: "package-0", "core", "dram", "psys", "gpu0", "cpu", "ane"
    /// What the counter covers: "cpu_package", "cpu_cores", "cpu_uncore", "dram", "platform"
    /// (psys: the whole SoC and more), "gpu" or "ane" (Apple's Neural Engine).
    std::string covers;
    double joules = 0;
    std::optional<double> wrap_joules;  ///< the counter's range; it restarts from 0 past it
    /// Counted into the machine's total: packages, DRAM, GPUs, Apple's CPU/GPU/ANE. Cores and
    /// uncore are inside their package, psys holds the package: counting them too would count
    /// joules twice.
    bool in_total = false;
};

/// The counters at one moment, and why others could not be read.
struct EnergyReading {
    std::vector<EnergyCounter> counters;
    std::vector<std::string> notes;
};

/// Reads every counter this machine has; empty when it has none.
using EnergyQuery = std::function<EnergyReading()>;

}  // namespace llmbench
