// llmbench/report/results.hpp - result files read back: runs grouped into cells, with stats.
//
// Reads the JSON lines that ollama-bench and bench-matrix write (metadata, run, cell,
// summary, memory_timeline) and groups the runs into cells. Statistics are recomputed from
// the runs, so a file cut short by a crash still reports everything it holds.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <simdjson.h>

#include "llmbench/detail/json_parse.hpp"
#include "llmbench/core/endpoint.hpp"
#include "llmbench/core/error.hpp"
#include "llmbench/core/run_record.hpp"
#include "llmbench/core/shard.hpp"
#include "llmbench/core/statistics.hpp"
#include "llmbench/eval/summary.hpp"
#include "llmbench/version.hpp"

namespace llmbench {

/// One run line read back into the record that wrote it (the reply text is not in the line),
/// with where it came from.
struct ResultRun {
    RunRecord run;
    std::string where;  ///< "file:line"
    std::size_t file_index = 0;
    std::size_t sequence = 0;  ///< position among the file's runs (warm-ups included)

    /// Counts in statistics: succeeded, timed, not replaced by a re-run.
    bool timed() const { return run.ok() && !run.id.warmup && !run.retry.superseded; }
    /// A registered metric (run_metrics()), computed from the record as the run line's was.
    std::optional<double> value(std::string_view metric) const {
        const Metric* m = find_metric(metric);
        return m != nullptr ? m->get(run) : std::nullopt;
    }
};

/// What a metadata line says about the conditions of a run, for labels and comparability.
struct ResultMetadata {
    std::string raw;  ///< the whole line
    std::string timestamp_utc, llmbench_version, backend_kind, backend_version;
    std::string model_tag, model_digest, quantization, parameter_size;
    std::string os, cpu_model, gpus;  ///< gpus: the JSON array as written
    std::optional<std::int64_t> total_ram_bytes;
    std::string request_options;  ///< the request's sampling options, as JSON
    /// The server's setup (metadata `server`), each as written: what must match besides the
    /// model. The environment leaves out variables that only say where things are.
    std::string server_parallel, chat_template_sha256, server_defaults, server_environment, placement;
    std::string request_json;  ///< the whole `request` object, minified: what shaped every request
    std::string prompts_sha256;
    std::optional<Shard> shard;  ///< the file is shard I of N (--shard)
};

struct MemoryTimeline {
    std::vector<double> t_s;
    std::vector<std::optional<double>> rss_bytes, vram_bytes, power_w, ollama_size_bytes;
};

/// One level of a load run or sweep (a `load_summary` line): a concurrency or a request rate,
/// and what the server achieved there.
struct LoadLevel {
    std::string where;  ///< "file:line"
    std::size_t file_index = 0, level = 0;
    bool open_loop = false;
    int concurrency = 0;  ///< closed loop: streams; open loop: the cap (0: none)
    std::optional<double> request_rate;
    std::size_t requests = 0, succeeded = 0;
    /// Every number of the line; those of its statistics objects as "ttft_s.p50", "itl_s.p99", ...
    std::map<std::string, double> values;

    std::optional<double> value(const std::string& name) const {
        const auto it = values.find(name);
        return it == values.end() ? std::nullopt : std::optional<double>(it->second);
    }
    /// "4 streams" or "2.5 req/s".
    std::string label() const {
        if (!open_loop) return std::to_string(concurrency) + (concurrency == 1 ? " stream" : " streams");
        char rate[32];
        std::snprintf(rate, sizeof rate, "%g req/s", request_rate.value_or(0));
        return rate;
    }
};

/// An accuracy as eval-suite writes it: right of n, with its 95% Wilson interval.
struct EvalScore {
    std::size_t correct = 0, n = 0;
    double accuracy = 0, ci95_low = 0, ci95_high = 0;
};

/// One task's `eval_summary` line: what a report shows of it.
struct EvalSummary {
    std::string where, task, setting, scoring_method, scoring, model, backend;
    std::string dataset_sha256;  ///< of the dataset file; empty for a folder (MMLU) or an older file
    std::size_t file_index = 0;
    EvalScore score;
    std::size_t failed_requests = 0, unparsable = 0, no_letter_in_top_k = 0;
    std::optional<double> ece, brier, mean_confidence;  ///< logprob scoring
    struct Bin {
        double lower = 0, upper = 0;
        std::size_t n = 0;
        double accuracy = 0, mean_confidence = 0;
    };
    std::vector<Bin> reliability;  ///< logprob scoring: every bin, empty ones too
    std::optional<double> macro_accuracy;             ///< MMLU
    std::map<std::string, EvalScore> per_subject, per_category;  ///< MMLU
    std::map<std::string, double> pass_at_k;                     ///< code tasks, by k
    struct Reference {
        double score = 0;
        std::string model, setting, not_comparable;
        bool comparable = false;
    };
    std::optional<Reference> reference;
};

/// One `eval_item` line: the fields a report or a paired comparison needs (not the reply).
struct EvalItem {
    std::string where, task, setting, item_id, subject;
    std::size_t file_index = 0;
    int sample = 0;
    bool ok = false, correct = false, unparsable = false, no_letter_in_top_k = false;
    std::optional<double> confidence, ttft_s, gen_toks_per_s;
    std::optional<std::int64_t> eval_count;
};

struct ResultFile {
    std::string path;
    std::vector<EvalSummary> eval_summaries;  ///< eval-suite: one per task, in the order run
    std::vector<EvalItem> eval_items;
    /// A shard file's eval_item and eval_summary lines as written, with where: merge_shards
    /// recomputes each task's summary from the items of every shard.
    std::vector<std::pair<std::string, std::string>> shard_eval_lines;
    std::vector<LoadLevel> load;  ///< load mode: one per level, in the order run
    std::vector<ResultMetadata> metadata;  ///< one per model (bench-matrix) or one (ollama-bench)
    std::vector<ResultRun> runs;
    std::optional<MemoryTimeline> memory;
    std::vector<std::string> warnings;  ///< e.g. a last line cut short by a crash

