// OpenAIClient against real captures (llama.cpp b4747, Ollama 0.5.12 /v1) replayed at several
// chunk sizes, and against every quirk of protocols.md §3 as small scripted streams.
#include <llmbench/client/openai_client.hpp>

#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "../replay_server.hpp"
#include "../test_util.hpp"

using namespace llmbench;
using namespace std::chrono_literals;

namespace {
ChatRequest chat_request() {
    ChatRequest r;
    r.model = "tiny-llama";
    r.messages = {{"user", "hi"}};
    r.options.num_predict = 64;
    return r;
}

/// A 200 text/event-stream response with `body`, replayed in 5-byte pieces.
StreamResult replay_chat(const std::string& body, StreamTimer& timer, int status = 200) {
    ReplayServer server(test_util::Capture{status, "", body}, 5, "text/event-stream");
    OpenAIClient client(server.host());
    return client.chat(chat_request(), timer);
}

std::string event(const std::string& json) { return "data: " + json + "\n\n"; }
std::string delta(const std::string& content_json, const std::string& finish = "null") {
    return event(R"({"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":)" + content_json +
                 R"(},"finish_reason":)" + finish + "}]}");
}
}  // namespace

TEST_CASE("llama.cpp /v1/chat/completions capture: text, finish_reason, usage and ms timings, at any chunking") {
    const auto capture = test_util::read_capture("llamacpp_chat_completions_stream.txt");
    for (std::size_t chunk : {1u, 7u, 4096u}) {
        ReplayServer server(capture, chunk, "text/event-stream");
        OpenAIClient client("http://" + server.host() + "/v1/");
        StreamTimer timer;
        test_util::SeenEvents seen;  // the event callback: each event's text as it comes, then one done
        const StreamResult r = client.chat(chat_request(), timer, seen.callback());
        REQUIRE_MESSAGE(r.ok(), r.failure->what());
        CHECK(seen.text == r.text);
        CHECK(seen.done == 1);
        CHECK(seen.done_last);
        CHECK(seen.events == timer.content_chunks() + 1);  // the finish_reason event has no text
        CHECK(r.done);
        CHECK(r.done_reason == "length");
        CHECK(timer.content_chunks() == 64);
        CHECK(r.server.eval_count == 64);
        CHECK(r.server.prompt_eval_count == 13);              // usage: the whole prompt, as Ollama 0.30+ counts it
        CHECK(r.server.prompt_evaluated_tokens == 12);        // timings.prompt_n
        CHECK(r.server.prompt_cached_tokens == 1);            // b4747 sends no cache_n: usage - prompt_n
        CHECK(r.server.prompt_eval_duration_ns == 7587000);   // 7.587 ms
        CHECK(r.server.eval_duration_ns == 98472000);         // 98.472 ms
        CHECK_FALSE(r.token_counts_estimated);
        CHECK(r.text.find(" мая") != std::string::npos);      // UTF-8 across 1-byte reads
    }
}

TEST_CASE("Ollama /v1 capture: role on every chunk, an empty finish chunk, usage in its own chunk") {
    ReplayServer server(test_util::read_capture("ollama_openai_chat_stream.txt"), 3, "text/event-stream");
    OpenAIClient client(server.host());
    StreamTimer timer;
    const StreamResult r = client.chat(chat_request(), timer);
    REQUIRE(r.ok());
    CHECK(r.done_reason == "length");
    CHECK(r.server.eval_count == 64);
    CHECK(r.server.prompt_eval_count == 13);
    CHECK(timer.content_chunks() == 64);  // the empty finish chunk is not a token
}

TEST_CASE("llama.cpp native /completion capture: no [DONE], stop:true ends it, stop_type limit is length") {
    ReplayServer server(test_util::read_capture("llamacpp_completion_stream.txt"), 11, "text/event-stream");
    OpenAIClient client(server.host());
    GenerateRequest g;
    g.prompt = "hi";
    g.options.num_predict = 64;
    StreamTimer timer;
    test_util::SeenEvents seen;
    const StreamResult r = client.native_completion(g, timer, seen.callback());
    REQUIRE_MESSAGE(r.ok(), r.failure->what());
    CHECK(seen.text == r.text);
    CHECK(seen.done == 1);
    CHECK(seen.done_last);
    CHECK(r.done_reason == "length");
    CHECK(r.server.eval_count == 64);
    CHECK(r.server.prompt_eval_count == 5);
    CHECK(r.server.eval_duration_ns == 96652000);
}

