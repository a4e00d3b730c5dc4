// llmbench/run/matrix.hpp - the experiment matrix: models x num_ctx x prompt length x output length.
//
// Each cell gets synthetic prompts calibrated to its target length with the server's own
// token counts, a unique prefix per run (so prefill is measured cold), reload detection
// when the model or num_ctx changes, warm-up, and optional re-runs of short replies.
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "llmbench/host/thermal.hpp"
#include "llmbench/client/backend.hpp"
#include "llmbench/measure/calibration.hpp"
#include "llmbench/core/cli.hpp"
#include "llmbench/core/endpoint.hpp"
#include "llmbench/core/error.hpp"
#include "llmbench/core/json.hpp"
#include "llmbench/measure/measure.hpp"
#include "llmbench/host/memory_sampler.hpp"
#include "llmbench/core/metrics.hpp"
#include "llmbench/client/ollama_client.hpp"
#include "llmbench/host/roofline.hpp"
#include "llmbench/core/run_record.hpp"
#include "llmbench/core/shard.hpp"
#include "llmbench/core/stream_timer.hpp"
#include "llmbench/run/synthetic_prompt.hpp"

namespace llmbench {

struct MatrixSpec {
    std::vector<std::string> models;
    std::vector<int> num_ctx;        ///< empty: the server's default context
    std::vector<int> prompt_tokens;  ///< target prompt lengths, in the server's tokens
    std::vector<int> num_predict;    ///< output lengths
    int runs = 3;                    ///< timed runs per cell
    int warmup = 1;                  ///< untimed runs per cell (at least 1 after a reload)
    Options options;                 ///< sampling options; num_ctx and num_predict come from the cell
    std::optional<std::string> keep_alive = std::string("30m");
    bool allow_prompt_cache = false;  ///< same prompt for every run of a cell (no unique prefix)
    bool cold = false;                ///< unload the model before every timed run
    /// Let the server cut an over-long prompt (Ollama's default). Off: every request says
    /// truncate:false, shift:false, so a prompt that does not fit fails as context_overflow.
    bool allow_truncation = false;
    RequestControls controls;         ///< sent with every request (--think); allow_truncation decides truncate and shift
    /// What every request sends: `controls`, refusing over-long prompts unless allow_truncation.
    RequestControls request_controls() const { return controls.with_truncation(allow_truncation); }
    int retry_short = 0;              ///< re-run a reply shorter than num_predict up to N times, with another seed
    std::uint64_t seed = 1;           ///< for the synthetic text
    double calibration_tolerance = 0.02;  ///< or one word's tokens, whichever is larger
    int calibration_max_requests = 8;

