// llmbench/host/energy.hpp - the machine's energy counters, read at the start and end of a run.
//
// Counters, where the hardware keeps them, beat integrating sampled watts: they count every
// joule, however short the run. Three kinds are read:
// - Linux RAPL (Intel and AMD CPUs), the powercap tree: /sys/class/powercap/intel-rapl:*
//   with `name` (package-N, core, uncore, dram, psys), `energy_uj` and `max_energy_range_uj`
//   (the counter wraps there). Root-only on many distributions since 2020 (CVE-2020-8694);
//   an unreadable counter gives a note saying how to allow it.
// - AMD GPUs, amdgpu's hwmon files: /sys/class/drm/card*/device/hwmon/hwmon*/energy1_input
//   (microjoules) where the driver has it; power1_average / power1_input (microwatts) are
//   sampled watts for the memory sampler instead.
// - NVIDIA GPUs: nvmlDeviceGetTotalEnergyConsumption (millijoules since the driver loaded).
// - Apple Silicon: powermetrics' samples of the SoC's power, summed (host/powermetrics.hpp).
// The energy is the whole machine's (or device's), not the model process's.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "llmbench/core/json.hpp"
#include "llmbench/detail/nvml.hpp"
#include "llmbench/host/energy_counter.hpp"
#include "llmbench/host/powermetrics.hpp"

namespace llmbench {

/// A run's energy from the counters read before and after it.
struct EnergyUse {
    std::optional<double> total_j;          ///< the zones counted into the total, summed
    std::map<std::string, double> zones_j;  ///< every counter's difference, by id
    std::string source;                     ///< the sources in the total, e.g. "rapl+nvml"
    bool covers_gpu = false;                ///< a GPU counter is in the total (sampled GPU watts would count it twice)
    std::vector<std::string> notes;
};

/// The machine's power at rest, measured just before a run (--subtract-idle).
struct IdlePower {
    std::optional<double> watts;  ///< null when nothing on this machine measures energy
    double seconds = 0;           ///< how long it was measured
    std::string source;           ///< as RunMemory::energy_source
    bool subtracted = false;      ///< taken off every run's energy_j

    void write_json(JsonWriter& w) const {
        w.begin_object().kv("watts", watts).kv("measured_s", seconds).key("source");
        if (source.empty()) w.null();
        else w.value(source);
        w.kv("subtracted", subtracted).end_object();
    }
};

namespace detail {

/// A file's first line; nullopt when missing or unreadable (errno says which).
inline std::optional<std::string> read_first_line(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    return line;
}

inline std::optional<double> read_number(const std::filesystem::path& path) {
    const auto line = read_first_line(path);
    if (!line || line->empty()) return std::nullopt;
    char* end = nullptr;
    const double v = std::strtod(line->c_str(), &end);
    if (end == line->c_str()) return std::nullopt;
    return v;
}

/// The entries of `dir` whose names start with `prefix`, sorted (a missing folder: none).
inline std::vector<std::filesystem::path> entries_starting(const std::filesystem::path& dir, const std::string& prefix) {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().filename().string().rfind(prefix, 0) == 0) out.push_back(it->path());
    std::sort(out.begin(), out.end());
    return out;
}

inline std::string rapl_covers(const std::string& name) {
    if (name.rfind("package", 0) == 0) return "cpu_package";
    if (name == "core") return "cpu_cores";
    if (name == "uncore") return "cpu_uncore";
    if (name == "dram") return "dram";
    if (name == "psys") return "platform";
    return name;
}

}  // namespace detail

/// RAPL's counters under `powercap` (the powercap class folder: /sys/class/powercap).
/// Subzones (intel-rapl:0:0) are listed there too, so one folder level is read.
inline EnergyReading read_rapl(const std::filesystem::path& powercap = "/sys/class/powercap") {
    EnergyReading r;
    bool unreadable = false;
    for (const auto& zone : detail::entries_starting(powercap, "intel-rapl:")) {
        const auto name = detail::read_first_line(zone / "name");
        if (!name) continue;
        const auto uj = detail::read_number(zone / "energy_uj");
        if (!uj) {
            unreadable = unreadable || std::filesystem::exists(zone / "energy_uj");
            continue;
        }
        EnergyCounter c;
        c.id = "rapl:" + zone.filename().string();
        c.source = "rapl";
        c.name = *name;
        c.covers = detail::rapl_covers(*name);
        c.joules = *uj / 1e6;
        if (const auto range = detail::read_number(zone / "max_energy_range_uj"); range && *range > 0) c.wrap_joules = *range / 1e6;
        c.in_total = c.covers == "cpu_package" || c.covers == "dram";
        r.counters.push_back(std::move(c));
    }
    if (unreadable)
        r.notes.push_back("RAPL energy counters under " + powercap.string() +
                          " are readable by root only (the default since 2020): run as root, or allow reading them with "
                          "'sudo chmod o+r " + powercap.string() + "/intel-rapl:*/energy_uj' (until reboot) or a udev rule");
    return r;
}