TEST_CASE("content:null first, keep-alive comments and CRLF: no fake first token") {
    StreamTimer timer;
    const std::string body = ": ping\r\n\r\n" +
                             event(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":null},"finish_reason":null}]})") +
                             ": ping\n\n" + delta("\"Hel\"") + delta("\"lo\"") + delta("null", "\"stop\"") +
                             event(R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}})") + "data: [DONE]\r\n\r\n";
    const StreamResult r = replay_chat(body, timer);
    REQUIRE(r.ok());
    CHECK(r.text == "Hello");
    CHECK(timer.content_chunks() == 2);
    CHECK(r.server.eval_count == 2);
    CHECK(r.done_reason == "stop");
}

TEST_CASE("usage with zeros on every chunk, then the real one: the real one counts") {
    StreamTimer timer;
    const std::string zero = R"(,"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0})";
    const std::string body = event(R"({"choices":[{"index":0,"text":"a","finish_reason":null}])" + zero + "}") +
                             event(R"({"choices":[{"index":0,"text":"b","finish_reason":"length"}])" + zero + "}") +
                             event(R"({"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}})") + "data: [DONE]\n\n";
    ReplayServer server(test_util::Capture{200, "", body}, 4, "text/event-stream");
    OpenAIClient client(server.host());
    GenerateRequest g;
    g.model = "m";
    g.prompt = "x";
    const StreamResult r = client.completion(g, timer);
    REQUIRE(r.ok());
    CHECK(r.text == "ab");
    CHECK(r.server.eval_count == 2);
    CHECK(r.server.prompt_eval_count == 9);
}

TEST_CASE("no usage at all: output tokens estimated from content chunks, and flagged") {
    StreamTimer timer;
    const StreamResult r = replay_chat(delta("\"a\"") + delta("\"b\"") + delta("\"c\"") + delta("null", "\"stop\"") + "data: [DONE]\n\n", timer);
    REQUIRE(r.ok());
    CHECK(r.server.eval_count == 3);
    CHECK(r.token_counts_estimated);
    CHECK_FALSE(r.server.prompt_eval_count.has_value());  // unknown, not 0
}

TEST_CASE("failures: vLLM's [DONE] after an error, [DONE] without finish_reason, legacy error lines, EOF mid-stream") {
    StreamTimer timer;
    auto r = replay_chat(delta("\"partial\"") + event(R"({"error":{"message":"CUDA out of memory","type":"server_error"}})") + "data: [DONE]\n\n", timer);
    REQUIRE_FALSE(r.ok());
    CHECK(r.failure->code() == errc::server);
    CHECK(std::string(r.failure->what()).find("CUDA out of memory") != std::string::npos);
    CHECK(r.text == "partial");  // kept

    r = replay_chat(delta("\"a\"") + "data: [DONE]\n\n", timer);
    REQUIRE_FALSE(r.ok());
    CHECK(r.failure->code() == errc::protocol);
    CHECK(std::string(r.failure->what()).find("[DONE] arrived without a finish_reason") != std::string::npos);

    r = replay_chat(delta("\"a\"") + "error: {\"message\":\"slot unavailable\"}\n\n", timer);
    REQUIRE_FALSE(r.ok());
    CHECK(std::string(r.failure->what()).find("slot unavailable") != std::string::npos);

    r = replay_chat(delta("\"a\"") + delta("\"b\""), timer);  // Ollama /v1's lost mid-stream error looks like this
    REQUIRE_FALSE(r.ok());
    CHECK(std::string(r.failure->what()).find("without a finish_reason") != std::string::npos);
    CHECK(r.text == "ab");

    r = replay_chat("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}\n\n", timer);
    REQUIRE_FALSE(r.ok());
    CHECK(std::string(r.failure->what()).find("malformed JSON in event 1") != std::string::npos);
}

TEST_CASE("HTTP errors: a 404 names the model - others give status and the server's message") {
    StreamTimer timer;
    auto r = replay_chat(R"({"error":{"message":"model \"nope\" not found","type":"not_found_error"}})", timer, 404);
    REQUIRE_FALSE(r.ok());
    CHECK(r.failure->code() == errc::model_not_found);
    r = replay_chat(R"({"error":{"code":500,"message":"bad messages","type":"server_error"}})", timer, 500);
    CHECK(r.failure->code() == errc::http_status);
    CHECK(std::string(r.failure->what()).find("bad messages") != std::string::npos);
    OpenAIClient nobody("127.0.0.1:1");
    r = nobody.chat(chat_request(), timer);
    CHECK(r.failure->code() == errc::connect);
    CHECK(std::string(r.failure->what()).find("--base-url") != std::string::npos);
}

