// Thinking (reasoning) models: the thinking text is timed and kept apart from the answer on
// both clients; ttft_s is the first token of either kind, ttfa_s the answer's; --think goes on
// the wire only when given; evals and NIAH score the answer alone.
#include <llmbench/client/ollama_client.hpp>
#include <llmbench/client/openai_client.hpp>
#include <llmbench/eval/runner.hpp>
#include <llmbench/measure/measure.hpp>
#include <llmbench/niah/sweep.hpp>
#include <llmbench/testing/mock_ollama.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include <chrono>
#include <map>
#include <regex>

#include <doctest/doctest.h>

using namespace llmbench;
using namespace std::chrono_literals;

namespace {
/// Eight words of thinking, 60 ms apart: 420 ms from the first to the last.
const std::string thought = "Hmm, the user wants a story. Answer: B";

testing::MockConfig thinking_ollama() {
    testing::MockConfig cfg;
    cfg.generation = testing::MockGeneration::ollama_0_33;
    cfg.thinker = [](const std::string&) { return thought; };
    cfg.thinking_token_delay = 60ms;
    cfg.token_delay = 1ms;
    return cfg;
}

GenerateRequest prompt(const std::string& text, int num_predict) {
    GenerateRequest r;
    r.model = "llama3.1:8b";
    r.prompt = text;
    r.options.num_predict = num_predict;
    r.options.temperature = 0;
    return r;
}

std::size_t words(const std::string& text) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < text.size(); ++i)
        if (text[i] != ' ' && (i == 0 || text[i - 1] == ' ')) ++n;
    return n;
}
}  // namespace

TEST_CASE("StreamTimer: ttft_s is the first token of either kind, ttfa_s the first answer token - windows and gaps") {
    using clock = StreamTimer::clock;
    const clock::time_point t0{};
    StreamTimer timer;
    timer.mark_sent(t0);
    timer.mark_thinking(t0 + 100ms);
    timer.mark_thinking(t0 + 200ms);
    timer.mark_content(t0 + 500ms);
    timer.mark_content(t0 + 510ms);
    timer.mark_done(t0 + 520ms);
    CHECK(*timer.ttft_s() == doctest::Approx(0.1));
    CHECK(*timer.ttfa_s() == doctest::Approx(0.5));
    CHECK(timer.thinking_chunks() == 2);
    CHECK(timer.content_chunks() == 2);
    CHECK(*timer.decode_window_s() == doctest::Approx(0.41));
    CHECK(*timer.answer_window_s() == doctest::Approx(0.01));
    REQUIRE(timer.gaps_s().size() == 3);  // thinking -> thinking -> answer -> answer
    CHECK(timer.gaps_s()[1] == doctest::Approx(0.3));
    CHECK(*timer.chunks_per_s() == doctest::Approx(3 / 0.41));

    StreamTimer plain;  // no thinking: both clocks stop at the first answer token
    plain.mark_sent(t0);
    plain.mark_content(t0 + 50ms);
    CHECK(plain.ttft_s() == plain.ttfa_s());
    CHECK(plain.thinking_chunks() == 0);
}

TEST_CASE("Ollama thinking: 300 ms of thinking, then the answer - the record keeps them apart (generate and chat)") {
    testing::MockOllama mock(thinking_ollama());
    OllamaClient client(mock.endpoint());
    OllamaBackend backend(client);
    ChatRequest chat;
    chat.model = "llama3.1:8b";
    chat.messages = {{"user", "Tell me a story."}};
    chat.options.num_predict = 12;
    for (const Request& request : {Request(prompt("Tell me a story.", 12)), Request(chat)}) {
        const RunRecord r = measure(backend, request);
        REQUIRE_MESSAGE(r.ok(), r.outcome.error_message);
        const std::size_t thought_words = words(thought);
        CHECK(r.client.thinking_chunks == thought_words);
        CHECK(r.client.content_chunks == 12 - thought_words);  // num_predict caps both
        CHECK(r.server.eval_count == 12);
        CHECK(r.output.thinking.find("Answer: B") != std::string::npos);
        CHECK(r.output.text.find("Answer") == std::string::npos);  // the answer text is the answer alone
        CHECK(r.output.thinking_chars == thought.size());
        REQUIRE(r.client.ttft_s);
        REQUIRE(r.client.ttfa_s);
        CHECK(*r.client.ttfa_s - *r.client.ttft_s >= 0.300);  // seven 60 ms gaps of thinking first
        // ttft_s is the first thinking chunk: the mock's first write, never the answer's.
        const auto truth = mock.stream_requests().back();
        REQUIRE_FALSE(truth.writes.empty());
        REQUIRE(truth.first_content_write);
        CHECK(*r.client.first_token_at >= truth.writes.front());
        CHECK(*r.client.first_token_at < *truth.first_content_write);
        CHECK(*r.client.first_content_at >= *truth.first_content_write);
        // Ollama does not count thinking tokens apart: no answer rate rather than a wrong one.
        CHECK_FALSE(r.server.thinking_tokens);
        CHECK_FALSE(r.answer_decode_toks_per_s());
        CHECK(r.client_decode_toks_per_s());
        const std::string line = r.to_json();
        CHECK(line.find("\"thinking_chunks\":" + std::to_string(thought_words) + ",") != std::string::npos);
        CHECK(line.find(R"("ttfa_s":0.)") != std::string::npos);
    }
}