    /// Everything that shapes the requests, for RunMetadata::request_json.
    std::string to_json() const {
        JsonWriter w;
        w.begin_object().key("models").begin_array();
        for (const auto& m : models) w.value(m);
        w.end_array();
        const auto ints = [&w](const char* name, const std::vector<int>& values) {
            w.key(name).begin_array();
            for (int v : values) w.value(v);
            w.end_array();
        };
        ints("num_ctx", num_ctx);
        ints("prompt_tokens", prompt_tokens);
        ints("num_predict", num_predict);
        w.kv("runs", runs).kv("warmup", warmup).kv("retry_short", retry_short);
        w.kv("allow_prompt_cache", allow_prompt_cache).kv("cold", cold).kv("allow_truncation", allow_truncation).kv("text_seed", seed);
        w.key("keep_alive");
        if (keep_alive) w.value(*keep_alive);
        else w.null();
        w.key("options");
        options.write_json(w);
        w.key("controls");
        request_controls().write_json(w);
        return w.end_object().take();
    }
};

/// Reads a matrix from JSON: {"models": [...], "num_ctx": [...], "prompt_tokens": [...],
/// "num_predict": [...], "runs", "warmup", "retry_short", "seed", "temperature",
/// "allow_prompt_cache", "cold", "allow_truncation"}; every member optional. Errors name `source` and the field.
inline MatrixSpec parse_matrix_json(std::string_view json, const std::string& source, MatrixSpec spec = {}) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (auto err = parser.parse(json.data(), json.size()).get(doc))
        throw error(errc::usage, source + ": invalid JSON (" + simdjson::error_message(err) + ")");
    simdjson::dom::object obj;
    if (doc.get_object().get(obj)) throw error(errc::usage, source + ": expected a JSON object");
    for (auto field : obj) {
        // Named copies, not a structured binding: C++17 lambdas cannot capture bindings.
        const std::string_view key = field.key;
        const simdjson::dom::element value = field.value;
        const std::string where = source + ": field \"" + std::string(key) + "\"";
        auto ints = [&] {
            std::vector<int> out;
            simdjson::dom::array arr;
            if (value.get_array().get(arr)) throw error(errc::usage, where + " must be an array of whole numbers");
            for (auto item : arr) {
                std::int64_t v = 0;
                if (item.get_int64().get(v) || v < 1 || v > 10'000'000)
                    throw error(errc::usage, where + " must hold positive whole numbers");
                out.push_back(static_cast<int>(v));
            }
            return out;
        };
        auto integer = [&](std::int64_t lo, std::int64_t hi) {
            std::int64_t v = 0;
            if (value.get_int64().get(v) || v < lo || v > hi)
                throw error(errc::usage, where + " must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi));
            return v;
        };
        auto flag = [&] {
            bool b = false;
            if (value.get_bool().get(b)) throw error(errc::usage, where + " must be true or false");
            return b;
        };
        if (key == "models") {
            spec.models.clear();
            simdjson::dom::array arr;
            if (value.get_array().get(arr)) throw error(errc::usage, where + " must be an array of model tags");
            for (auto item : arr) {
                std::string_view tag;
                if (item.get_string().get(tag) || tag.empty()) throw error(errc::usage, where + " must hold model tags");
                spec.models.emplace_back(tag);
            }
        } else if (key == "num_ctx") {
            spec.num_ctx = ints();
        } else if (key == "prompt_tokens") {
            spec.prompt_tokens = ints();
        } else if (key == "num_predict") {
            spec.num_predict = ints();
        } else if (key == "runs") {
            spec.runs = static_cast<int>(integer(1, 100000));
        } else if (key == "warmup") {
            spec.warmup = static_cast<int>(integer(0, 1000));
        } else if (key == "retry_short") {
            spec.retry_short = static_cast<int>(integer(0, 100));
        } else if (key == "seed") {
            spec.options.seed = static_cast<int>(integer(0, 2147483647));
        } else if (key == "temperature") {
            double t = 0;
            if (value.get_double().get(t) || t < 0) throw error(errc::usage, where + " must be a number >= 0");
            spec.options.temperature = t;
        } else if (key == "allow_prompt_cache") {
            spec.allow_prompt_cache = flag();
        } else if (key == "cold") {
            spec.cold = flag();
        } else if (key == "allow_truncation") {
            spec.allow_truncation = flag();
        } else {
            throw error(errc::usage, source + ": unknown field \"" + std::string(key) + "\"");
        }
    }
    return spec;
}

/// The cells in run order: grouped by model, then num_ctx, so the model reloads only when
/// it must; then prompt length and output length.
inline std::vector<CellCoordinates> plan_cells(const MatrixSpec& spec) {
    if (spec.models.empty()) throw error(errc::usage, "matrix: no models");
    if (spec.prompt_tokens.empty()) throw error(errc::usage, "matrix: no prompt lengths");
    if (spec.num_predict.empty()) throw error(errc::usage, "matrix: no output lengths");
    if (spec.runs < 1) throw error(errc::usage, "matrix: runs must be at least 1");
    if (spec.warmup < 0 || spec.retry_short < 0) throw error(errc::usage, "matrix: warmup and retry_short must not be negative");
    std::vector<std::optional<int>> contexts;
    for (int c : spec.num_ctx) contexts.emplace_back(c);
    if (contexts.empty()) contexts.emplace_back(std::nullopt);
    std::vector<CellCoordinates> cells;
    for (const auto& model : spec.models)
        for (const auto& ctx : contexts)
            for (int p : spec.prompt_tokens)
                for (int n : spec.num_predict) cells.push_back(CellCoordinates{model, ctx, p, n});
    return cells;
}

/// Requests the matrix sends at least: per cell, warm-up and timed runs, plus a few
/// calibration requests per (model, num_ctx, prompt length). Re-runs come on top.
inline std::size_t planned_requests(const MatrixSpec& spec) {
    const auto cells = plan_cells(spec);
    const std::size_t lengths = spec.models.size() * std::max<std::size_t>(1, spec.num_ctx.size()) * spec.prompt_tokens.size();
    return cells.size() * static_cast<std::size_t>(spec.warmup + spec.runs) + lengths * 3;
}

/// What happened to the loaded model when a cell started.
struct ReloadInfo {
    /// Unknown (null) for a server that cannot list its loaded models (OpenAI-compatible ones)
    /// until this run has loaded the model: its own start-up may have, unseen.
    std::optional<bool> loaded_before;
    std::optional<std::int64_t> context_before, context_after;
    std::optional<double> load_s;       ///< server: load_duration of the load request, when reported
    std::optional<double> load_wall_s;  ///< client: wall time of the load request
    bool reloaded = false;              ///< known not loaded before, context changed, or loading took >= 0.25 s
};

struct CellResult {
    CellCoordinates cell;
    Calibration calibration;
    ReloadInfo reload;
    Summary summary;
    std::size_t reruns = 0;
    ThermalConditions conditions;  ///< the machine's thermal state at the cell's start and end

