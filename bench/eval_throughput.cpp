// eval-throughput: what the eval runner costs the client per item, and what sending MMLU
// subject by subject saves the server, on full MMLU (14,042 items) against the mock at zero delay.
//
//   eval-throughput [--data ../shared/datasets] [--limit N]
//
// Prints, for 5-shot completion-style MMLU scored by letter log-probability and generatively:
// items/s and client CPU per item (the CPU of the thread that runs the requests: HTTP,
// parsing, scoring, the record line; loading the dataset and building the prompts apart),
// then the prompt tokens the mock evaluated with llama-server's prefix reuse on, for the items
// grouped by subject (as eval-suite sends them) and interleaved across subjects. Numbers
// describe the client and the mock on this machine, not a model.
#include <llmbench/eval/runner.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "cpu_time.hpp"

namespace {

std::string default_data() {
    const std::string here = __FILE__;  // bench/ inside the checkout, beside ../shared
    return here.substr(0, here.find_last_of('/')) + "/../../shared/datasets";
}

llmbench::testing::MockConfig letter_mock() {
    llmbench::testing::MockConfig cfg;
    cfg.generation = llmbench::testing::MockGeneration::ollama_0_33;
    cfg.prefix_reuse = true;
    cfg.natural_tokens = 4;
    cfg.first_token = [](const std::string&) {
        return std::vector<llmbench::TokenLogprob>{{" B", -0.4, std::nullopt}, {" A", -1.6, std::nullopt}, {"B", -2.5, std::nullopt},
                                                   {" C", -3.0, std::nullopt}, {" D", -3.5, std::nullopt}};
    };
    return cfg;
}

std::int64_t evaluated_tokens(const llmbench::testing::MockOllama& mock) {
    std::int64_t n = 0;
    for (const auto& r : mock.stream_requests()) n += r.evaluated_tokens;
    return n;
}

struct Row {
    std::string scoring;
    std::size_t items = 0, ok = 0;
    double wall_s = 0, client_cpu_s = 0, prepare_cpu_s = 0;
    std::int64_t evaluated = 0, prompt = 0;
};

Row run_runner(const llmbench::eval::TaskSpec& spec) {
    llmbench::testing::MockOllama mock(letter_mock());
    llmbench::eval::EvalOptions options;
    options.model = "llama3.1:8b";
    const llmbench::Endpoint endpoint = mock.endpoint();
    llmbench::eval::EvalRunner runner([endpoint] { return llmbench::make_ollama_backend(endpoint); }, spec, options);
    std::size_t bytes = 0;
    runner.on_record([&](const llmbench::eval::ScoredItem& item) { bytes += item.to_json().size(); });
    // run() loads the dataset and builds the prompts first: timed alone here and taken off, so
    // the per-item figure is what asking and scoring costs (the page cache is warm from here on).
    const auto prep0 = bench::cpu_time(RUSAGE_THREAD);
    const auto items = llmbench::eval::prepare_items(spec);
    Row row;
    row.prepare_cpu_s = bench::cpu_time(RUSAGE_THREAD).total_s() - prep0.total_s();
    row.scoring = llmbench::eval::to_string(spec.scoring_method());
    const auto cpu0 = bench::cpu_time(RUSAGE_THREAD);
    const auto t0 = std::chrono::steady_clock::now();
    runner.run();  // one worker: the requests run on this thread
    row.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    row.client_cpu_s = bench::cpu_time(RUSAGE_THREAD).total_s() - cpu0.total_s() - row.prepare_cpu_s;
    row.items = runner.scored().size();
    for (const auto& s : runner.scored()) row.ok += s.ok() ? 1U : 0U;
    row.evaluated = evaluated_tokens(mock);
    for (const auto& r : mock.stream_requests()) row.prompt += r.prompt_tokens;
    if (bytes == 0) std::cerr << "no records\n";
    return row;
}

/// The same prompts sent interleaved across subjects (one item of each subject in turn).
std::int64_t interleaved_evaluated(const llmbench::eval::TaskSpec& spec) {
    const auto items = llmbench::eval::prepare_items(spec);
    std::map<std::string, std::vector<const llmbench::eval::PreparedItem*>> by_subject;
    for (const auto& item : items) by_subject[item.subject].push_back(&item);
    llmbench::testing::MockOllama mock(letter_mock());
    llmbench::OllamaClient client(mock.endpoint());
    for (std::size_t round = 0;; ++round) {
        bool any = false;
        for (const auto& entry : by_subject) {
            if (round >= entry.second.size()) continue;
            any = true;
            llmbench::GenerateRequest r;
            r.model = "llama3.1:8b";
            r.prompt = entry.second[round]->prompt.text;
            r.raw = true;
            r.options.num_predict = 1;
            llmbench::StreamTimer timer;
            client.generate(r, timer);
        }
        if (!any) break;
    }
    return evaluated_tokens(mock);
}

}  // namespace

int main(int argc, char** argv) {
    std::string data = default_data();
    std::size_t limit = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--data") data = v;
        else if (a == "--limit") limit = std::stoul(v);
        else {
            std::cerr << "usage: eval-throughput [--data ../shared/datasets] [--limit N]\n";
            return 2;
        }
    }
    llmbench::eval::TaskSpec spec;
    spec.kind = llmbench::eval::TaskKind::mmlu;
    spec.path = data + "/mmlu";
    spec.style = llmbench::eval::PromptStyle::completion;
    spec.limit = limit;
    try {
        std::printf("MMLU test, 5-shot completion style, against the mock Ollama 0.33 at zero delay with prefix reuse "
                    "(numbers describe the client and the mock, not a model)\n\n");
        std::printf("| scoring | items (ok) | wall s | items/s | dataset + prompts CPU s | client CPU s | client CPU µs per item | prompt tokens | evaluated by the server |\n");
        std::printf("|---|---|---|---|---|---|---|---|---|\n");
        std::int64_t grouped = 0;
        for (const auto scoring : {llmbench::eval::Scoring::logprob, llmbench::eval::Scoring::generative}) {
            spec.scoring = scoring;
            const Row r = run_runner(spec);
            if (scoring == llmbench::eval::Scoring::logprob) grouped = r.evaluated;
            std::printf("| %s | %zu (%zu) | %.2f | %.0f | %.2f | %.2f | %.0f | %lld | %lld |\n", r.scoring.c_str(), r.items, r.ok, r.wall_s,
                        static_cast<double>(r.items) / r.wall_s, r.prepare_cpu_s, r.client_cpu_s, r.client_cpu_s / static_cast<double>(r.items) * 1e6,
                        static_cast<long long>(r.prompt), static_cast<long long>(r.evaluated));
        }
        spec.scoring = llmbench::eval::Scoring::logprob;
        const std::int64_t interleaved = interleaved_evaluated(spec);
        std::printf("\nprompt tokens the server evaluated: grouped by subject %lld, interleaved across subjects %lld (%.1fx fewer grouped)\n",
                    static_cast<long long>(grouped), static_cast<long long>(interleaved),
                    grouped > 0 ? static_cast<double>(interleaved) / static_cast<double>(grouped) : 0.0);
    } catch (const llmbench::error& e) {
        std::cerr << "eval-throughput: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
