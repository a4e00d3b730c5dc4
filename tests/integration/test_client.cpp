// OllamaClient against the in-process mock server.
#include <llmbench/client/ollama_client.hpp>
#include <llmbench/host/run_metadata.hpp>
#include <llmbench/core/run_record.hpp>
#include <llmbench/run/benchmark.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#include <simdjson.h>

#include <chrono>
#include <set>

#include <doctest/doctest.h>

#if defined(__linux__)
#include <sys/resource.h>
#endif

#include "../test_util.hpp"

using doctest::Approx;
using namespace llmbench;
using namespace std::chrono_literals;
using testing::MockConfig;
using testing::MockOllama;

namespace {
GenerateRequest request(std::string prompt, int num_predict) {
    GenerateRequest r;
    r.model = "llama3.1:8b";
    r.prompt = std::move(prompt);
    r.options.temperature = 0;
    r.options.num_predict = num_predict;
    return r;
}

/// The keys of each line of an NDJSON body, in order.
std::vector<std::vector<std::string>> key_order(const std::string& body) {
    std::vector<std::vector<std::string>> out;
    simdjson::ondemand::parser parser;
    std::size_t start = 0;
    while (start < body.size()) {
        auto end = body.find('\n', start);
        if (end == std::string::npos) end = body.size();
        simdjson::padded_string line(body.substr(start, end - start));
        start = end + 1;
        if (line.size() == 0) continue;
        std::vector<std::string> keys;
        auto doc = parser.iterate(line);
        for (auto field : doc.get_object()) keys.emplace_back(field.unescaped_key().value());
        out.push_back(keys);
    }
    return out;
}
}  // namespace

TEST_CASE("streamed generate: text, server fields and rates agree with the final chunk") {
    MockConfig cfg;
    cfg.token_delay = 2ms;
    MockOllama mock(cfg);
    OllamaClient client(mock.endpoint());
    StreamTimer timer;
    std::size_t events = 0;
    const auto r = client.generate(request("Why is the sky blue?", 12), timer, [&](const StreamEvent&) { ++events; });
    REQUIRE_MESSAGE(r.ok(), std::string(r.failure ? r.failure->what() : ""));
    CHECK(r.done);
    CHECK(r.done_reason == "length");
    CHECK(r.server.eval_count == 12);
    CHECK(events == 13);
    CHECK(timer.content_chunks() == 12);
    const auto rec = make_run_record(r, timer, RunIdentity{"mock", "llama3.1:8b", "p", 0, false, 12, std::nullopt});
    // gen_toks_per_s is exactly eval_count / eval_duration of the final chunk.
    CHECK(*rec.gen_toks_per_s() == Approx(12.0 / (static_cast<double>(*r.server.eval_duration_ns) / 1e9)));
    // The mock's eval_duration covers 11 gaps of >= 2 ms.
    CHECK(*r.server.eval_duration_ns >= 22'000'000);
    CHECK(rec.client.itl_p50_s.value() >= 0.002);
}

TEST_CASE("an event callback may stream a request itself: the stream it interrupts reads on unharmed") {
    // Both streams read on one thread, whose read buffer the outer stream's bytes are in while
    // its callback runs (http_stream.hpp): the inner stream must read into another.
    MockOllama mock;
    OllamaClient outer(mock.endpoint()), inner(mock.endpoint());
    StreamTimer alone_timer;
    const auto alone = outer.generate(request("Why is the sky blue?", 12), alone_timer);
    REQUIRE(alone.ok());
    std::vector<StreamResult> nested;
    std::string seen;
    StreamTimer timer;
    const auto r = outer.generate(request("Why is the sky blue?", 12), timer, [&](const StreamEvent& e) {
        seen += e.text;
        if (nested.size() < 3) {
            StreamTimer inner_timer;
            nested.push_back(inner.generate(request("Name three rivers of Europe.", 12), inner_timer));
        }
    });
    REQUIRE_MESSAGE(r.ok(), std::string(r.failure ? r.failure->what() : ""));
    CHECK(r.text == alone.text);
    CHECK(seen == alone.text);
    CHECK(timer.content_chunks() == 12);
    REQUIRE(nested.size() == 3);
    for (const auto& n : nested) {
        CHECK(n.ok());
        CHECK(n.server.eval_count == 12);
        CHECK(n.text != alone.text);
    }
}

