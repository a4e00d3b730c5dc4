// The client against responses captured from a real Ollama v0.5.12 (../shared/fixtures).
#include <llmbench/client/ollama_client.hpp>
#include <llmbench/client/openai_client.hpp>
#include <llmbench/core/run_record.hpp>
#include <llmbench/report/results.hpp>

#include <doctest/doctest.h>

#include "../replay_server.hpp"
#include "../test_util.hpp"

using doctest::Approx;
using namespace llmbench;

namespace {
StreamResult replay_generate(const std::string& fixture, std::size_t chunk_bytes, StreamTimer& timer) {
    ReplayServer server(test_util::read_capture(fixture), chunk_bytes);
    OllamaClient client(server.host());
    GenerateRequest req{"tiny-llama", "Once upon a time", {}, {}, {}, {}, true, {}};
    return client.generate(req, timer);
}
}  // namespace

TEST_CASE("a real generate stream parses whole at any HTTP chunk size") {
    for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{113}, std::size_t{4096}, std::size_t{100000}}) {
        CAPTURE(chunk);
        StreamTimer timer;
        const auto r = replay_generate("ollama_generate_stream.txt", chunk, timer);
        REQUIRE_MESSAGE(r.ok(), std::string(r.failure ? r.failure->what() : ""));
        CHECK(r.done);
        CHECK(r.done_reason == "length");
        CHECK(r.server.eval_count == 64);
        CHECK(r.server.eval_duration_ns == 3612000000);
        CHECK(r.server.prompt_eval_count == 12);
        CHECK(r.server.prompt_eval_duration_ns == 73000000);
        CHECK(r.server.load_duration_ns == 1057428998);
        CHECK(r.server.total_duration_ns == 4746493601);
        CHECK(r.lines == 65);
        CHECK(timer.content_chunks() == 64);
        CHECK(r.text.rfind("verbandBit Jordan", 0) == 0);
        const auto rec = make_run_record(r, timer, RunIdentity{});
        CHECK(*rec.gen_toks_per_s() == Approx(64 / 3.612));
        CHECK(*rec.prompt_toks_per_s() == Approx(12 / 0.073));
    }
}

TEST_CASE("a real chat stream and a non-streamed reply parse") {
    {
        ReplayServer server(test_util::read_capture("ollama_chat_stream.txt"), 64);
        OllamaClient client(server.host());
        StreamTimer timer;
        ChatRequest req{"tiny-llama", {{"user", "hi"}}, {}, {}, true, {}};
        const auto r = client.chat(req, timer);
        REQUIRE(r.ok());
        CHECK(r.server.eval_count == 64);
        CHECK(r.done_reason == "length");
        CHECK(r.text.rfind(" Pil мая", 0) == 0);
    }
    {
        StreamTimer timer;
        const auto r = replay_generate("ollama_generate_nonstream.txt", 0, timer);
        REQUIRE(r.ok());
        CHECK(r.server.eval_count == 16);
        CHECK(timer.content_chunks() == 1);  // the whole text arrives in the final object
    }
}

TEST_CASE("the real stream that ends with no done:true and no error is a failed run") {
    StreamTimer timer;
    const auto r = replay_generate("ollama_generate_stream_repeat_abort_oldmodel_no_headers.txt", 4096, timer);
    REQUIRE_FALSE(r.ok());
    CHECK(r.failure->code() == errc::protocol);
    CHECK(std::string(r.failure->what()).find("before done:true") != std::string::npos);
    CHECK_FALSE(r.done);
    CHECK(r.text.find(" Feb Feb Feb") != std::string::npos);  // what arrived is kept
    CHECK(timer.ttft_s().has_value());
}

TEST_CASE("real 404 bodies become model_not_found naming the model") {
    StreamTimer timer;
    ReplayServer server(test_util::read_capture("ollama_error_unknown_model_generate.txt"), 0, "application/json; charset=utf-8");
    OllamaClient client(server.host());
    GenerateRequest req{"no-such-model", "hi", {}, {}, {}, {}, true, {}};
    const auto r = client.generate(req, timer);
    REQUIRE_FALSE(r.ok());
    CHECK(r.failure->code() == errc::model_not_found);
    CHECK(r.http_status == 404);
    const std::string what = r.failure->what();
    CHECK(what.find("ollama pull no-such-model") != std::string::npos);
    CHECK(what.find("model 'no-such-model:latest' not found") != std::string::npos);

    ReplayServer show(test_util::read_capture("ollama_error_unknown_model_show.txt"), 0, "application/json");
    OllamaClient show_client(show.host());
    try {
        show_client.show("no-such-model");
        FAIL("no error");
    } catch (const error& e) {
        CHECK(e.code() == errc::model_not_found);
    }
}

