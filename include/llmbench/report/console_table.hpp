// llmbench/report/console_table.hpp - the human summary: one row per metric.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>

#include "llmbench/core/metrics.hpp"

namespace llmbench {

namespace detail {
inline std::string fixed(double v, int decimals) {
    if (std::isnan(v)) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}
inline std::string pad_left(std::string s, std::size_t width) {
    if (s.size() < width) s.insert(0, width - s.size(), ' ');
    return s;
}
inline std::string pad_right(std::string s, std::size_t width) {
    if (s.size() < width) s.append(width - s.size(), ' ');
    return s;
}
}  // namespace detail

/// A fixed-width table: metric, n, mean, p50, p95, stddev, 95% CI of the mean.
/// Metrics with no samples are left out. Ends with the run counts.
inline std::string format_summary_table(const Summary& s) {
    using detail::fixed;
    using detail::pad_left;
    using detail::pad_right;
    std::string out = pad_right("metric", 26) + pad_left("n", 5) + pad_left("mean", 12) + pad_left("p50", 12) +
                      pad_left("p95", 12) + pad_left("stddev", 12) + "  95% CI of mean\n";
    for (const auto& [name, st] : s.overall) {
        if (st.n == 0) continue;
        const Metric* metric = find_metric(name);
        const int d = metric != nullptr ? metric->decimals : 2;
        out += pad_right(name, 26) + pad_left(std::to_string(st.n), 5) + pad_left(fixed(st.mean, d), 12) +
               pad_left(fixed(st.p50, d), 12) + pad_left(fixed(st.p95, d), 12) + pad_left(fixed(st.stddev, d), 12);
        out += std::isnan(st.ci95_low) ? "  -" : "  [" + fixed(st.ci95_low, d) + ", " + fixed(st.ci95_high, d) + "]";
        out += "\n";
    }
    out += "runs: " + std::to_string(s.runs_ok) + " ok, " + std::to_string(s.runs_failed) + " failed";
    for (const auto& [kind, n] : s.failures_by_kind) out += " (" + kind + ": " + std::to_string(n) + ")";
    if (s.prompt_cache_suspected > 0)
        out += "; " + std::to_string(s.prompt_cache_suspected) + " runs were served partly from the prompt cache" +
               (s.prompt_rate_includes_cache > 0 ? " (prompt_toks_per_s overstated; prefill_toks_per_s leaves the cache out)" : "");
    if (s.short_outputs > 0) out += "; " + std::to_string(s.short_outputs) + " runs stopped before num_predict";
    out += "\n";
    if (s.prompts_compared > 0)
        out += "determinism: " + std::to_string(s.identical_outputs) + " of " + std::to_string(s.prompts_compared) +
               " prompts gave identical output on every run\n";
    for (const auto& w : s.warnings) out += "warning: " + w + "\n";
    return out;
}

}  // namespace llmbench