TEST_CASE("client TTFT is at least the injected first-token delay and close to the mock's ground truth") {
    MockConfig cfg;
    cfg.first_token_delay = 80ms;
    cfg.token_delay = 1ms;
    MockOllama mock(cfg);
    OllamaClient client(mock.endpoint());
    for (int i = 0; i < 3; ++i) {
        StreamTimer timer;
        const auto r = client.generate(request("prompt " + std::to_string(i), 4), timer);
        REQUIRE(r.ok());
        const double ttft = *timer.ttft_s();
        CHECK(ttft >= 0.080);
        CHECK(ttft < 0.080 + 1.0);  // generous: these machines are noisy
        const auto truth = mock.stream_requests().back();
        REQUIRE(truth.first_content_write.has_value());
        const double lag = std::chrono::duration<double>(*timer.first_content_at() - *truth.first_content_write).count();
        CHECK(lag >= 0.0);  // the client cannot see the token before it was written
        CHECK(lag < 0.5);
        // Server-side accounting is consistent with its own sleeps.
        CHECK(*r.server.prompt_eval_duration_ns >= 80'000'000);
    }
}

TEST_CASE("chat streams, and load/unload requests") {
    MockOllama mock;
    OllamaClient client(mock.endpoint());
    StreamTimer timer;
    ChatRequest chat{"llama3.1:8b", {{"system", "be brief"}, {"user", "hello"}}, {}, std::string("5m"), true, {}};
    chat.options.num_predict = 5;
    const auto r = client.chat(chat, timer);
    REQUIRE(r.ok());
    CHECK(r.server.eval_count == 5);
    CHECK(!r.text.empty());
    CHECK(client.load("llama3.1:8b").ok());
    CHECK(client.unload("llama3.1:8b").done_reason == "unload");
    CHECK(client.running().empty());
}

TEST_CASE("metadata endpoints and RunMetadata") {
    MockOllama mock;
    OllamaClient client(mock.endpoint());
    CHECK(client.version() == "0.5.12");
    CHECK(client.list_models().at(0).name == "llama3.1:8b");
    CHECK(client.show("llama3.1:8b").context_length == 131072);
    CHECK(client.load("llama3.1:8b", std::string("-1")).ok());
    auto meta = RunMetadata::collect(client, "llama3.1:8b");
    meta.backend_kind = "mock";
    CHECK(meta.quantization == "Q4_K_M");
    CHECK(meta.size_vram_bytes == 6654289920);
    CHECK(meta.loaded_context_length == 4096);
    CHECK(meta.digest.size() == 64);
    simdjson::ondemand::parser parser;
    simdjson::padded_string json(meta.to_json());
    auto doc = parser.iterate(json);
    auto obj = doc.get_object();
    std::vector<std::string> keys;
    for (auto field : obj) keys.emplace_back(field.unescaped_key().value());
    CHECK(keys == std::vector<std::string>{"type", "schema_version", "timestamp_utc", "llmbench_version", "backend", "model",
                                           "roofline", "host", "server", "sampling", "request", "prompts", "command_line", "shard", "idle_power", "notes"});
    const auto keys_of = [&](const char* object) {
        simdjson::padded_string again(meta.to_json());
        auto d = parser.iterate(again);
        std::vector<std::string> out;
        for (auto field : d[object].get_object()) out.emplace_back(field.unescaped_key().value());
        return out;
    };
    CHECK(keys_of("backend") == std::vector<std::string>{"kind", "version", "base_url"});
    CHECK(keys_of("model") == std::vector<std::string>{"tag", "digest", "family", "architecture", "parameter_size",
                                                        "parameter_count", "quantization", "format", "context_length",
                                                        "loaded_context_length", "size_bytes", "size_vram_bytes", "file_size_bytes", "placement"});
    CHECK(keys_of("host") == std::vector<std::string>{"os", "kernel", "arch", "cpu_model", "logical_cores",
                                                       "total_ram_bytes", "open_files_limit", "gpu_source", "gpus"});
    CHECK(meta.host.logical_cores > 0);
    CHECK(meta.notes.empty());
    // The mock's llama3.1:8b shape, for the roofline: 32 layers, 8 of 32 heads for K and V.
    CHECK(meta.file_size_bytes == 4920753328);
    CHECK(meta.geometry.block_count == 32);
    CHECK(meta.geometry.head_count_kv == 8);
    CHECK(meta.geometry.vocab_size == 128256);
}

