// llmbench/core/run_record.hpp - one measured request: client timings, server fields, flags.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmbench/detail/sha256.hpp"
#include "llmbench/detail/text.hpp"
#include "llmbench/core/error.hpp"
#include "llmbench/core/json.hpp"
#include "llmbench/core/response.hpp"
#include "llmbench/core/shard.hpp"
#include "llmbench/core/statistics.hpp"
#include "llmbench/core/stream_timer.hpp"
#include "llmbench/version.hpp"

namespace llmbench {

/// Warnings about a run that still succeeded. Each is explained in docs/metrics.md.
struct RunFlags {
    /// Part of the prompt was served from the KV cache: the server says so (a cached count
    /// above 0), or, when it gives no cached count, the heuristic suspects it (prefill too fast
    /// to be real: < 1 ms for >= 32 tokens, or > 5x the first run's rate; or the prompt count
    /// fell below the first run's).
    bool prompt_cache_suspected = false;
    /// prompt_toks_per_s counts cached tokens that prompt_eval_duration did not evaluate, so
    /// it overstates prefill speed; prefill_toks_per_s does not.
    bool prompt_rate_includes_cache = false;
    /// Fewer tokens than num_predict asked for (the model stopped on its own).
    bool short_output = false;
    /// Client TTFT < server load + prompt_eval durations: the server's clock or fields are off.
    bool ttft_below_server = false;
    /// The server evaluated far fewer prompt tokens than were sent (< 90% of the target), or
    /// the prompt cannot fit num_ctx: Ollama silently cuts such prompts and still answers 200.
    bool truncation_suspected = false;
};

/// Where a run sits in an experiment matrix.
struct CellCoordinates {
    std::string model;
    std::optional<int> num_ctx;        ///< nullopt: the server's default
    std::optional<int> prompt_tokens;  ///< target prompt length
    std::optional<int> num_predict;
};

/// Writes a cell as {"model", "num_ctx", "prompt_tokens", "num_predict"}.
inline void write_cell_json(JsonWriter& w, const CellCoordinates& c) {
    w.begin_object()
        .kv("model", c.model)
        .kv("num_ctx", c.num_ctx)
        .kv("prompt_tokens", c.prompt_tokens)
        .kv("num_predict", c.num_predict)
        .end_object();
}

namespace detail {
/// peak = max(peak, value), where either may be unknown.
inline void keep_max(std::optional<std::int64_t>& peak, const std::optional<std::int64_t>& value) {
    if (value && (!peak || *value > *peak)) peak = value;
}
}  // namespace detail

/// Memory and energy while one request ran (see memory_sampler.hpp); nulls carry a note.
struct RunMemory {
    std::optional<std::int64_t> peak_rss_bytes;          ///< server process tree, /proc
    std::optional<std::int64_t> peak_vram_bytes;         ///< all GPUs, memory used
    std::optional<std::int64_t> peak_ollama_size_bytes;  ///< /api/ps size of the loaded models
    /// The machine's energy over the run: counters (RAPL, amdgpu, NVML) differenced where
    /// they exist, GPU watts sampled and integrated for GPUs without one.
    std::optional<double> energy_j;
    std::size_t samples = 0;
    std::string rss_note, vram_note;
    std::string energy_source;                     ///< "rapl", "rapl+nvml", "gpu_power_sampled", ...
    std::map<std::string, double> energy_zones_j;  ///< each counter's joules, by id ("rapl:intel-rapl:0")
    std::string energy_note;                       ///< why energy_j is null, or what it leaves out
    /// The counters' joules from the request to its first token (prefill, with the queue and
    /// connection); null without counters or without a token.
    std::optional<double> energy_prefill_j;
    /// With --subtract-idle: the idle watts times the run's duration, already taken off
    /// energy_j (and the prefill's share off energy_prefill_j).
    std::optional<double> energy_idle_j;
};

/// Who and what a run is: the top of its line.
struct RunIdentity {
    std::string backend = "ollama";  ///< "ollama", "openai", or "mock" for the in-process mocks
    std::string model;
    std::string prompt_id;
    int run_index = 0;
    /// Warm-up: measured and recorded like any run, left out of every statistic.
    bool warmup = false;
    std::optional<int> num_predict;
    std::optional<std::int64_t> prompt_tokens_target;  ///< synthetic prompts: the length asked for
};

/// Re-runs of a short reply (Benchmark's retry_short_output).
struct RunRetry {
    int attempt = 0;          ///< 0, or 1..N for re-runs of a short reply
    bool superseded = false;  ///< replaced by a re-run (kept in the output, left out of statistics)
};

/// How the request ended: ok, or the kind of failure, its message and the HTTP status.
struct RunOutcome {
    bool ok = false;
    std::optional<errc> error_kind;
    std::string error_message;
    int http_status = 0;
};

/// What the client's clock saw (StreamTimer).
struct ClientTimings {
    std::optional<double> ttft_s;  ///< to the first generated text, thinking included
    std::optional<double> ttfa_s;  ///< to the first answer text
    std::optional<double> connect_s;  ///< sent -> connection ready (0: kept alive); inside ttft_s
    std::optional<double> first_byte_s;
    std::optional<double> wall_s;
    std::size_t content_chunks = 0;   ///< chunks of answer text
    std::size_t thinking_chunks = 0;  ///< chunks of thinking text
    std::optional<double> itl_p50_s, itl_p95_s, itl_max_s;
    std::optional<double> decode_window_s;  ///< first to last chunk of generated text, thinking included
    std::optional<double> answer_window_s;  ///< first to last chunk of answer text
    // Kept for the runners that build on a record, not written to its JSON line.
    std::vector<double> gaps_s;  ///< every gap between generated chunks (ITL over a whole load run)
    /// The request was written / the first generated text (of either kind) arrived / the first
    /// answer text arrived / the client saw the end.
    std::optional<StreamTimer::time_point> sent_at, first_token_at, first_content_at, ended_at;
};

/// The fastest decode rate the memory bandwidth allows for this run, and the measured decode
/// rate over it (set by Roofline::annotate; null without a roofline).
struct RooflineEstimate {
    std::optional<double> decode_toks_per_s, efficiency;
};

/// The reply: its answer text (kept in memory, not written), size and digest (written), and
/// the thinking that came before it, apart (its text in memory, its length written).
struct RunOutput {
    std::string text;
    std::size_t bytes = 0;
    std::string sha256;
    std::string thinking;
    std::size_t thinking_chars = 0;  ///< Unicode code points of the thinking text
    /// Each generated token's log-probability, when the request asked for them (written).
    std::vector<TokenLogprobs> logprobs;
};

namespace detail {
/// {"token", "logprob", "id" (when known)}, then `top` as "top_logprobs" unless null.
inline void write_token_logprob(JsonWriter& w, const TokenLogprob& t, const std::vector<TokenLogprob>* top) {
    w.begin_object().kv("token", t.token).kv("logprob", t.logprob);
    if (t.id) w.kv("id", *t.id);
    if (top != nullptr) {
        w.key("top_logprobs").begin_array();
        for (const auto& alternative : *top) write_token_logprob(w, alternative, nullptr);
        w.end_array();
    }
    w.end_object();
}
}  // namespace detail

/// One measured request, in parts that say what they are.
struct RunRecord {
    RunIdentity id;
    std::optional<CellCoordinates> cell;  ///< only in an experiment matrix
    std::optional<Shard> shard;           ///< the process's share of the run (--shard I/N), when sharded
    RunRetry retry;
    RunOutcome outcome;
    ClientTimings client;
    ServerTimings server;
    std::string done_reason;  ///< the server's, "" when it sent none
    RooflineEstimate roofline;
    std::optional<RunMemory> memory;  ///< only when a memory sampler ran
    RunOutput output;
    RunFlags flags;