/// The energy counters of AMD GPUs under `drm` (/sys/class/drm): amdgpu's hwmon energy1_input.
inline EnergyReading read_amdgpu_energy(const std::filesystem::path& drm = "/sys/class/drm") {
    EnergyReading r;
    for (const auto& card : detail::entries_starting(drm, "card")) {
        if (card.filename().string().find('-') != std::string::npos) continue;  // card0-DP-1: a connector
        for (const auto& hwmon : detail::entries_starting(card / "device" / "hwmon", "hwmon")) {
            if (detail::read_first_line(hwmon / "name").value_or("") != "amdgpu") continue;
            if (const auto uj = detail::read_number(hwmon / "energy1_input")) {
                EnergyCounter c;
                c.id = "amdgpu:" + card.filename().string();
                c.source = "amdgpu";
                c.name = card.filename().string();
                c.covers = "gpu";
                c.joules = *uj / 1e6;
                c.in_total = true;
                r.counters.push_back(std::move(c));
            }
        }
    }
    return r;
}

/// Watts of each AMD GPU now (power1_average, else power1_input; microwatts in the file), for
/// the memory sampler where a card has no energy counter.
inline std::vector<double> read_amdgpu_power_w(const std::filesystem::path& drm = "/sys/class/drm") {
    std::vector<double> out;
    for (const auto& card : detail::entries_starting(drm, "card")) {
        if (card.filename().string().find('-') != std::string::npos) continue;
        for (const auto& hwmon : detail::entries_starting(card / "device" / "hwmon", "hwmon")) {
            if (detail::read_first_line(hwmon / "name").value_or("") != "amdgpu") continue;
            auto uw = detail::read_number(hwmon / "power1_average");
            if (!uw) uw = detail::read_number(hwmon / "power1_input");
            if (uw) out.push_back(*uw / 1e6);
        }
    }
    return out;
}

/// NVIDIA GPUs' energy counters through NVML (those that support it: Volta and later).
inline EnergyQuery nvml_energy_query(const char* library = "libnvidia-ml.so.1") {
    const auto nvml = detail::Nvml::load(library);
    unsigned devices = 0;
    if (!nvml || !nvml->device_count || !nvml->total_energy || nvml->device_count(&devices) != 0 || devices == 0) return nullptr;
    return [n = *nvml, devices]() {
        EnergyReading r;
        for (unsigned i = 0; i < devices; ++i) {
            void* device = nullptr;
            unsigned long long millijoules = 0;
            if (n.device_handle(i, &device) != 0 || n.total_energy(device, &millijoules) != 0) continue;  // not supported: sampled watts instead
            EnergyCounter c;
            c.id = "nvml:gpu" + std::to_string(i);
            c.source = "nvml";
            c.name = "gpu" + std::to_string(i);
            c.covers = "gpu";
            c.joules = static_cast<double>(millijoules) / 1e3;
            c.in_total = true;
            r.counters.push_back(std::move(c));
        }
        return r;
    };
}

/// Where the Linux readers look: `root` + /class/powercap and /class/drm. LLMBENCH_SYSFS_ROOT
/// moves them (tests point it at a fake tree).
inline std::filesystem::path sysfs_root() {
    const char* root = std::getenv("LLMBENCH_SYSFS_ROOT");
    return root != nullptr && *root != '\0' ? std::filesystem::path(root) : std::filesystem::path("/sys");
}

/// Every counter of the machine: RAPL, amdgpu, NVML, and powermetrics where it runs (macOS,
/// or whatever LLMBENCH_POWERMETRICS names).
inline EnergyQuery default_energy_query(const std::filesystem::path& sysfs = sysfs_root(), const char* nvml_library = "libnvidia-ml.so.1") {
    auto nvml = nvml_energy_query(nvml_library);
    auto apple = default_powermetrics_query();
    return [sysfs, nvml, apple]() {
        EnergyReading all = read_rapl(sysfs / "class" / "powercap");
        const auto add = [&all](EnergyReading more) {
            for (auto& c : more.counters) all.counters.push_back(std::move(c));
            for (auto& n : more.notes) all.notes.push_back(std::move(n));
        };
        add(read_amdgpu_energy(sysfs / "class" / "drm"));
        if (nvml) add(nvml());
        if (apple) add(apple());
        return all;
    };
}

/// The energy between two readings: each counter's difference, a counter that went back
/// having wrapped once (its range added), one without a range that went back dropped with a
/// note. A counter missing from either reading is left out.
inline EnergyUse energy_between(const EnergyReading& before, const EnergyReading& after) {
    EnergyUse use;
    use.notes = after.notes;
    std::vector<std::string> sources;
    for (const auto& end : after.counters) {
        const auto start = std::find_if(before.counters.begin(), before.counters.end(), [&](const EnergyCounter& c) { return c.id == end.id; });
        if (start == before.counters.end()) continue;
        double joules = end.joules - start->joules;
        if (joules < 0) {
            if (!end.wrap_joules) {
                use.notes.push_back(end.id + " went back with no range to wrap at (reset?); left out");
                continue;
            }
            joules += *end.wrap_joules;
        }
        use.zones_j[end.id] = joules;
        if (end.in_total) {
            use.total_j = use.total_j.value_or(0) + joules;
            use.covers_gpu = use.covers_gpu || end.covers == "gpu";
            if (std::find(sources.begin(), sources.end(), end.source) == sources.end()) sources.push_back(end.source);
        }
    }
    for (const auto& s : sources) use.source += (use.source.empty() ? "" : "+") + s;
    return use;
}

}  // namespace llmbench