TEST_CASE("the API key goes in the Authorization header and nowhere else") {
    httplib::Server server;
    std::string seen_auth, seen_body;
    server.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
        seen_auth = req.get_header_value("Authorization");
        seen_body = req.body;
        res.status = 401;
        res.set_content(R"({"error":{"message":"invalid api key","type":"authentication_error"}})", "application/json");
    });
    llmbench::detail::LoopbackServer listener;
    listener.start(server, "test server");
    const int port = listener.port();
    ::setenv("LLMBENCH_TEST_API_KEY", "sk-secret-123", 1);
    OpenAIClientOptions o;
    o.api_key_env = "LLMBENCH_TEST_API_KEY";
    StreamResult r;
    bool has_key = false;
    {
        OpenAIClient client("127.0.0.1:" + std::to_string(port), o);  // closed before the server stops
        ::unsetenv("LLMBENCH_TEST_API_KEY");
        StreamTimer timer;
        r = client.chat(chat_request(), timer);
        has_key = client.has_api_key();
    }
    listener.stop();  // the handler wrote seen_*: read them after its thread is joined
    CHECK(has_key);
    CHECK(seen_auth == "Bearer sk-secret-123");
    CHECK(seen_body.find("sk-secret") == std::string::npos);
    CHECK(seen_body.find(R"("stream":true,"stream_options":{"include_usage":true},"max_tokens":64)") != std::string::npos);
    REQUIRE_FALSE(r.ok());
    CHECK(r.failure->http_status() == 401);
    CHECK(std::string(r.failure->what()).find("sk-secret") == std::string::npos);

    // A key the program read itself (eval-suite, which then removes it from its environment
    // before running model code) is sent with no environment variable set at all.
    OpenAIClientOptions held;
    held.api_key_env = "LLMBENCH_TEST_API_KEY";
    held.api_key = "sk-held-456";
    listener.restart();
    {
        OpenAIClient client("127.0.0.1:" + std::to_string(port), held);
        StreamTimer timer;
        (void)client.chat(chat_request(), timer);
    }
    listener.stop();
    CHECK(std::getenv("LLMBENCH_TEST_API_KEY") == nullptr);
    CHECK(seen_auth == "Bearer sk-held-456");
}

TEST_CASE("both clients send llmbench's User-Agent on every call, streamed or not - the key goes on metadata calls too") {
    httplib::Server server;
    std::mutex mutex;
    std::vector<std::string> seen;  // "path UA | auth"
    const auto note = [&](const httplib::Request& req) {
        std::lock_guard<std::mutex> lock(mutex);
        const std::string once = req.get_header_value_count("User-Agent") == 1 ? "" : " (User-Agent sent more than once)";
        seen.push_back(req.path + " " + req.get_header_value("User-Agent") + once + " | " + req.get_header_value("Authorization"));
    };
    server.Get("/api/version", [&](const httplib::Request& req, httplib::Response& res) {
        note(req);
        res.set_content(R"({"version":"0.5.12"})", "application/json");
    });
    server.Post("/api/generate", [&](const httplib::Request& req, httplib::Response& res) {
        note(req);
        res.status = 500;
        res.set_content(R"({"error":"no"})", "application/json");
    });
    server.Get("/v1/models", [&](const httplib::Request& req, httplib::Response& res) {
        note(req);
        res.set_content(R"({"object":"list","data":[{"id":"m","object":"model"}]})", "application/json");
    });
    server.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
        note(req);
        res.status = 500;
        res.set_content(R"({"error":{"message":"no"}})", "application/json");
    });
    llmbench::detail::LoopbackServer listener;
    listener.start(server, "test server");
    const std::string host = "127.0.0.1:" + std::to_string(listener.port());
    ::setenv("LLMBENCH_TEST_API_KEY", "sk-ua", 1);
    OpenAIClientOptions o;
    o.api_key_env = "LLMBENCH_TEST_API_KEY";
    std::vector<std::string> models;
    std::string version;
    {
        OpenAIClient openai(host, o);
        OllamaClient ollama(host);
        ::unsetenv("LLMBENCH_TEST_API_KEY");
        StreamTimer t1, t2;
        version = ollama.version();
        CHECK_FALSE(ollama.generate(GenerateRequest{}, t1).ok());
        models = openai.models();
        CHECK_FALSE(openai.chat(chat_request(), t2).ok());
    }
    listener.stop();
    CHECK(version == "0.5.12");
    CHECK(models == std::vector<std::string>{"m"});
    const std::string ua = std::string("llmbench/") + version_string;
    CHECK(seen == std::vector<std::string>{"/api/version " + ua + " | ", "/api/generate " + ua + " | ", "/v1/models " + ua + " | Bearer sk-ua",
                                           "/v1/chat/completions " + ua + " | Bearer sk-ua"});
}

