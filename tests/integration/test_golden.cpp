// The programs' output, field for field, against lines recorded before the one-measurement-path
// redesign (tests/data/golden/programs/). Each output line is flattened to `path=value` lines;
// timings, host facts and paths are masked. A recorded field must come out with the same value;
// fields added since may appear. LLMBENCH_UPDATE_GOLDEN=1 records the files anew.
#include <llmbench/eval/runner.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "../test_util.hpp"

extern char** environ;

namespace {

/// Keys whose values depend on the clock, the machine or the temporary paths.
bool masked_key(std::string_view key) {
    static const std::set<std::string_view> exact = {"timestamp_utc", "llmbench_version", "command_line", "host", "path", "sha256",
                                                     "base_url", "url", "server_url", "samples", "warnings", "cv", "stddev",
                                                     // flags a busy machine can flip: they compare times
                                                     "prompt_cache_suspected", "prompt_cache_suspected_runs",
                                                     "prompt_rate_includes_cache", "prompt_rate_includes_cache_runs", "ttft_below_server"};
    if (exact.count(key)) return true;
    const auto ends = [&](std::string_view suffix) { return key.size() >= suffix.size() && key.substr(key.size() - suffix.size()) == suffix; };
    return ends("_s") || ends("_ns") || ends("_per_s") || ends("_mean") || ends("_efficiency") || ends("duration") ||
           ends("_low") || ends("_high") || key == "mean" || key == "min" || key == "max" || key.rfind("p5", 0) == 0 ||
           key.rfind("p9", 0) == 0;
}

void flatten(const simdjson::dom::element& e, const std::string& path, bool mask, std::vector<std::string>& out) {
    using simdjson::dom::element_type;
    if (mask) {  // a masked member counts whole, whatever its shape (a warnings list may grow)
        out.push_back(path + "=#");
        return;
    }
    switch (e.type()) {
        case element_type::OBJECT: {
            simdjson::dom::object obj;
            REQUIRE(e.get_object().get(obj) == simdjson::SUCCESS);
            for (auto field : obj) {
                const std::string key(field.key);
                flatten(field.value, path + "." + key, masked_key(key), out);
            }
            return;
        }
        case element_type::ARRAY: {
            simdjson::dom::array arr;
            REQUIRE(e.get_array().get(arr) == simdjson::SUCCESS);
            std::size_t i = 0;
            for (auto item : arr) flatten(item, path + "[" + std::to_string(i++) + "]", false, out);
            return;
        }
        default: {
            out.push_back(path + "=" + simdjson::to_string(e));
        }
    }
}

/// Every line as `Lnn.type.path=value` lines.
std::vector<std::string> flatten_output(const std::string& text) {
    std::vector<std::string> out;
    simdjson::dom::parser parser;
    std::size_t n = 0;
    for (const auto& line : test_util::split_lines(text)) {
        if (line.empty()) continue;
        simdjson::dom::element doc;
        REQUIRE_MESSAGE(parser.parse(line).get(doc) == simdjson::SUCCESS, line);
        std::string_view type;
        REQUIRE(doc["type"].get_string().get(type) == simdjson::SUCCESS);
        char prefix[16];
        std::snprintf(prefix, sizeof prefix, "L%02zu.", n++);
        flatten(doc, prefix + std::string(type), false, out);
    }
    return out;
}

std::string run_to_text(std::vector<std::string> args, const std::string& name) {
    const std::string out_path = "/tmp/llmbench_golden_" + std::to_string(::getpid()) + "_" + name;
    const pid_t pid = test_util::spawn_to_files(std::move(args), out_path, "/dev/null");
    REQUIRE(pid > 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    const std::string text = test_util::read_text(out_path);
    std::remove(out_path.c_str());
    return text;
}

/// Compares (or, with LLMBENCH_UPDATE_GOLDEN=1, records) a program's flattened output.
void check_program_golden(const std::string& name, const std::string& output) {
    const std::string golden_path = std::string(LLMBENCH_TEST_DATA_DIR) + "/golden/programs/" + name + ".txt";
    const auto actual = flatten_output(output);
    if (const char* update = std::getenv("LLMBENCH_UPDATE_GOLDEN"); update && std::string(update) == "1") {
        std::ofstream f(golden_path, std::ios::binary | std::ios::trunc);
        for (const auto& l : actual) f << l << '\n';
        REQUIRE(f.good());
        return;
    }
    const std::set<std::string> have(actual.begin(), actual.end());
    std::size_t fields = 0;
    for (const auto& want : test_util::split_lines(test_util::read_text(golden_path))) {
        if (want.empty()) continue;
        ++fields;
        CHECK_MESSAGE(have.count(want) == 1, name << ": recorded field missing or changed: " << want);
    }
    CHECK(fields > 20);  // a golden file that lost its lines would pass anything
}

const char* const prompts_text =
    "{\"id\":\"a\",\"prompt\":\"Why is the sky blue?\"}\n"
    "{\"prompt\":\"Write a haiku.\",\"num_predict\":4}\n"
    "{\"id\":\"c\",\"prompt\":\"Name three rivers.\",\"system\":\"Be brief.\"}\n";

std::string mock_host(const llmbench::testing::MockOllama& mock) { return "127.0.0.1:" + std::to_string(mock.port()); }

}  // namespace

TEST_CASE("golden: ollama-bench's lines are those recorded, timings masked") {
    llmbench::testing::MockOllama mock;
    const std::string prompts = "/tmp/llmbench_golden_" + std::to_string(::getpid()) + "_prompts.jsonl";
    std::ofstream(prompts, std::ios::binary) << prompts_text;
    const auto out = run_to_text({LLMBENCH_OLLAMA_BENCH_PATH, "--model", "llama3.1:8b", "--prompts", prompts, "--runs", "2", "--temperature", "0",
                                  "--num_predict", "8", "--seed", "7", "--host", mock_host(mock), "--quiet",
                                  "--mem-bandwidth-gbs", "100"},  // a given bandwidth: nothing measured, the same everywhere
                                 "bench");
    std::remove(prompts.c_str());
    check_program_golden("ollama-bench", out);
}

TEST_CASE("golden: bench-matrix's lines are those recorded, timings masked") {
    llmbench::testing::MockOllama mock;
    const auto out = run_to_text({LLMBENCH_BENCH_MATRIX_PATH, "--model", "llama3.1:8b", "--num_ctx", "2048", "--prompt-tokens", "60", "--num-predict",
                                  "6,12", "--runs", "2", "--temperature", "0", "--host", mock_host(mock), "--quiet", "--mem-bandwidth-gbs", "100"},
                                 "matrix");
    check_program_golden("bench-matrix", out);
}

#if defined(LLMBENCH_EVAL_SUITE_PATH)
TEST_CASE("golden: eval-suite's lines are those recorded, timings masked") {
    llmbench::eval::TaskSpec spec;
    spec.kind = llmbench::eval::TaskKind::arc_challenge;
    spec.path = std::string(LLMBENCH_TEST_DATA_DIR) + "/eval/arc.jsonl";
    std::map<std::string, std::string> gold;
    for (const auto& item : llmbench::eval::prepare_items(spec)) gold[item.prompt.text] = item.gold;
    llmbench::testing::MockConfig cfg;
    cfg.natural_tokens = 1000;
    cfg.responder = [gold](const std::string& prompt) { return "Answer: " + (gold.at(prompt) == "A" ? std::string("B") : gold.at(prompt)); };
    llmbench::testing::MockOllama mock(cfg);
    const auto out = run_to_text({LLMBENCH_EVAL_SUITE_PATH, "--model", "llama3.1:8b", "--tasks", "arc_challenge", "--path", "arc_challenge=" + spec.path,
                                  "--host", mock_host(mock), "--quiet"},
                                 "eval");
    check_program_golden("eval-suite", out);
}
#endif

#if defined(LLMBENCH_NIAH_PATH)
TEST_CASE("golden: niah's lines are those recorded, timings masked") {
    const auto out = run_to_text({LLMBENCH_NIAH_PATH, "--demo", "--model", "llama3.1:8b", "--lengths", "1k,8k", "--depths", "0,50,100", "--quiet"}, "niah");
    check_program_golden("niah", out);
}
#endif
