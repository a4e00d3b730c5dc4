// llmbench/niah/sweep.hpp - the long-context sweep: lengths x depths x repetitions.
//
// Each length is sized in the server's tokens (calibration.hpp) and num_ctx is set to hold
// the prompt plus the answer. A trial whose evaluated prompt is far shorter than asked (the
// server truncated it: Ollama does so silently) or that exceeds the model's trained context is
// flagged and left out of accuracy, never scored.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "llmbench/measure/calibration.hpp"
#include "llmbench/core/json.hpp"
#include "llmbench/niah/haystack.hpp"
#include "llmbench/client/backend.hpp"
#include "llmbench/measure/measure.hpp"
#include "llmbench/core/run_record.hpp"
#include "llmbench/core/statistics.hpp"
#include "llmbench/core/shard.hpp"
#include "llmbench/core/stream_timer.hpp"
#include "llmbench/version.hpp"

namespace llmbench::niah {

struct SweepSpec {
    std::string model;
    std::vector<int> lengths = {2048, 4096, 8192, 16384, 32768, 65536, 131072};  ///< prompt tokens
    std::vector<int> depths = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100};      ///< percent
    int repetitions = 1;
    NeedleKind needle = NeedleKind::number;
    int num_predict = 64;               ///< room for the answer
    std::optional<int> num_ctx;         ///< default: length + 10% + num_predict + 64
    std::uint64_t seed = 1;
    std::optional<std::string> keep_alive = std::string("30m");
    double calibration_tolerance = 0.02;
    double truncation_ratio = 0.9;      ///< evaluated < this x the length: truncated
    /// Let the server cut an over-long prompt (Ollama's default). Off: requests say
    /// truncate:false, shift:false, and a prompt that does not fit is a context_overflow failure.
    bool allow_truncation = false;
    RequestControls controls;  ///< sent with every request (--think); allow_truncation decides truncate and shift
    /// What every request sends: `controls`, refusing over-long prompts unless allow_truncation.
    RequestControls request_controls() const { return controls.with_truncation(allow_truncation); }

    /// This process's share (--shard I/N): trial k, counted over lengths, then repetitions,
    /// then depths, is shard k mod N's. A length is calibrated by every shard with a trial of it.
    std::optional<Shard> shard;

    /// The window: the prompt with 10% headroom (calibration lands within 2% and must not be
    /// cut while it searches), plus the answer and the template.
    int context_for(int length) const { return num_ctx.value_or(length + length / 10 + num_predict + 64); }

    /// The summary's `sweep` object: what decides the trials (not the shard), so shards of one
    /// sweep write the same one and `niah --merge` can rebuild the sweep from it.
    void write_json(JsonWriter& w) const {
        w.begin_object().key("lengths").begin_array();
        for (int l : lengths) w.value(l);
        w.end_array().key("depths").begin_array();
        for (int d : depths) w.value(d);
        w.end_array().kv("repetitions", repetitions).kv("needle_kind", to_string(needle)).kv("num_predict", num_predict).kv("num_ctx", num_ctx);
        w.kv("seed", seed).kv("truncation_ratio", truncation_ratio).kv("calibration_tolerance", calibration_tolerance).kv("allow_truncation", allow_truncation);
        w.end_object();
    }
};

/// One trial: a needle at a depth in a prompt of a length.
struct Trial {
    int length = 0, depth = 0, repetition = 0;
    Needle needle;
    std::size_t words = 0;
    RunRecord timing;  ///< ttft_s, prompt rate, prompt_eval_count, ok/error and the reply (output.text), as in the speed benchmark
    NeedleScore score;
    bool truncated = false;         ///< the server evaluated far fewer tokens than the length
    bool exceeds_context = false;   ///< longer than the model's trained context
    bool haystack_repeated = false;

    /// Counts toward accuracy: the request succeeded and the model saw the whole prompt.
    bool scored() const { return timing.ok() && !truncated && !exceeds_context; }
    /// The server refused the prompt as longer than its context (truncate:false).
    bool context_overflow() const { return timing.outcome.error_kind == errc::context_overflow; }

    std::string to_json() const {
        JsonWriter w;
        w.begin_object().kv("type", "niah_trial").kv("schema_version", schema_version).kv("model", timing.id.model);
        w.kv("length_tokens", length).kv("depth_percent", depth).kv("repetition", repetition);
        w.kv("needle_kind", to_string(needle.kind)).kv("needle_key", needle.key).key("needle_values").begin_array();
        for (const auto& v : needle.values) w.value(v);
        w.end_array().kv("haystack_words", words).kv("ok", timing.ok());
        w.key("error");
        if (timing.outcome.error_kind) w.begin_object().kv("kind", to_string(*timing.outcome.error_kind)).kv("message", timing.outcome.error_message).end_object();
        else w.null();
        w.kv("prompt_eval_count", timing.server.prompt_eval_count).kv("reply", timing.output.text);
        w.kv("found", score.found).kv("expected", score.expected).kv("exact", score.exact()).kv("partial", score.partial());
        w.kv("scored", scored()).kv("truncated", truncated).kv("exceeds_context", exceeds_context).kv("haystack_repeated", haystack_repeated);
        w.kv("ttft_s", timing.client.ttft_s).kv("prompt_toks_per_s", timing.prompt_toks_per_s()).kv("gen_toks_per_s", timing.gen_toks_per_s());
        w.kv("wall_s", timing.client.wall_s).kv("prompt_eval_duration_ns", timing.server.prompt_eval_duration_ns).key("shard");
        if (timing.shard) w.begin_object().kv("index", timing.shard->index).kv("count", timing.shard->count).end_object();
        else w.null();
        return w.end_object().take();
    }
};