TEST_CASE("real metadata replies parse") {
    {
        ReplayServer s(test_util::read_capture("ollama_show.txt"), 0, "application/json");
        OllamaClient c(s.host());
        const auto info = c.show("tiny-llama");
        CHECK(info.details.family == "llama");
        CHECK(info.details.quantization_level == "F16");
        CHECK(info.details.parameter_size == "19.79M");
        CHECK(info.details.format == "gguf");
        CHECK(info.architecture == "llama");
        CHECK(info.context_length == 8192);
        CHECK(info.parameter_count == 19794176);
    }
    {
        ReplayServer s(test_util::read_capture("ollama_ps_after.txt"), 0, "application/json");
        OllamaClient c(s.host());
        const auto ps = c.running();
        REQUIRE(ps.size() == 1);
        CHECK(ps[0].name == "tiny-llama:latest");
        CHECK(ps[0].size_bytes == 530330624);
        CHECK(ps[0].size_vram_bytes == 0);
        CHECK_FALSE(ps[0].context_length.has_value());  // not sent by 0.5.12
    }
    {
        ReplayServer s(test_util::read_capture("ollama_tags.txt"), 0, "application/json");
        OllamaClient c(s.host());
        const auto tags = c.list_models();
        REQUIRE(tags.size() == 1);
        CHECK(tags[0].digest == "a6c1ecc0ac1f608aa9d64d7b558c5355054ba3753ff63b0b35877400dff70802");
        CHECK(tags[0].details.quantization_level == "F16");
    }
    {
        ReplayServer s(test_util::read_capture("ollama_version.txt"), 0, "application/json");
        OllamaClient c(s.host());
        CHECK(c.version() == "0.5.12");
    }
}

TEST_CASE("a cut-off JSON object in the middle of a stream is a protocol error with its offset") {
    test_util::Capture c;
    c.status = 200;
    c.body = "{\"response\":\"a\",\"done\":false}\n{\"response\":\"b\",\"done\":false\n{\"response\":\"\",\"done\":true}\n";
    ReplayServer server(c, 5);
    OllamaClient client(server.host());
    StreamTimer timer;
    const auto r = client.generate(GenerateRequest{"m", "p", {}, {}, {}, {}, true, {}}, timer);
    REQUIRE_FALSE(r.ok());
    CHECK(r.failure->code() == errc::protocol);
    CHECK_MESSAGE(std::string(r.failure->what()).find("line 2 at byte offset 30") != std::string::npos, std::string(r.failure->what()));
    CHECK(r.text == "a");
}

TEST_CASE("a final chunk whose counts no int64 holds reads them as unknown, not as a wrapped number") {
    const std::string body =
        "{\"model\":\"m\",\"response\":\"Hi\",\"done\":false}\n"
        "{\"model\":\"m\",\"response\":\"\",\"done\":true,\"done_reason\":\"stop\",\"eval_count\":1e300,"
        "\"eval_duration\":-1e300,\"prompt_eval_count\":12,\"prompt_eval_duration\":1.5e7}\n";
    ReplayServer server(test_util::Capture{200, "", body}, 9);
    OllamaClient client(server.host());
    StreamTimer timer;
    GenerateRequest req;
    req.model = "m";
    req.prompt = "hi";
    const auto r = client.generate(req, timer);
    REQUIRE_MESSAGE(r.ok(), std::string(r.failure ? r.failure->what() : ""));
    CHECK_FALSE(r.server.eval_count.has_value());
    CHECK_FALSE(r.server.eval_duration_ns.has_value());
    CHECK(r.server.prompt_eval_count == 12);
    CHECK(r.server.prompt_eval_duration_ns == 15000000);
    const auto rec = make_run_record(r, timer, RunIdentity{});
    CHECK_FALSE(rec.gen_toks_per_s().has_value());
    CHECK(rec.to_json().find("-9223372036854775808") == std::string::npos);
}

