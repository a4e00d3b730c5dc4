// llmbench/host/thermal.hpp - the conditions a cell ran in: CPU clocks, temperatures and
// thermal throttling, read at its start and its end.
//
// A hot machine decodes slower, so a cell measured throttled is not the machine's speed. Linux
// says it through sysfs: cpufreq's current clock per CPU, the thermal zones' temperatures, and
// (Intel) the thermal_throttle counters, which count every time a core or package was slowed.
// macOS says it through `pmset -g therm` (CPU_Speed_Limit below 100: slowed).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmbench/core/json.hpp"
#include "llmbench/core/metrics.hpp"
#include "llmbench/detail/text.hpp"
#include "llmbench/host/energy.hpp"
#if defined(__APPLE__)
#include "llmbench/host/run_metadata.hpp"  // detail::run_command
#endif

namespace llmbench {

/// The machine's thermal state at one moment; each part unknown where the OS does not say.
struct ThermalSnapshot {
    std::optional<double> cpu_mhz_mean, cpu_mhz_min, cpu_mhz_max;  ///< scaling_cur_freq over the CPUs
    std::optional<double> cpu_max_mhz;                             ///< cpuinfo_max_freq: the top clock
    std::vector<std::pair<std::string, double>> zones_c;           ///< thermal zone type -> degrees Celsius
    std::optional<std::int64_t> throttle_events;  ///< Intel thermal_throttle core + package counts, summed over CPUs
    std::optional<int> speed_limit_percent;       ///< macOS pmset CPU_Speed_Limit (100: not slowed)

    std::optional<double> hottest_c() const {
        std::optional<double> out;
        for (const auto& z : zones_c) out = out ? std::max(*out, z.second) : z.second;
        return out;
    }

    void write_json(JsonWriter& w) const {
        w.begin_object().kv("cpu_mhz_mean", cpu_mhz_mean).kv("cpu_mhz_min", cpu_mhz_min).kv("cpu_mhz_max", cpu_mhz_max).kv("cpu_max_mhz", cpu_max_mhz);
        w.kv("hottest_c", hottest_c()).key("zones_c").begin_object();
        for (const auto& [zone, c] : zones_c) w.kv(zone, c);
        w.end_object().kv("throttle_events", throttle_events).kv("speed_limit_percent", speed_limit_percent).end_object();
    }
};

/// Reads `pmset -g therm`'s "CPU_Speed_Limit = N"; nullopt when the text has none.
inline std::optional<int> parse_pmset_speed_limit(std::string_view text) {
    const auto at = text.find("CPU_Speed_Limit");
    if (at == std::string_view::npos) return std::nullopt;
    const auto eq = text.find('=', at);
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string rest(detail::trim(text.substr(eq + 1, 8), " \t"));
    char* end = nullptr;
    const long v = std::strtol(rest.c_str(), &end, 10);
    if (end == rest.c_str() || v < 0 || v > 100) return std::nullopt;
    return static_cast<int>(v);
}

/// The thermal state from the sysfs tree at `sysfs` (/sys): devices/system/cpu and class/thermal.
/// On macOS, from `pmset -g therm` instead.
inline ThermalSnapshot read_thermal(const std::filesystem::path& sysfs = sysfs_root()) {
    ThermalSnapshot s;
#if defined(__APPLE__)
    (void)sysfs;
    s.speed_limit_percent = parse_pmset_speed_limit(detail::run_command("pmset -g therm 2>/dev/null"));
#else
    std::vector<double> mhz;
    std::int64_t throttles = 0;
    bool any_throttle = false;
    for (const auto& cpu : detail::entries_starting(sysfs / "devices" / "system" / "cpu", "cpu")) {
        const std::string name = cpu.filename().string();
        if (name.size() <= 3 || name.find_first_not_of("0123456789", 3) != std::string::npos) continue;  // cpufreq, cpuidle, ...
        if (const auto khz = detail::read_number(cpu / "cpufreq" / "scaling_cur_freq")) mhz.push_back(*khz / 1000);
        if (const auto top = detail::read_number(cpu / "cpufreq" / "cpuinfo_max_freq"))
            s.cpu_max_mhz = std::max(s.cpu_max_mhz.value_or(0), *top / 1000);
        for (const char* counter : {"core_throttle_count", "package_throttle_count"})
            if (const auto n = detail::read_number(cpu / "thermal_throttle" / counter)) {
                throttles += static_cast<std::int64_t>(*n);
                any_throttle = true;
            }
    }
    if (!mhz.empty()) {
        double sum = 0;
        for (double m : mhz) sum += m;
        s.cpu_mhz_mean = sum / static_cast<double>(mhz.size());
        s.cpu_mhz_min = *std::min_element(mhz.begin(), mhz.end());
        s.cpu_mhz_max = *std::max_element(mhz.begin(), mhz.end());
    }
    if (any_throttle) s.throttle_events = throttles;
    for (const auto& zone : detail::entries_starting(sysfs / "class" / "thermal", "thermal_zone")) {
        const auto millidegrees = detail::read_number(zone / "temp");
        if (!millidegrees) continue;
        const std::string type = detail::read_first_line(zone / "type").value_or(zone.filename().string());
        s.zones_c.emplace_back(type + (std::any_of(s.zones_c.begin(), s.zones_c.end(), [&](const auto& z) { return z.first == type; })
                                           ? "/" + zone.filename().string()
                                           : ""),
                               *millidegrees / 1000);
    }
#endif
    return s;
}

/// A cell's conditions: the state at its start and at its end.
struct ThermalConditions {
    ThermalSnapshot start, end;

    /// The OS counted throttling during the cell, or says the CPU was slowed at either end.
    bool throttled() const {
        if (start.throttle_events && end.throttle_events && *end.throttle_events > *start.throttle_events) return true;
        const auto slowed = [](const ThermalSnapshot& s) { return s.speed_limit_percent && *s.speed_limit_percent < 100; };
        return slowed(start) || slowed(end);
    }
    /// What to tell the user, "" when nothing is wrong.
    std::string warning() const {
        if (!throttled()) return "";
        std::string why;
        if (start.throttle_events && end.throttle_events && *end.throttle_events > *start.throttle_events)
            why = std::to_string(*end.throttle_events - *start.throttle_events) + " thermal throttling events";
        else why = "the CPU speed limited to " + std::to_string(std::min(start.speed_limit_percent.value_or(100), end.speed_limit_percent.value_or(100))) + "%";
        return "the CPU was throttled (" + why + "): these speeds are not the machine's cool speed; let it cool and run again";
    }

    void write_json(JsonWriter& w) const {
        w.begin_object().key("start");
        start.write_json(w);
        w.key("end");
        end.write_json(w);
        w.kv("throttled", throttled()).end_object();
    }
    /// Into a summary: its `conditions`, and the warning among its warnings.
    void attach_to(Summary& summary) const {
        JsonWriter w;
        write_json(w);
        summary.conditions_json = w.take();
        if (const auto text = warning(); !text.empty()) summary.warnings.push_back(text);
    }
};

}  // namespace llmbench
