// llmbench/eval/runner.hpp - one quality task against a server: per-item records, resume,
// and a summary with its uncertainty.
//
// Each item is a streamed request timed like the speed benchmark, so every record carries
// both the score and ttft_s / gen_toks_per_s / eval_count. Records are handed out (and
// should be flushed) one by one; a rerun with the same output skips what is already scored.
#pragma once

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <simdjson.h>

#include "llmbench/detail/sha256.hpp"
#include "llmbench/eval/datasets.hpp"
#include "llmbench/eval/extract.hpp"
#include "llmbench/eval/letter_choice.hpp"
#include "llmbench/eval/prompts.hpp"
#include "llmbench/eval/sandbox.hpp"
#include "llmbench/eval/scoring.hpp"
#include "llmbench/eval/summary.hpp"
#include "llmbench/eval/task.hpp"
#include "llmbench/client/backend.hpp"
#include "llmbench/core/json.hpp"
#include "llmbench/measure/measure.hpp"
#include "llmbench/core/run_record.hpp"
#include "llmbench/core/stream_timer.hpp"
#include "llmbench/version.hpp"

namespace llmbench::eval {

/// One task as configured. Unset numbers take the task's usual setting.
struct TaskSpec {
    TaskKind kind = TaskKind::mmlu;
    std::string path;  ///< dataset file (MMLU: the folder holding dev/ and test/)
    PromptStyle style = PromptStyle::chat;
    std::optional<int> shots;        ///< MMLU 5 (from dev, file order), GSM8K 8, others 0
    std::size_t limit = 0;           ///< 0: every item
    std::vector<std::string> subset; ///< MMLU subjects (empty: all)
    int samples = 1;                 ///< code: samples per problem (pass@k needs k <= samples)
    std::optional<int> num_predict;
    std::optional<double> temperature;  ///< default 0, or 0.8 for several code samples
    int seed = 1234;                    ///< sample s of an item uses seed + s
    std::optional<Scoring> scoring;     ///< default: logprob for completion-style multiple choice, else generative

    Scoring scoring_method() const {
        if (scoring) return *scoring;
        return style == PromptStyle::completion && is_choice_task(kind) ? Scoring::logprob : Scoring::generative;
    }

