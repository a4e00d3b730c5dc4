// llmbench/core/metrics.hpp - MetricsAccumulator: summary statistics over RunRecords.
#pragma once

#include <cstddef>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmbench/core/json.hpp"
#include "llmbench/core/run_record.hpp"
#include "llmbench/core/statistics.hpp"
#include "llmbench/version.hpp"

namespace llmbench {

/// Stats per metric, in run_metrics() order.
using MetricTable = std::vector<std::pair<std::string, Stats>>;

inline void write_stats_json(JsonWriter& w, const Stats& s) {
    w.begin_object()
        .kv("n", s.n)
        .kv("mean", s.mean)
        .kv("stddev", s.stddev)
        .kv("cv", s.cv)
        .kv("min", s.min)
        .kv("p50", s.p50)
        .kv("p90", s.p90)
        .kv("p95", s.p95)
        .kv("p99", s.p99)
        .kv("max", s.max)
        .kv("ci95_low", s.ci95_low)
        .kv("ci95_high", s.ci95_high)
        .end_object();
}

inline void write_table_json(JsonWriter& w, const MetricTable& table) {
    w.begin_object();
    for (const auto& [name, stats] : table) {
        w.key(name);
        write_stats_json(w, stats);
    }
    w.end_object();
}

struct Summary {
    std::size_t runs_ok = 0;
    std::size_t runs_failed = 0;
    std::map<std::string, std::size_t> failures_by_kind;
    std::size_t prompt_cache_suspected = 0;
    std::size_t prompt_rate_includes_cache = 0;  ///< runs whose prompt_toks_per_s counts cached tokens
    std::size_t short_outputs = 0;
    std::optional<std::int64_t> peak_rss_bytes, peak_vram_bytes;  ///< over all runs, when sampled
    std::size_t prompts_compared = 0;     ///< prompts with two or more successful runs
    std::size_t identical_outputs = 0;    ///< of those, prompts whose runs all produced the same text
    std::vector<std::string> warnings;   ///< e.g. too much variance to trust the means
    /// The machine's thermal state at the start and end, as JSON (ThermalConditions, in
    /// host/thermal.hpp), written as "conditions"; empty: null.
    std::string conditions_json;
    MetricTable overall;
    std::vector<std::pair<std::string, MetricTable>> per_prompt;  ///< in first-seen order

    /// The overall Stats of one metric, or nullptr.
    const Stats* find(std::string_view metric) const {
        for (const auto& [name, stats] : overall)
            if (name == metric) return &stats;
        return nullptr;
    }

    void write_json(JsonWriter& w) const {
        w.begin_object()
            .kv("type", "summary")
            .kv("schema_version", schema_version)
            .kv("runs_ok", runs_ok)
            .kv("runs_failed", runs_failed);
        w.key("failures_by_kind").begin_object();
        for (const auto& [kind, count] : failures_by_kind) w.kv(kind, count);
        w.end_object();
        w.kv("prompt_cache_suspected_runs", prompt_cache_suspected)
            .kv("prompt_rate_includes_cache_runs", prompt_rate_includes_cache)
            .kv("short_output_runs", short_outputs);
        w.key("memory").begin_object().kv("peak_rss_bytes", peak_rss_bytes).kv("peak_vram_bytes", peak_vram_bytes).end_object();
        w.key("determinism").begin_object().kv("prompts_compared", prompts_compared).kv("identical_outputs", identical_outputs);
        w.key("share");
        if (prompts_compared > 0) w.value(static_cast<double>(identical_outputs) / static_cast<double>(prompts_compared));
        else w.null();
        w.end_object().key("warnings").begin_array();
        for (const auto& text : warnings) w.value(text);
        w.end_array().key("conditions");
        if (conditions_json.empty()) w.null();
        else w.raw(conditions_json);
        w.key("percentile_method").value("linear interpolation between closest ranks (numpy default)");
        w.key("metrics");
        write_table_json(w, overall);
        w.key("per_prompt").begin_object();
        for (const auto& [id, table] : per_prompt) {
            w.key(id);
            write_table_json(w, table);
        }
        w.end_object().end_object();
    }