TEST_CASE("/v1/models lists the served ids") {
    ReplayServer server(test_util::read_capture("llamacpp_v1_models.txt"), 0, "application/json");
    OpenAIClient client(server.host());
    CHECK(client.models() == std::vector<std::string>{"tiny-llama"});
}

#include <llmbench/testing/mock_openai.hpp>

TEST_CASE("the mock OpenAI server in every flavour reads back as the real servers do") {
    using testing::OpenAIFlavour;
    for (auto flavour : {OpenAIFlavour::openai, OpenAIFlavour::ollama, OpenAIFlavour::llamacpp, OpenAIFlavour::vllm}) {
        testing::MockOpenAIConfig cfg;
        cfg.flavour = flavour;
        cfg.tokens = 20;
        testing::MockOpenAI mock(cfg);
        OpenAIClient client(mock.base_url());
        StreamTimer timer;
        auto r = client.chat(chat_request(), timer);  // max_tokens 64 > 20: the model stops
        REQUIRE_MESSAGE(r.ok(), r.failure->what());
        CHECK(r.done_reason == "stop");
        CHECK(r.server.eval_count == 20);
        CHECK(timer.content_chunks() == 20);
        CHECK_FALSE(r.token_counts_estimated);
        auto short_request = chat_request();
        short_request.options.num_predict = 5;
        r = client.chat(short_request, timer);
        CHECK(r.done_reason == "length");
        CHECK(r.server.eval_count == 5);
        if (flavour == OpenAIFlavour::llamacpp) CHECK(r.server.eval_duration_ns == 7500000);  // 5 x 1.5 ms
    }
}

TEST_CASE("the mock's faults over both transports: HTTP 500, an error mid-stream (vLLM: then [DONE]), EOF without finish, no usage") {
    testing::MockOpenAIConfig cfg;
    cfg.flavour = testing::OpenAIFlavour::vllm;
    testing::MockOpenAI mock(cfg);
    for (const bool kernel : {true, false}) {  // llmbench's socket reader, and cpp-httplib's (https, non-POSIX)
        CAPTURE(kernel);
        OpenAIClientOptions options;
        options.kernel_timestamps = kernel;
        OpenAIClient client(mock.base_url(), options);
        mock.script({testing::OpenAIFault::http_500, testing::OpenAIFault::error_mid_stream, testing::OpenAIFault::eof_without_finish,
                     testing::OpenAIFault::no_usage});
        StreamTimer timer;
        auto r = client.chat(chat_request(), timer);
        CHECK(r.failure->code() == errc::http_status);
        r = client.chat(chat_request(), timer);
        CHECK(r.failure->code() == errc::server);
        CHECK(r.text == "Hello word1 word2");  // what came before the error is kept
        r = client.chat(chat_request(), timer);
        CHECK(r.failure->code() == errc::protocol);
        r = client.chat(chat_request(), timer);
        REQUIRE(r.ok());
        CHECK(r.token_counts_estimated);
        CHECK(r.server.eval_count == 16);
        r = client.chat(chat_request(), timer);  // clean again
        CHECK(r.ok());
        CHECK(client.models() == std::vector<std::string>{"mock-model"});
        CHECK(client.healthy());
    }
}

TEST_CASE("the mock's transport faults over both transports: one-byte drip, a stall, a giant last event, bytes not UTF-8, cut-off JSON") {
    using testing::OpenAIFault;
    struct Case {
        OpenAIFault fault;
        std::optional<errc> expected;  // nullopt: the run succeeds
        const char* message_part;
    };
    testing::MockOpenAIConfig cfg;
    cfg.flavour = testing::OpenAIFlavour::llamacpp;
    cfg.tokens = 8;
    cfg.token_delay = 1ms;
    cfg.stall_for = 1500ms;
    testing::MockOpenAI mock(cfg);
    const Case cases[] = {
        {OpenAIFault::drip_one_byte, std::nullopt, ""},
        {OpenAIFault::giant_final_line, std::nullopt, ""},
        {OpenAIFault::stall, errc::timeout, "idle timeout"},
        {OpenAIFault::invalid_utf8, errc::protocol, "UTF-8"},
        {OpenAIFault::malformed_json, errc::protocol, "malformed JSON in event"},
    };
    for (const bool kernel : {true, false}) {
        for (const auto& c : cases) {
            CAPTURE(kernel);
            CAPTURE(static_cast<int>(c.fault));
            OpenAIClientOptions opts;
            opts.kernel_timestamps = kernel;
            opts.timeouts.idle_s = c.fault == OpenAIFault::stall ? 0.4 : 30;
            OpenAIClient client(mock.base_url(), opts);
            mock.script({c.fault});
            StreamTimer timer;
            const auto r = client.chat(chat_request(), timer);
            test_util::check_fault_outcome(r, timer, c.expected, c.message_part);
            if (!c.expected) CHECK(r.text == "Hello word1 word2 word3 word4 word5 word6 word7");
            if (c.fault == OpenAIFault::giant_final_line) CHECK(r.bytes_received > cfg.giant_line_bytes);
            StreamTimer after;
            const auto next = client.chat(chat_request(), after);
            CHECK_MESSAGE(next.ok(), "request after the fault: " << (next.failure ? next.failure->what() : ""));
        }
    }
}

