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
    if (unit == "share") return printf_string("%.1f%%", v * 100);
    return printf_string("%.2f", v);
}

inline std::string format_percent(double fraction) {
    return std::isnan(fraction) ? "-" : printf_string("%.1f%%", fraction * 100);
}

}  // namespace detail

/// The rows of a cell table: timing, rates and memory, leaving out metrics without samples.
inline std::vector<Metric> table_metrics(const ResultCell& cell) {
    std::vector<Metric> out;
    for (const auto& m : report_metrics()) {
        const std::string name = m.name;
        const bool shown = name == "ttft_s" || name == "gen_toks_per_s" || name == "prompt_toks_per_s" || name == "wall_s" ||
                           name == "peak_rss_bytes" || name == "peak_vram_bytes" || name == "roofline_efficiency";
        if (shown && cell.stat(name).n > 0) out.push_back(m);
    }
    return out;
}

/// The load table: one row per level of every file, the same columns in every format.
struct LoadTable {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
};

inline LoadTable load_table(const ResultSet& results) {
    LoadTable t;
    t.header = {"load", "ok", "req/s", "output tok/s", "goodput req/s", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "ITL p99", "e2e p50"};
    for (const auto& f : results.files)
        for (const auto& l : f.load) {
            const auto v = [&l](const char* name, const char* unit) {
                const auto x = l.value(name);
                return x ? detail::format_metric(*x, unit) : std::string("-");
            };
            std::string label = l.label();
            if (results.files.size() > 1) label = f.path.substr(f.path.find_last_of('/') + 1) + ": " + label;
            t.rows.push_back({label, std::to_string(l.succeeded) + "/" + std::to_string(l.requests), v("request_throughput", ""),
                              v("output_token_throughput", ""), v("goodput", ""), v("ttft_s.p50", "s"), v("ttft_s.p99", "s"),
                              v("tpot_s.p50", "s"), v("tpot_s.p99", "s"), v("itl_s.p99", "s"), v("e2e_s.p50", "s")});
        }
    return t;
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