TEST_CASE("--think reaches Ollama as think (bool or level) only when given - think:false answers at once") {
    testing::MockOllama mock(thinking_ollama());
    OllamaClient client(mock.endpoint());
    OllamaBackend backend(client);
    GenerateRequest r = prompt("Tell me a story.", 8);
    (void)measure(backend, r);
    CHECK(mock.stream_requests().back().body.find("\"think\"") == std::string::npos);
    r.controls.think = Think::high;
    (void)measure(backend, r);
    CHECK(mock.stream_requests().back().body.find(R"("think":"high")") != std::string::npos);
    r.controls.think = Think::on;
    (void)measure(backend, r);
    CHECK(mock.stream_requests().back().body.find(R"("think":true)") != std::string::npos);
    r.controls.think = Think::off;
    const RunRecord off = measure(backend, r);
    CHECK(mock.stream_requests().back().body.find(R"("think":false)") != std::string::npos);
    REQUIRE(off.ok());
    CHECK(off.client.thinking_chunks == 0);
    CHECK(off.client.ttft_s == off.client.ttfa_s);
    CHECK(off.answer_decode_toks_per_s() == off.client_decode_toks_per_s());  // all tokens were the answer

    CHECK(parse_think("medium") == Think::medium);
    CHECK_FALSE(parse_think("max"));
}

TEST_CASE("OpenAI-style thinking: reasoning_content deltas, reasoning_tokens in usage, reasoning_effort on the wire") {
    testing::MockOpenAIConfig cfg;
    cfg.flavour = testing::OpenAIFlavour::openai;
    cfg.tokens = 8;
    cfg.thinking = " Let me see. The answer is 4.";
    cfg.thinking_token_delay = 60ms;
    cfg.token_delay = 2ms;
    testing::MockOpenAI mock(cfg);
    OpenAIClient client(mock.base_url());
    OpenAIBackend backend(client);
    GenerateRequest r = prompt("What is 2+2?", 64);
    const RunRecord rec = measure(backend, r);
    REQUIRE_MESSAGE(rec.ok(), rec.outcome.error_message);
    CHECK(mock.bodies().back().find("reasoning_effort") == std::string::npos);  // not given, not sent
    CHECK(rec.client.thinking_chunks == 7);
    CHECK(rec.output.thinking == cfg.thinking);
    CHECK(rec.output.text.find("answer") == std::string::npos);
    CHECK(rec.server.thinking_tokens == 7);
    CHECK(rec.server.eval_count == 15);
    CHECK(rec.answer_tokens() == 8);
    CHECK(*rec.client.ttfa_s - *rec.client.ttft_s >= 0.360);
    REQUIRE(rec.answer_decode_toks_per_s());
    CHECK(*rec.answer_decode_toks_per_s() == doctest::Approx(7.0 / *rec.client.answer_window_s));

    r.controls.think = Think::low;
    (void)measure(backend, r);
    CHECK(mock.bodies().back().find(R"("reasoning_effort":"low","chat_template_kwargs":{"enable_thinking":true})") != std::string::npos);
    r.controls.think = Think::off;
    const RunRecord off = measure(backend, r);
    CHECK(mock.bodies().back().find(R"("reasoning_effort":"none","chat_template_kwargs":{"enable_thinking":false})") != std::string::npos);
    CHECK(off.client.thinking_chunks == 0);
    CHECK_FALSE(off.server.thinking_tokens);
}