    std::string to_json() const {
        JsonWriter w;
        write_json(w);
        return w.take();
    }
};

/// Collects records and summarises them. Warm-up and superseded runs are ignored; failed
/// runs are counted by kind and kept out of the timing statistics.
class MetricsAccumulator {
public:
    void add(const RunRecord& record) {
        if (record.id.warmup || record.retry.superseded) return;
        if (!record.ok()) {
            ++failed_;
            ++failures_[record.outcome.error_kind ? to_string(*record.outcome.error_kind) : "unknown"];
            return;
        }
        ++ok_;
        auto& outputs = outputs_[record.id.prompt_id];
        if (outputs.runs++ == 0) outputs.first_sha256 = record.output.sha256;
        else if (record.output.sha256 != outputs.first_sha256) outputs.identical = false;
        if (record.memory) {
            detail::keep_max(peak_rss_, record.memory->peak_rss_bytes);
            detail::keep_max(peak_vram_, record.memory->peak_vram_bytes);
        }
        if (record.flags.prompt_cache_suspected) ++cached_;
        if (record.flags.prompt_rate_includes_cache) ++cache_in_rate_;
        if (record.flags.short_output) ++short_;
        auto& per = prompt_samples(record.id.prompt_id);
        std::size_t i = 0;
        for (const Metric& m : run_metrics()) {
            if (overall_.size() <= i) overall_.emplace_back(m.name, std::vector<double>{});
            if (per.size() <= i) per.emplace_back(m.name, std::vector<double>{});
            if (const auto value = m.get(record)) {
                overall_[i].second.push_back(*value);
                per[i].second.push_back(*value);
            }
            ++i;
        }
    }

    std::size_t runs_ok() const noexcept { return ok_; }
    std::size_t runs_failed() const noexcept { return failed_; }

    /// The samples of one metric over all successful runs (empty if unknown).
    std::vector<double> samples(std::string_view metric) const {
        for (const auto& [name, values] : overall_)
            if (name == metric) return values;
        return {};
    }

    Summary summary() const {
        Summary s;
        s.runs_ok = ok_;
        s.runs_failed = failed_;
        s.failures_by_kind = failures_;
        s.prompt_cache_suspected = cached_;
        s.prompt_rate_includes_cache = cache_in_rate_;
        s.short_outputs = short_;
        s.peak_rss_bytes = peak_rss_;
        s.peak_vram_bytes = peak_vram_;
        s.overall = table(overall_);
        for (const auto& [id, samples] : per_prompt_) s.per_prompt.emplace_back(id, table(samples));
        for (const auto& [id, o] : outputs_) {
            if (o.runs < 2) continue;
            ++s.prompts_compared;
            if (o.identical) ++s.identical_outputs;
        }
        // Like nanobench: say when the spread is too large for the mean to mean much.
        if (const Stats* gen = s.find("gen_toks_per_s"); gen != nullptr && unstable(*gen)) {
            char text[200];
            std::snprintf(text, sizeof text,
                          "gen_toks_per_s varies by %.1f%% (CV > %.0f%%): add runs, or idle the machine and check "
                          "thermal throttling",
                          gen->cv * 100, unstable_cv * 100);
            s.warnings.emplace_back(text);
        }
        return s;
    }

private:
    using SampleTable = std::vector<std::pair<std::string, std::vector<double>>>;

    static MetricTable table(const SampleTable& samples) {
        MetricTable out;
        out.reserve(samples.size());
        for (const auto& [name, values] : samples) out.emplace_back(name, compute_stats(values));
        return out;
    }

    SampleTable& prompt_samples(const std::string& id) {
        for (auto& [pid, table] : per_prompt_)
            if (pid == id) return table;
        per_prompt_.emplace_back(id, SampleTable{});
        return per_prompt_.back().second;
    }

    struct Outputs {
        std::size_t runs = 0;
        std::string first_sha256;
        bool identical = true;
    };

    std::size_t ok_ = 0, failed_ = 0, cached_ = 0, cache_in_rate_ = 0, short_ = 0;
    std::map<std::string, Outputs> outputs_;
    std::optional<std::int64_t> peak_rss_, peak_vram_;
    std::map<std::string, std::size_t> failures_;
    SampleTable overall_;
    std::vector<std::pair<std::string, SampleTable>> per_prompt_;
};

}  // namespace llmbench