    bool ok() const { return outcome.ok; }

    /// The run's energy over its generated tokens (joules per token), prefill included.
    std::optional<double> joules_per_token() const {
        if (!memory || !memory->energy_j || !server.eval_count || *server.eval_count <= 0) return std::nullopt;
        return *memory->energy_j / static_cast<double>(*server.eval_count);
    }
    /// The energy up to the first token over the prompt tokens the server evaluated (the
    /// cached ones left out): joules per prompt token. Null where the server does not say how
    /// many it evaluated.
    std::optional<double> joules_per_prompt_token() const {
        if (!memory || !memory->energy_prefill_j || !server.prompt_evaluated_tokens || *server.prompt_evaluated_tokens <= 0) return std::nullopt;
        return *memory->energy_prefill_j / static_cast<double>(*server.prompt_evaluated_tokens);
    }

    /// eval_count / eval_duration: the rate the reference script and `ollama run --verbose` print.
    std::optional<double> gen_toks_per_s() const { return rate(server.eval_count, server.eval_duration_ns); }
    /// prompt_eval_count / prompt_eval_duration, as the reference script prints it (since
    /// Ollama 0.30 the count includes cached tokens: see flags.prompt_rate_includes_cache).
    std::optional<double> prompt_toks_per_s() const {
        return rate(server.prompt_eval_count, server.prompt_eval_duration_ns);
    }
    /// Evaluated prompt tokens / prompt_eval_duration: the prefill rate with the cache left out;
    /// null when the server does not say how many tokens it evaluated.
    std::optional<double> prefill_toks_per_s() const {
        return rate(server.prompt_evaluated_tokens, server.prompt_eval_duration_ns);
    }
    /// (eval_count - 1) / eval_duration: the true decode rate. eval_count includes the
    /// first token, whose compute belongs to prompt_eval_duration.
    std::optional<double> decode_toks_per_s() const {
        if (!server.eval_count || *server.eval_count < 2) return std::nullopt;
        return rate(*server.eval_count - 1, server.eval_duration_ns);
    }
    /// (eval_count - 1) / (last content chunk - first content chunk) on the client clock.
    std::optional<double> client_decode_toks_per_s() const {
        if (!server.eval_count || *server.eval_count < 2 || !client.decode_window_s || *client.decode_window_s <= 0)
            return std::nullopt;
        return static_cast<double>(*server.eval_count - 1) / *client.decode_window_s;
    }
    /// Answer tokens: all generated ones when the model did not think, else eval_count minus
    /// the server's thinking count; null when it thought and the server does not say how much.
    std::optional<std::int64_t> answer_tokens() const {
        if (!server.eval_count) return std::nullopt;
        if (client.thinking_chunks == 0) return server.eval_count;
        if (!server.thinking_tokens || *server.thinking_tokens > *server.eval_count) return std::nullopt;
        return *server.eval_count - *server.thinking_tokens;
    }
    /// (answer tokens - 1) / (last answer chunk - first answer chunk) on the client clock: the
    /// rate the answer appears at, thinking left out.
    std::optional<double> answer_decode_toks_per_s() const {
        const auto answer = answer_tokens();
        if (!answer || *answer < 2 || !client.answer_window_s || *client.answer_window_s <= 0) return std::nullopt;
        return static_cast<double>(*answer - 1) / *client.answer_window_s;
    }
    std::optional<double> load_s() const { return ns_to_s(server.load_duration_ns); }
    std::optional<double> prompt_eval_s() const { return ns_to_s(server.prompt_eval_duration_ns); }
    std::optional<double> eval_s() const { return ns_to_s(server.eval_duration_ns); }
    std::optional<double> total_s() const { return ns_to_s(server.total_duration_ns); }

