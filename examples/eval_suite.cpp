// eval-suite: quality tasks against an Ollama model or an OpenAI-compatible server (--backend
// openai --base-url URL), scored honestly and timed too.
//
//   eval-suite --model llama3.1:8b --data ../shared/datasets --tasks mmlu,arc_challenge,gsm8k --limit 100 -o evals.jsonl
//   eval-suite --model llama3.1:8b --data ../shared/datasets --tasks mmlu --style completion -o mmlu.jsonl  (letter log-probabilities)
//   eval-suite --model llama3.1:8b --data ../shared/datasets --tasks humaneval --allow-code-execution -o evals.jsonl
//   eval-suite ... --shard 2/4 -o evals-2.jsonl   (one of 4 processes; llmbench-report evals-*.jsonl merges them)
//
// stdout (and --output): a metadata line, one "eval_item" line per item (flushed as scored),
// one "eval_summary" line per task. Rerunning with the same --output skips items already scored.
// Exit: 0 done; 1 some requests failed; 2 setup error; 3 no server, or it went away for good (--server-wait); 130 interrupted.
#include <llmbench/eval/runner.hpp>
#include <llmbench/core/cli.hpp>
#include <llmbench/host/run_metadata.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include "command_line.hpp"
#include "example_support.hpp"

namespace {

/// Where each task's file sits in a datasets folder laid out like ../shared/datasets. TruthfulQA:
/// the classic 817 questions (v1/), which published MC1 numbers use, unless `truthfulqa` is "2025".
std::string default_path(llmbench::eval::TaskKind t, const std::string& root, const std::string& truthfulqa) {
    using llmbench::eval::TaskKind;
    switch (t) {
        case TaskKind::mmlu: return root + "/mmlu";
        case TaskKind::arc_challenge: return root + "/arc_challenge/ARC-Challenge-Test.jsonl";
        case TaskKind::hellaswag: return root + "/hellaswag/hellaswag_val_full.txt.bz2";
        case TaskKind::truthfulqa_mc1: return root + (truthfulqa == "2025" ? "/truthfulqa/mc_task.json" : "/truthfulqa/v1/mc_task.json");
        case TaskKind::truthfulqa_mc0: return root + "/truthfulqa/mc_task.json";  // the binary form exists only in the 2025 revision
        case TaskKind::gsm8k: return root + "/gsm8k/test.jsonl";
        case TaskKind::humaneval: return root + "/humaneval/HumanEval.jsonl.gz";
        case TaskKind::mbpp: return root + "/mbpp/mbpp.jsonl";
    }
    return root;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"eval-suite: MMLU, ARC-Challenge, HellaSwag, TruthfulQA MC1, GSM8K, HumanEval, MBPP against an Ollama model or an OpenAI-compatible server"};
    std::string model, data, tasks = "mmlu,arc_challenge,hellaswag,truthfulqa_mc1,gsm8k", style = "chat", output, host, subset;
    std::string truthfulqa_version = "classic", scoring;
    std::vector<std::string> paths;
    std::optional<int> shots, num_predict, num_ctx;
    std::optional<double> temperature;
    std::size_t limit = 0;
    int samples = 1, concurrency = 1, seed = 1234;
    bool allow_code = false, quiet = false;
    double code_timeout = 10;
    app.add_option("--model", model, "Model tag, e.g. llama3.1:8b")->required();
    app.add_option("--data", data, "Datasets folder laid out like ../shared/datasets");
    app.add_option("--path", paths, "A task's file or folder, as task=PATH (overrides --data)");
    app.add_option("--tasks", tasks, "Comma list: mmlu, arc_challenge, hellaswag, truthfulqa_mc1, truthfulqa_mc0, gsm8k, humaneval, mbpp")
        ->capture_default_str();
    app.add_option("--truthfulqa-version", truthfulqa_version,
                   "With --data: classic (the 817 questions published MC1 numbers use) or 2025 (the January 2025 revision, 790 "
                   "questions; truthfulqa_mc0 needs it)")
        ->capture_default_str()
        ->check(CLI::IsMember({"classic", "2025"}));
    app.add_option("--style", style, "chat (/api/chat, answer line) or completion (raw prompt, harness layout)")
        ->capture_default_str()
        ->check(CLI::IsMember({"chat", "completion"}));
    app.add_option("--scoring", scoring,
                   "Multiple choice: logprob (the option letter most likely as the one token after \"Answer:\", as lm-evaluation-harness "
                   "scores MMLU; the default for --style completion) or generative (the letter the model writes; the default for chat)")
        ->check(CLI::IsMember({"generative", "logprob"}));
    app.add_option("--shots", shots, "Examples shown first (default: MMLU 5 from dev, GSM8K 8 chain-of-thought, else 0)");
    app.add_option("--limit", limit, "At most N items per task (0: all; MMLU spreads them over subjects)");
    app.add_option("--subset", subset, "MMLU: comma list of subjects");
    app.add_option("--samples", samples, "Code tasks: samples per problem, for pass@k (k <= samples)")->check(CLI::Range(1, 1000));
    app.add_option("--temperature", temperature, "Default 0 (0.8 for several code samples)");
    app.add_option("--num_predict,--num-predict", num_predict, "Token cap per reply (default by task and style)");
    app.add_option("--num_ctx,--num-ctx", num_ctx, "Context window (long few-shot prompts may need more than the default)");
    app.add_option("--seed", seed, "Sample s of an item uses seed + s")->capture_default_str();
    app.add_option("--concurrency", concurrency,
                   "Requests in flight, over all servers (at least one per server); up to the server's slots (llama-server "
                   "--parallel, OLLAMA_NUM_PARALLEL): more only queue")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    std::string shard_text;
    app.add_option("--shard", shard_text,
                   "Do shard I of N (\"I/N\", from 0): the items at positions i with i mod N = I of each task's selection, all their "
                   "samples; llmbench-report merges the N files into one summary per task");
    app.add_flag("--allow-code-execution", allow_code, "Run model-written code (HumanEval, MBPP) in the sandbox");
    app.add_option("--code-timeout", code_timeout, "Seconds per program")->capture_default_str();
    std::string sandbox = "strict";
    app.add_option("--sandbox", sandbox,
                   "strict: model code runs only under bubblewrap, else nothing runs (exit 2); weak: accept the sandbox without "
                   "it (rlimits, own user and namespaces as root; docs/evals.md says what it lacks)")
        ->capture_default_str()
        ->check(CLI::IsMember({"strict", "weak"}));
    app.add_option("--host", host,
                   "Ollama server (default: OLLAMA_HOST, else 127.0.0.1:11434); a comma list spreads the items over several servers "
                   "(likewise --base-url), each record naming its server_url");
    app.add_option("--output,-o", output, "Also append the JSON lines here; a rerun resumes from it");
    app.add_flag("--quiet,-q", quiet, "No per-task lines on stderr");
    example::BackendOptions backend_options;
    backend_options.add_to(app);
    if (const auto code = example::parse_command_line(app, argc, argv)) return *code;
    (void)llmbench::raise_open_files_limit();  // a socket per stream in flight; the metadata reports the limit
    backend_options.quiet = quiet;

#if defined(__linux__)
    // Model code runs as this user in the weak sandbox: it must not read our memory or environ.
    ::prctl(PR_SET_DUMPABLE, 0);
#endif
    try {
        std::map<std::string, std::string> path_of;
        for (const auto& p : paths) {
            const auto eq = p.find('=');
            if (eq == std::string::npos) throw llmbench::error(llmbench::errc::usage, "--path wants task=PATH, got '" + p + "'");
            path_of[p.substr(0, eq)] = p.substr(eq + 1);
        }
        std::vector<llmbench::eval::TaskSpec> specs;
        for (const auto& name : llmbench::parse_string_list(tasks, "--tasks")) {
            llmbench::eval::TaskSpec spec;
            spec.kind = llmbench::eval::parse_task(name);
            if (spec.kind == llmbench::eval::TaskKind::truthfulqa_mc0 && truthfulqa_version != "2025" && !path_of.count(name))
                throw llmbench::error(llmbench::errc::usage, "truthfulqa_mc0 is in the January 2025 revision only: add --truthfulqa-version 2025");
            spec.path = path_of.count(name) ? path_of[name] : data.empty() ? "" : default_path(spec.kind, data, truthfulqa_version);
            if (spec.path.empty()) throw llmbench::error(llmbench::errc::usage, "task " + name + ": give --data or --path " + name + "=FILE");
            spec.style = style == "chat" ? llmbench::eval::PromptStyle::chat : llmbench::eval::PromptStyle::completion;
            spec.shots = shots;
            if (!scoring.empty() && llmbench::eval::is_choice_task(spec.kind)) spec.scoring = llmbench::eval::parse_scoring(scoring);
            spec.limit = limit;
            if (!subset.empty()) spec.subset = llmbench::parse_string_list(subset, "--subset");
            spec.samples = samples;
            spec.num_predict = num_predict;
            spec.temperature = temperature;
            spec.seed = seed;
            specs.push_back(spec);
        }

        std::optional<llmbench::Shard> shard;
        if (!shard_text.empty())
            if (const auto s = llmbench::parse_shard(shard_text); s.sharded()) shard = s;

        llmbench::eval::SandboxLimits sandbox_limits;
        sandbox_limits.wall_s = code_timeout;
        sandbox_limits.mode = sandbox == "weak" ? llmbench::eval::SandboxMode::weak : llmbench::eval::SandboxMode::strict;
        const bool runs_code = std::any_of(specs.begin(), specs.end(), [](const auto& s) { return llmbench::eval::is_code_task(s.kind); });
        if (runs_code && allow_code)  // before any task runs, not when the first code task is reached
            if (const std::string why = llmbench::eval::sandbox_unavailable(sandbox_limits); !why.empty())
                throw llmbench::error(llmbench::errc::usage, "the code sandbox cannot run here: " + why +
                                                                 ". Nothing was run. To accept a weaker sandbox (no bubblewrap), pass --sandbox=weak");

        std::string earlier;
        if (!output.empty() && std::filesystem::exists(output)) earlier = llmbench::eval::read_text_file(output);
        example::JsonLines out(output, /*append=*/true);
        llmbench::OpenAIClientOptions client_options;
        client_options.api_key_env = backend_options.api_key_env;
        // The key is read once, then gone from the environment every child would inherit.
        if (const char* key = std::getenv(client_options.api_key_env.c_str()); key != nullptr && *key != '\0') client_options.api_key = key;
        ::unsetenv(client_options.api_key_env.c_str());
        // One factory per server; the runner's workers take them in turn, so items spread over all.
        std::vector<llmbench::BackendFactory> servers;
        if (backend_options.openai()) {
            if (!backend_options.base_url.empty())
                for (const auto& url : llmbench::parse_string_list(backend_options.base_url, "--base-url")) {
                    auto one = backend_options;
                    one.base_url = url;
                    servers.push_back(one.factory({}, client_options));
                }
            if (servers.empty()) servers.push_back(backend_options.factory({}, client_options));  // its error: --base-url needed
        } else if (host.empty()) {
            servers.push_back(backend_options.factory(llmbench::endpoint_from_env(), client_options));
        } else {
            for (const auto& h : llmbench::parse_string_list(host, "--host")) servers.push_back(backend_options.factory(llmbench::parse_ollama_host(h), client_options));
        }
        std::optional<std::int64_t> slots = 0;  // over all servers; unknown if any does not say
        for (const auto& server : servers) {  // fails fast: no server, no model; one metadata line per server
            auto meta = server()->describe(model);
            meta.command_line.assign(argv, argv + argc);
            meta.shard = shard;
            out.write(meta.to_json());
            slots = slots && meta.server.parallel ? std::optional<std::int64_t>(*slots + *meta.server.parallel) : std::nullopt;
        }
        concurrency = std::max<int>(concurrency, static_cast<int>(servers.size()));
        if (slots && concurrency > *slots && !quiet)
            std::cerr << "eval-suite: note: --concurrency " << concurrency << " is more than the " << *slots
                      << " slot(s) the server(s) report: the rest wait in the server's queue\n";
        auto turn = std::make_shared<std::atomic<std::size_t>>(0);
        const llmbench::BackendFactory make_backend = [servers, turn] { return servers[(*turn)++ % servers.size()](); };

        llmbench::eval::EvalOptions options;
        options.model = model;
        options.num_ctx = num_ctx;
        options.allow_code_execution = allow_code;
        options.concurrency = concurrency;
        options.controls = backend_options.controls();
        options.sandbox = sandbox_limits;
        options.shard = shard;
        example::stop_on_signals();
        std::size_t failed = 0;
        for (const auto& spec : specs) {
            turn->store(0);  // each task's workers start again at the first server
            llmbench::eval::EvalRunner runner(make_backend, spec, options);
            const std::size_t resumed = earlier.empty() ? 0 : runner.resume_from(earlier);
            if (!quiet)
                std::cerr << "== " << llmbench::eval::to_string(spec.kind) << " (" << spec.setting() << ")"
                          << (resumed ? ", " + std::to_string(resumed) + " items already scored" : "") << '\n';
            std::size_t done = 0;
            runner.stop_when(&example::stop_requested).on_record([&](const llmbench::eval::ScoredItem& item) {
                out.write(item.to_json());
                if (!quiet && ++done % 25 == 0) std::cerr << "  " << done << " items\n";
            });
            const std::string summary = runner.run();
            out.write(summary);
            std::map<std::string, std::size_t> failed_by_kind;
            std::string first_failure;
            for (const auto& s : runner.scored()) {
                if (s.ok()) continue;
                ++failed;
                const auto& outcome = s.run.outcome;
                ++failed_by_kind[outcome.error_kind ? llmbench::to_string(*outcome.error_kind) : "unknown"];
                if (first_failure.empty()) first_failure = outcome.error_message;
            }
            if (!quiet) {
                std::cerr << "  " << summary.substr(0, summary.find(",\"unparsable\"")) << "}\n";
                if (!failed_by_kind.empty()) {  // the summary counts them; this says why
                    std::cerr << "  failed requests:";
                    for (const auto& [kind, count] : failed_by_kind) std::cerr << ' ' << kind << ' ' << count;
                    std::cerr << "; the first: " << first_failure << '\n';
                }
            }
            if (example::server_watch.gave_up()) return example::exit_code(1, "eval-suite");
            if (example::stop_requested) {
                std::cerr << "eval-suite: interrupted; rerun with the same --output to go on\n";
                return 130;
            }
        }
        return failed > 0 ? 1 : 0;
    } catch (const llmbench::error& e) {
        std::cerr << "eval-suite: error: " << e.what() << '\n';
        return example::exit_code_for(e);
    }
}
