// Evals end to end against a mock server that answers from a script: an oracle scores 100%,
// a wrong script 0%, a mixed one what it should; records carry timings; resume skips what is
// scored; code runs only when allowed.
#include <llmbench/detail/sha256.hpp>
#include <llmbench/eval/runner.hpp>
#include <llmbench/testing/mock_ollama.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include "../eval_test_util.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include <simdjson.h>

#include <doctest/doctest.h>

using namespace llmbench;
using namespace llmbench::eval;

namespace {
/// A mock whose reply to each prompt comes from `answer(item)`.
std::unique_ptr<testing::MockOllama> scripted_mock(const TaskSpec& spec, std::function<std::string(const PreparedItem&)> answer) {
    auto items = std::make_shared<std::map<std::string, PreparedItem>>();
    for (auto& item : prepare_items(spec)) items->emplace(item.prompt.text, item);
    testing::MockConfig cfg;
    cfg.natural_tokens = 4000;
    cfg.responder = [items, answer](const std::string& prompt) {
        const auto it = items->find(prompt);
        return it == items->end() ? std::string("I was not asked that.") : answer(it->second);
    };
    return std::make_unique<testing::MockOllama>(cfg);
}

/// One task's run against `mock`, as llama3.1:8b.
test_util::EvalOutcome run_task(const TaskSpec& spec, testing::MockOllama& mock, EvalOptions options = {}, const std::string& resume = "") {
    options.model = "llama3.1:8b";
    const Endpoint endpoint = mock.endpoint();
    return test_util::run_eval_task(
        spec,
        [endpoint] {
            auto backend = make_ollama_backend(endpoint);
            backend->set_label("mock");
            return backend;
        },
        options, resume);
}

double number_at(const std::string& json, const char* object, const char* field) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.parse(json);
    return doc[object][field].get_double();
}
}  // namespace

