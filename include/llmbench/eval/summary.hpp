// llmbench/eval/summary.hpp - an eval's scored items and the task summary computed from them.
//
// One function makes the summary from the items, whatever their order: a run's own, a resumed
// run's (items read back from its file) and shard files merged by llmbench-report agree to the
// bit with one process that asked every item.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "llmbench/core/json.hpp"
#include "llmbench/core/run_record.hpp"
#include "llmbench/core/shard.hpp"
#include "llmbench/detail/json_parse.hpp"
#include "llmbench/eval/letter_choice.hpp"
#include "llmbench/eval/sandbox.hpp"
#include "llmbench/eval/scoring.hpp"
#include "llmbench/eval/task.hpp"
#include "llmbench/version.hpp"

namespace llmbench::eval {

/// One item asked once: its record as measure() made it, and how the reply scored. Items read
/// back (parse_scored_item) carry only what the summary needs.
struct ScoredItem {
    RunRecord run;
    TaskKind task = TaskKind::mmlu;
    std::string setting, item_id, subject, prompt_sha256, gold;
    std::string server_url;  ///< the server that answered (Backend::server_url), when it has an address
    int sample = 0, seed = 0;
    bool correct = false;
    bool unparsable = false;
    bool correct_flexible = false;  ///< GSM8K's second extraction
    std::optional<std::string> extracted, extracted_flexible;  ///< the letter, number or code taken from the reply
    std::optional<ExecResult> exec;                            ///< code tasks: the sandboxed run
    Scoring scoring = Scoring::generative;
    std::size_t gold_index = 0;             ///< multiple choice: the right option
    std::optional<LetterChoice> letters;    ///< logprob scoring: the options as the first token saw them

    bool ok() const noexcept { return run.ok(); }

