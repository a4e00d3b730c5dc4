// llmbench/host/server_metrics.hpp - a server's own counters (Prometheus /metrics), read before
// and after a run and differenced, so that its totals stand beside the client's.
//
// llama-server (started with --metrics) and vLLM expose Prometheus text; Ollama does not. The
// parser takes text format 0.0.4: `# HELP` / `# TYPE` comments and `name{labels} value
// [timestamp]` samples. A line that is neither is skipped and counted, never fatal: the page
// describes a run, it is not the run.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmbench/core/json.hpp"
#include "llmbench/core/run_record.hpp"
#include "llmbench/detail/text.hpp"
#include "llmbench/version.hpp"

namespace llmbench {

/// One Prometheus text page: every sample by its series (name and labels as written), the
/// families' declared types, and what could not be read.
struct PrometheusPage {
    std::map<std::string, double> samples;     ///< "llamacpp:prompt_tokens_total" -> 81
    std::map<std::string, std::string> types;  ///< family -> "counter", "gauge", "histogram", ...
    std::size_t skipped_lines = 0;             ///< neither a comment nor a sample
    std::vector<std::string> skipped;          ///< the first few of them, "line 7: ..." (for a note)

    std::optional<double> value(const std::string& series) const {
        const auto it = samples.find(series);
        return it == samples.end() ? std::nullopt : std::optional<double>(it->second);
    }

    /// Whether `series` only grows: its family is declared a counter, or (undeclared) its name
    /// ends in _total, as the naming convention has it. A histogram's _sum/_count/_bucket grow too.
    bool is_counter(const std::string& series) const {
        const std::string name = series.substr(0, series.find('{'));
        const auto declared = [&](const std::string& family) -> std::optional<std::string> {
            const auto it = types.find(family);
            return it == types.end() ? std::nullopt : std::optional<std::string>(it->second);
        };
        if (auto t = declared(name)) return *t == "counter";
        for (const char* suffix : {"_sum", "_count", "_bucket", "_total"}) {
            const std::string s(suffix);
            if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
                const auto t = declared(name.substr(0, name.size() - s.size()));
                if (t) return *t == "histogram" || *t == "summary" || *t == "counter";
                if (s == "_total") return true;
            }
        }
        return false;
    }
};

namespace detail {
inline bool prometheus_name_char(char c, bool first) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    return alpha || (!first && c >= '0' && c <= '9');
}
}  // namespace detail

/// Parses Prometheus text. Never throws: a bad line is counted in skipped_lines.
inline PrometheusPage parse_prometheus(std::string_view text) {
    PrometheusPage page;
    std::size_t line_no = 0;
    const auto skip = [&](std::string_view line, const char* why) {
        ++page.skipped_lines;
        if (page.skipped.size() < 3)
            page.skipped.push_back("line " + std::to_string(line_no) + ": " + why + ": " + std::string(line.substr(0, 80)));
    };
    while (!text.empty()) {
        ++line_no;
        const std::size_t nl = text.find('\n');
        std::string_view line = detail::trim(text.substr(0, nl), " \t\r");
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (line.empty()) continue;
        if (line.front() == '#') {  // "# TYPE name counter"; HELP and other comments say nothing we need
            if (line.rfind("# TYPE ", 0) == 0) {
                std::string_view rest = detail::trim(line.substr(7), " \t");
                const std::size_t space = rest.find_first_of(" \t");
                if (space == std::string_view::npos) skip(line, "TYPE without a type");
                else page.types[std::string(rest.substr(0, space))] = std::string(detail::trim(rest.substr(space), " \t"));
            }
            continue;
        }
        std::size_t i = 0;
        while (i < line.size() && detail::prometheus_name_char(line[i], i == 0)) ++i;
        if (i == 0) {
            skip(line, "not a metric name");
            continue;
        }
        if (i < line.size() && line[i] == '{') {  // labels: quoted values may hold spaces, braces and \"
            bool quoted = false, closed = false;
            for (++i; i < line.size(); ++i) {
                if (quoted && line[i] == '\\') ++i;
                else if (line[i] == '"') quoted = !quoted;
                else if (!quoted && line[i] == '}') {
                    closed = true;
                    ++i;
                    break;
                }
            }
            if (!closed) {
                skip(line, "unclosed labels");
                continue;
            }
        }
        const std::string series(line.substr(0, i));
        const std::string_view rest = detail::trim(line.substr(i), " \t");
        const std::string value(rest.substr(0, rest.find_first_of(" \t")));  // then an optional timestamp
        char* end = nullptr;
        const double v = value.empty() ? 0 : std::strtod(value.c_str(), &end);
        if (value.empty() || end != value.c_str() + value.size()) {
            skip(line, "no number after the name");
            continue;
        }
        page.samples[series] = v;
    }
    return page;
}

/// A server's counters over a run: what /metrics said before and after, differenced.
struct ServerMetricsDelta {
    std::string url;
    /// Counters: before, after and after - before; null delta when a counter went down (the
    /// server restarted in between) or was missing on one side.
    struct Counter {
        std::optional<double> before, after, delta;
    };
    std::map<std::string, Counter> counters;
    std::map<std::string, double> gauges;  ///< their values after the run
    std::size_t skipped_lines = 0;         ///< over both pages
    std::vector<std::string> notes;