TEST_CASE("llama.cpp-flavoured thinking: reasoning_content after the null first delta - no thinking count, so no answer rate") {
    testing::MockOpenAIConfig cfg;
    cfg.flavour = testing::OpenAIFlavour::llamacpp;
    cfg.tokens = 4;
    cfg.thinking = " Think.";
    testing::MockOpenAI mock(cfg);
    OpenAIClient client(mock.base_url());
    OpenAIBackend backend(client);
    const RunRecord rec = measure(backend, prompt("hi", 16));
    REQUIRE_MESSAGE(rec.ok(), rec.outcome.error_message);
    CHECK(rec.client.thinking_chunks == 1);
    CHECK(rec.server.eval_count == 5);  // timings.predicted_n counts every generated token
    CHECK_FALSE(rec.answer_decode_toks_per_s());
}

TEST_CASE("evals score the answer, never the thinking") {
    // The model thinks the wrong letter and answers the right one, or the other way round.
    eval::TaskSpec spec;
    spec.kind = eval::TaskKind::mmlu;
    spec.path = std::string(LLMBENCH_TEST_DATA_DIR) + "/eval/mmlu";
    auto items = std::make_shared<std::map<std::string, eval::PreparedItem>>();
    for (auto& item : eval::prepare_items(spec)) items->emplace(item.prompt.text, item);
    REQUIRE_FALSE(items->empty());
    const auto wrong_of = [](const std::string& gold) { return gold == "A" ? std::string("B") : std::string("A"); };
    for (const bool answer_right : {true, false}) {
        testing::MockConfig cfg;
        cfg.natural_tokens = 4000;
        cfg.thinker = [=](const std::string& p) {
            const auto& gold = items->at(p).gold;
            return "Answer: " + (answer_right ? wrong_of(gold) : gold);
        };
        cfg.responder = [=](const std::string& p) {
            const auto& gold = items->at(p).gold;
            return "Answer: " + (answer_right ? gold : wrong_of(gold));
        };
        testing::MockOllama mock(cfg);
        eval::EvalOptions options;
        options.model = "llama3.1:8b";
        options.controls.think = Think::on;
        const Endpoint endpoint = mock.endpoint();
        eval::EvalRunner runner([endpoint] { return make_ollama_backend(endpoint); }, spec, options);
        std::vector<std::string> lines;
        runner.on_record([&](const eval::ScoredItem& item) { lines.push_back(item.to_json()); });
        const std::string summary = runner.run();
        CHECK(summary.find(answer_right ? R"("accuracy":1)" : R"("accuracy":0)") != std::string::npos);
        CHECK(summary.find(R"("controls":{"think":"on")") != std::string::npos);
        REQUIRE_FALSE(lines.empty());
        CHECK(lines[0].find(R"("thinking_chars":9)") != std::string::npos);
    }
}

TEST_CASE("NIAH scores the answer: a needle found only in the thinking is not found") {
    static const std::regex needle("special magic numbers? for [a-z]+-[a-z]+ is: ([A-Za-z0-9]+)\\.");
    const auto values = [](const std::string& p) {
        std::string out;
        for (auto it = std::sregex_iterator(p.begin(), p.end(), needle); it != std::sregex_iterator(); ++it) out += " " + (*it)[1].str();
        return out;
    };
    for (const bool in_answer : {true, false}) {
        testing::MockConfig cfg;
        cfg.natural_tokens = 200;
        cfg.thinker = [=](const std::string& p) { return in_answer ? std::string("Looking.") : "It is" + values(p) + "."; };
        cfg.responder = [=](const std::string& p) { return in_answer ? "It is" + values(p) + "." : std::string("I do not know."); };
        testing::MockOllama mock(cfg);
        OllamaClient client(mock.endpoint());
        OllamaBackend backend(client);
        niah::SweepSpec spec;
        spec.model = "llama3.1:8b";
        spec.lengths = {600};
        spec.depths = {50};
        spec.num_predict = 64;
        niah::Sweep sweep(backend, spec, niah::generated_haystack(5000, 7));
        const niah::SweepResult result = sweep.run();
        REQUIRE(result.trials.size() == 1);
        const niah::Trial& t = result.trials[0];
        REQUIRE_MESSAGE(t.timing.ok(), t.timing.outcome.error_message);
        CHECK(t.timing.client.thinking_chunks > 0);
        CHECK(t.score.exact() == in_answer);
    }
}