    /// The `"type":"eval_item"` line.
    std::string to_json() const {
        JsonWriter w;
        w.begin_object().kv("type", "eval_item").kv("schema_version", schema_version).kv("task", to_string(task));
        w.kv("setting", setting).kv("scoring", to_string(scoring)).kv("item_id", item_id).kv("sample", sample).kv("seed", seed);
        if (!subject.empty()) w.kv("subject", subject);
        w.kv("model", run.id.model);
        if (!server_url.empty()) w.kv("server_url", server_url);
        w.kv("prompt_sha256", prompt_sha256).kv("ok", run.ok());
        w.key("error");
        if (run.outcome.error_kind) w.begin_object().kv("kind", llmbench::to_string(*run.outcome.error_kind)).kv("message", run.outcome.error_message).end_object();
        else w.null();
        w.kv("reply", run.output.text).kv("gold", gold);
        if (run.ok()) {
            w.kv("extracted", extracted);
            if (task == TaskKind::gsm8k) w.kv("extracted_flexible", extracted_flexible).kv("correct_flexible", correct_flexible);
            if (exec)
                w.kv("exec_status", to_string(exec->status)).kv("exec_output", exec->output).kv("exec_wall_s", exec->wall_s).kv("network_isolated", exec->network_isolated).kv("sandbox", exec->sandbox);
            if (letters) {
                w.kv("no_letter_in_top_k", letters->no_letter_in_top_k()).kv("confidence", letters->confidence());
                w.key("option_logprobs").begin_array();
                for (const auto& lp : letters->logprobs) w.value(lp);
                w.end_array().key("option_probabilities").begin_array();
                for (double p : letters->probabilities) w.value(p);
                w.end_array();
            }
            w.kv("correct", correct).kv("unparsable", unparsable);
        }
        w.kv("ttft_s", run.client.ttft_s).kv("ttfa_s", run.client.ttfa_s).kv("thinking_chars", run.output.thinking_chars);
        w.kv("gen_toks_per_s", run.gen_toks_per_s()).kv("eval_count", run.server.eval_count).kv("wall_s", run.client.wall_s);
        w.kv("done_reason", run.done_reason).key("shard");
        if (run.shard) w.begin_object().kv("index", run.shard->index).kv("count", run.shard->count).end_object();
        else w.null();
        return w.end_object().take();
    }
};


/// An `eval_item` line of task `task` in `setting` read back: what the summary needs (ok,
/// correct, unparsable, subject, sample, gold, eval_count, wall_s, ttft_s, the option
/// probabilities, the shard). Null for another task or setting, a failed request, or a line
/// that is not an item.
inline std::optional<ScoredItem> parse_scored_item(simdjson::dom::object o, TaskKind task, const std::string& setting, Scoring scoring) {
    std::string_view type, task_name, item_setting, id, subject;
    if (o["type"].get_string().get(type) || type != "eval_item") return std::nullopt;
    if (o["task"].get_string().get(task_name) || task_name != to_string(task)) return std::nullopt;
    if (o["setting"].get_string().get(item_setting) || item_setting != setting) return std::nullopt;
    if (o["item_id"].get_string().get(id)) return std::nullopt;
    bool b = false;
    if (!(o["ok"].get_bool().get(b) == simdjson::SUCCESS && b)) return std::nullopt;
    ScoredItem s;
    s.run.outcome.ok = true;
    s.task = task;
    s.setting = setting;
    s.item_id = std::string(id);
    if (o["subject"].get_string().get(subject) == simdjson::SUCCESS) s.subject = std::string(subject);
    std::int64_t sample = 0;
    if (o["sample"].get_int64().get(sample) != simdjson::SUCCESS) sample = 0;
    s.sample = static_cast<int>(sample);
    s.correct = o["correct"].get_bool().get(b) == simdjson::SUCCESS && b;
    s.unparsable = o["unparsable"].get_bool().get(b) == simdjson::SUCCESS && b;
    s.correct_flexible = o["correct_flexible"].get_bool().get(b) == simdjson::SUCCESS && b;
    s.run.server.eval_count = llmbench::detail::dom_int64(o["eval_count"]);
    s.run.client.wall_s = llmbench::detail::dom_double(o["wall_s"]);
    s.run.client.ttft_s = llmbench::detail::dom_double(o["ttft_s"]);
    if (simdjson::dom::object part; o["shard"].get_object().get(part) == simdjson::SUCCESS) {
        const auto index = llmbench::detail::dom_int64(part["index"]), count = llmbench::detail::dom_int64(part["count"]);
        if (index && count && *index >= 0 && *count > *index) s.run.shard = Shard{static_cast<std::size_t>(*index), static_cast<std::size_t>(*count)};
    }
    s.scoring = scoring;
    if (std::string_view gold; o["gold"].get_string().get(gold) == simdjson::SUCCESS && gold.size() == 1 && gold[0] >= 'A' && gold[0] <= 'Z') {
        s.gold = std::string(gold);
        s.gold_index = static_cast<std::size_t>(gold[0] - 'A');
    }
    if (std::string_view sandbox; o["sandbox"].get_string().get(sandbox) == simdjson::SUCCESS) {
        s.exec = ExecResult{};
        s.exec->sandbox = std::string(sandbox);
    }
    if (scoring == Scoring::logprob) {  // what the calibration needs
        LetterChoice letters;
        if (simdjson::dom::array probabilities; o["option_probabilities"].get_array().get(probabilities) == simdjson::SUCCESS)
            for (auto p : probabilities) letters.probabilities.push_back(llmbench::detail::dom_double(p).value_or(0));
        if (!(o["no_letter_in_top_k"].get_bool().get(b) == simdjson::SUCCESS && b) && !letters.probabilities.empty())
            letters.chosen = static_cast<std::size_t>(std::max_element(letters.probabilities.begin(), letters.probabilities.end()) - letters.probabilities.begin());
        s.letters = std::move(letters);
    }
    return s;
}

/// What a summary says besides the items' scores: which task, how scored, against what.
struct SummaryContext {
    TaskKind task = TaskKind::mmlu;
    std::string setting;
    Scoring scoring = Scoring::generative;
    std::string model, backend;
    std::string controls_json = "{}";            ///< the request controls every item sent, as JSON
    std::string dataset_path, dataset_sha256;    ///< sha256 empty for a folder (MMLU)
    std::size_t items_in_selection = 0;          ///< the whole selection, over every shard
    std::size_t failed_requests = 0;
    std::optional<Shard> shard;                  ///< the summary covers only this shard's items
};

/// How the task was scored, in words, for the summary.
inline std::string scoring_note(TaskKind task, Scoring scoring) {
    switch (task) {
        case TaskKind::gsm8k: return "exact match of the final number: strict ('The answer is N' / '#### N') and flexible (last number)";
        case TaskKind::humaneval:
        case TaskKind::mbpp: return "functional correctness in a sandbox; pass@k by the unbiased estimator (Chen et al. 2021)";
        default:
            if (scoring == Scoring::generative)
                return "generative multiple choice: the letter is extracted from generated text (not log-likelihood scoring; not "
                       "comparable with lm-evaluation-harness acc/acc_norm)";
            if (task == TaskKind::mmlu)
                return "letter log-probability: the option whose letter is most likely as the one token after 'Answer:' (lm-evaluation-harness's "
                       "MMLU acc); probabilities normalised over the options for calibration";
            return "letter log-probability over lettered options (lm-evaluation-harness scores this task's answer texts instead: not its "
                   "acc/acc_norm); probabilities normalised over the options for calibration";
    }
    return "";
}

/// The `"type":"eval_summary"` line over `items` (failed ones are skipped): accuracy (or
/// pass@k) with a 95% Wilson interval, and the rest. The items are taken in (item, sample)
/// order, so sums of fractions come out the same however the run was split or interleaved.
inline std::string summary_json(const SummaryContext& c, const std::vector<ScoredItem>& items) {
    std::vector<const ScoredItem*> ordered;
    for (const auto& s : items)
        if (s.ok()) ordered.push_back(&s);
    std::sort(ordered.begin(), ordered.end(), [](const ScoredItem* a, const ScoredItem* b) {
        return a->item_id != b->item_id ? a->item_id < b->item_id : a->sample < b->sample;
    });
    JsonWriter w;
    w.begin_object().kv("type", "eval_summary").kv("schema_version", schema_version).kv("task", to_string(c.task));
    w.kv("setting", c.setting).kv("model", c.model).kv("backend", c.backend);
    w.key("controls").raw(c.controls_json);
    w.kv("scoring_method", to_string(c.scoring)).kv("scoring", scoring_note(c.task, c.scoring));
    w.key("dataset").begin_object().kv("path", c.dataset_path).key("sha256");  // which file, exactly: versions differ
    if (c.dataset_sha256.empty()) w.null();
    else w.value(c.dataset_sha256);
    w.end_object();
    std::size_t n = 0, correct = 0, unparsable = 0, flexible = 0, no_letter = 0;
    std::vector<ProbabilisticAnswer> answers;  // logprob scoring, items with a letter in the top-k
    double tokens = 0, wall = 0;
    std::size_t timed = 0;
    std::map<std::string, std::pair<std::size_t, std::size_t>> per_subject, per_category;
    std::map<std::string, std::pair<std::size_t, std::size_t>> per_problem;  // samples, passed
    std::set<std::string> sandboxes;  // how the code was contained: one mode, unless bwrap stopped working mid-run
    for (const ScoredItem* s : ordered) {
        ++n;
        correct += s->correct ? 1U : 0U;
        unparsable += s->unparsable ? 1U : 0U;
        flexible += s->correct_flexible ? 1U : 0U;
        if (s->letters && s->letters->no_letter_in_top_k()) ++no_letter;
        else if (s->letters) answers.push_back({s->letters->probabilities, s->gold_index});
        if (s->run.server.eval_count && s->run.client.wall_s) {
            tokens += static_cast<double>(*s->run.server.eval_count);
            wall += *s->run.client.wall_s;
            ++timed;
        }
        if (!s->subject.empty()) {
            auto& subj = per_subject[s->subject];
            ++subj.first;
            subj.second += s->correct ? 1U : 0U;
            auto& cat = per_category[mmlu_category(s->subject)];
            ++cat.first;
            cat.second += s->correct ? 1U : 0U;
        }
        auto& prob = per_problem[s->item_id];
        ++prob.first;
        prob.second += s->correct ? 1U : 0U;
        if (s->exec) sandboxes.insert(s->exec->sandbox);
    }
    const auto ratio = [](std::size_t a, std::size_t b) { return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0; };
    const auto accuracy = [&](const char* name, std::size_t right, std::size_t total, const Calibration* cal = nullptr) {
        const auto [low, high] = wilson_interval(right, total);
        w.key(name).begin_object().kv("correct", right).kv("n", total).kv("accuracy", ratio(right, total));
        w.kv("ci95_low", low).kv("ci95_high", high);
        if (cal) w.kv("ece", cal->ece).kv("brier", cal->brier).kv("mean_confidence", cal->mean_confidence).kv("calibrated_n", cal->n);
        w.end_object();
    };
    const bool logprob = c.scoring == Scoring::logprob;
    const Calibration calibrated = calibration(answers);
    w.kv("items", per_problem.size()).kv("items_in_dataset_selection", c.items_in_selection).kv("n", n).kv("failed_requests", c.failed_requests);
    accuracy("score", correct, n, logprob ? &calibrated : nullptr);
    w.kv("unparsable", unparsable).kv("unparsable_share", ratio(unparsable, n));
    if (logprob) {  // counted as wrong in the score, and left out of the calibration
        w.kv("no_letter_in_top_k", no_letter).kv("no_letter_in_top_k_share", ratio(no_letter, n));
        w.key("reliability").begin_array();  // a reliability diagram's bars: every bin, empty ones too
        for (const auto& b : calibrated.bins)
            w.begin_object().kv("lower", b.lower).kv("upper", b.upper).kv("n", b.n).kv("accuracy", b.accuracy).kv("mean_confidence", b.mean_confidence).end_object();
        w.end_array();
    }
    w.key("mean_eval_count");
    if (timed) w.value(tokens / static_cast<double>(timed));
    else w.null();
    w.key("mean_wall_s");
    if (timed) w.value(wall / static_cast<double>(timed));
    else w.null();
    if (c.task == TaskKind::gsm8k) {
        accuracy("strict", correct, n);
        accuracy("flexible", flexible, n);
    }
    if (c.task == TaskKind::mmlu) {
        double macro = 0;
        for (const auto& [subject, counts] : per_subject) macro += ratio(counts.second, counts.first);
        w.kv("micro_accuracy", ratio(correct, n));
        w.kv("macro_accuracy", per_subject.empty() ? 0.0 : macro / static_cast<double>(per_subject.size()));
        w.key("per_subject").begin_object();
        for (const auto& [subject, counts] : per_subject) accuracy(subject.c_str(), counts.second, counts.first);
        w.end_object().key("per_category").begin_object();
        for (const auto& [category, counts] : per_category) accuracy(category.c_str(), counts.second, counts.first);
        w.end_object();
    }
    if (is_code_task(c.task)) {
        std::string sandbox;
        for (const auto& m : sandboxes) sandbox += (sandbox.empty() ? "" : ", ") + m;
        w.key("sandbox");
        if (sandbox.empty()) w.null();
        else w.value(sandbox);
        w.key("pass_at_k").begin_object();
        std::size_t min_samples = std::numeric_limits<std::size_t>::max();
        for (const auto& [id, p] : per_problem) min_samples = std::min(min_samples, p.first);
        for (std::size_t k : {1U, 2U, 5U, 10U, 20U, 50U, 100U}) {
            if (per_problem.empty() || k > min_samples) break;
            double sum = 0;
            for (const auto& [id, p] : per_problem) sum += pass_at_k(p.first, p.second, k).value_or(0);
            w.kv(std::to_string(k), sum / static_cast<double>(per_problem.size()));
        }
        w.end_object();
    }
    w.key("reference");  // the published number, and whether it measured what we did
    if (const auto ref = meta_reference(to_string(c.task), c.setting, c.model)) {
        w.begin_object().kv("score", ref->reference.score).kv("model", ref->reference.model).kv("setting", ref->reference.setting);
        w.kv("source", ref->reference.source).kv("comparable", ref->comparable);
        if (!ref->comparable) w.kv("not_comparable", ref->why_not);
        w.end_object();
    } else {
        w.null();
    }
    w.key("shard");
    if (c.shard) w.begin_object().kv("index", c.shard->index).kv("count", c.shard->count).end_object();
    else w.null();
    return w.end_object().take();
}

}  // namespace llmbench::eval