    int shot_count() const {
        if (shots) return *shots;
        return kind == TaskKind::mmlu ? 5 : kind == TaskKind::gsm8k ? 8 : 0;
    }
    /// "chat/5-shot", "completion/5-shot/logprob", "completion/0-shot/n=10": which results may
    /// be pooled, resumed or compared.
    std::string setting() const {
        std::string s = std::string(style == PromptStyle::chat ? "chat" : "completion") + "/" + std::to_string(shot_count()) + "-shot";
        if (is_code_task(kind) && samples > 1) s += "/n=" + std::to_string(samples);
        if (scoring_method() == Scoring::logprob) s += "/logprob";
        return s;
    }
    int max_tokens() const {
        if (num_predict) return *num_predict;
        if (scoring_method() == Scoring::logprob) return 1;  // only the first token is read
        if (is_code_task(kind)) return 1024;
        if (kind == TaskKind::gsm8k) return 512;
        return style == PromptStyle::chat ? 1024 : 4;  // chat MC reasons first; completion MC writes a letter
    }
    double sampling_temperature() const {
        if (temperature) return *temperature;
        return is_code_task(kind) && samples > 1 ? 0.8 : 0.0;
    }
};

/// An item ready to send: its prompt and what counts as right.
struct PreparedItem {
    std::string id, subject;
    EvalPrompt prompt;
    std::size_t choices = 0;   ///< multiple choice
    std::size_t gold_index = 0;
    std::string gold;          ///< the letter, the number, or "pass"
    std::optional<CodeItem> code;
};

/// Loads the dataset and builds every prompt, in the dataset's order. With a limit, MMLU
/// takes items round-robin across subjects, so a quick run still covers all of them; either
/// way its items go subject by subject, so consecutive prompts share the subject's header and
/// shots and the server's prompt cache serves that prefix instead of evaluating it again.
inline std::vector<PreparedItem> prepare_items(const TaskSpec& spec) {
    std::vector<PreparedItem> out;
    const auto add_choice = [&](const ChoiceItem& item, const std::vector<ChoiceItem>& shots) {
        PreparedItem p{item.id, item.subject, choice_prompt(item, spec.style, shots), item.choices.size(), item.gold,
                       std::string(1, static_cast<char>('A' + item.gold)), std::nullopt};
        out.push_back(std::move(p));
    };
    switch (spec.kind) {
        case TaskKind::mmlu: {
            auto items = load_mmlu(spec.path, "test");
            std::map<std::string, std::vector<ChoiceItem>> dev;
            if (spec.shot_count() > 0)
                for (auto& d : load_mmlu(spec.path, "dev")) dev[d.subject].push_back(std::move(d));
            std::map<std::string, std::vector<const ChoiceItem*>> by_subject;
            for (const auto& item : items)
                if (spec.subset.empty() || std::find(spec.subset.begin(), spec.subset.end(), item.subject) != spec.subset.end())
                    by_subject[item.subject].push_back(&item);
            if (by_subject.empty()) throw error(errc::usage, "MMLU: no subject matches the subset");
            std::vector<const ChoiceItem*> order;
            if (spec.limit == 0) {
                for (const auto& [subject, list] : by_subject) order.insert(order.end(), list.begin(), list.end());
            } else {
                for (std::size_t round = 0; order.size() < spec.limit; ++round) {
                    bool any = false;
                    for (const auto& [subject, list] : by_subject)
                        if (round < list.size() && order.size() < spec.limit) {
                            order.push_back(list[round]);
                            any = true;
                        }
                    if (!any) break;
                }
                std::stable_sort(order.begin(), order.end(), [](const ChoiceItem* a, const ChoiceItem* b) { return a->subject < b->subject; });
            }
            for (const auto* item : order) {
                const auto& shots = dev[item->subject];
                add_choice(*item, std::vector<ChoiceItem>(shots.begin(), shots.begin() + std::min<std::ptrdiff_t>(spec.shot_count(),
                                                                                                                   static_cast<std::ptrdiff_t>(shots.size()))));
            }
            return out;
        }
        case TaskKind::arc_challenge:
            for (const auto& item : load_arc(spec.path)) add_choice(item, {});
            break;
        case TaskKind::hellaswag:
            for (const auto& item : load_hellaswag(spec.path)) add_choice(item, {});
            break;
        case TaskKind::truthfulqa_mc1:
            for (const auto& item : load_truthfulqa(spec.path, TruthfulQAForm::mc1)) add_choice(item, {});
            break;
        case TaskKind::truthfulqa_mc0:
            for (const auto& item : load_truthfulqa(spec.path, TruthfulQAForm::mc0)) add_choice(item, {});
            break;
        case TaskKind::gsm8k:
            for (const auto& item : load_gsm8k(spec.path))
                out.push_back({item.id, "", gsm8k_prompt(item, spec.style, spec.shot_count()), 0, 0, item.answer, std::nullopt});
            break;
        case TaskKind::humaneval:
        case TaskKind::mbpp:
            for (auto& item : spec.kind == TaskKind::humaneval ? load_humaneval(spec.path) : load_mbpp(spec.path))
                out.push_back({item.id, "", code_prompt(item, spec.style), 0, 0, "pass", item});
            break;
    }
    if (spec.limit > 0 && out.size() > spec.limit) out.resize(spec.limit);
    return out;
}

struct EvalOptions {
    std::string model;
    std::optional<std::string> keep_alive = std::string("30m");
    std::optional<int> num_ctx;
    bool allow_code_execution = false;
    SandboxLimits sandbox;
    int concurrency = 1;  ///< parallel requests (each worker has its own backend)
    RequestControls controls;  ///< sent with every request (--think)
    std::optional<Shard> shard;  ///< this process's share (--shard I/N): item i of the selection is shard i mod N's
};

/// Runs one task. Not reusable across tasks: make one per task.
class EvalRunner {
public:
    /// Against any backend: `make_backend` gives each worker its own (clients are not thread-safe).
    EvalRunner(BackendFactory make_backend, TaskSpec spec, EvalOptions options)
        : make_backend_(std::move(make_backend)), spec_(std::move(spec)), options_(std::move(options)) {
        if (is_code_task(spec_.kind) && !options_.allow_code_execution)
            throw error(errc::usage, std::string(to_string(spec_.kind)) +
                                         " runs model-written code: pass --allow-code-execution to allow it (in a sandbox: own process, "
                                         "temporary directory, time/memory/process limits, no network where possible)");
        if (is_code_task(spec_.kind))  // before any request: never a run that cannot score its code
            if (const std::string why = sandbox_unavailable(options_.sandbox); !why.empty())
                throw error(errc::usage, "sandbox: " + why + "; accept a weaker sandbox explicitly with --sandbox=weak");
        if (spec_.samples < 1) throw error(errc::usage, "samples must be at least 1");
        if (is_code_task(spec_.kind) && spec_.samples > 1 && spec_.sampling_temperature() <= 0)
            throw error(errc::usage, "pass@k with several samples needs a temperature above 0");
        if (spec_.scoring_method() == Scoring::logprob) {
            if (!is_choice_task(spec_.kind))
                throw error(errc::usage, std::string("--scoring logprob reads an option letter: ") + to_string(spec_.kind) + " is not multiple choice");
            if (spec_.style != PromptStyle::completion)
                throw error(errc::usage, "--scoring logprob needs --style completion: it reads the token after \"Answer:\" in a raw prompt "
                                         "(a chat model reasons first)");
            if (options_.controls.think && *options_.controls.think != Think::off)
                throw error(errc::usage, "--scoring logprob reads the first generated token: thinking would come first (--think off)");
        }
        first_backend_ = make_backend_();
        label_ = first_backend_->label();
        if (spec_.scoring_method() == Scoring::logprob)
            first_backend_->require(&BackendCapabilities::token_logprobs, "--scoring logprob needs the log-probabilities of generated tokens",
                                    "use --scoring generative");
        if (options_.num_ctx)
            first_backend_->require(&BackendCapabilities::per_request_context, "--num_ctx needs a server that takes the context size per request",
                                    "it fixes its context at start: start llama-server with -c instead");
    }
    /// Against an Ollama server.
    EvalRunner(Endpoint endpoint, TaskSpec spec, EvalOptions options)
        : EvalRunner([endpoint] { return make_ollama_backend(endpoint); }, std::move(spec), std::move(options)) {}