/// Accuracy and speed of one (length, depth) cell, or of one length over all depths.
struct CellStats {
    std::size_t trials = 0, scored = 0, exact = 0, excluded = 0, failed = 0;
    std::size_t context_overflows = 0;  ///< of the failed: refused as longer than the context
    double partial_sum = 0;
    std::vector<double> ttft, prompt_rate;

    void add(const Trial& t) {
        ++trials;
        if (!t.timing.ok()) ++failed;
        if (t.context_overflow()) ++context_overflows;
        else if (!t.scored()) ++excluded;
        if (t.scored()) {
            ++scored;
            exact += t.score.exact() ? 1U : 0U;
            partial_sum += t.score.partial();
        }
        if (t.timing.ok() && t.timing.client.ttft_s) ttft.push_back(*t.timing.client.ttft_s);
        if (t.timing.ok())
            if (auto r = t.timing.prompt_toks_per_s()) prompt_rate.push_back(*r);
    }
    std::optional<double> accuracy() const {
        return scored ? std::optional<double>(static_cast<double>(exact) / static_cast<double>(scored)) : std::nullopt;
    }
    std::optional<double> partial() const { return scored ? std::optional<double>(partial_sum / static_cast<double>(scored)) : std::nullopt; }
    void write(JsonWriter& w) const {
        w.begin_object().kv("trials", trials).kv("scored", scored).kv("excluded", excluded).kv("failed", failed);
        w.kv("context_overflows", context_overflows);
        w.kv("accuracy", accuracy()).kv("partial", partial());
        const auto mean = [](const std::vector<double>& v) {
            return v.empty() ? std::optional<double>() : std::optional<double>(compute_stats(v).mean);
        };
        w.kv("ttft_s_mean", mean(ttft)).kv("prompt_toks_per_s_mean", mean(prompt_rate)).end_object();
    }
};

struct SweepResult {
    std::vector<Trial> trials;
    std::map<int, Calibration> calibrations;  ///< per length
    std::optional<std::int64_t> model_context;

    CellStats cell(int length, int depth) const {
        CellStats s;
        for (const auto& t : trials)
            if (t.length == length && t.depth == depth) s.add(t);
        return s;
    }
    CellStats length(int length_tokens) const {
        CellStats s;
        for (const auto& t : trials)
            if (t.length == length_tokens) s.add(t);
        return s;
    }

    /// The `niah_summary` line. `controls_json`: what the requests sent, as written, when the
    /// trials were read back (niah --merge); else the spec's.
    std::string summary_json(const SweepSpec& spec, const std::string& controls_json = "") const {
        JsonWriter w;
        w.begin_object().kv("type", "niah_summary").kv("schema_version", schema_version).kv("model", spec.model);
        w.kv("needle_kind", to_string(spec.needle)).kv("model_context_length", model_context).kv("allow_truncation", spec.allow_truncation);
        w.key("controls");
        if (controls_json.empty()) spec.request_controls().write_json(w);
        else w.raw(controls_json);
        w.key("sweep");
        spec.write_json(w);
        w.key("shard");
        if (spec.shard) w.begin_object().kv("index", spec.shard->index).kv("count", spec.shard->count).end_object();
        else w.null();
        w.kv("scoring", "exact: every needle value appears in the reply (case-insensitive); partial: the share that appears. Truncated "
                        "or over-context trials are excluded, not scored");
        w.key("lengths").begin_array();
        for (int len : spec.lengths) {
            w.begin_object().kv("length_tokens", len).kv("num_ctx", spec.context_for(len));
            if (const auto it = calibrations.find(len); it != calibrations.end())
                w.kv("calibrated_words", it->second.words).kv("calibrated_tokens", it->second.actual_tokens).kv("within_tolerance", it->second.within_tolerance);
            w.key("all_depths");
            length(len).write(w);
            w.key("depths").begin_array();
            for (int d : spec.depths) {
                w.begin_object().kv("depth_percent", d).key("stats");
                cell(len, d).write(w);
                w.end_object();
            }
            w.end_array().end_object();
        }
        return w.end_array().end_object().take();
    }
};