    /// The metadata line describing `model`, else the first, else null.
    const ResultMetadata* metadata_for(const std::string& model) const {
        for (const auto& m : metadata)
            if (m.model_tag == model) return &m;
        return metadata.empty() ? nullptr : &metadata.front();
    }
};

namespace detail {

// Each takes an element or a lookup result (a missing field then reads as empty).
using dom_result = simdjson::simdjson_result<simdjson::dom::element>;

template <class E>
std::string dom_string(E e) {
    std::string_view s;
    return e.get_string().get(s) == simdjson::SUCCESS ? std::string(s) : std::string();
}
inline dom_result dom_at(simdjson::dom::object o, std::string_view key) { return o[key]; }
template <class E>
bool dom_true(E e) {
    bool b = false;
    return e.get_bool().get(b) == simdjson::SUCCESS && b;
}
template <class E>
std::optional<int> dom_int(E e) {
    std::int64_t i = 0;
    if (e.get_int64().get(i) == simdjson::SUCCESS && i >= std::numeric_limits<int>::min() && i <= std::numeric_limits<int>::max())
        return static_cast<int>(i);
    return std::nullopt;
}

/// A count (chunks, bytes, samples): a whole number, 0 when missing or negative.
template <class E>
std::size_t dom_count(E e) {
    return static_cast<std::size_t>(std::max<std::int64_t>(0, dom_int64(e).value_or(0)));
}

/// One number through a printf format (reports, warnings).
inline std::string printf_string(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

/// A written token log-probability (RunRecord's "logprobs" entries); null logprob: -infinity.
inline TokenLogprob dom_token_logprob(simdjson::dom::object o) {
    return {dom_string(dom_at(o, "token")), dom_double(dom_at(o, "logprob")).value_or(-std::numeric_limits<double>::infinity()),
            llmbench::detail::dom_int64(dom_at(o, "id"))};
}

/// The run line's record, field by field as RunRecord::write_json writes it. The metrics it
/// derives (rates, seconds from nanoseconds, J/token) are computed again from the parsed
/// fields; one that disagrees with its written value is reported in `warnings` with its place.
inline RunRecord parse_run(simdjson::dom::object o, const std::string& where, std::vector<std::string>& warnings) {
    RunRecord r;
    std::vector<std::pair<const Metric*, double>> written;  // derived metrics as the line states them
    bool thinking_known = false;  // older lines have no thinking fields: nothing was thought apart
    for (auto [key, value] : o) {
        if (key == "backend") r.id.backend = dom_string(value);
        else if (key == "model") r.id.model = dom_string(value);
        else if (key == "prompt_id") r.id.prompt_id = dom_string(value);
        else if (key == "run") r.id.run_index = dom_int(value).value_or(0);
        else if (key == "warmup") r.id.warmup = dom_true(value);
        else if (key == "num_predict") r.id.num_predict = dom_int(value);
        else if (key == "prompt_tokens_target") r.id.prompt_tokens_target = llmbench::detail::dom_int64(value);
        else if (key == "attempt") r.retry.attempt = dom_int(value).value_or(0);
        else if (key == "superseded") r.retry.superseded = dom_true(value);
        else if (key == "ok") r.outcome.ok = dom_true(value);
        else if (key == "error" && value.is_object()) {
            const simdjson::dom::object e = value.get_object().value_unsafe();
            r.outcome.error_kind = errc_from_string(dom_string(dom_at(e, "kind")));
            r.outcome.error_message = dom_string(dom_at(e, "message"));
            r.outcome.http_status = dom_int(dom_at(e, "http_status")).value_or(0);
        } else if (key == "cell" && value.is_object()) {
            const simdjson::dom::object c = value.get_object().value_unsafe();
            r.cell = CellCoordinates{dom_string(dom_at(c, "model")), dom_int(dom_at(c, "num_ctx")),
                                     dom_int(dom_at(c, "prompt_tokens")), dom_int(dom_at(c, "num_predict"))};
        } else if (key == "shard" && value.is_object()) {
            const simdjson::dom::object c = value.get_object().value_unsafe();
            const auto index = llmbench::detail::dom_int64(dom_at(c, "index")), count = llmbench::detail::dom_int64(dom_at(c, "count"));
            if (index && count && *index >= 0 && *count > *index) r.shard = Shard{static_cast<std::size_t>(*index), static_cast<std::size_t>(*count)};
            else warnings.push_back(where + ": shard " + simdjson::minify(c) + " is not {index, count} with 0 <= index < count; left out");
        } else if (key == "ttft_s") r.client.ttft_s = dom_double(value);
        else if (key == "ttfa_s") {
            r.client.ttfa_s = dom_double(value);
            thinking_known = true;
        } else if (key == "answer_window_s") r.client.answer_window_s = dom_double(value);
        else if (key == "thinking_chunks") r.client.thinking_chunks = dom_count(value);
        else if (key == "thinking_chars") r.output.thinking_chars = dom_count(value);
        else if (key == "first_byte_s") r.client.first_byte_s = dom_double(value);
        else if (key == "connect_s") r.client.connect_s = dom_double(value);
        else if (key == "wall_s") r.client.wall_s = dom_double(value);
        else if (key == "itl_p50_s") r.client.itl_p50_s = dom_double(value);
        else if (key == "itl_p95_s") r.client.itl_p95_s = dom_double(value);
        else if (key == "itl_max_s") r.client.itl_max_s = dom_double(value);
        else if (key == "decode_window_s") r.client.decode_window_s = dom_double(value);
        else if (key == "content_chunks") r.client.content_chunks = dom_count(value);
        else if (key == "roofline_decode_toks_per_s") r.roofline.decode_toks_per_s = dom_double(value);
        else if (key == "roofline_efficiency") r.roofline.efficiency = dom_double(value);
        else if (key == "server" && value.is_object()) {
            const simdjson::dom::object sv = value.get_object().value_unsafe();
            using llmbench::detail::dom_int64;
            r.server.total_duration_ns = dom_int64(dom_at(sv, "total_duration_ns"));
            r.server.load_duration_ns = dom_int64(dom_at(sv, "load_duration_ns"));
            r.server.prompt_eval_count = dom_int64(dom_at(sv, "prompt_eval_count"));
            r.server.prompt_eval_duration_ns = dom_int64(dom_at(sv, "prompt_eval_duration_ns"));
            r.server.eval_count = dom_int64(dom_at(sv, "eval_count"));
            r.server.eval_duration_ns = dom_int64(dom_at(sv, "eval_duration_ns"));
            r.server.prompt_cached_tokens = dom_int64(dom_at(sv, "prompt_cached_tokens"));
            if (!r.server.prompt_cached_tokens)  // older lines used Ollama's name
                r.server.prompt_cached_tokens = dom_int64(dom_at(sv, "prompt_eval_cached_count"));
            r.server.prompt_evaluated_tokens = dom_int64(dom_at(sv, "prompt_evaluated_tokens"));
            r.server.thinking_tokens = dom_int64(dom_at(sv, "thinking_tokens"));
        } else if (key == "done_reason") r.done_reason = dom_string(value);
        else if (key == "output_bytes") r.output.bytes = dom_count(value);
        else if (key == "output_sha256") r.output.sha256 = dom_string(value);
        else if (simdjson::dom::array entries; key == "logprobs" && value.get_array().get(entries) == simdjson::SUCCESS) {
            for (auto e : entries) {
                simdjson::dom::object entry;
                if (e.get_object().get(entry) != simdjson::SUCCESS) continue;
                TokenLogprobs t{dom_token_logprob(entry), {}};
                simdjson::dom::array top;
                if (dom_at(entry, "top_logprobs").get_array().get(top) == simdjson::SUCCESS)
                    for (auto a : top)
                        if (simdjson::dom::object alternative; a.get_object().get(alternative) == simdjson::SUCCESS)
                            t.top.push_back(dom_token_logprob(alternative));
                r.output.logprobs.push_back(std::move(t));
            }
        }
        else if (key == "memory" && value.is_object()) {
            const simdjson::dom::object m = value.get_object().value_unsafe();
            RunMemory mem;
            mem.peak_rss_bytes = llmbench::detail::dom_int64(dom_at(m, "peak_rss_bytes"));
            mem.peak_vram_bytes = llmbench::detail::dom_int64(dom_at(m, "peak_vram_bytes"));
            mem.peak_ollama_size_bytes = llmbench::detail::dom_int64(dom_at(m, "peak_ollama_size_bytes"));
            mem.energy_j = dom_double(dom_at(m, "energy_j"));
            mem.energy_source = dom_string(dom_at(m, "energy_source"));
            if (simdjson::dom::object zones; dom_at(m, "energy_zones_j").get_object().get(zones) == simdjson::SUCCESS)
                for (auto [zone, joules] : zones)
                    if (auto j = dom_double(joules)) mem.energy_zones_j[std::string(zone)] = *j;
            mem.energy_note = dom_string(dom_at(m, "energy_note"));
            mem.energy_prefill_j = dom_double(dom_at(m, "energy_prefill_j"));
            mem.energy_idle_j = dom_double(dom_at(m, "energy_idle_j"));
            mem.samples = dom_count(dom_at(m, "samples"));
            mem.rss_note = dom_string(dom_at(m, "rss_note"));
            mem.vram_note = dom_string(dom_at(m, "vram_note"));
            for (const char* metric : {"joules_per_token", "joules_per_prompt_token"})
                if (auto j = dom_double(dom_at(m, metric))) written.emplace_back(find_metric(metric), *j);
            r.memory = std::move(mem);
        } else if (key == "flags" && value.is_object()) {
            const simdjson::dom::object f = value.get_object().value_unsafe();
            r.flags.prompt_cache_suspected = dom_true(dom_at(f, "prompt_cache_suspected"));
            r.flags.prompt_rate_includes_cache = dom_true(dom_at(f, "prompt_rate_includes_cache"));
            r.flags.short_output = dom_true(dom_at(f, "short_output"));
            r.flags.ttft_below_server = dom_true(dom_at(f, "ttft_below_server"));
            r.flags.truncation_suspected = dom_true(dom_at(f, "truncation_suspected"));
        } else if (const Metric* m = find_metric(key); m != nullptr && m->placement == MetricPlacement::top_level) {
            if (auto d = dom_double(value)) written.emplace_back(m, *d);  // derived: checked below
        }
    }
    if (!thinking_known) {  // an older line: its first token and its window were the answer's
        r.client.ttfa_s = r.client.ttft_s;
        r.client.answer_window_s = r.client.decode_window_s;
    }
    for (const auto& [metric, stated] : written) {
        const auto computed = metric->get(r);
        const bool agree = computed && std::fabs(*computed - stated) <= 1e-6 * std::max(1.0, std::fabs(stated));
        if (!agree)
            warnings.push_back(where + ": " + metric->name + " is " + printf_string("%g", stated) + " but the line's own fields give " +
                               (computed ? printf_string("%g", *computed) : std::string("none")) + "; reports use the fields");
    }
    return r;
}

inline ResultMetadata parse_metadata(simdjson::dom::object o, std::string_view line) {
    ResultMetadata m;
    m.raw = std::string(line);
    m.timestamp_utc = dom_string(dom_at(o, "timestamp_utc"));
    m.llmbench_version = dom_string(dom_at(o, "llmbench_version"));
    simdjson::dom::object part;
    if (dom_at(o, "backend").get_object().get(part) == simdjson::SUCCESS) {
        m.backend_kind = dom_string(dom_at(part, "kind"));
        m.backend_version = dom_string(dom_at(part, "version"));
    }
    if (dom_at(o, "model").get_object().get(part) == simdjson::SUCCESS) {
        m.model_tag = dom_string(dom_at(part, "tag"));
        m.model_digest = dom_string(dom_at(part, "digest"));
        m.quantization = dom_string(dom_at(part, "quantization"));
        m.parameter_size = dom_string(dom_at(part, "parameter_size"));
        m.placement = dom_string(dom_at(part, "placement"));
        if (m.placement == "unknown") m.placement.clear();
    }
    if (dom_at(o, "server").get_object().get(part) == simdjson::SUCCESS) {
        if (auto n = llmbench::detail::dom_int64(dom_at(part, "parallel"))) m.server_parallel = std::to_string(*n);
        m.chat_template_sha256 = dom_string(dom_at(part, "chat_template_sha256"));
        simdjson::dom::object inner;
        if (dom_at(part, "defaults").get_object().get(inner) == simdjson::SUCCESS && inner.size() > 0) m.server_defaults = simdjson::minify(inner);
        if (dom_at(part, "environment").get_object().get(inner) == simdjson::SUCCESS)
            for (auto [name, value] : inner) {
                static const char* const where_only[] = {"OLLAMA_HOST", "OLLAMA_MODELS", "OLLAMA_ORIGINS", "OLLAMA_TMPDIR", "OLLAMA_DEBUG"};
                if (std::find(std::begin(where_only), std::end(where_only), name) != std::end(where_only)) continue;
                m.server_environment += (m.server_environment.empty() ? "" : " ") + std::string(name) + "=" + dom_string(value);
            }
    }
    if (dom_at(o, "host").get_object().get(part) == simdjson::SUCCESS) {
        m.os = dom_string(dom_at(part, "os"));
        m.cpu_model = dom_string(dom_at(part, "cpu_model"));
        if (auto ram = llmbench::detail::dom_int64(dom_at(part, "total_ram_bytes"))) m.total_ram_bytes = *ram;
        simdjson::dom::element gpus;
        if (part["gpus"].get(gpus) == simdjson::SUCCESS) m.gpus = simdjson::minify(gpus);
    }
    simdjson::dom::element options;
    if (dom_at(o, "request").get_object().get(part) == simdjson::SUCCESS && part["options"].get(options) == simdjson::SUCCESS)
        m.request_options = simdjson::minify(options);
    if (dom_at(o, "request").get_object().get(part) == simdjson::SUCCESS) m.request_json = simdjson::minify(part);
    if (dom_at(o, "prompts").get_object().get(part) == simdjson::SUCCESS) m.prompts_sha256 = dom_string(dom_at(part, "sha256"));
    if (dom_at(o, "shard").get_object().get(part) == simdjson::SUCCESS) {
        const auto index = llmbench::detail::dom_int64(dom_at(part, "index")), count = llmbench::detail::dom_int64(dom_at(part, "count"));
        if (!index || !count || *index < 0 || *count <= *index)
            throw error(errc::usage, "metadata shard " + simdjson::minify(part) + " is not {index, count} with 0 <= index < count");
        m.shard = Shard{static_cast<std::size_t>(*index), static_cast<std::size_t>(*count)};
    }
    return m;
}

inline EvalScore parse_eval_score(simdjson::dom::object o) {
    return {dom_count(dom_at(o, "correct")), dom_count(dom_at(o, "n")), dom_double(dom_at(o, "accuracy")).value_or(0),
            dom_double(dom_at(o, "ci95_low")).value_or(0), dom_double(dom_at(o, "ci95_high")).value_or(0)};
}

inline EvalSummary parse_eval_summary(simdjson::dom::object o) {
    EvalSummary e;
    e.task = dom_string(dom_at(o, "task"));
    e.setting = dom_string(dom_at(o, "setting"));
    e.scoring_method = dom_string(dom_at(o, "scoring_method"));
    if (e.scoring_method.empty()) e.scoring_method = "generative";  // written before logprob scoring existed
    e.scoring = dom_string(dom_at(o, "scoring"));
    e.model = dom_string(dom_at(o, "model"));
    e.backend = dom_string(dom_at(o, "backend"));
    if (simdjson::dom::object dataset; dom_at(o, "dataset").get_object().get(dataset) == simdjson::SUCCESS)
        e.dataset_sha256 = dom_string(dom_at(dataset, "sha256"));
    e.failed_requests = dom_count(dom_at(o, "failed_requests"));
    e.unparsable = dom_count(dom_at(o, "unparsable"));
    e.no_letter_in_top_k = dom_count(dom_at(o, "no_letter_in_top_k"));
    e.macro_accuracy = dom_double(dom_at(o, "macro_accuracy"));
    if (simdjson::dom::object score; dom_at(o, "score").get_object().get(score) == simdjson::SUCCESS) {
        e.score = parse_eval_score(score);
        e.ece = dom_double(dom_at(score, "ece"));
        e.brier = dom_double(dom_at(score, "brier"));
        e.mean_confidence = dom_double(dom_at(score, "mean_confidence"));
    }
    if (simdjson::dom::array bins; dom_at(o, "reliability").get_array().get(bins) == simdjson::SUCCESS)
        for (auto b : bins)
            if (simdjson::dom::object bo; b.get_object().get(bo) == simdjson::SUCCESS)
                e.reliability.push_back({dom_double(dom_at(bo, "lower")).value_or(0), dom_double(dom_at(bo, "upper")).value_or(0),
                                         dom_count(dom_at(bo, "n")), dom_double(dom_at(bo, "accuracy")).value_or(0),
                                         dom_double(dom_at(bo, "mean_confidence")).value_or(0)});
    for (const auto& [key, target] : {std::pair<const char*, std::map<std::string, EvalScore>*>{"per_subject", &e.per_subject},
                                      {"per_category", &e.per_category}})
        if (simdjson::dom::object groups; dom_at(o, key).get_object().get(groups) == simdjson::SUCCESS)
            for (auto field : groups)
                if (simdjson::dom::object g; field.value.get_object().get(g) == simdjson::SUCCESS) (*target)[std::string(field.key)] = parse_eval_score(g);
    if (simdjson::dom::object pass; dom_at(o, "pass_at_k").get_object().get(pass) == simdjson::SUCCESS)
        for (auto field : pass)
            if (const auto v = dom_double(field.value)) e.pass_at_k[std::string(field.key)] = *v;
    if (simdjson::dom::object ref; dom_at(o, "reference").get_object().get(ref) == simdjson::SUCCESS) {
        EvalSummary::Reference r;
        r.score = dom_double(dom_at(ref, "score")).value_or(0);
        r.model = dom_string(dom_at(ref, "model"));
        r.setting = dom_string(dom_at(ref, "setting"));
        r.not_comparable = dom_string(dom_at(ref, "not_comparable"));
        // Files from before `comparable` gave a reference only for the same setting.
        bool comparable = true;
        r.comparable = dom_at(ref, "comparable").get_bool().get(comparable) != simdjson::SUCCESS || comparable;
        e.reference = r;
    }
    return e;
}

inline EvalItem parse_eval_item(simdjson::dom::object o) {
    EvalItem i;
    i.task = dom_string(dom_at(o, "task"));
    i.setting = dom_string(dom_at(o, "setting"));
    i.item_id = dom_string(dom_at(o, "item_id"));
    i.subject = dom_string(dom_at(o, "subject"));
    i.sample = dom_int(dom_at(o, "sample")).value_or(0);
    i.ok = dom_true(dom_at(o, "ok"));
    i.correct = dom_true(dom_at(o, "correct"));
    i.unparsable = dom_true(dom_at(o, "unparsable"));
    i.no_letter_in_top_k = dom_true(dom_at(o, "no_letter_in_top_k"));
    i.confidence = dom_double(dom_at(o, "confidence"));
    i.ttft_s = dom_double(dom_at(o, "ttft_s"));
    i.gen_toks_per_s = dom_double(dom_at(o, "gen_toks_per_s"));
    i.eval_count = dom_int64(dom_at(o, "eval_count"));
    return i;
}

inline LoadLevel parse_load_level(simdjson::dom::object o) {
    LoadLevel l;
    l.level = static_cast<std::size_t>(dom_int(dom_at(o, "level")).value_or(0));
    l.open_loop = dom_string(dom_at(o, "mode")) == "open_loop";
    l.concurrency = static_cast<int>(dom_int(dom_at(o, "concurrency")).value_or(0));
    l.request_rate = llmbench::detail::dom_double(dom_at(o, "request_rate"));
    l.requests = static_cast<std::size_t>(dom_int(dom_at(o, "requests")).value_or(0));
    l.succeeded = static_cast<std::size_t>(dom_int(dom_at(o, "succeeded")).value_or(0));
    for (auto [key, value] : o) {
        if (auto x = llmbench::detail::dom_double(value)) l.values[std::string(key)] = *x;
        simdjson::dom::object stats;
        if (value.get_object().get(stats) == simdjson::SUCCESS)
            for (auto [field, v] : stats)
                if (auto x = llmbench::detail::dom_double(v)) l.values[std::string(key) + "." + std::string(field)] = *x;
    }
    return l;
}

inline MemoryTimeline parse_timeline(simdjson::dom::object o) {
    MemoryTimeline t;
    const auto column = [&o](const char* name) {
        std::vector<std::optional<double>> out;
        simdjson::dom::array a;
        if (dom_at(o, name).get_array().get(a) == simdjson::SUCCESS)
            for (auto v : a) out.push_back(llmbench::detail::dom_double(v));
        return out;
    };
    for (const auto& v : column("t_s")) t.t_s.push_back(v.value_or(0));
    t.rss_bytes = column("rss_bytes");
    t.vram_bytes = column("vram_bytes");
    t.power_w = column("power_w");
    t.ollama_size_bytes = column("ollama_size_bytes");
    for (auto* c : {&t.rss_bytes, &t.vram_bytes, &t.power_w, &t.ollama_size_bytes}) c->resize(t.t_s.size());
    return t;
}

}  // namespace detail

/// Parses one result file's text. A malformed line is an error naming `source:line`, except
/// a last line cut short (a crash mid-write): that one is skipped with a warning, because
/// everything before it was measured and must not be lost.
inline ResultFile parse_results(std::string_view content, const std::string& source, std::size_t file_index = 0) {
    ResultFile file;
    file.path = source;
    simdjson::dom::parser parser;
    std::size_t line_no = 0;
    const auto sharded = [&file] { return !file.metadata.empty() && file.metadata.front().shard; };
    while (!content.empty()) {
        ++line_no;
        const auto nl = content.find('\n');
        const std::string_view line = content.substr(0, nl);
        const bool last = nl == std::string_view::npos || detail::trim(content.substr(nl + 1), " \t\r\n").empty();
        content.remove_prefix(nl == std::string_view::npos ? content.size() : nl + 1);
        if (detail::trim(line, " \t\r").empty()) continue;
        const std::string where = source + ":" + std::to_string(line_no);
        simdjson::dom::element doc;
        simdjson::dom::object obj;
        if (auto err = parser.parse(line.data(), line.size()).get(doc); err || doc.get_object().get(obj)) {
            const std::string why = err ? std::string("invalid JSON (") + simdjson::error_message(err) + ")" : "expected a JSON object";
            if (last && nl == std::string_view::npos) {
                file.warnings.push_back(where + ": last line cut short, skipped: " + why);
                break;
            }
            throw error(errc::usage, where + ": " + why);
        }
        const auto version = detail::dom_int(detail::dom_at(obj, "schema_version"));
        if (version && *version > schema_version)
            throw error(errc::usage, where + ": schema_version " + std::to_string(*version) + " is newer than this llmbench reads (" +
                                         std::to_string(schema_version) + ")");
        const std::string type = detail::dom_string(detail::dom_at(obj, "type"));
        if (type == "run") {
            ResultRun r;
            r.run = detail::parse_run(obj, where, file.warnings);
            r.where = where;
            r.file_index = file_index;
            r.sequence = file.runs.size();
            file.runs.push_back(std::move(r));
        } else if (type == "metadata") {
            try {
                file.metadata.push_back(detail::parse_metadata(obj, line));
            } catch (const error& e) {
                throw error(errc::usage, where + ": " + e.what());
            }
        } else if (type == "eval_summary") {
            EvalSummary e = detail::parse_eval_summary(obj);
            e.where = where;
            e.file_index = file_index;
            file.eval_summaries.push_back(std::move(e));
            if (sharded()) file.shard_eval_lines.emplace_back(where, std::string(line));
        } else if (type == "eval_item") {
            EvalItem i = detail::parse_eval_item(obj);
            i.where = where;
            i.file_index = file_index;
            file.eval_items.push_back(std::move(i));
            if (sharded()) file.shard_eval_lines.emplace_back(where, std::string(line));
        } else if (type == "memory_timeline") {
            file.memory = detail::parse_timeline(obj);
        } else if (type == "load_summary") {
            LoadLevel l = detail::parse_load_level(obj);
            l.where = where;
            l.file_index = file_index;
            file.load.push_back(std::move(l));
        } else if (type.empty()) {
            throw error(errc::usage, where + ": missing field \"type\" (not an llmbench result line)");
        }  // summary, cell, plan: recomputed from the runs; load_request: summed up in load_summary
    }
    return file;
}

namespace detail {

inline bool same_cell(const CellCoordinates& a, const CellCoordinates& b) {
    return a.model == b.model && a.num_ctx == b.num_ctx && a.prompt_tokens == b.prompt_tokens && a.num_predict == b.num_predict;
}

/// The runs of one run's shard files (`shards[i]` is shard i's) in the order one unsharded
/// process writes them. Shard s does work item k*N + s as its k-th (core/shard.hpp): for
/// bench-matrix an item is a cell, for ollama-bench a prompt within each run (run 0's prompts,
/// then run 1's). Warm-ups outside a cell, which every shard runs for itself, come first, shard
/// by shard; the records of one item (a cell's warm-ups and re-runs, a run's retries) keep
/// their order.
inline std::vector<ResultRun> unsharded_order(std::vector<std::vector<ResultRun>> shards) {
    struct Place {
        bool timed = true;
        int run_index = 0;
        std::size_t item = 0, shard = 0, at = 0;
    };
    const std::size_t count = shards.size();
    std::vector<Place> places;
    for (std::size_t s = 0; s < count; ++s) {
        std::size_t cells = 0;                      // cells begun in this shard
        std::map<int, std::size_t> prompts_of_run;  // prompts begun in each run
        const RunRecord* previous = nullptr;
        for (std::size_t i = 0; i < shards[s].size(); ++i) {
            const RunRecord& r = shards[s][i].run;
            Place place{true, 0, 0, s, i};
            if (r.cell) {
                if (!previous || !previous->cell || !same_cell(*previous->cell, *r.cell)) ++cells;
                place.item = (cells - 1) * count + s;
            } else if (r.id.warmup) {
                place.timed = false;
            } else {
                std::size_t& begun = prompts_of_run[r.id.run_index];
                if (!previous || previous->cell || previous->id.warmup || previous->id.run_index != r.id.run_index ||
                    previous->id.prompt_id != r.id.prompt_id)
                    ++begun;
                place.run_index = r.id.run_index;
                place.item = (begun - 1) * count + s;
            }
            places.push_back(place);
            previous = &r;
        }
    }
    std::stable_sort(places.begin(), places.end(), [](const Place& a, const Place& b) {
        return std::make_tuple(a.timed, a.run_index, a.item) < std::make_tuple(b.timed, b.run_index, b.item);
    });
    std::vector<ResultRun> out;
    out.reserve(places.size());
    for (const auto& p : places) out.push_back(std::move(shards[p.shard][p.at]));
    return out;
}

/// The eval summaries of one run's shard files (`shards[i]` is shard i) merged: for each task
/// and setting, the summary over the items of every shard, computed as eval-suite computes
/// its own (eval::summary_json), so it equals one process's. A shard without a summary of a
/// task did not finish it: an error naming the shard, as is an item of another shard.
inline std::vector<EvalSummary> merge_eval_summaries(const std::vector<const ResultFile*>& shards) {
    const std::size_t count = shards.size();
    simdjson::dom::parser parser;
    const auto parse = [&](const std::pair<std::string, std::string>& line) {
        simdjson::dom::object o;
        if (parser.parse(line.second).get_object().get(o)) throw error(errc::usage, line.first + ": not a JSON object");
        return o;
    };
    const auto name = [&](std::size_t i) { return "shard " + Shard{i, count}.label() + " (" + shards[i]->path + ")"; };
    std::vector<std::map<std::string, std::pair<std::string, std::string>>> last(count);  ///< per shard: task (setting) -> its last summary
    std::vector<std::string> tasks;  ///< in shard 0's order
    for (std::size_t i = 0; i < count; ++i)
        for (const auto& line : shards[i]->shard_eval_lines) {
            const auto o = parse(line);
            if (dom_string(dom_at(o, "type")) != "eval_summary") continue;
            const std::string task = dom_string(dom_at(o, "task")) + " (" + dom_string(dom_at(o, "setting")) + ")";
            if (i == 0 && !last[0].count(task)) tasks.push_back(task);
            last[i][task] = line;  // a resumed run appends a newer summary
        }
    for (std::size_t i = 1; i < count; ++i) {
        for (const auto& task : tasks)
            if (!last[i].count(task))
                throw error(errc::usage, name(i) + " has no eval_summary of " + task + ": it did not finish; rerun it with the same --output to go on");
        for (const auto& [task, line] : last[i])
            if (!last[0].count(task)) throw error(errc::usage, name(i) + " summarised " + task + ", which " + name(0) + " did not: not shards of one run");
    }
    std::vector<EvalSummary> out;
    for (const auto& task : tasks) {
        const auto& first = last[0].at(task);
        eval::SummaryContext c;
        std::string where;
        {
            const auto o = parse(first);
            try {
                c.task = eval::parse_task(dom_string(dom_at(o, "task")));
                const std::string method = dom_string(dom_at(o, "scoring_method"));
                c.scoring = eval::parse_scoring(method.empty() ? "generative" : method);
            } catch (const error& e) {
                throw error(errc::usage, first.first + ": " + e.what());
            }
            c.setting = dom_string(dom_at(o, "setting"));
            c.model = dom_string(dom_at(o, "model"));
            c.backend = dom_string(dom_at(o, "backend"));
            if (simdjson::dom::element controls; dom_at(o, "controls").get(controls) == simdjson::SUCCESS) c.controls_json = simdjson::minify(controls);
            if (simdjson::dom::object dataset; dom_at(o, "dataset").get_object().get(dataset) == simdjson::SUCCESS) {
                c.dataset_path = dom_string(dom_at(dataset, "path"));
                c.dataset_sha256 = dom_string(dom_at(dataset, "sha256"));
            }
            c.items_in_selection = dom_count(dom_at(o, "items_in_dataset_selection"));
        }
        for (std::size_t i = 0; i < count; ++i) c.failed_requests += dom_count(dom_at(parse(last[i].at(task)), "failed_requests"));
        std::vector<eval::ScoredItem> items;
        std::set<std::string> seen;  // a resumed shard may hold an item twice: the first scored counts, as on resume
        for (std::size_t i = 0; i < count; ++i)
            for (const auto& line : shards[i]->shard_eval_lines) {
                auto s = eval::parse_scored_item(parse(line), c.task, c.setting, c.scoring);
                if (!s) continue;
                if (!s->run.shard || !(*s->run.shard == Shard{i, count}))
                    throw error(errc::usage, line.first + ": an item of shard " + (s->run.shard ? s->run.shard->label() : std::string("none")) +
                                                 " in the file of shard " + Shard{i, count}.label());
                if (seen.insert(s->item_id + "\x1f" + std::to_string(s->sample)).second) items.push_back(std::move(*s));
            }
        const std::string merged = eval::summary_json(c, items);
        simdjson::dom::parser own;
        simdjson::dom::object o;
        if (own.parse(merged).get_object().get(o)) throw error(errc::protocol, "the merged eval summary is not JSON (a bug)");
        EvalSummary e = parse_eval_summary(o);
        e.where = first.first + " + " + std::to_string(count - 1) + " more shard" + (count > 2 ? "s" : "");
        out.push_back(std::move(e));
    }
    return out;
}

}  // namespace detail

/// Shard files of one run (--shard I/N: their metadata says so) merged into one file, as if
/// one process had run it all: the runs of shard 0, then 1, ..., and the metadata lines of
/// shard 0, then those of models only later shards ran (bench-matrix writes one per model).
/// The statistics over them are those of the unsharded run (compute_stats sorts its samples,
/// so order does not change a bit). Shards belong together when they agree on N, on what
/// shaped the requests (the metadata's `request`) and on the prompts file; a set with a shard
/// missing, or one given twice, is an error naming them. Other files pass through, in order.
inline std::vector<ResultFile> merge_shards(std::vector<ResultFile> files) {
    struct Set {
        std::string key;
        std::size_t count = 0, first = 0;  ///< first: where the merged file goes
        std::vector<std::size_t> by_index;  ///< file of each shard, npos where missing
    };
    constexpr auto none = static_cast<std::size_t>(-1);
    std::vector<Set> sets;
    std::vector<bool> merged(files.size(), false);
    for (std::size_t f = 0; f < files.size(); ++f) {
        if (files[f].metadata.empty() || !files[f].metadata.front().shard) continue;
        const ResultMetadata& m = files[f].metadata.front();
        const std::string key = std::to_string(m.shard->count) + "\n" + m.request_json + "\n" + m.prompts_sha256;
        auto set = std::find_if(sets.begin(), sets.end(), [&](const Set& s) { return s.key == key; });
        if (set == sets.end()) set = sets.insert(sets.end(), Set{key, m.shard->count, f, std::vector<std::size_t>(m.shard->count, none)});
        std::size_t& slot = set->by_index[m.shard->index];
        if (slot != none)
            throw error(errc::usage, "shard " + m.shard->label() + " is given twice: " + files[slot].path + " and " + files[f].path);
        slot = f;
        merged[f] = true;
        for (const auto& r : files[f].runs)
            if (!r.run.shard || !(*r.run.shard == *m.shard))
                throw error(errc::usage, r.where + ": a run of shard " + (r.run.shard ? r.run.shard->label() : std::string("none")) + " in the file of shard " + m.shard->label());
    }
    for (const auto& set : sets) {
        std::string missing, given;
        for (std::size_t i = 0; i < set.count; ++i) {
            const std::string label = Shard{i, set.count}.label();
            if (set.by_index[i] == none) missing += (missing.empty() ? "" : ", ") + label;
            else given += (given.empty() ? "" : ", ") + label + " (" + files[set.by_index[i]].path + ")";
        }
        if (!missing.empty()) throw error(errc::usage, "shard " + missing + " missing: a run in " + std::to_string(set.count) + " shards needs every one; given " + given);
    }
    std::vector<ResultFile> out;
    for (std::size_t f = 0; f < files.size(); ++f) {
        if (!merged[f]) {
            out.push_back(std::move(files[f]));
            continue;
        }
        const auto set = std::find_if(sets.begin(), sets.end(), [&](const Set& s) { return s.first == f; });
        if (set == sets.end()) continue;  // merged into the file of an earlier shard
        ResultFile whole = std::move(files[set->by_index[0]]);
        whole.path += " + " + std::to_string(set->count - 1) + " more shard" + (set->count > 2 ? "s" : "");
        std::vector<std::vector<ResultRun>> runs_of_shard{std::move(whole.runs)};
        for (std::size_t i = 1; i < set->count; ++i) {
            ResultFile& part = files[set->by_index[i]];
            for (auto& m : part.metadata)
                if (std::none_of(whole.metadata.begin(), whole.metadata.end(), [&](const ResultMetadata& w) { return w.model_tag == m.model_tag; }))
                    whole.metadata.push_back(std::move(m));
            runs_of_shard.push_back(std::move(part.runs));
            for (auto& w : part.warnings) whole.warnings.push_back(std::move(w));
            if (part.memory) whole.warnings.push_back(part.path + ": the memory timelines of shards are not merged; shard 0's is shown");
            for (auto& e : part.eval_items) whole.eval_items.push_back(std::move(e));
        }
        std::vector<const ResultFile*> shards;
        for (std::size_t i = 0; i < set->count; ++i) shards.push_back(i == 0 ? &whole : &files[set->by_index[i]]);
        if (std::any_of(shards.begin(), shards.end(), [](const ResultFile* s) { return !s->shard_eval_lines.empty(); }))
            whole.eval_summaries = detail::merge_eval_summaries(shards);
        whole.runs = detail::unsharded_order(std::move(runs_of_shard));
        for (std::size_t i = 0; i < whole.runs.size(); ++i) whole.runs[i].sequence = i;
        out.push_back(std::move(whole));
    }
    for (std::size_t f = 0; f < out.size(); ++f) {
        for (auto& r : out[f].runs) r.file_index = f;
        for (auto& e : out[f].eval_summaries) e.file_index = f;
        for (auto& e : out[f].eval_items) e.file_index = f;
        for (auto& l : out[f].load) l.file_index = f;
    }
    return out;
}

/// Reads and parses a result file; see parse_results.
inline ResultFile load_results(const std::string& path, std::size_t file_index = 0) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw error(errc::io, "cannot open result file '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_results(ss.str(), path, file_index);
}

/// The metrics reports show, in order, with how to read them.
/// The metrics reports show as columns (Metric::in_reports), in registry order.
inline const std::vector<Metric>& report_metrics() {
    static const std::vector<Metric> metrics = [] {
        std::vector<Metric> out;
        for (const auto& m : run_metrics())
            if (m.in_reports) out.push_back(m);
        return out;
    }();
    return metrics;
}

/// A cell: one point of the experiment (model, num_ctx, prompt length, output length) from
/// one file, with every run that belongs to it.
struct ResultCell {
    std::size_t file_index = 0;
    CellCoordinates coordinates;
    std::vector<const ResultRun*> runs;  ///< all of them, warm-ups and failures included
    std::map<std::string, Stats> stats;  ///< over timed runs only
    std::size_t failed = 0;
    std::map<std::string, std::size_t> failures_by_kind;