TEST_CASE("the mock's lines have the field order of a real Ollama 0.5.12 stream") {
    MockOllama mock;
    const auto body_of = [&](const std::string& path, const std::string& json) {
        httplib::Client http(mock.url());
        auto res = http.Post(path, json, "application/json");
        REQUIRE(res);
        return res->body;
    };
    const auto gen = key_order(body_of("/api/generate", R"({"model":"llama3.1:8b","prompt":"hi","options":{"num_predict":3}})"));
    const auto real_gen = key_order(test_util::read_capture("ollama_generate_stream.txt").body);
    REQUIRE(gen.size() == 4);
    CHECK(gen.front() == real_gen.front());
    CHECK(gen.back() == real_gen.back());
    const auto chat = key_order(body_of("/api/chat", R"({"model":"llama3.1:8b","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":3}})"));
    const auto real_chat = key_order(test_util::read_capture("ollama_chat_stream.txt").body);
    CHECK(chat.front() == real_chat.front());
    CHECK(chat.back() == real_chat.back());
    // Error bodies are byte for byte those of the real server.
    CHECK(body_of("/api/generate", R"({"model":"no-such-model","prompt":"hi"})") ==
          test_util::read_capture("ollama_error_unknown_model_generate.txt").body);
    CHECK(body_of("/api/chat", R"({"model":"no-such-model","messages":[{"role":"user","content":"hi"}]})") ==
          test_util::read_capture("ollama_error_unknown_model_chat.txt").body);
    CHECK(body_of("/api/show", R"({"model":"no-such-model"})") ==
          test_util::read_capture("ollama_error_unknown_model_show.txt").body);
}

TEST_CASE("a repeated prompt hits the mock's prompt cache and is flagged") {
    MockConfig cfg;
    // 0.5.12 says nothing of the cache: the flag reads the prompt rate, 5x faster than the first
    // run's. 1 ms a token (108 ms for the first prefill) keeps a loaded sanitizer build's
    // scheduling delays of a few ms on the second one far below that.
    cfg.prefill_per_token = 1ms;
    MockOllama mock(cfg);
    OllamaClient client(mock.endpoint());
    const std::string prompt(400, 'a');
    StreamTimer t1, t2;
    auto first = make_run_record(client.generate(request(prompt, 4), t1), t1, RunIdentity{});
    auto second = make_run_record(client.generate(request(prompt, 4), t2), t2, RunIdentity{});
    flag_run(first, nullptr);
    flag_run(second, &first);
    CHECK_FALSE(first.flags.prompt_cache_suspected);
    CHECK(second.flags.prompt_cache_suspected);
    CHECK(mock.stream_requests().back().prompt_cache_hit);
}

TEST_CASE("nothing listening: a connect error that names the URL and suggests ollama serve") {
    int port = 0;
    {
        MockOllama probe;  // take a free port, then free it
        port = probe.port();
    }
    Endpoint ep{"http", "127.0.0.1", port, ""};
    ClientOptions opts;
    opts.timeouts.connect_s = 2;
    OllamaClient client(ep, opts);
    StreamTimer timer;
    const auto r = client.generate(request("hi", 4), timer);
    REQUIRE_FALSE(r.ok());
    CHECK(r.failure->code() == errc::connect);
    const std::string what = r.failure->what();
    CHECK(what.find(ep.url()) != std::string::npos);
    CHECK(what.find("ollama serve") != std::string::npos);
    CHECK_THROWS_AS(client.version(), llmbench::error);
}

