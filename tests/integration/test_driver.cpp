// ollama-bench end to end, as a user runs it, against the mock server.
#include <llmbench/report/results.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <set>

#include <doctest/doctest.h>

#include "../test_util.hpp"

extern char** environ;

using namespace std::chrono_literals;
using llmbench::testing::MockConfig;
using llmbench::testing::MockFault;
using llmbench::testing::MockOllama;

namespace {

struct Outcome {
    int exit_code = -1;
    std::vector<std::string> lines;  // stdout
    std::string err;                 // stderr
};

std::string temp_path(const std::string& name) {
    return "/tmp/llmbench_test_" + std::to_string(::getpid()) + "_" + name;
}

std::string write_temp(const std::string& name, const std::string& content) {
    const std::string path = temp_path(name);
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

/// Waits (at most 10 s) until the running program has written `n` lines to `out_path`.
void wait_for_lines(const std::string& out_path, int n) {
    for (int i = 0; i < 1000; ++i) {
        std::ifstream in(out_path);
        std::string line;
        int lines = 0;
        while (std::getline(in, line)) ++lines;
        if (lines >= n) return;
        std::this_thread::sleep_for(10ms);
    }
}

/// Starts ollama-bench with `args`; `while_running` may act on the child's pid.
template <class WhileRunning>
Outcome run_program(std::vector<std::string> args, WhileRunning&& while_running) {
    const std::string out_path = temp_path("stdout"), err_path = temp_path("stderr");
    const pid_t pid = test_util::spawn_to_files(std::move(args), out_path, err_path);
    REQUIRE(pid > 0);
    while_running(pid, out_path);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    Outcome o;
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    o.lines = test_util::split_lines(test_util::read_text(out_path));
    o.err = test_util::read_text(err_path);
    std::remove(out_path.c_str());
    std::remove(err_path.c_str());
    return o;
}

template <class WhileRunning>
Outcome run_bench(std::vector<std::string> args, WhileRunning&& while_running) {
    args.insert(args.begin(), LLMBENCH_OLLAMA_BENCH_PATH);
    return run_program(std::move(args), std::forward<WhileRunning>(while_running));
}

Outcome run_bench(std::vector<std::string> args) {
    return run_bench(std::move(args), [](pid_t, const std::string&) {});
}

Outcome run_matrix(std::vector<std::string> args) {
    args.insert(args.begin(), LLMBENCH_BENCH_MATRIX_PATH);
    return run_program(std::move(args), [](pid_t, const std::string&) {});
}

/// The "type" of each line; every line must be a JSON object with a schema_version.
std::vector<std::string> types_of(const std::vector<std::string>& lines) {
    std::vector<std::string> types;
    simdjson::ondemand::parser parser;
    for (const auto& line : lines) {
        simdjson::padded_string padded(line);
        simdjson::ondemand::document doc;
        REQUIRE_MESSAGE(parser.iterate(padded).get(doc) == simdjson::SUCCESS, line);
        std::string_view type;
        REQUIRE_MESSAGE(doc["type"].get_string().get(type) == simdjson::SUCCESS, line);
        std::int64_t schema = 0;
        CHECK(doc["schema_version"].get_int64().get(schema) == simdjson::SUCCESS);
        CHECK(schema == 1);
        types.emplace_back(type);
    }
    return types;
}

const char* const three_prompts =
    "{\"id\":\"a\",\"prompt\":\"Why is the sky blue?\"}\n"
    "\n"
    "{\"prompt\":\"Write a haiku.\",\"num_predict\":4}\n"
    "{\"id\":\"c\",\"prompt\":\"Name three rivers.\",\"system\":\"Be brief.\"}\n";

}  // namespace

TEST_CASE("the reference command line: metadata, prompts x runs records, summary last") {
    MockOllama mock;
    const auto prompts = write_temp("prompts.jsonl", three_prompts);
    const auto output = temp_path("out.jsonl");
    const auto o = run_bench({"--model", "llama3.1:8b", "--prompts", prompts, "--runs", "2", "--temperature", "0",
                              "--num_predict", "8", "--host", "127.0.0.1:" + std::to_string(mock.port()), "--output", output});
    CHECK_MESSAGE(o.exit_code == 0, o.err);
    const auto types = types_of(o.lines);
    REQUIRE(types.size() == 1 + 1 + 6 + 1);  // metadata, warm-up, 3 prompts x 2 runs, summary
    CHECK(types.front() == "metadata");
    CHECK(types.back() == "summary");
    for (std::size_t i = 1; i + 1 < types.size(); ++i) CHECK(types[i] == "run");
    CHECK(o.lines[1].find("\"warmup\":true") != std::string::npos);
    CHECK(o.lines[3].find("\"prompt_id\":\"prompt-2\"") != std::string::npos);
    CHECK(o.lines[3].find("\"num_predict\":4") != std::string::npos);  // per-prompt override
    CHECK(o.lines.back().find("\"runs_ok\":6") != std::string::npos);
    CHECK(o.err.find("gen_toks_per_s") != std::string::npos);  // the human table
    CHECK(test_util::split_lines(test_util::read_text(output)) == o.lines);  // --output mirrors stdout
    std::remove(output.c_str());
    // The request carried every sampling option given.
    const auto sent = mock.stream_requests().back().body;
    CHECK(sent.find("\"temperature\":0") != std::string::npos);
    CHECK(sent.find("\"system\":\"Be brief.\"") != std::string::npos);
    std::remove(prompts.c_str());
}

TEST_CASE("--demo runs the whole flow without Ollama and labels every record mock") {
    const auto prompts = write_temp("demo.jsonl", three_prompts);
    const auto o = run_bench({"--demo", "--model", "llama3.1:8b", "--prompts", prompts, "--runs", "1", "--num-predict", "4"});
    CHECK_MESSAGE(o.exit_code == 0, o.err);
    REQUIRE(types_of(o.lines).size() == 6);
    for (std::size_t i = 1; i + 1 < o.lines.size(); ++i) CHECK(o.lines[i].find("\"backend\":\"mock\"") != std::string::npos);
    CHECK(o.lines[0].find("\"kind\":\"mock\"") != std::string::npos);
    std::remove(prompts.c_str());
}

TEST_CASE("setup errors exit 2 (3: server unreachable) with a message naming the cause") {
    const auto prompts = write_temp("ok.jsonl", three_prompts);
    int free_port = 0;
    {
        MockOllama probe;
        free_port = probe.port();
    }
    SUBCASE("unreachable host") {
        const auto o = run_bench({"--model", "llama3.1:8b", "--prompts", prompts, "--host", "127.0.0.1:" + std::to_string(free_port)});
        CHECK(o.exit_code == 3);
        CHECK(o.err.find("ollama serve") != std::string::npos);
        CHECK(o.err.find(std::to_string(free_port)) != std::string::npos);
        CHECK(o.lines.empty());
    }
    SUBCASE("unknown model") {
        MockOllama mock;
        const auto o = run_bench({"--model", "llama9:70b", "--prompts", prompts, "--host", "127.0.0.1:" + std::to_string(mock.port())});
        CHECK(o.exit_code == 2);
        CHECK(o.err.find("ollama pull llama9:70b") != std::string::npos);
    }
    SUBCASE("bad prompts file") {
        const auto bad = write_temp("bad.jsonl", "{\"prompt\":\"fine\"}\n{\"id\":\"x\"}\n");
        const auto o = run_bench({"--demo", "--model", "llama3.1:8b", "--prompts", bad});
        CHECK(o.exit_code == 2);
        CHECK(o.err.find(bad + ":2: missing required field \"prompt\"") != std::string::npos);
        std::remove(bad.c_str());
    }
    SUBCASE("missing prompts file") {
        const auto o = run_bench({"--demo", "--model", "llama3.1:8b", "--prompts", "/nonexistent/prompts.jsonl"});
        CHECK(o.exit_code == 2);
        CHECK(o.err.find("/nonexistent/prompts.jsonl") != std::string::npos);
    }
    std::remove(prompts.c_str());
}

TEST_CASE("failed runs are counted and exit 1 - measured runs stay in the output") {
    MockOllama mock;
    mock.script({MockFault::none, MockFault::none, MockFault::error_mid_stream});  // warm-up, a, then b fails
    const auto prompts = write_temp("f.jsonl", "{\"id\":\"a\",\"prompt\":\"x\"}\n{\"id\":\"b\",\"prompt\":\"y\"}\n");
    const auto o = run_bench({"--model", "llama3.1:8b", "--prompts", prompts, "--runs", "1", "--num_predict", "6", "--host",
                              "127.0.0.1:" + std::to_string(mock.port())});
    CHECK(o.exit_code == 1);
    REQUIRE(types_of(o.lines).size() == 5);
    CHECK(o.lines[2].find("\"ok\":true") != std::string::npos);
    CHECK(o.lines[3].find("\"kind\":\"server\"") != std::string::npos);
    CHECK(o.lines[4].find("\"runs_failed\":1") != std::string::npos);
    std::remove(prompts.c_str());
}

TEST_CASE("Ctrl-C and SIGTERM stop after the current run - stdout and -o hold whole lines and the summary") {
    MockConfig cfg;
    cfg.token_delay = 20ms;
    MockOllama mock(cfg);
    const auto prompts = write_temp("slow.jsonl", "{\"prompt\":\"x\"}\n{\"prompt\":\"y\"}\n");
    for (const int signal : {SIGINT, SIGTERM}) {
        CAPTURE(signal);
        const auto file = temp_path("signalled.jsonl");
        const auto o = run_bench({"--model", "llama3.1:8b", "--prompts", prompts, "--runs", "50", "--num_predict", "5", "--host",
                                  "127.0.0.1:" + std::to_string(mock.port()), "-o", file},
                                 [signal](pid_t pid, const std::string& out_path) {
                                     wait_for_lines(out_path, 4);  // metadata, warm-up and 2 runs
                                     ::kill(pid, signal);
                                 });
        CHECK(o.exit_code == 130);
        const auto types = types_of(o.lines);  // every line parses as a JSON object
        REQUIRE(types.size() >= 5);
        CHECK(types.size() < 50);
        CHECK(types.back() == "summary");
        CHECK(o.err.find("interrupted") != std::string::npos);
        const auto saved = test_util::split_lines(test_util::read_text(file));
        CHECK(saved == o.lines);  // the file holds the same whole lines
        std::remove(file.c_str());
    }
    std::remove(prompts.c_str());
}

TEST_CASE("a server that goes away for good: three runs wait --server-wait, then ollama-bench stops - exit 3, summary written") {
    MockConfig cfg;
    cfg.token_delay = 5ms;
    MockOllama mock(cfg);
    const auto prompts = write_temp("gone.jsonl", "{\"prompt\":\"x\"}\n");
    const auto o = run_bench({"--model", "llama3.1:8b", "--prompts", prompts, "--runs", "20", "--num_predict", "5", "--host",
                              "127.0.0.1:" + std::to_string(mock.port()), "--server-wait", "0.3"},
                             [&mock](pid_t, const std::string& out_path) {
                                 wait_for_lines(out_path, 4);  // metadata, warm-up and 2 runs
                                 mock.go_away();
                             });
    CHECK(o.exit_code == 3);
    const auto types = types_of(o.lines);
    REQUIRE(types.size() >= 7);
    CHECK(types.size() < 20);
    CHECK(types.back() == "summary");
    std::size_t refused = 0;
    for (const auto& line : o.lines) refused += line.find("(the server did not come back within 0.3 s)") != std::string::npos ? 1U : 0U;
    CHECK(refused == 3);
    CHECK(o.err.find("refused the connection: waiting up to 0.3 s") != std::string::npos);
    CHECK(o.err.find("ollama-bench: error: 3 requests in a row found http://127.0.0.1:") != std::string::npos);
    std::remove(prompts.c_str());
}

TEST_CASE("an unwritable output path fails before any request - a full disk fails at the first line, before any timed run") {
    MockOllama mock;
    const auto prompts = write_temp("p.jsonl", "{\"prompt\":\"x\"}\n");
    const std::string host = "127.0.0.1:" + std::to_string(mock.port());
    const auto unwritable = run_bench({"--model", "llama3.1:8b", "--prompts", prompts, "--host", host, "-o", "/nonexistent-dir/out.jsonl"});
    CHECK(unwritable.exit_code == 2);
    CHECK(unwritable.err.find("cannot write output file '/nonexistent-dir/out.jsonl'") != std::string::npos);
    CHECK(mock.requests().empty());  // nothing was sent
    const auto full = run_bench({"--model", "llama3.1:8b", "--prompts", prompts, "--host", host, "--runs", "3", "-o", "/dev/full"});
    CHECK(full.exit_code == 2);
    CHECK(full.err.find("disk full") != std::string::npos);
    for (const auto& r : mock.requests()) CHECK(r.path != "/api/chat");  // no timed run
    std::size_t generates = 0;
    for (const auto& r : mock.requests()) generates += r.path == "/api/generate" ? 1u : 0u;
    CHECK(generates <= 1);  // at most the preload, which comes before the metadata line
    std::remove(prompts.c_str());
}

TEST_CASE("bench-matrix: --dry-run plans without sending anything") {
    MockOllama mock;
    const auto o = run_matrix({"--dry-run", "--model", "a,b", "--num_ctx", "4096,32768", "--prompt-tokens", "200,4000",
                               "--num-predict", "128,512", "--runs", "3", "--host", "127.0.0.1:" + std::to_string(mock.port())});
    CHECK_MESSAGE(o.exit_code == 0, o.err);
    REQUIRE(types_of(o.lines) == std::vector<std::string>{"plan"});
    CHECK(o.lines[0].find("\"requests_at_least\":88") != std::string::npos);  // 16 x (1 + 3) + 8 x 3
    CHECK(o.err.find("16 cells") != std::string::npos);
    CHECK(mock.requests().empty());
}

TEST_CASE("bench-matrix: a matrix file, records with cell coordinates, one cell object per cell") {
    MockOllama mock;
    const auto file = write_temp("matrix.json",
                                 R"({"models":["llama3.1:8b"],"num_ctx":[2048],"prompt_tokens":[40,90],"num_predict":[3],"runs":2})");
    const auto o = run_matrix({"--matrix", file, "--host", "127.0.0.1:" + std::to_string(mock.port()), "--quiet"});
    CHECK_MESSAGE(o.exit_code == 0, o.err);
    const auto types = types_of(o.lines);
    // metadata, then per cell: warm-up + 2 runs + the cell object.
    REQUIRE(types.size() == 1 + 2 * 4);
    CHECK(types[0] == "metadata");
    // the whole spec is logged, so two matrix files can be compared
    CHECK(o.lines[0].find(R"("request":{"models":["llama3.1:8b"],"num_ctx":[2048],"prompt_tokens":[40,90],"num_predict":[3],"runs":2,)") !=
          std::string::npos);
    CHECK(types[4] == "cell");
    CHECK(types[8] == "cell");
    CHECK(o.lines[2].find(R"("cell":{"model":"llama3.1:8b","num_ctx":2048,"prompt_tokens":40,"num_predict":3})") !=
          std::string::npos);
    std::remove(file.c_str());

    const auto bad = write_temp("bad.json", R"({"models":["m"],"prompt_tokens":[0]})");
    const auto e = run_matrix({"--matrix", bad, "--num-predict", "4", "--dry-run"});
    CHECK(e.exit_code == 2);
    CHECK(e.err.find(bad + ": field \"prompt_tokens\" must hold positive whole numbers") != std::string::npos);
    std::remove(bad.c_str());
}

#if defined(LLMBENCH_EVAL_SUITE_PATH)
#include <llmbench/eval/runner.hpp>

namespace {
const std::string arc_path = std::string(LLMBENCH_TEST_DATA_DIR) + "/eval/arc.jsonl";

/// A mock that answers every ARC item of tests/data/eval/arc.jsonl right, in chat style.
MockConfig arc_answering_mock() {
    llmbench::eval::TaskSpec spec;
    spec.kind = llmbench::eval::TaskKind::arc_challenge;
    spec.path = arc_path;
    std::map<std::string, std::string> gold;
    for (const auto& item : llmbench::eval::prepare_items(spec)) gold[item.prompt.text] = item.gold;
    MockConfig cfg;
    cfg.natural_tokens = 1000;
    cfg.responder = [gold](const std::string& prompt) { return "Answer: " + gold.at(prompt); };
    return cfg;
}
}  // namespace

TEST_CASE("eval-suite: records and a summary per task - a rerun with the same output resumes") {
    MockConfig cfg = arc_answering_mock();
    MockOllama mock(cfg);
    const std::string out = write_temp("evals.jsonl", "");
    std::remove(out.c_str());
    const std::vector<std::string> args = {LLMBENCH_EVAL_SUITE_PATH, "--model", "llama3.1:8b", "--tasks", "arc_challenge",
                                           "--path", "arc_challenge=" + arc_path, "--host", "127.0.0.1:" + std::to_string(mock.port()),
                                           "--output", out, "--quiet"};
    const auto first = run_program(args, [](pid_t, const std::string&) {});
    CHECK_MESSAGE(first.exit_code == 0, first.err);
    const auto types = types_of(first.lines);
    REQUIRE(types.size() == 5);
    CHECK(types[0] == "metadata");
    CHECK(types[1] == "eval_item");
    CHECK(types[4] == "eval_summary");
    CHECK(first.lines[4].find(R"("score":{"correct":3,"n":3,"accuracy":1,)") != std::string::npos);

    const auto again = run_program(args, [](pid_t, const std::string&) {});
    CHECK(again.exit_code == 0);
    REQUIRE(types_of(again.lines).size() == 2);  // metadata and summary: nothing asked again
    CHECK(again.lines[1].find(R"("score":{"correct":3,"n":3,"accuracy":1,)") != std::string::npos);
    std::remove(out.c_str());

    auto bad = args;
    bad[4] = "nonsense";
    const auto e = run_program(bad, [](pid_t, const std::string&) {});
    CHECK(e.exit_code == 2);
    CHECK(e.err.find("unknown task 'nonsense'") != std::string::npos);
}

TEST_CASE("eval-suite --host a,b spreads the items over both servers - each record names its server") {
    MockConfig cfg = arc_answering_mock();
    cfg.token_delay = std::chrono::milliseconds(2);  // both workers get items
    MockOllama a(cfg), b(cfg);
    const std::string host_a = "127.0.0.1:" + std::to_string(a.port()), host_b = "127.0.0.1:" + std::to_string(b.port());
    const auto run = run_program({LLMBENCH_EVAL_SUITE_PATH, "--model", "llama3.1:8b", "--tasks", "arc_challenge", "--path",
                                  "arc_challenge=" + arc_path, "--host", host_a + "," + host_b, "--quiet"},
                                 [](pid_t, const std::string&) {});
    CHECK_MESSAGE(run.exit_code == 0, run.err);
    const auto types = types_of(run.lines);
    REQUIRE(types.size() == 6);
    CHECK(types[0] == "metadata");  // one per server
    CHECK(types[1] == "metadata");
    std::set<std::string> servers;
    for (std::size_t i = 2; i < 5; ++i) {
        CHECK(types[i] == "eval_item");
        for (const auto& h : {host_a, host_b})
            if (run.lines[i].find(R"("server_url":"http://)" + h + "\"") != std::string::npos) servers.insert(h);
    }
    CHECK(servers.size() == 2);
    CHECK(a.stream_requests().size() + b.stream_requests().size() == 3);
    CHECK_FALSE(a.stream_requests().empty());
    CHECK_FALSE(b.stream_requests().empty());
    CHECK(run.lines[5].find(R"("score":{"correct":3,"n":3,"accuracy":1,)") != std::string::npos);
}

TEST_CASE("eval-suite --style completion scores letter log-probabilities by default - a server without them is refused") {
    llmbench::eval::TaskSpec spec;
    spec.kind = llmbench::eval::TaskKind::arc_challenge;
    spec.path = arc_path;
    spec.style = llmbench::eval::PromptStyle::completion;
    std::map<std::string, std::string> gold;
    for (const auto& item : llmbench::eval::prepare_items(spec)) gold[item.prompt.text] = item.gold;
    MockConfig cfg;
    cfg.generation = llmbench::testing::MockGeneration::ollama_0_33;
    cfg.first_token = [gold](const std::string& prompt) {
        return std::vector<llmbench::TokenLogprob>{{" " + gold.at(prompt), -0.1, std::nullopt}, {" Z", -3.0, std::nullopt}};
    };
    MockOllama mock(cfg);
    std::vector<std::string> args = {LLMBENCH_EVAL_SUITE_PATH, "--model", "llama3.1:8b", "--tasks", "arc_challenge", "--path",
                                     "arc_challenge=" + spec.path, "--style", "completion", "--host",
                                     "127.0.0.1:" + std::to_string(mock.port()), "--quiet"};
    const auto run = run_program(args, [](pid_t, const std::string&) {});
    CHECK_MESSAGE(run.exit_code == 0, run.err);
    REQUIRE(types_of(run.lines).size() == 5);
    CHECK(run.lines[4].find(R"("setting":"completion/0-shot/logprob")") != std::string::npos);
    CHECK(run.lines[4].find(R"("score":{"correct":3,"n":3,"accuracy":1,)") != std::string::npos);
    CHECK(run.lines[4].find(R"("ece":)") != std::string::npos);

    MockOllama old;  // 0.5.12 ignores logprobs
    args[10] = "127.0.0.1:" + std::to_string(old.port());
    const auto refused = run_program(args, [](pid_t, const std::string&) {});
    CHECK(refused.exit_code == 2);
    CHECK(refused.err.find("returned no log-probabilities") != std::string::npos);
    args.insert(args.end(), {"--scoring", "generative"});
    const auto generative = run_program(args, [](pid_t, const std::string&) {});
    CHECK_MESSAGE(generative.exit_code == 0, generative.err);
    CHECK(generative.lines.back().find(R"("setting":"completion/0-shot")") != std::string::npos);
}
#endif

#include <llmbench/detail/fiber_loop.hpp>  // LLMBENCH_HAS_FIBER_LOOP
#include <llmbench/testing/mock_openai.hpp>

TEST_CASE("--backend openai measures an OpenAI-compatible server with the reference command line") {
    llmbench::testing::MockOpenAIConfig cfg;
    cfg.flavour = llmbench::testing::OpenAIFlavour::llamacpp;
    cfg.model = "llama3.1:8b";
    llmbench::testing::MockOpenAI mock(cfg);
    const auto prompts = write_temp("prompts.jsonl", "{\"id\":\"a\",\"prompt\":\"Why?\"}\n{\"id\":\"b\",\"prompt\":\"How?\"}\n");
    const auto o = run_bench({"--backend", "openai", "--base-url", mock.base_url() + "/v1", "--model", "llama3.1:8b", "--prompts", prompts,
                              "--runs", "2", "--temperature", "0", "--num_predict", "8", "--quiet"});
    CHECK_MESSAGE(o.exit_code == 0, o.err);
    const auto types = types_of(o.lines);
    REQUIRE(types.size() == 1 + 1 + 4 + 1);  // metadata, warm-up, 2 prompts x 2 runs, summary
    CHECK(o.lines[0].find(R"("backend":{"kind":"openai")") != std::string::npos);
    CHECK(o.lines[2].find(R"("backend":"openai")") != std::string::npos);
    CHECK(o.lines[2].find(R"("eval_count":8)") != std::string::npos);
    CHECK(o.lines[2].find(R"("eval_duration_ns":12000000)") != std::string::npos);  // llama.cpp timings, ms -> ns
    const auto bodies = mock.bodies();
    REQUIRE(!bodies.empty());
    CHECK(bodies.back().find(R"("max_tokens":8,"temperature":0)") != std::string::npos);
    const auto missing = run_bench({"--backend", "openai", "--model", "m", "--prompts", prompts});
    CHECK(missing.exit_code == 2);
    CHECK(missing.err.find("--backend openai needs --base-url") != std::string::npos);
    std::remove(prompts.c_str());
}

TEST_CASE("load mode: --concurrency streams at once, a line per request and a load summary") {
    llmbench::testing::MockOpenAIConfig cfg;
    cfg.model = "llama3.1:8b";
    cfg.slots = 2;  // the server serves two at a time: the other two wait
    cfg.token_delay = std::chrono::milliseconds(1);
    llmbench::testing::MockOpenAI mock(cfg);
    const auto prompts = write_temp("prompts.jsonl", "{\"id\":\"a\",\"prompt\":\"Why?\"}\n");
    const auto o = run_bench({"--backend", "openai", "--base-url", mock.base_url(), "--model", "llama3.1:8b", "--prompts", prompts,
                              "--num_predict", "8", "--concurrency", "4", "--requests", "8", "--warmup", "0", "--slo", "ttft_s=5", "--quiet",
                              "--loop-threads", "1"});
    CHECK_MESSAGE(o.exit_code == 0, o.err);
    const auto types = types_of(o.lines);
    REQUIRE(types.size() == 1 + 8 + 1);
    CHECK(o.lines.back().find(LLMBENCH_HAS_FIBER_LOOP ? R"("driver":"event_loop","driver_threads":1)" : R"("driver":"threads")") != std::string::npos);
    CHECK(types[1] == "load_request");
    CHECK(types.back() == "load_summary");
    CHECK(o.lines.back().find(R"("mode":"closed_loop","concurrency":4,)") != std::string::npos);
    CHECK(o.lines.back().find(R"("succeeded":8,)") != std::string::npos);
    CHECK(o.lines.back().find(R"("peak_concurrency":4,)") != std::string::npos);
    CHECK(mock.peak_in_flight() == 2);
    CHECK(o.lines[1].find(R"("output_tokens":8,)") != std::string::npos);
    std::remove(prompts.c_str());
}

#include <llmbench/report/console_reporter.hpp>
#include <llmbench/report/html_reporter.hpp>

#include <sstream>

TEST_CASE("a sweep: --concurrency 1,2,4 runs each level, and the report draws latency against throughput") {
    llmbench::testing::MockOpenAIConfig cfg;
    cfg.model = "llama3.1:8b";
    cfg.slots = 2;  // beyond two streams, requests queue: TTFT grows with the level
    cfg.token_delay = std::chrono::milliseconds(1);
    llmbench::testing::MockOpenAI mock(cfg);
    const auto prompts = write_temp("prompts.jsonl", "{\"id\":\"a\",\"prompt\":\"Why?\"}\n");
    const auto o = run_bench({"--backend", "openai", "--base-url", mock.base_url(), "--model", "llama3.1:8b", "--prompts", prompts,
                              "--num_predict", "10", "--concurrency", "1,2,4", "--requests", "8", "--warmup", "1"});
    CHECK_MESSAGE(o.exit_code == 0, o.err);
    std::vector<std::string> summaries;
    std::string text;
    for (const auto& line : o.lines) {
        text += line + "\n";
        if (line.find(R"("type":"load_summary")") != std::string::npos) summaries.push_back(line);
    }
    REQUIRE(summaries.size() == 3);
    for (std::size_t level = 0; level < 3; ++level) {
        CHECK(summaries[level].find("\"level\":" + std::to_string(level)) != std::string::npos);
        CHECK(summaries[level].find("\"concurrency\":" + std::to_string(1 << level) + ",") != std::string::npos);
    }
    CHECK(o.err.find("load 4 streams: 8/8 ok") != std::string::npos);

    const auto results = llmbench::parse_result_set({{"sweep.jsonl", text}});
    REQUIRE(results.files[0].load.size() == 3);
    const auto& levels = results.files[0].load;
    CHECK(levels[2].value("ttft_s.p50").value_or(0) > levels[0].value("ttft_s.p50").value_or(1));  // 4 streams on 2 slots queue
    std::ostringstream console, html;
    llmbench::ConsoleReporter().report(results, console);
    CHECK(console.str().find("== load") != std::string::npos);
    CHECK(console.str().find("4 streams") != std::string::npos);
    llmbench::HtmlReporter().report(results, html);
    CHECK(html.str().find("data-chart=\"load-ttft\"") != std::string::npos);
    CHECK(html.str().find("data-chart=\"load-tpot\"") != std::string::npos);
    CHECK(html.str().find("TTFT p99") != std::string::npos);

    const auto rates = run_bench({"--backend", "openai", "--base-url", mock.base_url(), "--model", "llama3.1:8b", "--prompts", prompts,
                                  "--num_predict", "4", "--request-rate", "50,100", "--requests", "6", "--warmup", "0", "--quiet"});
    CHECK_MESSAGE(rates.exit_code == 0, rates.err);
    CHECK(types_of(rates.lines).size() == 1 + 2 * (6 + 1));
    const auto both = run_bench({"--backend", "openai", "--base-url", mock.base_url(), "--model", "m", "--prompts", prompts,
                                 "--concurrency", "1,2", "--request-rate", "1,2"});
    CHECK(both.exit_code == 2);
    CHECK(both.err.find("sweep one of them") != std::string::npos);
    std::remove(prompts.c_str());
}

TEST_CASE("bench-matrix --backend openai: prompt x output lengths against an OpenAI-compatible server") {
    llmbench::testing::MockOpenAIConfig cfg;
    cfg.flavour = llmbench::testing::OpenAIFlavour::llamacpp;
    cfg.model = "qwen";
    cfg.tokens = 100;
    llmbench::testing::MockOpenAI mock(cfg);
    const auto o = run_matrix({"--backend", "openai", "--base-url", mock.base_url(), "--model", "qwen", "--prompt-tokens", "40,120",
                               "--num-predict", "5", "--runs", "2", "--warmup", "0", "--quiet"});
    CHECK_MESSAGE(o.exit_code == 0, o.err);
    const auto types = types_of(o.lines);
    CHECK(std::count(types.begin(), types.end(), "cell") == 2);
    CHECK(std::count(types.begin(), types.end(), "run") == 5);  // one warm-up: the first request the server sees
    REQUIRE(!o.lines.empty());
    CHECK(o.lines[0].find(R"("kind":"openai")") != std::string::npos);
    const auto ctx = run_matrix({"--backend", "openai", "--base-url", mock.base_url(), "--model", "qwen", "--num_ctx", "4096",
                                 "--prompt-tokens", "40", "--num-predict", "5", "--quiet"});
    CHECK(ctx.exit_code == 2);
    CHECK(ctx.err.find("fixes its context at start") != std::string::npos);
}

TEST_CASE("the roofline in ollama-bench: bytes and bandwidth in the metadata, a share per run, a row in the report") {
    const auto prompts = write_temp("prompts.jsonl", "{\"id\":\"a\",\"prompt\":\"Why is the sky blue?\"}\n");
    const auto o = run_bench({"--demo", "--model", "llama3.1:8b", "--prompts", prompts, "--runs", "2", "--num-predict", "8",
                              "--mem-bandwidth-gbs", "100"});
    CHECK_MESSAGE(o.exit_code == 0, o.err);
    REQUIRE(o.lines.size() >= 3);
    // The mock's llama3.1:8b Q4_K_M: 4,920,753,328 B file less 128,256 x 4,096 embedding weights.
    CHECK(o.lines[0].find(R"("roofline":{"weight_bytes_per_token":4598839553.98)") != std::string::npos);
    CHECK(o.lines[0].find(R"("kv_bytes_per_position":131072,)") != std::string::npos);
    // The mock says the model is all in VRAM; on a host without a GPU it is on the CPU (placement).
    const bool on_cpu = o.lines[0].find(R"("placement":"cpu")") != std::string::npos;
    CHECK((on_cpu || o.lines[0].find(R"("placement":"gpu")") != std::string::npos));
    CHECK(o.lines[0].find(std::string(on_cpu ? "\"cpu" : "\"gpu") + R"(_bandwidth":{"bytes_per_s":1e+11,"source":"--mem-bandwidth-gbs"})") != std::string::npos);
    std::string text;
    for (const auto& line : o.lines) text += line + "\n";
    CHECK(o.lines[2].find("\"roofline_efficiency\":") != std::string::npos);
    CHECK(o.err.find("roofline_efficiency") != std::string::npos);  // the summary table has the row
    const auto results = llmbench::parse_result_set({{"roofline.jsonl", text}});
    std::ostringstream console, html;
    llmbench::ConsoleReporter().report(results, console);
    CHECK(console.str().find("roofline eff.") != std::string::npos);
    llmbench::HtmlReporter().report(results, html);
    CHECK(html.str().find("data-chart=\"roofline_efficiency\"") != std::string::npos);

    const auto off = run_bench({"--demo", "--model", "llama3.1:8b", "--prompts", prompts, "--runs", "1", "--num-predict", "4", "--no-roofline"});
    CHECK(off.exit_code == 0);
    CHECK(off.lines[0].find(R"("roofline":null)") != std::string::npos);
    CHECK(off.lines[1].find(R"("roofline_efficiency":null)") != std::string::npos);
    std::remove(prompts.c_str());
}

#if defined(LLMBENCH_EVAL_SUITE_PATH) && defined(LLMBENCH_NIAH_PATH)
TEST_CASE("eval-suite and niah --backend openai run end to end against a llama.cpp-flavoured server") {
    llmbench::testing::MockOpenAIConfig cfg;
    cfg.flavour = llmbench::testing::OpenAIFlavour::llamacpp;
    cfg.model = "llama3.1:8b";
    cfg.tokens = 6;
    llmbench::testing::MockOpenAI mock(cfg);
    const std::string arc = std::string(LLMBENCH_TEST_DATA_DIR) + "/eval/arc.jsonl";
    for (const std::string style : {"chat", "completion"}) {
        CAPTURE(style);
        const std::size_t before = mock.bodies().size();
        const auto e = run_program({LLMBENCH_EVAL_SUITE_PATH, "--backend", "openai", "--base-url", mock.base_url(), "--model", "llama3.1:8b",
                                    "--tasks", "arc_challenge", "--path", "arc_challenge=" + arc, "--style", style, "--quiet"},
                                   [](pid_t, const std::string&) {});
        CHECK_MESSAGE(e.exit_code == 0, e.err);
        const auto types = types_of(e.lines);
        REQUIRE(types.size() == 5);  // metadata, three items, summary
        CHECK(e.lines[0].find(R"("backend":{"kind":"openai")") != std::string::npos);
        for (int i = 1; i <= 3; ++i) {
            CHECK(types[static_cast<std::size_t>(i)] == "eval_item");
            CHECK(e.lines[static_cast<std::size_t>(i)].find(R"("ok":true)") != std::string::npos);
            CHECK(e.lines[static_cast<std::size_t>(i)].find(R"("eval_count":)") != std::string::npos);
        }
        CHECK(e.lines[4].find(R"("backend":"openai")") != std::string::npos);
        CHECK(e.lines[4].find(R"("n":3)") != std::string::npos);
        const auto bodies = mock.bodies();
        REQUIRE(bodies.size() == before + 3);
        // chat: the question as a user message; completion: the raw prompt to /v1/completions.
        CHECK(bodies.back().find(style == "chat" ? R"("messages":)" : R"("prompt":)") != std::string::npos);
    }
    const auto ctx = run_program({LLMBENCH_EVAL_SUITE_PATH, "--backend", "openai", "--base-url", mock.base_url(), "--model", "llama3.1:8b",
                                  "--tasks", "arc_challenge", "--path", "arc_challenge=" + arc, "--num_ctx", "8192", "--quiet"},
                                 [](pid_t, const std::string&) {});
    CHECK(ctx.exit_code == 2);
    CHECK(ctx.err.find("--num_ctx needs a server that takes the context size per request; the openai backend cannot") != std::string::npos);

    const auto n = run_program({LLMBENCH_NIAH_PATH, "--backend", "openai", "--base-url", mock.base_url(), "--model", "llama3.1:8b", "--lengths",
                                "512,1024", "--depths", "0,100", "--quiet"},
                               [](pid_t, const std::string&) {});
    CHECK_MESSAGE(n.exit_code == 0, n.err);
    const auto ntypes = types_of(n.lines);
    REQUIRE(ntypes.size() == 1 + 4 + 1);  // metadata, 2 lengths x 2 depths, summary
    CHECK(n.lines[0].find(R"("backend":{"kind":"openai")") != std::string::npos);
    for (std::size_t i = 1; i <= 4; ++i) {
        CHECK(ntypes[i] == "niah_trial");
        CHECK(n.lines[i].find(R"("ok":true)") != std::string::npos);
        CHECK(n.lines[i].find(R"("truncated":false)") != std::string::npos);  // the server's own counts, calibrated
    }
    CHECK(ntypes.back() == "niah_summary");
}
#endif

namespace {
/// Each of the four programs exits non-zero on `option value`, names the option, and writes nothing.
void check_every_program_refuses(const char* option, const char* value) {
    for (const char* program : {LLMBENCH_OLLAMA_BENCH_PATH, LLMBENCH_BENCH_MATRIX_PATH, LLMBENCH_EVAL_SUITE_PATH, LLMBENCH_NIAH_PATH}) {
        INFO(program);
        const auto o = run_program({program, option, value, "--model", "m"}, [](pid_t, const std::string&) {});
        CHECK(o.exit_code == 2);
        CHECK(o.err.find(option) != std::string::npos);
        CHECK(o.lines.empty());
    }
}
}  // namespace

#if defined(LLMBENCH_REPORT_PATH) && defined(LLMBENCH_COMPARE_PATH)
TEST_CASE("every program exits 2 on an unknown flag, a bad value or a missing argument - CLI11's message names it, --help exits 0") {
    const std::string results = std::string(LLMBENCH_TEST_DATA_DIR) + "/results-small.jsonl";
    const auto prompts = write_temp("exit-codes.jsonl", three_prompts);
    struct Case {
        const char* program;
        std::vector<std::string> valid;      // arguments that parse
        std::vector<std::string> bad_value;  // a known option with a value it refuses
        std::string option;                  // which the message must name
    };
    const std::vector<Case> cases = {
        {LLMBENCH_OLLAMA_BENCH_PATH, {"--model", "m", "--prompts", prompts}, {"--runs", "many"}, "--runs"},
        {LLMBENCH_BENCH_MATRIX_PATH, {"--model", "m"}, {"--runs", "many"}, "--runs"},
        {LLMBENCH_EVAL_SUITE_PATH, {"--model", "m"}, {"--style", "poetry"}, "--style"},
        {LLMBENCH_NIAH_PATH, {"--model", "m"}, {"--logprobs", "99"}, "--logprobs"},
        {LLMBENCH_REPORT_PATH, {results}, {"--format", "pdf"}, "--format"},
        {LLMBENCH_COMPARE_PATH, {results, results}, {"--alpha", "2"}, "--alpha"},
    };
    for (const auto& c : cases) {
        INFO(c.program);
        std::vector<std::string> with_unknown = {c.program, "--no-such-flag"};
        with_unknown.insert(with_unknown.end(), c.valid.begin(), c.valid.end());
        const auto unknown = run_program(with_unknown, [](pid_t, const std::string&) {});
        CHECK(unknown.exit_code == 2);  // was CLI11's 109
        CHECK(unknown.err.find("--no-such-flag") != std::string::npos);
        std::vector<std::string> args = {c.program};
        args.insert(args.end(), c.valid.begin(), c.valid.end());
        args.insert(args.end(), c.bad_value.begin(), c.bad_value.end());
        const auto bad = run_program(args, [](pid_t, const std::string&) {});
        CHECK(bad.exit_code == 2);  // was CLI11's 105 or 106
        CHECK(bad.err.find(c.option) != std::string::npos);
        CHECK(bad.lines.empty());
        const auto help = run_program({c.program, "--help"}, [](pid_t, const std::string&) {});
        CHECK(help.exit_code == 0);
    }
    const auto missing = run_program({LLMBENCH_REPORT_PATH}, [](pid_t, const std::string&) {});  // the files are required
    CHECK(missing.exit_code == 2);
    CHECK(missing.err.find("files is required") != std::string::npos);
    std::remove(prompts.c_str());
}
#endif

TEST_CASE("--logprobs: every program takes 0-20 and refuses more - ollama-bench records each token's log-probabilities") {
    check_every_program_refuses("--logprobs", "21");
    const auto prompts = write_temp("logprobs.jsonl", three_prompts);
    const auto o = run_bench({"--demo", "--backend", "openai", "--model", "m", "--prompts", prompts, "--runs", "1", "--num-predict", "4",
                              "--logprobs", "2"});
    CHECK_MESSAGE(o.exit_code == 0, o.err);
    REQUIRE(o.lines.size() > 1);
    CHECK(o.lines[0].find(R"("cache_prompt":null,"logprobs":2})") != std::string::npos);
    std::size_t runs = 0;
    for (const auto& line : o.lines) {
        if (line.find(R"("type":"run")") == std::string::npos) continue;
        ++runs;
        CHECK(line.find(R"("logprobs":[{"token":"Hello","logprob":-0.125,"id":1000,"top_logprobs":[{"token":"Hello")") != std::string::npos);
    }
    CHECK(runs == 3 + 1);  // three prompts and the warm-up
    std::remove(prompts.c_str());
}

TEST_CASE("ollama-bench --server-metrics: the server's counters over the runs beside the client's totals") {
    const auto prompts = write_temp("metrics.jsonl", three_prompts);
    const auto refused = run_bench({"--demo", "--model", "m", "--prompts", prompts, "--runs", "1", "--server-metrics"});
    CHECK(refused.exit_code == 2);
    CHECK(refused.err.find("--server-metrics: Ollama has no /metrics") != std::string::npos);
    CHECK(refused.lines.empty());
    const auto o = run_bench({"--demo", "--backend", "openai", "--model", "m", "--prompts", prompts, "--runs", "2", "--num-predict", "4",
                              "--server-metrics"});
    CHECK_MESSAGE(o.exit_code == 0, o.err);
    const auto types = types_of(o.lines);
    REQUIRE(std::count(types.begin(), types.end(), "server_metrics") == 1);
    const std::string& line = o.lines[static_cast<std::size_t>(std::find(types.begin(), types.end(), "server_metrics") - types.begin())];
    // 3 prompts x 2 runs + 1 warm-up, 4 tokens each; the preload request came before the first reading
    CHECK(line.find(R"("llamacpp:tokens_predicted_total":{"before":1,"after":29,"delta":28,"client":28})") != std::string::npos);
    CHECK(line.find(R"("client":{"requests":7,)") != std::string::npos);
    simdjson::dom::parser parser;
    const simdjson::dom::element doc = parser.parse(line);
    CHECK(doc["counters"]["llamacpp:prompt_tokens_total"]["delta"].get_double().value() ==
          doc["counters"]["llamacpp:prompt_tokens_total"]["client"].get_double().value());
    CHECK(o.lines[0].find(R"("server":{"parallel":1,)") != std::string::npos);  // /props total_slots
    std::remove(prompts.c_str());
}

TEST_CASE("--think: every program takes it and refuses a level it does not know - ollama-bench records what it sent") {
    check_every_program_refuses("--think", "max");
    const auto prompts = write_temp("think.jsonl", three_prompts);
    const auto o = run_bench({"--demo", "--model", "llama3.1:8b", "--prompts", prompts, "--runs", "1", "--num-predict", "4", "--think", "high"});
    CHECK_MESSAGE(o.exit_code == 0, o.err);
    REQUIRE_FALSE(o.lines.empty());
    CHECK(o.lines[0].find(R"("controls":{"think":"high","truncate":null,"shift":null,"cache_prompt":null,"logprobs":null})") != std::string::npos);
    const auto plain = run_bench({"--demo", "--model", "llama3.1:8b", "--prompts", prompts, "--runs", "1", "--num-predict", "4"});
    REQUIRE_FALSE(plain.lines.empty());
    CHECK(plain.lines[0].find(R"("controls":{"think":null,)") != std::string::npos);  // not given, not sent
    std::remove(prompts.c_str());
}

TEST_CASE("ollama-bench --shard I/N: four shards together do the unsharded run's work - merged, their records match it field by field") {
    MockOllama mock;
    std::string prompts_text;
    for (int p = 0; p < 6; ++p) prompts_text += "{\"id\":\"q" + std::to_string(p) + "\",\"prompt\":\"Question number " + std::to_string(p) + " of six?\"}\n";
    const auto prompts = write_temp("shard_prompts.jsonl", prompts_text);
    const std::vector<std::string> common{"--model", "llama3.1:8b", "--prompts", prompts, "--runs", "2", "--temperature", "0", "--seed", "1",
                                          "--num_predict", "8", "--host", "127.0.0.1:" + std::to_string(mock.port()), "--quiet"};
    const auto whole_path = temp_path("shard_whole.jsonl");
    auto args = common;
    args.insert(args.end(), {"--output", whole_path});
    REQUIRE(run_bench(args).exit_code == 0);
    std::vector<std::string> shard_paths;
    for (int i = 0; i < 4; ++i) {
        shard_paths.push_back(temp_path("shard_" + std::to_string(i) + ".jsonl"));
        args = common;
        args.insert(args.end(), {"--shard", std::to_string(i) + "/4", "--output", shard_paths.back()});
        const auto o = run_bench(args);
        CHECK_MESSAGE(o.exit_code == 0, o.err);
        CHECK(o.lines.front().find("\"shard\":{\"index\":" + std::to_string(i) + ",\"count\":4}") != std::string::npos);
    }
    const auto single = llmbench::load_result_set({whole_path});
    const auto merged = llmbench::load_result_set(shard_paths);
    REQUIRE(merged.files.size() == 1);
    // Timed runs, keyed by (prompt, run): the same set, each the same but for its timings.
    const auto timed = [](const llmbench::ResultSet& set) {
        std::map<std::pair<std::string, int>, const llmbench::RunRecord*> out;
        for (const auto& r : set.files[0].runs)
            if (!r.run.id.warmup) CHECK(out.emplace(std::make_pair(r.run.id.prompt_id, r.run.id.run_index), &r.run).second);  // none twice
        return out;
    };
    const auto a = timed(single), b = timed(merged);
    REQUIRE(a.size() == 12);
    REQUIRE(b.size() == 12);
    // ... and merged in the single run's order: run 0's prompts q0..q5, then run 1's.
    const auto timed_order = [](const llmbench::ResultSet& set) {
        std::vector<std::string> out;
        for (const auto& r : set.files[0].runs)
            if (!r.run.id.warmup) out.push_back(r.run.id.prompt_id + "/" + std::to_string(r.run.id.run_index));
        return out;
    };
    CHECK(timed_order(merged) == timed_order(single));
    CHECK(timed_order(single).front() == "q0/0");
    CHECK(timed_order(single).back() == "q5/1");
    for (const auto& entry : a) {
        const auto& key = entry.first;
        const llmbench::RunRecord* x = entry.second;
        REQUIRE(b.count(key) == 1);
        const llmbench::RunRecord& y = *b.at(key);
        CAPTURE(key.first);
        CHECK(x->ok() == y.ok());
        CHECK(x->id.model == y.id.model);
        CHECK(x->id.num_predict == y.id.num_predict);
        CHECK(x->server.eval_count == y.server.eval_count);
        CHECK(x->server.prompt_eval_count == y.server.prompt_eval_count);
        CHECK(x->client.content_chunks == y.client.content_chunks);
        CHECK(x->output.bytes == y.output.bytes);
        CHECK(x->output.sha256 == y.output.sha256);
        CHECK(x->outcome.error_kind == y.outcome.error_kind);
        CHECK_FALSE(x->shard.has_value());
        REQUIRE(y.shard.has_value());
        const auto position = static_cast<std::size_t>(std::stoi(key.first.substr(1)));
        CHECK(y.shard->index == position % 4);  // prompt p is shard p mod 4's, with all its runs
    }
    REQUIRE(single.cells.size() == 1);
    REQUIRE(merged.cells.size() == 1);
    CHECK(single.cells[0].timed_runs() == merged.cells[0].timed_runs());
    for (const char* metric : {"eval_count", "prompt_eval_count"}) {  // the counts; the timings differ run to run
        CAPTURE(metric);
        REQUIRE(single.cells[0].stats.count(metric) == 1);
        CHECK(single.cells[0].stat(metric).mean == merged.cells[0].stat(metric).mean);
        CHECK(single.cells[0].stat(metric).n == merged.cells[0].stat(metric).n);
    }
#if defined(LLMBENCH_REPORT_PATH) && defined(LLMBENCH_COMPARE_PATH)
    // The report merges them too; a missing shard is refused, naming it.
    const auto report = run_program({LLMBENCH_REPORT_PATH, shard_paths[0], shard_paths[1], shard_paths[2], shard_paths[3]}, [](pid_t, const std::string&) {});
    CHECK_MESSAGE(report.exit_code == 0, report.err);
    const auto incomplete = run_program({LLMBENCH_REPORT_PATH, shard_paths[0], shard_paths[1], shard_paths[3]}, [](pid_t, const std::string&) {});
    CHECK(incomplete.exit_code == 2);
    CHECK(incomplete.err.find("shard 2/4 missing") != std::string::npos);
    const auto compared = run_program({LLMBENCH_COMPARE_PATH, whole_path, shard_paths[0] + "," + shard_paths[1] + "," + shard_paths[2] + "," + shard_paths[3], "--force"},
                                      [](pid_t, const std::string&) {});
    CHECK_MESSAGE(compared.exit_code == 0, compared.err);
#endif
    args = common;
    args.insert(args.end(), {"--shard", "4/4"});
    const auto bad = run_bench(args);
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("--shard 4/4") != std::string::npos);
    for (const auto& p : shard_paths) std::remove(p.c_str());
    std::remove(whole_path.c_str());
    std::remove(prompts.c_str());
}

TEST_CASE("bench-matrix --shard I/N: two shards run every cell once between them - merged, the same runs as one process") {
    MockOllama mock;
    const auto file = write_temp("shard_matrix.json",
                                 R"({"models":["llama3.1:8b"],"num_ctx":[2048],"prompt_tokens":[40,90],"num_predict":[3,5],"runs":2})");
    const std::vector<std::string> common{"--matrix", file, "--host", "127.0.0.1:" + std::to_string(mock.port()), "--quiet"};
    const auto whole_path = temp_path("shard_matrix_whole.jsonl");
    auto args = common;
    args.insert(args.end(), {"--output", whole_path});
    REQUIRE(run_matrix(args).exit_code == 0);
    std::vector<std::string> shard_paths;
    for (int i = 0; i < 2; ++i) {
        shard_paths.push_back(temp_path("shard_matrix_" + std::to_string(i) + ".jsonl"));
        args = common;
        args.insert(args.end(), {"--shard", std::to_string(i) + "/2", "--output", shard_paths.back()});
        const auto o = run_matrix(args);
        CHECK_MESSAGE(o.exit_code == 0, o.err);
        const auto types = types_of(o.lines);
        CHECK(std::count(types.begin(), types.end(), "cell") == 2);  // 2 of the 4 cells
    }
    const auto single = llmbench::load_result_set({whole_path});
    const auto merged = llmbench::load_result_set(shard_paths);
    REQUIRE(merged.files.size() == 1);
    REQUIRE(single.cells.size() == 4);
    REQUIRE(merged.cells.size() == 4);
    std::map<std::string, const llmbench::RunRecord*> a, b;  // timed runs by "prompt id/run"
    for (const auto& r : single.files[0].runs)
        if (!r.run.id.warmup) a[r.run.id.prompt_id + "/" + std::to_string(r.run.id.run_index)] = &r.run;
    for (const auto& r : merged.files[0].runs)
        if (!r.run.id.warmup) CHECK(b.emplace(r.run.id.prompt_id + "/" + std::to_string(r.run.id.run_index), &r.run).second);
    REQUIRE(a.size() == 8);
    REQUIRE(b.size() == 8);
    for (const auto& entry : a) {
        const std::string& key = entry.first;
        CAPTURE(key);
        REQUIRE(b.count(key) == 1);
        const llmbench::RunRecord& x = *entry.second;
        const llmbench::RunRecord& y = *b.at(key);
        REQUIRE(x.cell.has_value());
        REQUIRE(y.cell.has_value());
        CHECK(x.cell->prompt_tokens == y.cell->prompt_tokens);
        CHECK(x.cell->num_predict == y.cell->num_predict);
        CHECK(x.server.eval_count == y.server.eval_count);
        CHECK(x.server.prompt_eval_count == y.server.prompt_eval_count);
        CHECK(x.ok() == y.ok());
        REQUIRE(y.shard.has_value());
        CHECK(y.shard->index == static_cast<std::size_t>(std::stoi(key.substr(4))) % 2);  // "cell<i>/...": cell i is shard i mod 2's
    }
    for (std::size_t c = 0; c < 4; ++c) {  // merged, the cells in the single run's order (shard 0 ran cells 0 and 2)
        const auto& x = single.cells[c];
        const auto& y = merged.cells[c];
        CAPTURE(x.label());
        CHECK(x.label() == y.label());
        CHECK(x.timed_runs() == y.timed_runs());
        CHECK(x.stat("eval_count").n == y.stat("eval_count").n);
        CHECK(x.stat("eval_count").mean == y.stat("eval_count").mean);
    }
    std::vector<std::string> order_single, order_merged;  // every run, warm-ups too: a cell's warm-up comes first in it
    for (const auto& r : single.files[0].runs) order_single.push_back(r.run.id.prompt_id + "/" + std::to_string(r.run.id.run_index) + (r.run.id.warmup ? "w" : ""));
    for (const auto& r : merged.files[0].runs) order_merged.push_back(r.run.id.prompt_id + "/" + std::to_string(r.run.id.run_index) + (r.run.id.warmup ? "w" : ""));
    CHECK(order_merged == order_single);
    args = common;
    args.insert(args.end(), {"--shard", "4/5"});
    const auto none = run_matrix(args);
    CHECK(none.exit_code == 2);
    CHECK(none.err.find("the matrix has 4 cells, none for this shard") != std::string::npos);
    for (const auto& p : shard_paths) std::remove(p.c_str());
    std::remove(whole_path.c_str());
    std::remove(file.c_str());
}

#if defined(LLMBENCH_EVAL_SUITE_PATH)
TEST_CASE("eval-suite --shard I/N: four shards score every item once between them - merged, each summary equals the single run's") {
    // Completion style, letter log-probabilities: the calibration's sums of fractions must
    // come out the same too. The mock prefers the right letter for some items only.
    std::map<std::string, std::string> gold;
    for (const auto& [kind, path] : {std::pair<llmbench::eval::TaskKind, std::string>{llmbench::eval::TaskKind::arc_challenge, arc_path},
                                     {llmbench::eval::TaskKind::mmlu, std::string(LLMBENCH_TEST_DATA_DIR) + "/eval/mmlu"}}) {
        llmbench::eval::TaskSpec spec;
        spec.kind = kind;
        spec.path = path;
        spec.style = llmbench::eval::PromptStyle::completion;
        for (const auto& item : llmbench::eval::prepare_items(spec)) gold[item.prompt.text] = item.gold;
    }
    MockConfig cfg;
    cfg.generation = llmbench::testing::MockGeneration::ollama_0_33;
    cfg.first_token = [gold](const std::string& prompt) {
        const std::string right = " " + gold.at(prompt), wrong = right == " A" ? " B" : " A";
        const bool knows = prompt.size() % 3 != 0;
        return std::vector<llmbench::TokenLogprob>{{knows ? right : wrong, -0.2, std::nullopt}, {knows ? wrong : right, -1.9, std::nullopt}};
    };
    MockOllama mock(cfg);
    const std::vector<std::string> common{LLMBENCH_EVAL_SUITE_PATH, "--model", "llama3.1:8b", "--tasks", "mmlu,arc_challenge", "--path",
                                          "arc_challenge=" + arc_path, "--path", "mmlu=" + std::string(LLMBENCH_TEST_DATA_DIR) + "/eval/mmlu",
                                          "--style", "completion", "--host", "127.0.0.1:" + std::to_string(mock.port()), "--quiet"};
    const auto whole_path = temp_path("eval_shard_whole.jsonl");
    auto args = common;
    args.insert(args.end(), {"--output", whole_path});
    const auto whole = run_program(args, [](pid_t, const std::string&) {});
    REQUIRE_MESSAGE(whole.exit_code == 0, whole.err);
    std::vector<std::string> shard_paths;
    std::size_t items_in_shards = 0;
    for (int i = 0; i < 4; ++i) {
        shard_paths.push_back(temp_path("eval_shard_" + std::to_string(i) + ".jsonl"));
        args = common;
        args.insert(args.end(), {"--shard", std::to_string(i) + "/4", "--output", shard_paths.back()});
        const auto o = run_program(args, [](pid_t, const std::string&) {});
        CHECK_MESSAGE(o.exit_code == 0, o.err);
        const std::string mark = "\"shard\":{\"index\":" + std::to_string(i) + ",\"count\":4}";
        for (const auto& line : o.lines) CHECK(line.find(mark) != std::string::npos);  // metadata, every item, every summary
        for (const auto& t : types_of(o.lines)) items_in_shards += t == "eval_item" ? 1U : 0U;
    }
    CHECK(items_in_shards == 8);  // 5 MMLU + 3 ARC, each once
    const auto single = llmbench::load_result_set({whole_path});
    const auto merged = llmbench::load_result_set(shard_paths);
    REQUIRE(merged.files.size() == 1);
    const auto& a = single.files[0].eval_summaries;
    const auto& b = merged.files[0].eval_summaries;
    REQUIRE(a.size() == 2);
    REQUIRE(b.size() == 2);
    CHECK(merged.files[0].eval_items.size() == single.files[0].eval_items.size());
    const auto same_score = [](const llmbench::EvalScore& x, const llmbench::EvalScore& y) {
        CHECK(x.correct == y.correct);
        CHECK(x.n == y.n);
        CHECK(x.accuracy == y.accuracy);
        CHECK(x.ci95_low == y.ci95_low);
        CHECK(x.ci95_high == y.ci95_high);
    };
    for (std::size_t t = 0; t < 2; ++t) {
        CAPTURE(a[t].task);
        CHECK(a[t].task == b[t].task);
        CHECK(a[t].setting == b[t].setting);
        CHECK(a[t].scoring_method == "logprob");
        CHECK(a[t].model == b[t].model);
        CHECK(a[t].backend == b[t].backend);
        CHECK(a[t].dataset_sha256 == b[t].dataset_sha256);
        same_score(a[t].score, b[t].score);
        CHECK(a[t].failed_requests == b[t].failed_requests);
        CHECK(a[t].unparsable == b[t].unparsable);
        CHECK(a[t].no_letter_in_top_k == b[t].no_letter_in_top_k);
        REQUIRE(a[t].ece.has_value());
        CHECK(a[t].ece == b[t].ece);  // exactly: the items are summed in one order
        CHECK(a[t].brier == b[t].brier);
        CHECK(a[t].mean_confidence == b[t].mean_confidence);
        REQUIRE(a[t].reliability.size() == b[t].reliability.size());
        for (std::size_t i = 0; i < a[t].reliability.size(); ++i) {
            CHECK(a[t].reliability[i].n == b[t].reliability[i].n);
            CHECK(a[t].reliability[i].accuracy == b[t].reliability[i].accuracy);
            CHECK(a[t].reliability[i].mean_confidence == b[t].reliability[i].mean_confidence);
        }
        CHECK(a[t].macro_accuracy == b[t].macro_accuracy);
        REQUIRE(a[t].per_subject.size() == b[t].per_subject.size());
        for (const auto& [subject, score] : a[t].per_subject) {
            REQUIRE(b[t].per_subject.count(subject) == 1);
            same_score(score, b[t].per_subject.at(subject));
        }
        CHECK(a[t].per_category.size() == b[t].per_category.size());
    }
    CHECK(a[0].task == "mmlu");
    CHECK(a[0].score.n == 5);
    CHECK(a[0].score.correct > 0);  // the mock knows some, not all: the merge has something to get wrong
    CHECK(a[0].score.correct < 5);
    CHECK(a[0].per_subject.size() == 2);
    const auto shard0 = llmbench::parse_results(test_util::read_text(shard_paths[0]), shard_paths[0]);
    REQUIRE(shard0.eval_summaries.size() == 2);
    CHECK(shard0.eval_summaries[0].score.n == 2);  // alone, a shard's summary covers its own items: MMLU 0 and 4
#if defined(LLMBENCH_REPORT_PATH) && defined(LLMBENCH_COMPARE_PATH)
    const auto report = run_program({LLMBENCH_REPORT_PATH, shard_paths[0], shard_paths[1], shard_paths[2], shard_paths[3]}, [](pid_t, const std::string&) {});
    CHECK_MESSAGE(report.exit_code == 0, report.err);
    const auto incomplete = run_program({LLMBENCH_REPORT_PATH, shard_paths[0], shard_paths[2], shard_paths[3]}, [](pid_t, const std::string&) {});
    CHECK(incomplete.exit_code == 2);
    CHECK(incomplete.err.find("shard 1/4 missing") != std::string::npos);
    const auto compared = run_program({LLMBENCH_COMPARE_PATH, whole_path, shard_paths[0] + "," + shard_paths[1] + "," + shard_paths[2] + "," + shard_paths[3], "--force"},
                                      [](pid_t, const std::string&) {});
    CHECK_MESSAGE(compared.exit_code == 0, compared.err);
#endif
    // A shard cut off before its summary is refused by name, not merged short.
    std::string text = test_util::read_text(shard_paths[2]);
    text = text.substr(0, text.rfind("{\"type\":\"eval_summary\""));
    std::ofstream(shard_paths[2], std::ios::binary | std::ios::trunc) << text;
    try {
        (void)llmbench::load_result_set(shard_paths);
        FAIL("a shard without its summary was merged");
    } catch (const llmbench::error& e) {
        const doctest::String message(e.what());
        CHECK_MESSAGE(std::string(e.what()).find("shard 2/4 (" + shard_paths[2] + ") has no eval_summary of arc_challenge (completion/0-shot/logprob)") != std::string::npos, message);
    }
    for (const auto& p : shard_paths) std::remove(p.c_str());
    std::remove(whole_path.c_str());
}
#endif

#if defined(LLMBENCH_NIAH_PATH)
namespace {
/// A niah_summary with its timings (TTFT, prefill rate means) masked: what two runs of one sweep share.
std::string niah_summary_untimed(const std::vector<std::string>& lines) {
    static const std::regex timing("\"(ttft_s_mean|prompt_toks_per_s_mean)\":[^,}]+");
    for (const auto& line : lines)
        if (line.find("\"type\":\"niah_summary\"") != std::string::npos) return std::regex_replace(line, timing, "\"$1\":T");
    return "";
}
/// (length, repetition, depth, needle) of each trial line, in order.
std::vector<std::string> niah_trial_keys(const std::vector<std::string>& lines) {
    static const std::regex fields("\"length_tokens\":(\\d+),\"depth_percent\":(\\d+),\"repetition\":(\\d+),\"needle_kind\":\"[a-z_]+\",\"needle_key\":\"([^\"]+)\"");
    std::vector<std::string> out;
    std::smatch m;
    for (const auto& line : lines)
        if (line.find("\"type\":\"niah_trial\"") != std::string::npos && std::regex_search(line, m, fields))
            out.push_back(m[1].str() + "/" + m[3].str() + "/" + m[2].str() + "/" + m[4].str());
    return out;
}
}  // namespace

TEST_CASE("niah --shard I/N: three shards run every trial once between them - niah --merge gives the single run's summary") {
    const std::vector<std::string> common{LLMBENCH_NIAH_PATH, "--demo", "--model", "llama3.1:8b", "--lengths", "1k,2k", "--depths", "0,50,100",
                                          "--reps", "2", "--quiet"};
    const auto whole = run_program(common, [](pid_t, const std::string&) {});
    REQUIRE_MESSAGE(whole.exit_code == 0, whole.err);
    const auto whole_keys = niah_trial_keys(whole.lines);
    REQUIRE(whole_keys.size() == 12);
    std::vector<std::string> shard_paths;
    std::size_t trials = 0;
    for (int i = 0; i < 3; ++i) {
        shard_paths.push_back(temp_path("niah_shard_" + std::to_string(i) + ".jsonl"));
        auto args = common;
        args.insert(args.end(), {"--shard", std::to_string(i) + "/3", "--output", shard_paths.back()});
        const auto o = run_program(args, [](pid_t, const std::string&) {});
        CHECK_MESSAGE(o.exit_code == 0, o.err);
        const std::string mark = "\"shard\":{\"index\":" + std::to_string(i) + ",\"count\":3}";
        for (const auto& line : o.lines) CHECK(line.find(mark) != std::string::npos);  // metadata, every trial, the summary
        const auto keys = niah_trial_keys(o.lines);
        trials += keys.size();
        for (const auto& k : keys) {  // trial k of the sweep is shard k mod 3's
            const auto at = std::find(whole_keys.begin(), whole_keys.end(), k);
            REQUIRE(at != whole_keys.end());
            CHECK(static_cast<std::size_t>(at - whole_keys.begin()) % 3 == static_cast<std::size_t>(i));
        }
    }
    CHECK(trials == 12);
    const auto html = temp_path("niah_merged.html");
    const auto merged = run_program({LLMBENCH_NIAH_PATH, "--merge", shard_paths[2], shard_paths[0], shard_paths[1], "--html", html}, [](pid_t, const std::string&) {});
    REQUIRE_MESSAGE(merged.exit_code == 0, merged.err);
    CHECK(niah_trial_keys(merged.lines) == whole_keys);  // back in the sweep's order
    const std::string a = niah_summary_untimed(whole.lines), b = niah_summary_untimed(merged.lines);
    REQUIRE_FALSE(a.empty());
    CHECK(a == b);
    CHECK(a.find("\"shard\":null") != std::string::npos);
    CHECK(niah_summary_untimed(test_util::split_lines(test_util::read_text(shard_paths[0]))) != a);  // a shard alone is not the sweep
    CHECK(merged.err.find("length") != std::string::npos);  // the table
    CHECK(test_util::read_text(html).find("Retrieval accuracy by length and depth") != std::string::npos);
    CHECK(merged.lines.front().find("\"shard\":null") != std::string::npos);

    const auto incomplete = run_program({LLMBENCH_NIAH_PATH, "--merge", shard_paths[0], shard_paths[2]}, [](pid_t, const std::string&) {});
    CHECK(incomplete.exit_code == 2);
    CHECK(incomplete.err.find("shard 1/3 missing") != std::string::npos);
    const auto doubled = run_program({LLMBENCH_NIAH_PATH, "--merge", shard_paths[0], shard_paths[1], shard_paths[1]}, [](pid_t, const std::string&) {});
    CHECK(doubled.exit_code == 2);
    CHECK(doubled.err.find("shard 1/3 is given twice") != std::string::npos);
    const auto whole_path = write_temp("niah_whole.jsonl", whole.lines.front() + "\n");
    const auto unsharded = run_program({LLMBENCH_NIAH_PATH, "--merge", whole_path}, [](pid_t, const std::string&) {});
    CHECK(unsharded.exit_code == 2);
    CHECK(unsharded.err.find(whole_path + ": not a shard file") != std::string::npos);
    std::string cut = test_util::read_text(shard_paths[1]);
    std::ofstream(shard_paths[1], std::ios::binary | std::ios::trunc) << cut.substr(0, cut.find("{\"type\":\"niah_summary\""));
    const auto unfinished = run_program({LLMBENCH_NIAH_PATH, "--merge", shard_paths[0], shard_paths[1], shard_paths[2]}, [](pid_t, const std::string&) {});
    CHECK(unfinished.exit_code == 2);
    CHECK(unfinished.err.find("shard 1/3 (" + shard_paths[1] + ") has no niah_summary") != std::string::npos);
    auto none = common;
    none.insert(none.end(), {"--shard", "12/13"});
    const auto empty_shard = run_program(none, [](pid_t, const std::string&) {});
    CHECK(empty_shard.exit_code == 2);
    CHECK(empty_shard.err.find("the sweep has 12 trials, none for this shard") != std::string::npos);
    for (const auto& p : shard_paths) std::remove(p.c_str());
    std::remove(html.c_str());
    std::remove(whole_path.c_str());
}
#endif

TEST_CASE("ollama-bench --memory with fake RAPL counters: joules_per_token is the counters' difference over the generated tokens - idle subtracted and throttling reported") {
    // The mock's "model" spends 1.5 J of package and 0.25 J of DRAM energy per request, in
    // the fake powercap tree the program reads through LLMBENCH_SYSFS_ROOT.
    const auto root = std::filesystem::temp_directory_path() / ("llmbench-e2e-sysfs-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root);
    const auto zone = [&](const std::string& name, const std::string& label) {
        std::filesystem::create_directories(root / "class/powercap" / name);
        std::ofstream(root / "class/powercap" / name / "name") << label << '\n';
        std::ofstream(root / "class/powercap" / name / "max_energy_range_uj") << "262143328850\n";
    };
    zone("intel-rapl:0", "package-0");
    zone("intel-rapl:0:1", "dram");
    std::filesystem::create_directories(root / "devices/system/cpu/cpu0/thermal_throttle");  // Intel's throttle counter
    std::ofstream(root / "devices/system/cpu/cpu0/thermal_throttle/core_throttle_count") << "0\n";
    auto package_uj = std::make_shared<std::atomic<long long>>(262143328850LL - 500'000);  // wraps during the first request
    auto dram_uj = std::make_shared<std::atomic<long long>>(0);
    const auto write_counters = [root, package_uj, dram_uj] {
        std::ofstream(root / "class/powercap/intel-rapl:0/energy_uj", std::ios::trunc) << package_uj->load() % 262143328850LL << '\n';
        std::ofstream(root / "class/powercap/intel-rapl:0:1/energy_uj", std::ios::trunc) << dram_uj->load() << '\n';
    };
    write_counters();
    MockConfig cfg;
    auto requests = std::make_shared<std::atomic<int>>(0);
    cfg.responder = [package_uj, dram_uj, write_counters, requests, root](const std::string&) {
        *package_uj += 1'500'000;
        *dram_uj += 250'000;
        write_counters();
        if (++*requests == 5) std::ofstream(root / "devices/system/cpu/cpu0/thermal_throttle/core_throttle_count", std::ios::trunc) << "2\n";  // it got hot
        return std::string("one two three four five six seven eight");
    };
    MockOllama mock(cfg);
    const auto prompts = write_temp("energy_prompts.jsonl", three_prompts);
    ::setenv("LLMBENCH_SYSFS_ROOT", root.c_str(), 1);
    const auto o = run_bench({"--model", "llama3.1:8b", "--prompts", prompts, "--runs", "2", "--memory", "--subtract-idle", "--host",
                              "127.0.0.1:" + std::to_string(mock.port())});
    ::unsetenv("LLMBENCH_SYSFS_ROOT");
    REQUIRE_MESSAGE(o.exit_code == 0, o.err);
    std::string text;
    for (const auto& line : o.lines) text += line + "\n";
    const auto set = llmbench::parse_results(text, "energy");
    std::size_t checked = 0;
    for (const auto& r : set.runs) {
        CAPTURE(r.where);
        if (r.run.id.warmup) continue;
        REQUIRE(r.run.memory.has_value());
        REQUIRE(r.run.memory->energy_j.has_value());
        CHECK(*r.run.memory->energy_j == doctest::Approx(1.75).epsilon(1e-9));  // package + DRAM; the first across the wrap
        CHECK(r.run.memory->energy_source == "rapl");
        CHECK(r.run.memory->energy_zones_j.at("rapl:intel-rapl:0") == doctest::Approx(1.5).epsilon(1e-9));
        REQUIRE(r.run.server.eval_count.has_value());
        REQUIRE(r.run.joules_per_token().has_value());
        CHECK(*r.run.joules_per_token() == doctest::Approx(1.75 / static_cast<double>(*r.run.server.eval_count)).epsilon(1e-9));
        CHECK(r.value("joules_per_token") == r.run.joules_per_token());  // the line's value, read back
        // The joules came before the first token (the mock spends them as it reads the prompt).
        CHECK(r.run.memory->energy_prefill_j == doctest::Approx(1.75).epsilon(1e-9));
        ++checked;
    }
    CHECK(checked == 6);
    // --subtract-idle: nothing moved the counters during the 2 s at rest, so 0 W, reported and subtracted.
    CHECK(o.lines.front().find(R"("idle_power":{"watts":0,)") != std::string::npos);
    CHECK(o.lines.front().find(R"("source":"rapl","subtracted":true})") != std::string::npos);
    for (const auto& r : set.runs) CHECK(r.run.memory->energy_idle_j == 0.0);
    // The throttle counter moved mid-run: the summary says so, with the conditions at both ends.
    const auto summary = std::find_if(o.lines.begin(), o.lines.end(), [](const std::string& l) { return l.find(R"("type":"summary")") != std::string::npos; });
    REQUIRE(summary != o.lines.end());
    CHECK(summary->find("the CPU was throttled (2 thermal throttling events)") != std::string::npos);
    CHECK(summary->find(R"("throttle_events":0,"speed_limit_percent":null},"end":)") != std::string::npos);
    CHECK(summary->find(R"("throttled":true)") != std::string::npos);
    CHECK(o.err.find("warning: the CPU was throttled") != std::string::npos);  // the human table says it too
    std::filesystem::remove_all(root);
    std::remove(prompts.c_str());
}

TEST_CASE("ollama-bench --memory with a stand-in powermetrics: each run's energy is the SoC's - CPU and GPU and ANE - and joules_per_token is it over the generated tokens") {
    const auto root = std::filesystem::temp_directory_path() / ("llmbench-e2e-nosysfs-" + std::to_string(::getpid()));
    std::filesystem::create_directories(root);  // no RAPL, no GPU: powermetrics is the only source
    MockConfig cfg;
    cfg.token_delay = std::chrono::milliseconds(30);  // 8 tokens: about 250 ms a request, two or three samples
    cfg.responder = [](const std::string&) { return std::string("one two three four five six seven eight"); };
    MockOllama mock(cfg);
    const auto prompts = write_temp("powermetrics_prompts.jsonl", three_prompts);
    ::setenv("LLMBENCH_SYSFS_ROOT", root.c_str(), 1);
    ::setenv("LLMBENCH_POWERMETRICS", (std::string(LLMBENCH_FAKES_DIR) + "/powermetrics").c_str(), 1);
    ::setenv("FAKE_POWERMETRICS_ANE_MW", "500", 1);
    const auto o = run_bench({"--model", "llama3.1:8b", "--prompts", prompts, "--runs", "2", "--memory", "--host", "127.0.0.1:" + std::to_string(mock.port())});
    ::unsetenv("FAKE_POWERMETRICS_ANE_MW");
    ::unsetenv("LLMBENCH_POWERMETRICS");
    ::unsetenv("LLMBENCH_SYSFS_ROOT");
    REQUIRE_MESSAGE(o.exit_code == 0, o.err);
    std::string text;
    for (const auto& line : o.lines) text += line + "\n";
    const auto set = llmbench::parse_results(text, "powermetrics");
    std::size_t checked = 0;
    for (const auto& r : set.runs) {
        CAPTURE(r.where);
        if (r.run.id.warmup) continue;
        REQUIRE(r.run.memory.has_value());
        const auto& m = *r.run.memory;
        CHECK(m.energy_source == "powermetrics");
        REQUIRE(m.energy_j.has_value());
        double zones = 0;
        for (const char* zone : {"powermetrics:cpu", "powermetrics:gpu", "powermetrics:ane"}) {
            REQUIRE(m.energy_zones_j.count(zone) == 1);
            zones += m.energy_zones_j.at(zone);
        }
        CHECK(*m.energy_j == doctest::Approx(zones).epsilon(1e-9));
        // 17 W (4.5 CPU, 12 GPU, 0.5 ANE) over the request, give or take one 100 ms sample at each end.
        REQUIRE(r.run.client.wall_s.has_value());
        CHECK(*m.energy_j > 0);
        CHECK(*m.energy_j <= 17.0 * (*r.run.client.wall_s + 0.25));
        CHECK(m.energy_zones_j.at("powermetrics:gpu") == doctest::Approx(*m.energy_j * 12.0 / 17.0).epsilon(0.01));
        REQUIRE(r.run.joules_per_token().has_value());
        CHECK(*r.run.joules_per_token() == doctest::Approx(*m.energy_j / static_cast<double>(*r.run.server.eval_count)).epsilon(1e-9));
        ++checked;
    }
    CHECK(checked == 6);
    std::filesystem::remove_all(root);
    std::remove(prompts.c_str());
}