    /// Called with each item as it finishes (its line is item.to_json()), one thread at a time.
    EvalRunner& on_record(std::function<void(const ScoredItem&)> f) {
        on_record_ = std::move(f);
        return *this;
    }
    /// Checked between items; true stops the run (Ctrl-C).
    EvalRunner& stop_when(StopSignal stop) {
        stop_ = std::move(stop);
        return *this;
    }

    /// Takes in the records of an earlier run (the same output file): their items are not
    /// asked again, and they count in the summary (calibration too). Failed requests are asked again.
    std::size_t resume_from(const std::string& jsonl_text) {
        simdjson::dom::parser parser;
        std::size_t taken = 0;
        detail::for_each_line(jsonl_text, [&](std::string_view line, std::size_t) {
            simdjson::dom::element doc;
            simdjson::dom::object o;
            if (parser.parse(line.data(), line.size()).get(doc) || doc.get_object().get(o)) return;  // a cut-off last line
            auto s = parse_scored_item(o, spec_.kind, spec_.setting(), spec_.scoring_method());
            if (!s || !same_shard(s->run.shard)) return;  // another shard's item is that shard's to count
            if (done_.insert(key(s->item_id, s->sample)).second) {
                scored_.push_back(std::move(*s));
                ++taken;
            }
        });
        return taken;
    }