TEST_CASE("MMLU: an oracle scores 100%, a wrong script 0% - micro, macro and categories - timings in every record") {
    TaskSpec spec;
    spec.kind = TaskKind::mmlu;
    spec.path = test_util::eval_fixtures() + "/mmlu";
    auto oracle = scripted_mock(spec, [](const PreparedItem& i) { return "Let me think step by step.\nAnswer: " + i.gold; });
    const auto right = run_task(spec, *oracle);
    REQUIRE(right.records.size() == 5);
    CHECK(number_at(right.summary, "score", "accuracy") == 1.0);
    CHECK(right.summary.find(R"("setting":"chat/5-shot")") != std::string::npos);
    CHECK(right.summary.find(R"("macro_accuracy":1)") != std::string::npos);
    CHECK(right.summary.find(R"("STEM":{"correct":5,"n":5)") != std::string::npos);
    CHECK(right.summary.find(R"("reference":{"score":0.694)") != std::string::npos);
    CHECK(right.summary.find("generative multiple choice") != std::string::npos);
    for (const auto& r : right.records) {
        simdjson::dom::parser parser;
        double ttft = 0;
        CHECK_MESSAGE(parser.parse(r)["ttft_s"].get_double().get(ttft) == simdjson::SUCCESS, r);
        CHECK(ttft > 0);
        CHECK(ttft < 60);
        CHECK(r.find(R"("gen_toks_per_s":)") != std::string::npos);
        CHECK(r.find(R"("prompt_sha256":")") != std::string::npos);
    }
    // the prompt carried the subject's dev items as shots
    CHECK(oracle->requests().back().body.find("Example question:") != std::string::npos);

    auto wrong = scripted_mock(spec, [](const PreparedItem& i) { return std::string("Answer: ") + (i.gold == "A" ? "B" : "A"); });
    CHECK(number_at(run_task(spec, *wrong).summary, "score", "accuracy") == 0.0);
}

TEST_CASE("a mixed script gives the expected accuracy, with unparsable replies counted apart") {
    TaskSpec spec;
    spec.kind = TaskKind::arc_challenge;
    spec.path = test_util::eval_fixtures() + "/arc.jsonl";
    auto mock = scripted_mock(spec, [](const PreparedItem& i) {
        if (i.id == "Made_1") return "The answer is " + i.gold + ".";
        if (i.id == "Made_2") return std::string("Answer: A");  // wrong (gold is C)
        return std::string("I cannot decide.");               // unparsable
    });
    const auto o = run_task(spec, *mock);
    CHECK(number_at(o.summary, "score", "accuracy") == doctest::Approx(1.0 / 3));
    CHECK(o.summary.find(R"("unparsable":1,)") != std::string::npos);
    CHECK(number_at(o.summary, "score", "ci95_low") < 1.0 / 3);
    CHECK(number_at(o.summary, "score", "ci95_high") > 1.0 / 3);
}

TEST_CASE("completion style sends a raw prompt with stop strings and, scored generatively, reads a bare letter") {
    TaskSpec spec;
    spec.kind = TaskKind::hellaswag;
    spec.path = test_util::eval_fixtures() + "/hellaswag.txt";
    spec.style = PromptStyle::completion;
    spec.scoring = Scoring::generative;  // logprob is completion's default (test_eval_logprob.cpp)
    auto mock = scripted_mock(spec, [](const PreparedItem& i) { return " " + i.gold; });
    const auto o = run_task(spec, *mock);
    CHECK(number_at(o.summary, "score", "accuracy") == 1.0);
    const std::string body = mock->requests().back().body;  // requests() is a copy
    CHECK(body.find(R"("raw":true)") != std::string::npos);
    CHECK(body.find(R"("stop":["\n"])") != std::string::npos);
    CHECK(body.find(R"("num_predict":4)") != std::string::npos);
}

TEST_CASE("GSM8K: strict and flexible reported apart") {
    TaskSpec spec;
    spec.kind = TaskKind::gsm8k;
    spec.path = test_util::eval_fixtures() + "/gsm8k.jsonl";
    auto mock = scripted_mock(spec, [](const PreparedItem& i) {
        if (i.id == "0") return "3 + 4 = 7. The answer is " + i.gold + ".";  // both
        if (i.id == "1") return std::string("It makes 1,250 dollars a day.");  // flexible only
        return std::string("The answer is 3.");                                // neither (gold -3)
    });
    const auto o = run_task(spec, *mock);
    CHECK(number_at(o.summary, "strict", "correct") == 1);
    CHECK(number_at(o.summary, "flexible", "correct") == 2);
    CHECK(o.summary.find(R"("reference":{"score":0.845)") != std::string::npos);  // 8-shot chat
}

TEST_CASE("resume: a rerun with the earlier records asks only what is missing, and failed requests again") {
    TaskSpec spec;
    spec.kind = TaskKind::truthfulqa_mc1;
    spec.path = test_util::eval_fixtures() + "/truthfulqa_mc.json";
    auto mock = scripted_mock(spec, [](const PreparedItem& i) { return "Answer: " + i.gold; });
    const auto first = run_task(spec, *mock);
    REQUIRE(first.records.size() == 2);
    const std::size_t asked = mock->requests().size();

    const auto again = run_task(spec, *mock, {}, first.records[0] + "\n" + first.records[1] + "\n");
    CHECK(again.records.empty());
    CHECK(mock->requests().size() == asked);
    CHECK(number_at(again.summary, "score", "n") == 2);  // the resumed items still count
    CHECK(number_at(again.summary, "score", "accuracy") == 1.0);

    std::string failed = first.records[1];
    failed.replace(failed.find(R"("ok":true)"), 9, R"("ok":false)");
    const auto retry = run_task(spec, *mock, {}, first.records[0] + "\n" + failed + "\n{\"type\":\"eval_it");  // + a cut-off line
    CHECK(retry.records.size() == 1);
    CHECK(number_at(retry.summary, "score", "n") == 2);
}

TEST_CASE("the summary names the dataset file and its sha256, as sha256sum gives it") {
    TaskSpec spec;
    spec.kind = TaskKind::truthfulqa_mc0;  // the binary form: two options each
    spec.path = test_util::eval_fixtures() + "/truthfulqa_mc.json";
    auto mock = scripted_mock(spec, [](const PreparedItem& i) { return "Answer: " + i.gold; });
    const auto o = run_task(spec, *mock);
    std::ifstream in(spec.path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(o.summary.find(R"("dataset":{"path":")" + spec.path + R"(","sha256":")" + llmbench::detail::sha256_hex(bytes) + "\"}") !=
          std::string::npos);
    CHECK(o.summary.find(R"("task":"truthfulqa_mc0")") != std::string::npos);
    CHECK(number_at(o.summary, "score", "accuracy") == 1.0);
    REQUIRE(o.records.size() == 2);
    for (const auto& r : o.records) CHECK((r.find(R"("gold":"A")") != std::string::npos || r.find(R"("gold":"B")") != std::string::npos));

    TaskSpec folder;  // MMLU is a folder: no one file to hash
    folder.kind = TaskKind::mmlu;
    folder.path = test_util::eval_fixtures() + "/mmlu";
    folder.shots = 0;
    auto mmlu = scripted_mock(folder, [](const PreparedItem& i) { return "Answer: " + i.gold; });
    CHECK(run_task(folder, *mmlu).summary.find(R"(","sha256":null})") != std::string::npos);
}

TEST_CASE("server failures are recorded, not scored - --limit keeps the first items") {
    TaskSpec spec;
    spec.kind = TaskKind::mmlu;
    spec.path = test_util::eval_fixtures() + "/mmlu";
    spec.shots = 0;
    spec.limit = 3;
    auto mock = scripted_mock(spec, [](const PreparedItem& i) { return "Answer: " + i.gold; });
    mock->script({testing::MockFault::http_500});
    const auto o = run_task(spec, *mock);
    REQUIRE(o.records.size() == 3);
    CHECK(o.records[0].find(R"("ok":false,"error":{"kind":"http_status")") != std::string::npos);
    CHECK(number_at(o.summary, "score", "n") == 2);
    CHECK(o.summary.find(R"("failed_requests":1)") != std::string::npos);
    // round-robin over subjects: a quick run covers both
    CHECK(o.summary.find("astronomy") != std::string::npos);
    CHECK(o.summary.find("college_physics") != std::string::npos);
}

TEST_CASE("MMLU goes subject by subject - with the server's prefix reuse, shared shots are evaluated once") {
    TaskSpec spec;
    spec.kind = TaskKind::mmlu;
    spec.path = test_util::eval_fixtures() + "/mmlu";
    spec.limit = 4;  // chosen round-robin (astronomy, college_physics, astronomy, ...), sent grouped
    std::vector<std::string> subjects;
    for (const auto& item : prepare_items(spec)) subjects.push_back(item.subject);
    CHECK(subjects == std::vector<std::string>{"astronomy", "astronomy", "college_physics", "college_physics"});

    testing::MockConfig cfg;
    cfg.prefix_reuse = true;
    testing::MockOllama mock(cfg);
    OllamaClient client(mock.endpoint());
    const std::string shared = "The following are multiple choice questions (with answers) about astronomy.\n\n";  // 77 bytes
    for (const char* question : {"Q1?", "Q2, longer?"}) {
        GenerateRequest r;
        r.model = "llama3.1:8b";
        r.prompt = shared + question;
        r.options.num_predict = 1;
        StreamTimer timer;
        const auto result = client.generate(r, timer);
        REQUIRE(result.ok());
    }
    const auto log = mock.stream_requests();
    REQUIRE(log.size() == 2);
    CHECK(log[0].evaluated_tokens == log[0].prompt_tokens);  // a cold slot
    CHECK_FALSE(log[0].prompt_cache_hit);
    // the mock's tokenizer: 8 + a token per 4 bytes; the shared 78 bytes ("...\n\nQ") are 8 + 19 whole tokens
    CHECK(log[1].prompt_tokens == testing::MockOllama::count_tokens(shared + "Q2, longer?"));
    CHECK(log[1].evaluated_tokens == log[1].prompt_tokens - (8 + 78 / 4));
    CHECK(log[1].prompt_cache_hit);

    // llama-server's own report of the same reuse: timings.cache_n beside prompt_n
    testing::MockOpenAIConfig ocfg;
    ocfg.flavour = testing::OpenAIFlavour::llamacpp;
    ocfg.prefix_reuse = true;
    testing::MockOpenAI server(ocfg);
    OpenAIClient openai(server.base_url());
    std::vector<StreamResult> results;
    for (const char* question : {"Q1?", "Q2, longer?"}) {
        GenerateRequest r;
        r.model = "tiny-llama";
        r.prompt = shared + question;
        r.options.num_predict = 1;
        StreamTimer timer;
        results.push_back(openai.completion(r, timer));
        REQUIRE(results.back().ok());
    }
    CHECK(results[0].server.prompt_cached_tokens == 0);  // b10587 says cache_n 0 on a cold slot
    CHECK(results[1].server.prompt_eval_count == testing::MockOllama::count_tokens(shared + "Q2, longer?"));
    CHECK(results[1].server.prompt_cached_tokens == 8 + 78 / 4);
    CHECK(results[1].server.prompt_evaluated_tokens == *results[1].server.prompt_eval_count - (8 + 78 / 4));
}

TEST_CASE("code tasks refuse to run without --allow-code-execution - with it, pass@k over samples") {
    TaskSpec spec;
    spec.kind = TaskKind::humaneval;
    spec.path = test_util::eval_fixtures() + "/humaneval.jsonl";
    testing::MockOllama plain;
    CHECK_THROWS_WITH_AS(EvalRunner(plain.endpoint(), spec, {}), doctest::Contains("--allow-code-execution"), error);

    EvalOptions allowed;
    allowed.allow_code_execution = true;
    allowed.sandbox.wall_s = 5;
    {  // strict without a working bubblewrap: refused before any request, saying what to do
        EvalOptions no_bwrap = allowed;
        no_bwrap.sandbox.bubblewrap = "/nonexistent/bwrap";
        CHECK_THROWS_WITH_AS(EvalRunner(plain.endpoint(), spec, no_bwrap), doctest::Contains("--sandbox=weak"), error);
        CHECK(plain.requests().empty());
    }
    const bool strict = llmbench::eval::sandbox_unavailable(allowed.sandbox).empty();
    if (!strict) {
        MESSAGE("no working bubblewrap here: the weak sandbox, chosen explicitly");
        allowed.sandbox.mode = llmbench::eval::SandboxMode::weak;
    }
    // chat replies with a fenced whole function: right for add, wrong for is_even
    auto mock = scripted_mock(spec, [](const PreparedItem& i) {
        if (i.code->entry_point == "add") return std::string("```python\ndef add(a, b):\n    return a + b\n```");
        return std::string("```python\ndef is_even(n):\n    return n % 2 == 1\n```");
    });
    const auto o = run_task(spec, *mock, allowed);
    REQUIRE(o.records.size() == 2);
    CHECK(o.summary.find(R"("pass_at_k":{"1":0.5})") != std::string::npos);
    CHECK(o.records[0].find(R"("exec_status":"passed")") != std::string::npos);
    // how the code was contained, in each record and the summary
    const std::string mode = strict ? "\"bubblewrap\"" : "\"weak";
    CHECK(o.records[0].find(R"("sandbox":)" + mode) != std::string::npos);
    CHECK(o.summary.find(R"("sandbox":)" + mode) != std::string::npos);

    spec.samples = 3;
    spec.style = PromptStyle::completion;
    auto completing = scripted_mock(spec, [](const PreparedItem& i) {
        return i.code->entry_point == "add" ? std::string("    return a + b\n") : std::string("    while True:\n        pass\n");
    });
    allowed.sandbox.wall_s = 1.5;
    allowed.sandbox.cpu_s = 1;
    allowed.concurrency = 2;
    const auto k = run_task(spec, *completing, allowed);
    CHECK(k.records.size() == 6);
    CHECK(k.summary.find(R"("setting":"completion/0-shot/n=3")") != std::string::npos);
    CHECK(k.summary.find(R"("pass_at_k":{"1":0.5,"2":0.5})") != std::string::npos);
    CHECK(k.records.back().find(R"("seed":)") != std::string::npos);
    spec.temperature = 0.0;
    CHECK_THROWS_WITH_AS(EvalRunner(plain.endpoint(), spec, allowed), doctest::Contains("needs a temperature above 0"), error);
}

TEST_CASE("the real datasets with a small limit, against an oracle, when ../shared has them") {
    const std::string d = std::string(LLMBENCH_FIXTURES_DIR) + "/../../datasets";
    if (!std::filesystem::exists(d + "/mmlu")) {
        MESSAGE("skipped: no ../shared/datasets");
        return;
    }
    const std::vector<std::pair<TaskKind, std::string>> tasks = {{TaskKind::mmlu, d + "/mmlu"},
                                                                {TaskKind::arc_challenge, d + "/arc_challenge/ARC-Challenge-Test.jsonl"},
                                                                {TaskKind::hellaswag, d + "/hellaswag/hellaswag_val_full.txt.bz2"},
                                                                {TaskKind::truthfulqa_mc1, d + "/truthfulqa/v1/mc_task.json"},
                                                                {TaskKind::truthfulqa_mc0, d + "/truthfulqa/mc_task.json"},
                                                                {TaskKind::gsm8k, d + "/gsm8k/test.jsonl"}};
    for (const auto& task : tasks) {
        const TaskKind kind = task.first;  // a variable, not a binding: doctest's macros capture it
        TaskSpec spec;
        spec.kind = kind;
        spec.path = task.second;
        spec.limit = 8;
        auto mock = scripted_mock(spec, [kind](const PreparedItem& i) {
            return kind == TaskKind::gsm8k ? "The answer is " + i.gold + "." : "Answer: " + i.gold;
        });
        const auto o = run_task(spec, *mock);
        CHECK_MESSAGE(number_at(o.summary, "score", "accuracy") == 1.0, to_string(kind));
        CHECK(o.records.size() == 8);
    }
    // HumanEval's own canonical solutions, as completions, pass its own tests in the sandbox:
    // the program is assembled as the reference harness assembles it
    TaskSpec code;
    code.kind = TaskKind::humaneval;
    code.path = d + "/humaneval/HumanEval.jsonl.gz";
    code.style = PromptStyle::completion;
    code.limit = 40;
    auto canonical = scripted_mock(code, [](const PreparedItem& i) { return i.code->reference_solution; });
    EvalOptions allowed;
    allowed.allow_code_execution = true;
    allowed.concurrency = 2;
    if (!llmbench::eval::sandbox_unavailable(allowed.sandbox).empty()) allowed.sandbox.mode = llmbench::eval::SandboxMode::weak;
    const auto o = run_task(code, *canonical, allowed);
    CHECK_MESSAGE(o.summary.find(R"("pass_at_k":{"1":1})") != std::string::npos, o.summary);
    // and MBPP's reference code passes MBPP's asserts, the judge calling it across processes
    code.kind = TaskKind::mbpp;
    code.path = d + "/mbpp/mbpp.jsonl";
    auto mbpp_reference = scripted_mock(code, [](const PreparedItem& i) { return i.code->reference_solution; });
    const auto m = run_task(code, *mbpp_reference, allowed);
    CHECK_MESSAGE(m.summary.find(R"("pass_at_k":{"1":1})") != std::string::npos, m.summary);
}