    /// "llama3.1:8b ctx=4096 prompt=200 out=128"; parts that are unset are left out.
    std::string label() const {
        std::string s = coordinates.model;
        if (coordinates.num_ctx) s += " ctx=" + std::to_string(*coordinates.num_ctx);
        if (coordinates.prompt_tokens) s += " prompt=" + std::to_string(*coordinates.prompt_tokens);
        if (coordinates.num_predict) s += " out=" + std::to_string(*coordinates.num_predict);
        return s;
    }
    /// The cell's stats for `metric`, or empty Stats.
    Stats stat(const std::string& metric) const {
        const auto it = stats.find(metric);
        return it == stats.end() ? Stats{} : it->second;
    }
    std::vector<double> samples(const std::string& metric) const {
        std::vector<double> out;
        const Metric* m = find_metric(metric);  // once, not once per run
        if (m == nullptr) return out;
        for (const auto* r : runs)
            if (r->timed())
                if (auto v = m->get(r->run)) out.push_back(*v);
        return out;
    }
    /// Runs that count in statistics (see ResultRun::timed).
    std::size_t timed_runs() const {
        return static_cast<std::size_t>(std::count_if(runs.begin(), runs.end(), [](const ResultRun* r) { return r->timed(); }));
    }
    /// Like nanobench: a coefficient of variation above 5% makes a mean untrustworthy.
    bool unstable(const std::string& metric) const { return llmbench::unstable(stat(metric)); }
};

/// Groups runs into cells, in order of first appearance. Runs of ollama-bench carry no cell:
/// theirs is (model, num_predict), one per model.
inline std::vector<ResultCell> group_cells(const std::vector<ResultFile>& files) {
    std::vector<ResultCell> cells;
    for (std::size_t f = 0; f < files.size(); ++f) {
        for (const auto& r : files[f].runs) {
            const RunRecord& run = r.run;
            const CellCoordinates c = run.cell ? *run.cell : CellCoordinates{run.id.model, std::nullopt, std::nullopt, run.id.num_predict};
            auto it = std::find_if(cells.begin(), cells.end(),
                                   [&](const ResultCell& x) { return x.file_index == f && detail::same_cell(x.coordinates, c); });
            if (it == cells.end()) {
                cells.push_back({f, c, {}, {}, 0, {}});
                it = cells.end() - 1;
            }
            it->runs.push_back(&r);
            if (!run.ok() && !run.id.warmup && !run.retry.superseded) {
                ++it->failed;
                ++it->failures_by_kind[run.outcome.error_kind ? to_string(*run.outcome.error_kind) : "unknown"];
            }
        }
    }
    for (auto& cell : cells)
        for (const auto& m : report_metrics())
            if (auto s = cell.samples(m.name); !s.empty()) cell.stats[m.name] = compute_stats(std::move(s));
    return cells;
}

/// Everything a report shows: the files, and their runs grouped into cells.
struct ResultSet {
    std::vector<ResultFile> files;
    std::vector<ResultCell> cells;  ///< point into `files`: a ResultSet moves, never copies