    /// The `"type":"run"` line: identity, every top-level metric of the registry, the server's
    /// fields, memory and flags (defined below the registry).
    void write_json(JsonWriter& w) const;

    std::string to_json() const {
        JsonWriter w;
        write_json(w);
        return w.take();
    }

private:
    static std::optional<double> rate(std::optional<std::int64_t> count, std::optional<std::int64_t> duration_ns) {
        if (!count || !duration_ns || *duration_ns <= 0) return std::nullopt;
        return static_cast<double>(*count) / (static_cast<double>(*duration_ns) / 1e9);
    }
    static std::optional<double> ns_to_s(std::optional<std::int64_t> ns) {
        if (!ns) return std::nullopt;
        return static_cast<double>(*ns) / 1e9;
    }
};


/// Where a metric comes from: the client's clock, the server's own fields, both, or the host
/// (memory and power samplers).
enum class MetricSource { client, server, both, host };
/// Where the run line writes it: at its top level, or inside its `server` or `memory` object.
enum class MetricPlacement { top_level, server, memory };

/// One metric of a run, declared once: it drives the run line, the summary statistics, the
/// reports' columns and charts, and the docs check (docs/metrics.md defines each one).
struct Metric {
    const char* name;   ///< with its unit: ttft_s, gen_toks_per_s
    const char* label;  ///< short, for table headers
    const char* unit;   ///< s, tok/s, tok, bytes, J/tok, share
    MetricSource source;
    bool higher_is_better;
    int decimals;                                      ///< in console and Markdown tables
    std::optional<double> (*get)(const RunRecord&);    ///< null when the run does not have it
    MetricPlacement placement = MetricPlacement::top_level;
    bool in_reports = false;                           ///< a column of the reports' tables and CSV
};

namespace detail {
inline std::optional<double> as_double(std::optional<std::int64_t> v) {
    return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
}
}  // namespace detail

/// Every metric of a run, in output order.
inline const std::vector<Metric>& run_metrics() {
    using S = MetricSource;
    using P = MetricPlacement;
    static const std::vector<Metric> metrics = {
        {"ttft_s", "TTFT", "s", S::client, false, 4, [](const RunRecord& r) { return r.client.ttft_s; }, P::top_level, true},
        {"ttfa_s", "TTFA", "s", S::client, false, 4, [](const RunRecord& r) { return r.client.ttfa_s; }},
        {"gen_toks_per_s", "gen tok/s", "tok/s", S::server, true, 2, [](const RunRecord& r) { return r.gen_toks_per_s(); }, P::top_level, true},
        {"prompt_toks_per_s", "prompt tok/s", "tok/s", S::server, true, 2, [](const RunRecord& r) { return r.prompt_toks_per_s(); }, P::top_level, true},
        {"prefill_toks_per_s", "prefill tok/s", "tok/s", S::server, true, 2, [](const RunRecord& r) { return r.prefill_toks_per_s(); }, P::top_level, true},
        {"decode_toks_per_s", "decode tok/s", "tok/s", S::server, true, 2, [](const RunRecord& r) { return r.decode_toks_per_s(); }, P::top_level, true},
        {"client_decode_toks_per_s", "client decode tok/s", "tok/s", S::both, true, 2,
         [](const RunRecord& r) { return r.client_decode_toks_per_s(); }},
        {"answer_decode_toks_per_s", "answer tok/s", "tok/s", S::both, true, 2,
         [](const RunRecord& r) { return r.answer_decode_toks_per_s(); }},
        {"wall_s", "wall", "s", S::client, false, 4, [](const RunRecord& r) { return r.client.wall_s; }, P::top_level, true},
        {"connect_s", "connect", "s", S::client, false, 4, [](const RunRecord& r) { return r.client.connect_s; }},
        {"first_byte_s", "first byte", "s", S::client, false, 4, [](const RunRecord& r) { return r.client.first_byte_s; }},
        {"itl_p50_s", "ITL p50", "s", S::client, false, 4, [](const RunRecord& r) { return r.client.itl_p50_s; }},
        {"itl_p95_s", "ITL p95", "s", S::client, false, 4, [](const RunRecord& r) { return r.client.itl_p95_s; }, P::top_level, true},
        {"itl_max_s", "ITL max", "s", S::client, false, 4, [](const RunRecord& r) { return r.client.itl_max_s; }},
        {"load_s", "load", "s", S::server, false, 4, [](const RunRecord& r) { return r.load_s(); }, P::top_level, true},
        {"prompt_eval_s", "prefill", "s", S::server, false, 4, [](const RunRecord& r) { return r.prompt_eval_s(); }},
        {"eval_s", "decode time", "s", S::server, false, 4, [](const RunRecord& r) { return r.eval_s(); }},
        {"total_s", "server total", "s", S::server, false, 4, [](const RunRecord& r) { return r.total_s(); }},
        {"prompt_eval_count", "prompt tokens", "tok", S::server, true, 0,
         [](const RunRecord& r) { return detail::as_double(r.server.prompt_eval_count); }, P::server, true},
        {"prompt_cached_tokens", "cached prompt tokens", "tok", S::server, false, 0,
         [](const RunRecord& r) { return detail::as_double(r.server.prompt_cached_tokens); }, P::server},
        {"prompt_evaluated_tokens", "evaluated prompt tokens", "tok", S::server, true, 0,
         [](const RunRecord& r) { return detail::as_double(r.server.prompt_evaluated_tokens); }, P::server},
        {"eval_count", "output tokens", "tok", S::server, true, 0, [](const RunRecord& r) { return detail::as_double(r.server.eval_count); },
         P::server, true},
        {"thinking_tokens", "thinking tokens", "tok", S::server, false, 0,
         [](const RunRecord& r) { return detail::as_double(r.server.thinking_tokens); }, P::server},
        {"peak_rss_bytes", "peak RSS", "bytes", S::host, false, 0,
         [](const RunRecord& r) { return r.memory ? detail::as_double(r.memory->peak_rss_bytes) : std::nullopt; }, P::memory, true},
        {"peak_vram_bytes", "peak VRAM", "bytes", S::host, false, 0,
         [](const RunRecord& r) { return r.memory ? detail::as_double(r.memory->peak_vram_bytes) : std::nullopt; }, P::memory, true},
        {"joules_per_token", "energy", "J/tok", S::host, false, 4, [](const RunRecord& r) { return r.joules_per_token(); }, P::memory, true},
        {"energy_j", "run energy", "J", S::host, false, 3, [](const RunRecord& r) { return r.memory ? r.memory->energy_j : std::nullopt; }, P::memory},
        {"joules_per_prompt_token", "prefill energy", "J/tok", S::host, false, 5, [](const RunRecord& r) { return r.joules_per_prompt_token(); },
         P::memory},
        {"roofline_decode_toks_per_s", "roofline tok/s", "tok/s", S::both, true, 2,
         [](const RunRecord& r) { return r.roofline.decode_toks_per_s; }},
        {"roofline_efficiency", "roofline eff.", "share", S::both, true, 2, [](const RunRecord& r) { return r.roofline.efficiency; },
         P::top_level, true},
    };
    return metrics;
}

/// The metric called `name`, or null.
inline const Metric* find_metric(std::string_view name) {
    for (const auto& m : run_metrics())
        if (name == m.name) return &m;
    return nullptr;
}

inline void RunRecord::write_json(JsonWriter& w) const {
    w.begin_object()
        .kv("type", "run")
        .kv("schema_version", schema_version)
        .kv("backend", id.backend)
        .kv("model", id.model)
        .kv("prompt_id", id.prompt_id)
        .kv("run", id.run_index)
        .kv("warmup", id.warmup);
    w.key("cell");
    if (cell) write_cell_json(w, *cell);
    else w.null();
    w.key("shard");
    if (shard) w.begin_object().kv("index", shard->index).kv("count", shard->count).end_object();
    else w.null();
    w.kv("prompt_tokens_target", id.prompt_tokens_target)
        .kv("attempt", retry.attempt)
        .kv("superseded", retry.superseded)
        .kv("ok", outcome.ok);
    w.key("error");
    if (outcome.error_kind) {
        w.begin_object().kv("kind", to_string(*outcome.error_kind)).kv("message", outcome.error_message);
        if (outcome.http_status != 0) w.kv("http_status", outcome.http_status);
        w.end_object();
    } else {
        w.null();
    }
    for (const Metric& m : run_metrics())
        if (m.placement == MetricPlacement::top_level) w.kv(m.name, m.get(*this));
    w.kv("content_chunks", client.content_chunks)
        .kv("thinking_chunks", client.thinking_chunks)
        .kv("thinking_chars", output.thinking_chars)
        .kv("decode_window_s", client.decode_window_s)
        .kv("answer_window_s", client.answer_window_s);
    w.key("server")
        .begin_object()
        .kv("total_duration_ns", server.total_duration_ns)
        .kv("load_duration_ns", server.load_duration_ns)
        .kv("prompt_eval_count", server.prompt_eval_count)
        .kv("prompt_eval_duration_ns", server.prompt_eval_duration_ns)
        .kv("eval_count", server.eval_count)
        .kv("eval_duration_ns", server.eval_duration_ns)
        .kv("prompt_cached_tokens", server.prompt_cached_tokens)
        .kv("prompt_evaluated_tokens", server.prompt_evaluated_tokens)
        .kv("thinking_tokens", server.thinking_tokens)
        .end_object();
    w.key("done_reason");
    if (done_reason.empty()) w.null();
    else w.value(done_reason);
    w.kv("num_predict", id.num_predict)
        .kv("output_bytes", output.bytes)
        .kv("output_sha256", output.sha256);
    w.key("logprobs");
    if (output.logprobs.empty()) {
        w.null();
    } else {
        w.begin_array();
        for (const auto& t : output.logprobs) detail::write_token_logprob(w, t.sampled, &t.top);
        w.end_array();
    }
    w.key("memory");
    if (memory) {
        auto note = [&w](const char* name, const std::string& text) {
            w.key(name);
            if (text.empty()) w.null();
            else w.value(text);
        };
        w.begin_object()
            .kv("peak_rss_bytes", memory->peak_rss_bytes)
            .kv("peak_vram_bytes", memory->peak_vram_bytes)
            .kv("peak_ollama_size_bytes", memory->peak_ollama_size_bytes)
            .kv("energy_j", memory->energy_j)
            .kv("joules_per_token", joules_per_token())
            .kv("energy_prefill_j", memory->energy_prefill_j)
            .kv("energy_idle_j", memory->energy_idle_j)
            .kv("joules_per_prompt_token", joules_per_prompt_token());
        note("energy_source", memory->energy_source);
        w.key("energy_zones_j").begin_object();
        for (const auto& [zone, joules] : memory->energy_zones_j) w.kv(zone, joules);
        w.end_object().kv("samples", memory->samples);
        note("rss_note", memory->rss_note);
        note("vram_note", memory->vram_note);
        note("energy_note", memory->energy_note);
        w.end_object();
    } else {
        w.null();
    }
    w.key("flags")
        .begin_object()
        .kv("prompt_cache_suspected", flags.prompt_cache_suspected)
        .kv("prompt_rate_includes_cache", flags.prompt_rate_includes_cache)
        .kv("short_output", flags.short_output)
        .kv("ttft_below_server", flags.ttft_below_server)
        .kv("truncation_suspected", flags.truncation_suspected)
        .end_object();
    w.end_object();
}

/// Builds the record of one request from what the client received and when.
/// `result` by value: a caller done with it moves it in, and the reply text is not copied.
inline RunRecord make_run_record(StreamResult result, const StreamTimer& timer, RunIdentity id) {
    RunRecord r;
    r.id = std::move(id);
    r.outcome.ok = result.ok();
    if (result.failure) {
        r.outcome.error_kind = result.failure->code();
        r.outcome.error_message = result.failure->what();
    }
    r.outcome.http_status = result.http_status;
    ClientTimings& c = r.client;
    c.ttft_s = timer.ttft_s();
    c.ttfa_s = timer.ttfa_s();
    c.connect_s = timer.connect_s();
    c.first_byte_s = timer.first_byte_s();
    c.wall_s = timer.wall_s();
    c.content_chunks = timer.content_chunks();
    c.thinking_chunks = timer.thinking_chunks();
    c.decode_window_s = timer.decode_window_s();
    c.answer_window_s = timer.answer_window_s();
    if (const Stats gaps = timer.gap_stats(); gaps.n > 0) {
        c.itl_p50_s = gaps.p50;
        c.itl_p95_s = gaps.p95;
        c.itl_max_s = gaps.max;
    }
    c.gaps_s = timer.gaps_s();
    c.sent_at = timer.sent_at();
    c.first_token_at = timer.first_token_at();
    c.first_content_at = timer.first_content_at();
    r.server = result.server;
    r.done_reason = std::move(result.done_reason);
    r.output.bytes = result.text.size();
    r.output.sha256 = detail::sha256_hex(result.text);
    r.output.text = std::move(result.text);
    r.output.thinking_chars = detail::utf8_code_points(result.thinking);
    r.output.thinking = std::move(result.thinking);
    r.output.logprobs = std::move(result.logprobs);
    return r;
}

/// Sets the run's flags. `first` is the first recorded run of the same prompt (warm-up
/// included), or nullptr when this is it.
inline void flag_run(RunRecord& r, const RunRecord* first) {
    if (!r.ok()) return;
    const auto& s = r.server;
    if (r.id.num_predict && *r.id.num_predict > 0 && s.eval_count && *s.eval_count < *r.id.num_predict)
        r.flags.short_output = true;
    if (r.client.ttft_s && s.prompt_eval_duration_ns) {
        const double server_s =
            static_cast<double>(*s.prompt_eval_duration_ns + s.load_duration_ns.value_or(0)) / 1e9;
        r.flags.ttft_below_server = *r.client.ttft_s < server_s;
    }
    bool cached = false, count_shrank = false;
    if (s.prompt_cached_tokens) {  // the server says: no guessing
        cached = *s.prompt_cached_tokens > 0;
    } else {
        if (s.prompt_eval_count && *s.prompt_eval_count >= 32 && s.prompt_eval_duration_ns && *s.prompt_eval_duration_ns < 1'000'000)
            cached = true;
        if (first != nullptr && first != &r && first->ok()) {
            const auto& f = first->server;
            if (f.prompt_eval_count && (!s.prompt_eval_count || *s.prompt_eval_count < *f.prompt_eval_count))
                cached = count_shrank = true;  // the count left the cached tokens out
            const auto first_rate = first->prompt_toks_per_s(), this_rate = r.prompt_toks_per_s();
            if (first_rate && this_rate && *this_rate > 5 * *first_rate) cached = true;
        }
    }
    r.flags.prompt_cache_suspected = cached;
    r.flags.prompt_rate_includes_cache = cached && !count_shrank;
    // With a cached count, prompt_eval_count is the whole prompt whatever the cache did.
    if (r.id.prompt_tokens_target && s.prompt_eval_count && (s.prompt_cached_tokens || !cached) &&
        static_cast<double>(*s.prompt_eval_count) < 0.9 * static_cast<double>(*r.id.prompt_tokens_target))
        r.flags.truncation_suspected = true;
    if (r.cell && r.cell->num_ctx && r.id.prompt_tokens_target && *r.id.prompt_tokens_target >= *r.cell->num_ctx)
        r.flags.truncation_suspected = true;
}

}  // namespace llmbench