    void write_json(JsonWriter& w) const {
        w.begin_object().kv("type", "cell").kv("schema_version", schema_version);
        w.key("cell");
        write_cell_json(w, cell);
        w.key("calibration")
            .begin_object()
            .kv("target_tokens", calibration.target_tokens)
            .kv("actual_tokens", calibration.actual_tokens)
            .kv("words", calibration.words)
            .kv("requests", calibration.requests)
            .kv("within_tolerance", calibration.within_tolerance)
            .kv("saturated", calibration.saturated)
            .end_object();
        w.key("reload")
            .begin_object()
            .kv("reloaded", reload.reloaded)
            .kv("loaded_before", reload.loaded_before)
            .kv("context_before", reload.context_before)
            .kv("context_after", reload.context_after)
            .kv("load_s", reload.load_s)
            .kv("load_wall_s", reload.load_wall_s)
            .end_object();
        w.kv("reruns", reruns).key("summary");
        summary.write_json(w);
        w.end_object();
    }
    std::string to_json() const {
        JsonWriter w;
        write_json(w);
        return w.take();
    }
};

class MatrixRunner {
public:
    using RecordCallback = std::function<void(const RunRecord&)>;
    using CellCallback = std::function<void(const CellResult&)>;
    /// Called when a cell's model is loaded, before its first request.
    using CellStartCallback = std::function<void(const CellCoordinates&, const ReloadInfo&)>;

    /// Runs through any backend. An OpenAI-compatible one fixes its context at start, so a
    /// spec that varies num_ctx is refused, and it cannot unload, so `cold` is refused too.
    MatrixRunner(Backend& backend, MatrixSpec spec) : backend_(backend), spec_(std::move(spec)), cells_(plan_cells(spec_)) {
        if (!spec_.num_ctx.empty())
            backend_.require(&BackendCapabilities::per_request_context,
                             "a list of context sizes (num_ctx) needs a server that takes the context size per request",
                             "it fixes its context at start: llama-server -c, vLLM --max-model-len; run one server per context and "
                             "compare the result files");
        if (spec_.cold) backend_.require(&BackendCapabilities::can_unload, "cold runs need a server that unloads a model on request (Ollama)");
    }
    /// Runs against an Ollama server.
    MatrixRunner(OllamaClient& client, MatrixSpec spec)
        : owned_(std::make_unique<OllamaBackend>(client)), backend_(*owned_), spec_(std::move(spec)), cells_(plan_cells(spec_)) {}

    const std::vector<CellCoordinates>& cells() const noexcept { return cells_; }

    MatrixRunner& on_record(RecordCallback f) {
        on_record_ = std::move(f);
        return *this;
    }
    MatrixRunner& on_cell_start(CellStartCallback f) {
        on_cell_start_ = std::move(f);
        return *this;
    }
    MatrixRunner& on_cell(CellCallback f) {
        on_cell_ = std::move(f);
        return *this;
    }
    MatrixRunner& stop_when(StopSignal stop) {
        stop_ = std::move(stop);
        return *this;
    }
    bool interrupted() const noexcept { return interrupted_; }

    /// Sets the roofline fields of `model`'s successful records from now on.
    MatrixRunner& roofline(const std::string& model, const Roofline& r) {
        rooflines_.insert_or_assign(model, r);
        return *this;
    }
    /// Samples memory (and GPU power) around every request; the sampler must outlive the run.
    MatrixRunner& memory_sampler(MemorySampler* sampler) {
        sampler_ = sampler;
        return *this;
    }