/// Runs the sweep: per length, calibrate, then depths x repetitions. Trials are reported as
/// they finish.
class Sweep {
public:
    /// Through any backend. One that fixes its context at start (llama-server -c) measures every
    /// length within that window, and a longer one fails as the server says.
    Sweep(Backend& backend, SweepSpec spec, Haystack haystack) : backend_(backend), spec_(std::move(spec)), haystack_(std::move(haystack)) {
        validate();
    }
    /// Against an Ollama server.
    Sweep(OllamaClient& client, SweepSpec spec, Haystack haystack)
        : owned_(std::make_unique<OllamaBackend>(client)), backend_(*owned_), spec_(std::move(spec)), haystack_(std::move(haystack)) {
        validate();
    }

    Sweep& on_trial(std::function<void(const Trial&)> f) {
        on_trial_ = std::move(f);
        return *this;
    }
    Sweep& stop_when(StopSignal stop) {
        stop_ = std::move(stop);
        return *this;
    }

    SweepResult run() {
        SweepResult out;
        try {
            out.model_context = backend_.context_length(spec_.model);
        } catch (const error&) {
            // unknown: no over-context flag, truncation is still detected from the counts
        }
        const std::size_t per_length = static_cast<std::size_t>(spec_.repetitions) * spec_.depths.size();
        std::size_t k = 0;  // the trial's place in the unsharded sweep
        for (int length : spec_.lengths) {
            if (stopped()) break;
            const std::size_t first = k;
            k += per_length;
            const auto owns = [&](std::size_t trial) { return !spec_.shard || spec_.shard->owns(trial); };
            bool any = false;
            for (std::size_t j = first; j < k && !any; ++j) any = owns(j);
            if (!any) continue;
            const Calibration cal = calibrate(length);
            out.calibrations[length] = cal;
            std::size_t j = first;
            for (int rep = 0; rep < spec_.repetitions && !stopped(); ++rep)
                for (int depth : spec_.depths) {
                    if (stopped()) break;
                    if (!owns(j++)) continue;
                    Trial t = trial(length, depth, rep, cal, out.model_context);
                    if (on_trial_) on_trial_(t);
                    out.trials.push_back(std::move(t));
                }
        }
        return out;
    }

private:
    void validate() const {
        if (spec_.lengths.empty() || spec_.depths.empty() || spec_.repetitions < 1)
            throw error(errc::usage, "niah: give at least one length, one depth and one repetition");
        for (int d : spec_.depths)
            if (d < 0 || d > 100) throw error(errc::usage, "niah: depth " + std::to_string(d) + " is outside 0-100");
    }

    bool stopped() const { return stop_.requested(); }


    Options options_for(int length) const {
        Options o;
        o.num_ctx = spec_.context_for(length);
        o.num_predict = spec_.num_predict;
        o.temperature = 0.0;
        o.seed = static_cast<int>(spec_.seed % 2147483647);
        return o;
    }

    Calibration calibrate(int length) {
        const Needle probe = make_needle(spec_.needle, spec_.seed);
        return calibrate_words(
            length,
            [&](std::size_t words) -> std::int64_t {
                GenerateRequest req;
                req.model = spec_.model;
                req.prompt = build_prompt(haystack_, words, probe, 50).text;
                req.options = options_for(length);
                req.controls = spec_.request_controls();
                req.keep_alive = spec_.keep_alive;
                return backend_.count_prompt_tokens(req);
            },
            spec_.calibration_tolerance, 10, /*tokens_per_word=*/2.0);
    }

    Trial trial(int length, int depth, int rep, const Calibration& cal, std::optional<std::int64_t> model_context) {
        Trial t;
        t.length = length;
        t.depth = depth;
        t.repetition = rep;
        t.words = cal.words;
        // A different needle for every trial, the same for the same (seed, length, depth, rep).
        t.needle = make_needle(spec_.needle, spec_.seed * 1000003u + static_cast<std::uint64_t>(length) * 1009u +
                                                 static_cast<std::uint64_t>(depth) * 101u + static_cast<std::uint64_t>(rep));
        const NiahPrompt prompt = build_prompt(haystack_, cal.words, t.needle, depth);
        t.haystack_repeated = prompt.haystack_repeated;
        GenerateRequest req;
        req.model = spec_.model;
        req.prompt = prompt.text;
        req.options = options_for(length);
        req.controls = spec_.request_controls();
        req.keep_alive = spec_.keep_alive;
        RunLabel label;
        label.prompt_id = "niah/" + std::to_string(length) + "/" + std::to_string(depth);
        label.run_index = rep;
        label.shard = spec_.shard;
        t.timing = measure(backend_, req, label);
        t.score = score_reply(t.timing.output.text, t.needle);
        const auto evaluated = t.timing.server.prompt_eval_count;
        // Against the length asked for, not the calibration: a window too small cuts the
        // calibration's own counts too.
        t.truncated = t.timing.ok() && evaluated && static_cast<double>(*evaluated) < spec_.truncation_ratio * length;
        t.exceeds_context = model_context && length + spec_.num_predict > *model_context;
        return t;
    }

    std::unique_ptr<Backend> owned_;  ///< when made from an OllamaClient
    Backend& backend_;
    SweepSpec spec_;
    Haystack haystack_;
    std::function<void(const Trial&)> on_trial_;
    StopSignal stop_;
};

}  // namespace llmbench::niah