TEST_CASE("Ollama 0.33.0-rc2 captures (chunked framing kept) parse at any chunking, logprobs or not") {
    for (const char* name : {"ollama-0.33.0-rc2/generate-stream-warm.http", "ollama-0.33.0-rc2/generate-stream-logprobs.http"}) {
        for (std::size_t chunk : {std::size_t{1}, std::size_t{97}, std::size_t{100000}}) {
            CAPTURE(name);
            CAPTURE(chunk);
            StreamTimer timer;
            const auto r = replay_generate(name, chunk, timer);
            REQUIRE_MESSAGE(r.ok(), std::string(r.failure ? r.failure->what() : ""));
            CHECK(r.done_reason == "length");
            CHECK(r.server.eval_count == 16);
            CHECK(r.server.prompt_eval_count == 11);
            CHECK(timer.content_chunks() == 16);
            CHECK(r.text.rfind(" PartsIpvissent uncertainties", 0) == 0);
            CHECK_FALSE(r.server.prompt_cached_tokens.has_value());  // rc2 has no prompt_eval_cached_count
            const auto rec = make_run_record(r, timer, RunIdentity{});
            CHECK_FALSE(rec.prefill_toks_per_s().has_value());   // no split: unknown, not guessed
            CHECK(rec.prompt_toks_per_s().has_value());          // the reference formula stays
        }
    }
    StreamTimer timer;
    const auto warm = replay_generate("ollama-0.33.0-rc2/generate-stream-warm.http", 4096, timer);
    CHECK(warm.server.prompt_eval_duration_ns == 2313000);
    CHECK(warm.server.eval_duration_ns == 17963000);
}

TEST_CASE("llama-server b10587's usage event: cache_n, prompt_n and cached_tokens fill the prompt split") {
    const auto capture = test_util::read_capture("llama-server-b10587/chat-stream-usage.http");
    for (std::size_t chunk : {std::size_t{1}, std::size_t{61}, std::size_t{100000}}) {
        CAPTURE(chunk);
        ReplayServer server(capture, chunk, "text/event-stream");
        OpenAIClient client(server.host());
        StreamTimer timer;
        ChatRequest req{"tiny-llama", {{"user", "hi"}}, {}, {}, true, {}};
        const auto r = client.chat(req, timer);
        REQUIRE_MESSAGE(r.ok(), std::string(r.failure ? r.failure->what() : ""));
        CHECK(r.done_reason == "length");
        CHECK(r.server.eval_count == 16);
        CHECK(r.server.prompt_eval_count == 11);
        CHECK(r.server.prompt_cached_tokens == 0);
        CHECK(r.server.prompt_evaluated_tokens == 11);
        CHECK(r.server.prompt_eval_duration_ns == 4303000);
        CHECK(r.server.eval_duration_ns == 22573000);
        auto rec = make_run_record(r, timer, RunIdentity{});
        flag_run(rec, nullptr);
        CHECK(*rec.prefill_toks_per_s() == Approx(11 / 0.004303));
        CHECK(*rec.prompt_toks_per_s() == Approx(11 / 0.004303));
        CHECK_FALSE(rec.flags.prompt_cache_suspected);  // the server says 0 cached: no heuristic
        CHECK_FALSE(rec.flags.prompt_rate_includes_cache);
    }
}

TEST_CASE("Ollama 0.33.0-rc2's overflow answers: a silent cut at HTTP 200, and with truncate:false a typed context_overflow") {
    StreamTimer timer;
    const auto cut = replay_generate("ollama-0.33.0-rc2/generate-overflow-default.http", 61, timer);
    REQUIRE(cut.ok());
    CHECK(cut.server.prompt_eval_count == 514);  // of 1,751 sent

    ReplayServer server(test_util::read_capture("ollama-0.33.0-rc2/generate-overflow-truncate-false.http"), 0, "application/json");
    OllamaClient client(server.host());
    GenerateRequest req{"stories260k", "the little girl", {}, {}, {}, {}, true, {}};
    req.controls = RequestControls{}.with_truncation(false);
    CHECK(req.to_json().find(R"("truncate":false,"shift":false)") != std::string::npos);
    StreamTimer t2;
    const auto r = client.generate(req, t2);
    REQUIRE_FALSE(r.ok());
    CHECK(r.failure->code() == errc::context_overflow);
    CHECK(r.http_status == 400);
    const std::string what = r.failure->what();
    CHECK_MESSAGE(what.find("the prompt (1751 tokens) does not fit the context (1024 tokens)") != std::string::npos, what);
    CHECK_MESSAGE(what.find("server said: request (1751 tokens) exceeds the available context size (1024 tokens)") != std::string::npos, what);
}