    /// Runs only this process's cells (--shard I/N): cell i of the plan when i mod N = I.
    /// Cells keep their place in the plan (their prompt ids), so N shards' records are the
    /// unsharded run's.
    MatrixRunner& shard(Shard s) {
        if (s.count == 0 || s.index >= s.count) throw error(errc::usage, "matrix: shard " + s.label() + " does not exist");
        shard_ = s;
        return *this;
    }

    std::vector<CellResult> run() {
        std::vector<CellResult> results;
        for (std::size_t i = 0; i < cells_.size(); ++i) {
            if (stopped()) break;
            if (!shard_.owns(i)) {
                ++cell_index_;
                continue;
            }
            results.push_back(run_cell(cells_[i]));
            if (on_cell_) on_cell_(results.back());
        }
        return results;
    }

    /// The prompt for a run: "Request NNNNNNNNN." then the text. A different nonce changes
    /// the very first tokens, so no prompt cache can reuse any prefix; nine digits keep the
    /// prefix the same length (and token count) for every nonce.
    static std::string prompt_text(std::size_t words, std::uint64_t text_seed, std::uint64_t nonce) {
        char prefix[48];
        std::snprintf(prefix, sizeof prefix, "Request %09llu. ", static_cast<unsigned long long>(100000000 + nonce % 900000000));
        return prefix + synthetic_text(words, text_seed);
    }

private:
    bool stopped() {
        if (stop_.requested()) interrupted_ = true;
        return interrupted_;
    }


    Options cell_options(const CellCoordinates& cell) const {
        Options o = spec_.options;
        o.num_ctx = cell.num_ctx;
        o.num_predict = cell.num_predict;
        return o;
    }

    std::optional<RunningModel> loaded(const std::string& model) { return backend_.loaded_model(model); }

    ReloadInfo ensure_loaded(const CellCoordinates& cell) {
        ReloadInfo info;
        const auto before = loaded(cell.model);
        info.loaded_before = before.has_value();
        if (before) info.context_before = before->context_length;
        const auto t0 = std::chrono::steady_clock::now();
        const StreamResult load = backend_.load(cell.model, spec_.keep_alive, cell_options(cell));
        info.load_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (load.server.load_duration_ns) info.load_s = static_cast<double>(*load.server.load_duration_ns) / 1e9;
        if (const auto after = loaded(cell.model)) info.context_after = after->context_length;
        if (!backend_.capabilities().reports_loaded_models)
            info.loaded_before = models_seen_.insert(cell.model).second ? std::nullopt : std::optional<bool>(true);
        info.reloaded = info.loaded_before == false || info.context_before != info.context_after ||
                        info.load_s.value_or(0) >= 0.25 || *info.load_wall_s >= 0.25;
        return info;
    }

    /// The server's token count of a prompt of `words` words, or 0 when unknown.
    std::int64_t count_tokens(const CellCoordinates& cell, std::size_t words) {
        GenerateRequest req;
        req.model = cell.model;
        req.prompt = prompt_text(words, spec_.seed, ++nonce_);
        req.options = cell_options(cell);
        req.controls = spec_.request_controls();
        req.keep_alive = spec_.keep_alive;
        return backend_.count_prompt_tokens(req);
    }

    /// The word count whose prompt the server counts as the cell's target (calibration.hpp).
    Calibration calibrate(const CellCoordinates& cell) {
        const int target = cell.prompt_tokens.value_or(0);
        const std::string key = cell.model + "|" + std::to_string(cell.num_ctx.value_or(0)) + "|" + std::to_string(target);
        if (auto it = calibrations_.find(key); it != calibrations_.end()) return it->second;
        const Calibration c = calibrate_words(
            target, [&](std::size_t words) { return count_tokens(cell, words); }, spec_.calibration_tolerance, spec_.calibration_max_requests);
        calibrations_[key] = c;
        return c;
    }