TEST_CASE("Ollama 0.33's cached count splits the prompt: prefill_toks_per_s leaves the cache out, prompt_toks_per_s is flagged") {
    MockConfig cfg;
    cfg.generation = testing::MockGeneration::ollama_0_33;
    cfg.prefill_per_token = 100us;
    MockOllama mock(cfg);
    OllamaClient client(mock.endpoint());
    const auto run = [&](const std::string& prompt) {
        StreamTimer timer;
        GenerateRequest req{"llama3.1:8b", prompt, {}, {}, {}, {}, true, {}};
        req.options.num_predict = 4;
        RunRecord r = make_run_record(client.generate(req, timer), timer, RunIdentity{});
        flag_run(r, nullptr);
        REQUIRE_MESSAGE(r.ok(), r.outcome.error_message);
        return r;
    };
    const std::string a(400, 'a'), b(400, 'b');
    const RunRecord cold = run(a);
    CHECK(cold.server.prompt_eval_count == MockOllama::count_tokens(a));
    CHECK_FALSE(cold.server.prompt_cached_tokens.has_value());  // 0 is omitted, and this server has not shown the field yet
    CHECK_FALSE(cold.prefill_toks_per_s().has_value());
    CHECK_FALSE(cold.flags.prompt_rate_includes_cache);

    const RunRecord hit = run(a);  // the slot's last prompt again: one token evaluated
    CHECK(hit.server.prompt_eval_count == MockOllama::count_tokens(a));  // the whole prompt, as 0.30+ counts it
    CHECK(hit.server.prompt_cached_tokens == MockOllama::count_tokens(a) - 1);
    CHECK(hit.server.prompt_evaluated_tokens == 1);
    REQUIRE(hit.server.prompt_eval_duration_ns.has_value());
    CHECK(*hit.server.prompt_eval_duration_ns % 1000 == 0);  // whole microseconds, as llama-server's ms give them
    CHECK(*hit.prefill_toks_per_s() == Approx(1.0 / (static_cast<double>(*hit.server.prompt_eval_duration_ns) / 1e9)));
    CHECK(*hit.prompt_toks_per_s() > *hit.prefill_toks_per_s() * 100);  // the reference formula, inflated
    CHECK(hit.flags.prompt_cache_suspected);
    CHECK(hit.flags.prompt_rate_includes_cache);

    const RunRecord miss = run(b);  // the field is absent again: now it means 0
    CHECK(miss.server.prompt_cached_tokens == 0);
    CHECK(miss.server.prompt_evaluated_tokens == miss.server.prompt_eval_count);
    CHECK(*miss.prefill_toks_per_s() == Approx(*miss.prompt_toks_per_s()));
    CHECK_FALSE(miss.flags.prompt_cache_suspected);
    CHECK_FALSE(miss.flags.prompt_rate_includes_cache);
}

TEST_CASE("cold_cache: on Ollama every request gets a unique first line, so none is served from the cache") {
    MockOllama mock;
    OllamaClient client(mock.endpoint());
    BenchmarkConfig cfg;
    cfg.model = "llama3.1:8b";
    cfg.prompts = {Prompt{"p", "Why is the sky blue?", std::nullopt, std::nullopt}};
    cfg.runs = 3;
    cfg.options.num_predict = 4;
    cfg.cold_cache = true;
    Benchmark bench(client, cfg);
    CHECK(bench.cold_cache_method().find("unique first line") != std::string::npos);
    CHECK(bench.request_json().find(R"("cold_cache":true,"cold_cache_method":)") != std::string::npos);
    bench.run();
    const auto served = mock.stream_requests();
    std::set<std::string> bodies;
    std::size_t timed = 0;
    for (const auto& r : served) {
        if (r.body.find("Why is the sky blue?") == std::string::npos) continue;  // the preload
        ++timed;
        CHECK_FALSE(r.prompt_cache_hit);
        bodies.insert(r.body);
    }
    CHECK(timed == 4);  // warm-up and 3 runs
    CHECK(bodies.size() == timed);

    cfg.cold_cache = false;  // the same prompt again and again: the mock's cache serves it
    MockOllama warm;
    OllamaClient warm_client(warm.endpoint());
    Benchmark(warm_client, cfg).run();
    std::size_t hits = 0;
    for (const auto& r : warm.stream_requests()) hits += r.prompt_cache_hit ? 1U : 0U;
    CHECK(hits == 3);
}

#if defined(__linux__)
TEST_CASE("the programs raise the open-files limit to the hard one (a socket per stream), and the host metadata reports it") {
    const auto now = raise_open_files_limit();
    rlimit limit{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
    CHECK(limit.rlim_cur == limit.rlim_max);
    if (limit.rlim_cur == RLIM_INFINITY) {
        CHECK_FALSE(now.has_value());
        return;
    }
    REQUIRE(now.has_value());
    CHECK(static_cast<rlim_t>(*now) == limit.rlim_cur);
    CHECK(HostInfo::probe().open_files_limit == now);
}
#endif
