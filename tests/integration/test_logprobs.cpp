// Log-probabilities (RequestControls::logprobs, --logprobs): on the wire in each API's own
// words, parsed per generated token on both clients, one entry per token, thinking included.
#include <llmbench/client/ollama_client.hpp>
#include <llmbench/client/openai_client.hpp>
#include <llmbench/core/run_record.hpp>
#include <llmbench/testing/mock_ollama.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include <doctest/doctest.h>

using namespace llmbench;

namespace {
RequestControls asking(int top) {
    RequestControls c;
    c.logprobs = top;
    return c;
}

/// Every entry: the sampled token leads its `top` alternatives, which grow less likely, and
/// the sampled tokens spell `text`.
void check_entries(const StreamResult& r, const std::string& text, std::size_t top) {
    REQUIRE_MESSAGE(r.ok(), std::string(r.failure ? r.failure->what() : ""));
    std::string spelled;
    for (const auto& t : r.logprobs) {
        spelled += t.sampled.token;
        CHECK(t.sampled.logprob < 0);
        REQUIRE(t.top.size() == top);
        if (top > 0) CHECK(t.top[0].token == t.sampled.token);
        for (std::size_t k = 1; k < top; ++k) CHECK(t.top[k].logprob < t.top[k - 1].logprob);
    }
    CHECK(spelled == text);
}
}  // namespace

TEST_CASE("Ollama 0.33: logprobs and top_logprobs on generate and chat, one entry per generated token, thinking included") {
    testing::MockConfig cfg;
    cfg.generation = testing::MockGeneration::ollama_0_33;
    cfg.thinker = [](const std::string&) { return std::string("Let me think."); };
    testing::MockOllama mock(cfg);
    OllamaClient client(mock.endpoint());
    GenerateRequest gen{"llama3.1:8b", "Why is the sky blue?", {}, {}, {}, {}, true, asking(3)};
    gen.options.num_predict = 8;
    StreamTimer t1;
    const auto g = client.generate(gen, t1);
    REQUIRE(g.ok());
    CHECK(mock.stream_requests().back().body.find(R"("logprobs":true,"top_logprobs":3)") != std::string::npos);
    REQUIRE(g.server.eval_count == 8);
    CHECK(g.logprobs.size() == 8);  // 3 thinking tokens, then 5 of the answer
    check_entries(g, g.thinking + g.text, 3);

    ChatRequest chat{"llama3.1:8b", {{"user", "hi"}}, {}, {}, true, asking(0)};
    chat.options.num_predict = 6;
    StreamTimer t2;
    const auto c = client.chat(chat, t2);
    REQUIRE(c.ok());
    CHECK(mock.stream_requests().back().body.find(R"("logprobs":true,"top_logprobs":0)") != std::string::npos);
    CHECK(c.logprobs.size() == 6);
    check_entries(c, c.thinking + c.text, 0);

    StreamTimer t3;
    gen.controls = {};
    const auto plain = client.generate(gen, t3);
    REQUIRE(plain.ok());
    CHECK(mock.stream_requests().back().body.find("logprobs") == std::string::npos);  // not asked, not sent
    CHECK(plain.logprobs.empty());
}

TEST_CASE("Ollama 0.5 has no log-probabilities: asking gets none, and the run is still measured") {
    testing::MockOllama mock;  // generation ollama_0_5
    OllamaClient client(mock.endpoint());
    GenerateRequest gen{"llama3.1:8b", "hi", {}, {}, {}, {}, true, asking(2)};
    gen.options.num_predict = 4;
    StreamTimer timer;
    const auto r = client.generate(gen, timer);
    REQUIRE(r.ok());
    CHECK(r.logprobs.empty());
    CHECK(r.server.eval_count == 4);
}

TEST_CASE("OpenAI-style servers: chat sends logprobs + top_logprobs, completions logprobs N - both shapes of the reply parse") {
    for (auto flavour : {testing::OpenAIFlavour::llamacpp, testing::OpenAIFlavour::ollama, testing::OpenAIFlavour::vllm, testing::OpenAIFlavour::openai}) {
        CAPTURE(static_cast<int>(flavour));
        testing::MockOpenAIConfig cfg;
        cfg.flavour = flavour;
        cfg.tokens = 5;
        testing::MockOpenAI mock(cfg);
        OpenAIClient client(mock.base_url());
        StreamTimer t1;
        const auto c = client.chat(ChatRequest{"mock-model", {{"user", "hi"}}, {}, {}, true, asking(4)}, t1);
        CHECK(mock.bodies().back().find(R"("logprobs":true,"top_logprobs":4)") != std::string::npos);
        REQUIRE(c.logprobs.size() == 5);
        check_entries(c, c.text, 4);
        CHECK(c.logprobs[0].sampled.id.has_value() == (flavour == testing::OpenAIFlavour::llamacpp));

        StreamTimer t2;
        const auto p = client.completion(GenerateRequest{"mock-model", "Once", {}, {}, {}, {}, true, asking(2)}, t2);
        CHECK(mock.bodies().back().find(R"("logprobs":2)") != std::string::npos);
        REQUIRE(p.logprobs.size() == 5);  // vLLM and OpenAI: the legacy tokens / token_logprobs / top_logprobs form
        check_entries(p, p.text, 2);

        StreamTimer t3;
        const auto plain = client.chat(ChatRequest{"mock-model", {{"user", "hi"}}, {}, {}, true, {}}, t3);
        CHECK(mock.bodies().back().find("logprobs") == std::string::npos);
        CHECK(plain.logprobs.empty());
    }
}

TEST_CASE("a thinking model's reasoning tokens have their log-probabilities too, before the answer's") {
    testing::MockOpenAIConfig cfg;
    cfg.flavour = testing::OpenAIFlavour::llamacpp;
    cfg.tokens = 3;
    cfg.thinking = "First, consider";
    testing::MockOpenAI mock(cfg);
    OpenAIClient client(mock.base_url());
    StreamTimer timer;
    const auto r = client.chat(ChatRequest{"mock-model", {{"user", "hi"}}, {}, {}, true, asking(1)}, timer);
    REQUIRE(r.logprobs.size() == 2 + 3);
    check_entries(r, r.thinking + r.text, 1);
    const auto rec = make_run_record(r, timer, RunIdentity{});
    CHECK(rec.output.logprobs.size() == 5);
    CHECK(rec.to_json().find(R"("logprobs":[{"token":"First,","logprob":-0.125,"id":1000,"top_logprobs":[{"token":"First,")") != std::string::npos);
}

TEST_CASE("RequestControls: logprobs goes on Ollama's requests as logprobs + top_logprobs and into the recorded controls") {
    GenerateRequest g{"m", "p", {}, {}, {}, {}, true, asking(20)};
    CHECK(g.to_json().find(R"("logprobs":true,"top_logprobs":20)") != std::string::npos);
    JsonWriter w;
    asking(7).write_json(w);
    CHECK(w.str() == R"({"think":null,"truncate":null,"shift":null,"cache_prompt":null,"logprobs":7})");
    JsonWriter none;
    RequestControls{}.write_json(none);
    CHECK(none.str().find(R"("logprobs":null)") != std::string::npos);
    CHECK(GenerateRequest{"m", "p", {}, {}, {}, {}, true, {}}.to_json().find("logprobs") == std::string::npos);
}