    ResultSet() = default;
    ResultSet(ResultSet&&) = default;
    ResultSet& operator=(ResultSet&&) = default;
    ResultSet(const ResultSet&) = delete;
    ResultSet& operator=(const ResultSet&) = delete;

    /// The cell's label, prefixed by its file's name when several files are shown.
    std::string cell_label(const ResultCell& c) const {
        if (files.size() < 2) return c.label();
        const std::string& p = files[c.file_index].path;
        return p.substr(p.find_last_of('/') + 1) + ": " + c.label();
    }
};

/// Loads result files and groups their runs. The ResultSet owns the runs its cells point to.
inline ResultSet load_result_set(const std::vector<std::string>& paths) {
    ResultSet set;
    for (std::size_t i = 0; i < paths.size(); ++i) set.files.push_back(load_results(paths[i], i));
    set.files = merge_shards(std::move(set.files));
    set.cells = group_cells(set.files);
    return set;
}

/// Same, from texts already in memory (tests, pipes): (name, content) pairs.
inline ResultSet parse_result_set(const std::vector<std::pair<std::string, std::string>>& texts) {
    ResultSet set;
    for (std::size_t i = 0; i < texts.size(); ++i) set.files.push_back(parse_results(texts[i].second, texts[i].first, i));
    set.files = merge_shards(std::move(set.files));
    set.cells = group_cells(set.files);
    return set;
}

}  // namespace llmbench