namespace {
/// The checks every logprobs capture passes: one entry per generated token, the sampled token
/// first among its five alternatives, the tokens spelling the text.
void check_capture_logprobs(const StreamResult& r, bool ids) {
    REQUIRE_MESSAGE(r.ok(), std::string(r.failure ? r.failure->what() : ""));
    REQUIRE(r.logprobs.size() == 16);
    std::string spelled;
    for (const auto& t : r.logprobs) {
        spelled += t.sampled.token;
        REQUIRE(t.top.size() == 5);
        CHECK(t.top[0].token == t.sampled.token);
        CHECK(t.top[0].logprob == t.sampled.logprob);
        for (std::size_t k = 1; k < t.top.size(); ++k) CHECK(t.top[k].logprob <= t.top[k - 1].logprob);
        CHECK(t.sampled.id.has_value() == ids);
    }
    CHECK(spelled == r.text);
    CHECK(r.logprobs[0].sampled.token == " Parts");
    CHECK(r.logprobs[0].top[1].token == "_sdk");
    CHECK(r.logprobs[1].top[2].token == ".MouseEventHandler");
}
}  // namespace

TEST_CASE("log-probabilities from Ollama 0.33.0-rc2 (generate, chat, /v1) and llama-server b10587 parse at any chunking") {
    for (std::size_t chunk : {std::size_t{1}, std::size_t{89}, std::size_t{100000}}) {
        CAPTURE(chunk);
        for (const char* name : {"ollama-0.33.0-rc2/generate-stream-logprobs.http", "ollama-0.33.0-rc2/chat-stream-logprobs.http"}) {
            CAPTURE(name);
            ReplayServer server(test_util::read_capture(name), chunk);
            OllamaClient client(server.host());
            StreamTimer timer;
            RequestControls controls;
            controls.logprobs = 5;
            const bool chat = std::string(name).find("chat") != std::string::npos;
            const auto r = chat ? client.chat(ChatRequest{"tiny-llama", {{"user", "hi"}}, {}, {}, true, controls}, timer)
                                : client.generate(GenerateRequest{"tiny-llama", "hi", {}, {}, {}, {}, true, controls}, timer);
            check_capture_logprobs(r, false);
            CHECK(r.logprobs[0].sampled.logprob == Approx(-5.023770809173584));
            CHECK(r.logprobs[0].top[1].logprob == Approx(-5.303775310516357));
        }
        for (const char* name : {"ollama-0.33.0-rc2/v1-chat-stream-logprobs.http", "llama-server-b10587/chat-stream-logprobs.http"}) {
            CAPTURE(name);
            ReplayServer server(test_util::read_capture(name), chunk, "text/event-stream");
            OpenAIClient client(server.host());
            StreamTimer timer;
            RequestControls controls;
            controls.logprobs = 5;
            const auto r = client.chat(ChatRequest{"tiny-llama", {{"user", "hi"}}, {}, {}, true, controls}, timer);
            const bool llamacpp = std::string(name).find("llama-server") != std::string::npos;
            check_capture_logprobs(r, llamacpp);
            CHECK(r.server.eval_count == 16);
            if (llamacpp) {
                CHECK(r.logprobs[0].sampled.id == 27399);
                CHECK(r.logprobs[0].top[4].token == "Ipv");
                CHECK(r.logprobs[0].top[4].id == 81756);
                CHECK(r.logprobs[0].sampled.logprob == Approx(-5.024769306182861));
            }
        }
    }
}

TEST_CASE("log-probabilities a request did not ask for are left unread, and a record keeps and restores them") {
    ReplayServer server(test_util::read_capture("ollama-0.33.0-rc2/generate-stream-logprobs.http"), 0);
    OllamaClient client(server.host());
    StreamTimer plain_timer;
    const auto plain = client.generate(GenerateRequest{"tiny-llama", "hi", {}, {}, {}, {}, true, {}}, plain_timer);
    REQUIRE(plain.ok());
    CHECK(plain.logprobs.empty());
    CHECK(make_run_record(plain, plain_timer, RunIdentity{}).to_json().find(R"("logprobs":null)") != std::string::npos);

    RequestControls controls;
    controls.logprobs = 5;
    StreamTimer timer;
    auto r = client.generate(GenerateRequest{"tiny-llama", "hi", {}, {}, {}, {}, true, controls}, timer);
    const auto expected = r.logprobs;
    const auto rec = make_run_record(std::move(r), timer, RunIdentity{});
    REQUIRE(rec.output.logprobs.size() == 16);
    const std::string line = rec.to_json();
    CHECK(line.find(R"("logprobs":[{"token":" Parts","logprob":-5.023770809173584,"top_logprobs":[{"token":" Parts",)") != std::string::npos);
    const auto file = parse_results(line + "\n", "line");
    REQUIRE(file.runs.size() == 1);
    const auto& back = file.runs[0].run.output.logprobs;
    REQUIRE(back.size() == expected.size());
    for (std::size_t i = 0; i < back.size(); ++i) {
        CHECK(back[i].sampled.token == expected[i].sampled.token);
        CHECK(back[i].sampled.logprob == expected[i].sampled.logprob);  // shortest round-trip form: exact
        REQUIRE(back[i].top.size() == expected[i].top.size());
        for (std::size_t k = 0; k < back[i].top.size(); ++k) {
            CHECK(back[i].top[k].token == expected[i].top[k].token);
            CHECK(back[i].top[k].logprob == expected[i].top[k].logprob);
        }
    }
}