    /// Asks every item not yet scored, `samples` times each. Returns the summary line.
    std::string run() {
        const auto items = prepare_items(spec_);
        if (std::ifstream file{spec_.path, std::ios::binary}; file && std::filesystem::is_regular_file(spec_.path)) {
            std::ostringstream bytes;  // as stored, so it matches `sha256sum` and the datasets' READMEs
            bytes << file.rdbuf();
            dataset_sha256_ = llmbench::detail::sha256_hex(bytes.str());
        }
        std::vector<std::pair<const PreparedItem*, int>> work;
        for (std::size_t i = 0; i < items.size(); ++i)  // item i is shard i mod N's, with all its samples (pass@k needs them together)
            if (!options_.shard || options_.shard->owns(i))
                for (int s = 0; s < spec_.samples; ++s)
                    if (!done_.count(key(items[i].id, s))) work.emplace_back(&items[i], s);
        items_total_ = items.size();
        std::atomic<std::size_t> next{0};
        const auto worker = [&](std::unique_ptr<Backend> backend) {
            for (std::size_t i = next++; i < work.size(); i = next++) {
                if (stop_.requested() || refused()) return;
                evaluate(*backend, *work[i].first, work[i].second);
            }
        };
        const int threads = std::max(1, std::min<int>(options_.concurrency, static_cast<int>(work.size())));
        std::vector<std::thread> pool;
        for (int t = 1; t < threads; ++t) pool.emplace_back(worker, make_backend_());
        worker(std::move(first_backend_));
        for (auto& t : pool) t.join();
        if (refused()) throw error(errc::usage, refusal_);  // the records made so far were handed out
        return summary_json();
    }

    const std::vector<ScoredItem>& scored() const { return scored_; }

    /// The task's summary (summary_json in eval/summary.hpp) over the items scored so far,
    /// this shard's only when sharded.
    std::string summary_json() const {
        std::lock_guard<std::mutex> lock(mutex_);
        SummaryContext c;
        c.task = spec_.kind;
        c.setting = spec_.setting();
        c.scoring = spec_.scoring_method();
        c.model = options_.model;
        c.backend = label_;
        JsonWriter controls;
        request_controls().write_json(controls);
        c.controls_json = controls.take();
        c.dataset_path = spec_.path;
        c.dataset_sha256 = dataset_sha256_;
        c.items_in_selection = items_total_;
        c.failed_requests = failed_;
        c.shard = options_.shard;
        return eval::summary_json(c, scored_);
    }

private:
    static std::string key(const std::string& id, int sample) { return id + "\x1f" + std::to_string(sample); }
    bool same_shard(const std::optional<Shard>& other) const {
        return other.has_value() == options_.shard.has_value() && (!other || *other == *options_.shard);
    }

    /// What every request sends beyond its options: the caller's, and logprob scoring's alternatives.
    RequestControls request_controls() const {
        RequestControls c = options_.controls;
        if (spec_.scoring_method() == Scoring::logprob) c.logprobs = letter_top_logprobs;
        return c;
    }

