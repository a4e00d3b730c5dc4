// llmbench/report/reporter.hpp - the reporter interface and the number formats all reports share.
#pragma once

#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "llmbench/report/results.hpp"

namespace llmbench {

/// Turns a ResultSet into one document (console text, Markdown, CSV, HTML).
class Reporter {
public:
    virtual ~Reporter() = default;
    virtual void report(const ResultSet& results, std::ostream& out) const = 0;
};

namespace detail {

inline std::string printf_string(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

/// A number in the unit a person reads it in: seconds below 1 as ms, bytes as MiB/GiB.
inline std::string format_metric(double v, const std::string& unit) {
    if (std::isnan(v)) return "-";
    if (unit == "s") return std::fabs(v) < 1 ? printf_string("%.1f ms", v * 1e3) : printf_string("%.3f s", v);
    if (unit == "bytes") {
        const double gib = v / (1024.0 * 1024 * 1024);
        return gib >= 1 ? printf_string("%.2f GiB", gib) : printf_string("%.1f MiB", v / (1024.0 * 1024));
    }
    if (unit == "tok") return printf_string("%.0f", v);
    if (unit == "J/tok") return printf_string("%.3f J/tok", v);
    return printf_string("%.2f", v);
}

inline std::string format_percent(double fraction) {
    return std::isnan(fraction) ? "-" : printf_string("%.1f%%", fraction * 100);
}

}  // namespace detail

/// The rows of a cell table: timing, rates and memory, leaving out metrics without samples.
inline std::vector<MetricInfo> table_metrics(const ResultCell& cell) {
    std::vector<MetricInfo> out;
    for (const auto& m : report_metrics()) {
        const std::string name = m.name;
        const bool shown = name == "ttft_s" || name == "gen_toks_per_s" || name == "prompt_toks_per_s" || name == "wall_s" ||
                           name == "peak_rss_bytes" || name == "peak_vram_bytes";
        if (shown && cell.stat(name).n > 0) out.push_back(m);
    }
    return out;
}

/// "5 ok, 1 failed (timeout: 1)" for a cell's timed runs.
inline std::string run_counts(const ResultCell& cell) {
    std::string s = std::to_string(cell.timed_runs()) + " ok, " + std::to_string(cell.failed) + " failed";
    if (!cell.failures_by_kind.empty()) {
        s += " (";
        bool first = true;
        for (const auto& [kind, n] : cell.failures_by_kind) {
            s += (first ? "" : ", ") + kind + ": " + std::to_string(n);
            first = false;
        }
        s += ")";
    }
    return s;
}

}  // namespace llmbench