    static ServerMetricsDelta between(std::string url, const PrometheusPage& before, const PrometheusPage& after) {
        ServerMetricsDelta d;
        d.url = std::move(url);
        d.skipped_lines = before.skipped_lines + after.skipped_lines;
        for (const auto* page : {&before, &after})
            for (const auto& s : page->skipped) d.notes.push_back("skipped " + s);
        for (const auto& [series, v] : after.samples) {
            if (!after.is_counter(series)) {
                d.gauges[series] = v;
                continue;
            }
            Counter c{before.value(series), v, std::nullopt};
            if (c.before && *c.before <= v) c.delta = v - *c.before;
            else if (c.before) d.notes.push_back(series + " went down (" + std::to_string(*c.before) + " to " + std::to_string(v) + "): the server restarted?");
            d.counters[series] = c;
        }
        for (const auto& [series, v] : before.samples)
            if (before.is_counter(series) && !after.samples.count(series)) d.counters[series] = Counter{v, std::nullopt, std::nullopt};
        return d;
    }

    std::optional<double> delta(const std::string& series) const {
        const auto it = counters.find(series);
        return it == counters.end() ? std::nullopt : it->second.delta;
    }
};

/// What the client measured over the same requests, to set beside the server's counters. A
/// total is null once one request did not report its part: a partial sum would look like a gap.
struct ClientTotals {
    std::size_t requests = 0;
    std::optional<std::int64_t> prompt_tokens, prompt_evaluated_tokens, prompt_cached_tokens, generated_tokens;
    std::optional<double> prompt_eval_s, eval_s;

    /// Counts one request the server saw (warm-ups, failures and superseded runs too).
    void add(const RunRecord& r) {
        const bool first = requests++ == 0;
        const auto sum = [first](auto& total, const auto& value) {
            if (first) total = value;
            else if (total && value) *total += *value;
            else total.reset();
        };
        sum(prompt_tokens, r.server.prompt_eval_count);
        sum(prompt_evaluated_tokens, r.server.prompt_evaluated_tokens);
        sum(prompt_cached_tokens, r.server.prompt_cached_tokens);
        sum(generated_tokens, r.server.eval_count);
        sum(prompt_eval_s, r.prompt_eval_s());
        sum(eval_s, r.eval_s());
    }
};

namespace detail {
/// The server counter each client total answers to: llama.cpp's and vLLM's names.
struct CounterPair {
    const char* counter;
    std::optional<std::int64_t> ClientTotals::*count;
    std::optional<double> ClientTotals::*seconds;
};
inline const std::vector<CounterPair>& counter_pairs() {
    static const std::vector<CounterPair> pairs = {
        {"llamacpp:prompt_tokens_total", &ClientTotals::prompt_evaluated_tokens, nullptr},
        {"llamacpp:prompt_tokens_cached_total", &ClientTotals::prompt_cached_tokens, nullptr},
        {"llamacpp:tokens_predicted_total", &ClientTotals::generated_tokens, nullptr},
        {"llamacpp:prompt_seconds_total", nullptr, &ClientTotals::prompt_eval_s},
        {"llamacpp:tokens_predicted_seconds_total", nullptr, &ClientTotals::eval_s},
        {"vllm:prompt_tokens_total", &ClientTotals::prompt_tokens, nullptr},
        {"vllm:generation_tokens_total", &ClientTotals::generated_tokens, nullptr},
    };
    return pairs;
}
}  // namespace detail

/// The `"type":"server_metrics"` line: the server's counters over the run (before, after,
/// delta), its gauges after it, and beside each counter the client knows, the client's total
/// (`client`) for the same requests.
inline void write_server_metrics_json(JsonWriter& w, const ServerMetricsDelta& d, const ClientTotals& client) {
    w.begin_object().kv("type", "server_metrics").kv("schema_version", schema_version).kv("url", d.url).kv("skipped_lines", d.skipped_lines);
    w.key("counters").begin_object();
    for (const auto& [series, c] : d.counters) {
        w.key(series).begin_object().kv("before", c.before).kv("after", c.after).kv("delta", c.delta);
        for (const auto& pair : detail::counter_pairs()) {
            if (series != pair.counter) continue;
            if (pair.count) w.kv("client", client.*pair.count);
            else w.kv("client", client.*pair.seconds);
        }
        w.end_object();
    }
    w.end_object().key("gauges").begin_object();
    for (const auto& [series, v] : d.gauges) w.kv(series, v);
    w.end_object().key("client").begin_object().kv("requests", client.requests).kv("prompt_tokens", client.prompt_tokens);
    w.kv("prompt_evaluated_tokens", client.prompt_evaluated_tokens).kv("prompt_cached_tokens", client.prompt_cached_tokens);
    w.kv("generated_tokens", client.generated_tokens).kv("prompt_eval_s", client.prompt_eval_s).kv("eval_s", client.eval_s).end_object();
    w.key("notes").begin_array();
    for (const auto& n : d.notes) w.value(n);
    w.end_array().end_object();
}

}  // namespace llmbench