    void evaluate(Backend& backend, const PreparedItem& item, int sample) {
        Options o;
        o.temperature = spec_.sampling_temperature();
        o.seed = spec_.seed + sample;
        o.num_predict = spec_.max_tokens();
        o.num_ctx = options_.num_ctx;
        if (!item.prompt.stop.empty()) o.stop = item.prompt.stop;
        const bool logprob = spec_.scoring_method() == Scoring::logprob;
        const RequestControls controls = request_controls();
        Request request;
        if (item.prompt.style == PromptStyle::chat) {
            ChatRequest req;
            req.model = options_.model;
            req.messages = {{"user", item.prompt.text}};
            req.options = o;
            req.keep_alive = options_.keep_alive;
            req.controls = controls;
            request = std::move(req);
        } else {
            GenerateRequest req;
            req.model = options_.model;
            req.prompt = item.prompt.text;
            req.raw = true;  // the text is the whole prompt: no chat template
            req.options = o;
            req.keep_alive = options_.keep_alive;
            req.controls = controls;
            request = std::move(req);
        }
        RunLabel label;
        label.prompt_id = item.id;
        label.run_index = sample;
        label.shard = options_.shard;
        ScoredItem s;
        s.run = measure(backend, request, label);
        s.task = spec_.kind;
        s.setting = spec_.setting();
        s.item_id = item.id;
        s.subject = item.subject;
        s.sample = sample;
        s.seed = *o.seed;
        s.prompt_sha256 = llmbench::detail::sha256_hex(item.prompt.text);
        s.gold = item.gold;
        s.gold_index = item.gold_index;
        s.scoring = spec_.scoring_method();
        s.server_url = backend.server_url();
        const bool no_logprobs = logprob && s.ok() && s.run.output.logprobs.empty();
        if (no_logprobs) {  // a server that ignores the field: refuse, do not guess
            s.run.outcome.ok = false;
            s.run.outcome.error_kind = errc::usage;
            s.run.outcome.error_message = "--scoring logprob: " + label_ + " returned no log-probabilities for the generated token (Ollama "
                                          "before 0.12.11 and some OpenAI-compatible servers ignore the request); use --scoring generative";
        }
        if (s.ok()) score(item, s);

        std::lock_guard<std::mutex> lock(mutex_);
        if (no_logprobs && refusal_.empty()) refusal_ = s.run.outcome.error_message;
        if (!s.ok()) ++failed_;
        if (on_record_) on_record_(s);
        scored_.push_back(std::move(s));
    }

    void score(const PreparedItem& item, ScoredItem& s) const {
        const std::string& reply = s.run.output.text;
        if (item.choices > 0 && s.scoring == Scoring::logprob) {
            s.letters = letter_choice(s.run.output.logprobs.front(), item.choices);
            s.correct = s.letters->chosen == item.gold_index;
            if (s.letters->chosen) s.extracted = std::string(1, static_cast<char>('A' + *s.letters->chosen));
        } else if (item.choices > 0) {
            const auto choice = extract_choice(reply, item.choices);
            s.correct = choice && *choice == item.gold_index;
            s.unparsable = !choice;
            if (choice) s.extracted = std::string(1, static_cast<char>('A' + *choice));
        } else if (spec_.kind == TaskKind::gsm8k) {
            s.extracted = extract_number_strict(reply);
            s.extracted_flexible = extract_number_flexible(reply);
            s.correct = same_number(s.extracted, item.gold);
            s.correct_flexible = same_number(s.extracted_flexible, item.gold);
            s.unparsable = !s.extracted;
        } else if (item.code) {
            s.extracted = item.prompt.style == PromptStyle::chat ? extract_code(reply) : reply;
            s.exec = run_code_test(code_test(*item.code, *s.extracted, item.prompt.style), options_.sandbox);
            s.correct = s.exec->status == ExecStatus::passed;
        }
    }

    BackendFactory make_backend_;
    std::unique_ptr<Backend> first_backend_;  ///< made up front: it checks the options and names the backend
    TaskSpec spec_;
    EvalOptions options_;
    std::string label_;  ///< the backend's label, for the summary
    std::function<void(const ScoredItem&)> on_record_;
    StopSignal stop_;
    std::set<std::string> done_;
    std::vector<ScoredItem> scored_;
    std::size_t failed_ = 0, items_total_ = 0;
    bool refused() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return !refusal_.empty();
    }

    std::string refusal_;         ///< why the server cannot be scored this way; stops the run
    std::string dataset_sha256_;  ///< of the file as stored (compressed or not); empty for a folder (MMLU)
    mutable std::mutex mutex_;
};

}  // namespace llmbench::eval