TEST_CASE("the mock logs each request's arrival and first content write: ground truth for TTFT") {
    testing::MockOpenAIConfig cfg;
    cfg.first_token_delay = 5ms;
    testing::MockOpenAI mock(cfg);
    OpenAIClient client(mock.base_url());
    StreamTimer timer;
    REQUIRE(client.chat(chat_request(), timer).ok());
    const auto log = mock.requests();
    REQUIRE(log.size() == 1);
    REQUIRE(log[0].first_content_write.has_value());
    CHECK(*log[0].first_content_write - log[0].received >= 5ms);
    CHECK(*timer.first_content_at() >= *log[0].first_content_write);
    CHECK(*timer.sent_at() <= log[0].received);
}

TEST_CASE("cache_prompt:false goes on chat, completions and llama.cpp's /completion only when set") {
    testing::MockOpenAIConfig cfg;
    cfg.flavour = testing::OpenAIFlavour::llamacpp;
    testing::MockOpenAI mock(cfg);
    OpenAIClient client(mock.base_url());
    StreamTimer timer;
    ChatRequest chat = chat_request();
    REQUIRE(client.chat(chat, timer).ok());
    chat.controls.cache_prompt = false;
    REQUIRE(client.chat(chat, timer).ok());
    GenerateRequest completion{"m", "Once upon a time", {}, {}, {}, {}, true, {}};
    completion.controls.cache_prompt = false;
    REQUIRE(client.completion(completion, timer).ok());
    completion.controls.truncate = false;  // Ollama's field: never sent to an OpenAI-style server
    REQUIRE(client.completion(completion, timer).ok());
    const auto bodies = mock.bodies();
    REQUIRE(bodies.size() == 4);
    CHECK(bodies[0].find("cache_prompt") == std::string::npos);
    for (std::size_t i = 1; i < 4; ++i) CHECK(bodies[i].find(R"("cache_prompt":false)") != std::string::npos);
    CHECK(bodies[3].find("truncate") == std::string::npos);
}

TEST_CASE("OpenAIClient's event callback on a thinking model's chat and on /v1/completions (the captures' tests check chat and native)") {
    testing::MockOpenAIConfig cfg;
    cfg.flavour = testing::OpenAIFlavour::llamacpp;
    cfg.tokens = 6;
    cfg.thinking = "First the sky, then the sea.";
    testing::MockOpenAI mock(cfg);
    OpenAIClient client(mock.base_url());
    StreamTimer timer;
    test_util::SeenEvents seen;
    StreamResult r = client.chat(chat_request(), timer, seen.callback());
    REQUIRE(r.ok());
    CHECK(r.thinking == cfg.thinking);
    CHECK(seen.thinking == r.thinking);
    CHECK(seen.text == r.text);
    CHECK(seen.events == timer.thinking_chunks() + timer.content_chunks() + 1);
    CHECK(seen.done == 1);
    CHECK(seen.done_last);
    GenerateRequest g;
    g.model = "mock-model";
    g.prompt = "Once";
    StreamTimer completion_timer;
    test_util::SeenEvents completion_seen;
    r = client.completion(g, completion_timer, completion_seen.callback());
    REQUIRE(r.ok());
    CHECK(completion_timer.content_chunks() == 6);
    CHECK(completion_seen.text == r.text);
    CHECK(completion_seen.done == 1);
    CHECK(completion_seen.done_last);
    // No callback: the same stream, and nothing to call.
    StreamTimer quiet_timer;
    CHECK(client.completion(g, quiet_timer).text == r.text);
}