    RunRecord run_one(const CellCoordinates& cell, const Calibration& cal, int run_index, bool warmup, int attempt,
                      std::uint64_t nonce) {
        GenerateRequest req;
        req.model = cell.model;
        req.options = cell_options(cell);
        if (attempt > 0) req.options.seed = spec_.options.seed.value_or(0) + 1000 * attempt;
        req.controls = spec_.request_controls();
        req.keep_alive = spec_.keep_alive;
        req.prompt = prompt_text(cal.words, spec_.seed, nonce);
        if (spec_.cold && !warmup) backend_.unload(cell.model);
        RunLabel label;
        label.prompt_id = "cell" + std::to_string(cell_index_) + "/" + std::to_string(cell.prompt_tokens.value_or(0)) + "x" +
                          std::to_string(cell.num_predict.value_or(0));
        label.run_index = run_index;
        label.warmup = warmup;
        label.attempt = attempt;
        label.cell = cell;
        label.prompt_tokens_target = cell.prompt_tokens;
        if (shard_.sharded()) label.shard = shard_;
        const auto roofline = rooflines_.find(cell.model);
        // Comparing with the cell's first run only means something when the prompt repeats.
        RunRecord record = measure(backend_, req, label,
                                   MeasureHooks{sampler_, roofline == rooflines_.end() ? nullptr : &roofline->second,
                                                spec_.allow_prompt_cache && first_of_cell_ ? &*first_of_cell_ : nullptr});
        if (cal.saturated) record.flags.truncation_suspected = true;  // the count stopped growing with the text
        if (!first_of_cell_ && record.ok()) first_of_cell_ = record;
        return record;
    }

    CellResult run_cell(const CellCoordinates& cell) {
        CellResult out;
        out.cell = cell;
        out.reload = ensure_loaded(cell);
        first_of_cell_.reset();
        if (on_cell_start_) on_cell_start_(cell, out.reload);
        out.conditions.start = read_thermal();
        out.calibration = calibrate(cell);
        MetricsAccumulator acc;
        auto emit = [&](const RunRecord& r) {
            acc.add(r);
            if (on_record_) on_record_(r);
        };
        const std::uint64_t cell_nonce = ++nonce_;
        // After a reload, and before the first runs of a model whose load nobody saw (a fresh
        // server's first requests are slow), at least one warm-up.
        const int warmups = std::max(spec_.warmup, out.reload.reloaded || !out.reload.loaded_before ? 1 : 0);
        for (int i = 0; i < warmups && !stopped(); ++i)
            emit(run_one(cell, out.calibration, i, true, 0, spec_.allow_prompt_cache ? cell_nonce : ++nonce_));
        for (int run = 0; run < spec_.runs && !stopped(); ++run) {
            for (int attempt = 0;; ++attempt) {
                RunRecord r = run_one(cell, out.calibration, run, false, attempt,
                                      spec_.allow_prompt_cache ? cell_nonce : ++nonce_);
                const bool retry = r.ok() && r.flags.short_output && attempt < spec_.retry_short;
                r.retry.superseded = retry;
                emit(r);
                if (!retry) break;
                ++out.reruns;
            }
        }
        out.conditions.end = read_thermal();
        out.summary = acc.summary();
        out.conditions.attach_to(out.summary);
        if (!out.calibration.within_tolerance && cell.prompt_tokens) {
            // The prompt was not the length the cell names (or was cut): its prefill rate
            // would describe another cell, so the summary has none.
            auto& m = out.summary.overall;
            m.erase(std::remove_if(m.begin(), m.end(),
                                   [](const auto& entry) { return entry.first == "prompt_toks_per_s" || entry.first == "prefill_toks_per_s"; }),
                    m.end());
            out.summary.warnings.push_back(std::string("calibration ") + (out.calibration.saturated ? "saturated (the server cut the prompt)" : "missed its target") +
                                           ": no prefill rate for this cell");
        }
        ++cell_index_;
        return out;
    }

    std::unique_ptr<Backend> owned_;  ///< when constructed from an OllamaClient
    Backend& backend_;
    MatrixSpec spec_;
    std::vector<CellCoordinates> cells_;
    RecordCallback on_record_;
    CellCallback on_cell_;
    CellStartCallback on_cell_start_;
    StopSignal stop_;
    MemorySampler* sampler_ = nullptr;
    bool interrupted_ = false;
    std::uint64_t nonce_ = 0;
    std::size_t cell_index_ = 0;
    Shard shard_;
    std::map<std::string, Calibration> calibrations_;
    std::set<std::string> models_seen_;
    std::map<std::string, Roofline> rooflines_;
    std::optional<RunRecord> first_of_cell_;
};

}  // namespace llmbench