TEST_CASE("llama-server's native /completion with n_probs and /v1/completions: completion_probabilities and logprobs.content") {
    // Bodies as llama-server b10587-era builds send them (stories260K, 2 tokens, n_probs 2 / logprobs 2).
    const std::string native =
        R"(data: {"index":0,"content":" a","tokens":[261],"stop":false,"id_slot":-1,"tokens_predicted":1,"tokens_evaluated":3,"completion_probabilities":[{"id":261,"token":" a","bytes":[32,97],"logprob":-0.01207556203007698,"top_logprobs":[{"id":261,"token":" a","bytes":[32,97],"logprob":-0.01207556203007698},{"id":407,"token":" upon","bytes":[32,117,112,111,110],"logprob":-5.44285774230957}]}]})"
        "\n\n"
        R"(data: {"index":0,"content":" time","tokens":[378],"stop":false,"id_slot":-1,"tokens_predicted":2,"tokens_evaluated":3,"completion_probabilities":[{"id":378,"token":" time","bytes":[32,116,105,109,101],"logprob":-0.0007192694465629756,"top_logprobs":[{"id":378,"token":" time","bytes":[32,116,105,109,101],"logprob":-0.0007192694465629756},{"id":276,"token":"re","bytes":[114,101],"logprob":-7.852876663208008}]}]})"
        "\n\n"
        R"(data: {"index":0,"content":"","tokens":[],"id_slot":3,"stop":true,"tokens_predicted":2,"tokens_evaluated":3,"stop_type":"limit","timings":{"cache_n":0,"prompt_n":3,"prompt_ms":0.729,"predicted_n":2,"predicted_ms":0.535}})"
        "\n\n";
    const std::string completions =
        R"(data: {"choices":[{"text":" a","index":0,"logprobs":{"content":[{"id":261,"token":" a","bytes":[32,97],"logprob":-0.01207556203007698,"top_logprobs":[{"id":261,"token":" a","bytes":[32,97],"logprob":-0.01207556203007698},{"id":407,"token":" upon","bytes":[32,117,112,111,110],"logprob":-5.442858695983887}]}]},"finish_reason":null}],"object":"text_completion"})"
        "\n\n"
        R"(data: {"choices":[{"text":" time","index":0,"logprobs":{"content":[{"id":378,"token":" time","bytes":[32,116,105,109,101],"logprob":-0.0007192694465629756,"top_logprobs":[{"id":378,"token":" time","bytes":[32,116,105,109,101],"logprob":-0.0007192694465629756},{"id":276,"token":"re","bytes":[114,101],"logprob":-7.852876663208008}]}]},"finish_reason":null}],"object":"text_completion"})"
        "\n\n"
        R"(data: {"choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"length"}],"object":"text_completion","usage":{"completion_tokens":2,"prompt_tokens":3,"total_tokens":5}})"
        "\n\ndata: [DONE]\n\n";
    for (const bool is_native : {true, false}) {
        CAPTURE(is_native);
        ReplayServer server(test_util::Capture{200, "", is_native ? native : completions}, 7, "text/event-stream");
        OpenAIClient client(server.host());
        GenerateRequest req{"m", "Once upon", {}, {}, {}, {}, true, {}};
        req.controls.logprobs = 2;
        StreamTimer timer;
        const auto r = is_native ? client.native_completion(req, timer) : client.completion(req, timer);
        REQUIRE_MESSAGE(r.ok(), std::string(r.failure ? r.failure->what() : ""));
        CHECK(r.text == " a time");
        REQUIRE(r.logprobs.size() == 2);
        CHECK(r.logprobs[0].sampled.token == " a");
        CHECK(r.logprobs[0].sampled.id == 261);
        CHECK(r.logprobs[1].sampled.logprob == Approx(-0.0007192694465629756));
        REQUIRE(r.logprobs[1].top.size() == 2);
        CHECK(r.logprobs[1].top[1].token == "re");
        CHECK(r.logprobs[1].top[1].logprob == Approx(-7.852876663208008));
    }
}
