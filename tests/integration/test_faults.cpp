// Every scripted fault of the mock becomes a typed failure, and the client recovers.
#include <llmbench/run/benchmark.hpp>
#include <llmbench/client/ollama_client.hpp>
#include <llmbench/client/server_watch.hpp>
#include <llmbench/run/load.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#include <chrono>
#include <thread>

#include <doctest/doctest.h>

#include "../test_util.hpp"

using namespace llmbench;
using namespace std::chrono_literals;
using testing::MockConfig;
using testing::MockFault;
using testing::MockOllama;

namespace {
GenerateRequest request(int num_predict = 8) {
    GenerateRequest r;
    r.model = "llama3.1:8b";
    r.prompt = "Tell me a story";
    r.options.num_predict = num_predict;
    return r;
}

struct Case {
    MockFault fault;
    std::optional<errc> expected;  // nullopt: the run succeeds
    const char* message_part;
};
}  // namespace

TEST_CASE("each fault produces its typed error over both transports, and the next request succeeds") {
    MockConfig cfg;
    cfg.token_delay = 1ms;
    cfg.stall_for = 1500ms;
    MockOllama mock(cfg);
    const Case cases[] = {
        {MockFault::http_500, errc::http_status, "HTTP 500 from http://127.0.0.1"},
        {MockFault::error_mid_stream, errc::server, "unexpected EOF"},
        {MockFault::eof_without_done, errc::protocol, "before done:true"},
        {MockFault::malformed_json, errc::protocol, "byte offset"},
        {MockFault::invalid_utf8, errc::protocol, "UTF-8"},
        {MockFault::stall, errc::timeout, "idle timeout"},
        {MockFault::drip_one_byte, std::nullopt, ""},
        {MockFault::giant_final_line, std::nullopt, ""},
    };
    for (const bool kernel : {true, false}) {  // llmbench's socket reader, and cpp-httplib's (https, non-POSIX)
        for (const auto& c : cases) {
            CAPTURE(kernel);
            CAPTURE(static_cast<int>(c.fault));
            ClientOptions opts;
            opts.kernel_timestamps = kernel;
            // Short idle timeout only for the stall: building a 17 MiB line is real silence too.
            opts.timeouts.idle_s = c.fault == MockFault::stall ? 0.4 : 30;
            opts.timeouts.first_byte_s = 30;
            OllamaClient client(mock.endpoint(), opts);
            mock.script({c.fault});
            StreamTimer timer;
            const auto r = client.generate(request(), timer);
            test_util::check_fault_outcome(r, timer, c.expected, c.message_part, c.fault != MockFault::http_500);
            if (c.fault == MockFault::http_500) {
                CHECK(r.http_status == 500);
                CHECK(std::string(r.failure->what()).find("model runner has unexpectedly stopped") != std::string::npos);
            }
            StreamTimer after;
            const auto next = client.generate(request(), after);
            CHECK_MESSAGE(next.ok(), "request after the fault: " << (next.failure ? next.failure->what() : ""));
        }
    }
}

TEST_CASE("first-byte timeout when the server says nothing - over both transports") {
    MockConfig cfg;
    cfg.first_token_delay = 1500ms;
    MockOllama mock(cfg);
    for (const bool kernel : {true, false}) {
        CAPTURE(kernel);
        ClientOptions opts;
        opts.kernel_timestamps = kernel;
        opts.timeouts.first_byte_s = 0.3;
        OllamaClient client(mock.endpoint(), opts);
        StreamTimer timer;
        const auto r = client.generate(request(), timer);
        REQUIRE_FALSE(r.ok());
        CHECK(r.failure->code() == errc::timeout);
        CHECK(std::string(r.failure->what()).find("first-byte") != std::string::npos);
    }
}

TEST_CASE("a line over the client's limit is a protocol error - over both transports") {
    MockOllama mock;
    for (const bool kernel : {true, false}) {
        CAPTURE(kernel);
        ClientOptions opts;
        opts.kernel_timestamps = kernel;
        opts.max_line_bytes = 1 << 20;
        OllamaClient client(mock.endpoint(), opts);
        mock.script({MockFault::giant_final_line});
        StreamTimer timer;
        const auto r = client.generate(request(), timer);
        REQUIRE_FALSE(r.ok());
        CHECK(r.failure->code() == errc::protocol);
        CHECK(std::string(r.failure->what()).find("longer than") != std::string::npos);
    }
}

TEST_CASE("faults in a benchmark are counted failed runs - earlier runs stay") {
    MockConfig cfg;
    cfg.token_delay = 500us;
    MockOllama mock(cfg);
    OllamaClient client(mock.endpoint());
    BenchmarkConfig bc;
    bc.model = "llama3.1:8b";
    bc.prompts = {{"a", "first prompt", {}, {}}, {"b", "second prompt", {}, {}}};
    bc.runs = 3;
    bc.warmup = 1;
    bc.options.num_predict = 6;
    // warm-up clean; then run 0: a ok, b error line; run 1: a EOF, b ok; run 2: both ok.
    mock.script({MockFault::none, MockFault::none, MockFault::error_mid_stream, MockFault::eof_without_done});
    std::vector<RunRecord> records;
    OllamaBackend backend(client);
    backend.set_label("mock");
    Benchmark bench(backend, bc);
    const auto acc = bench.on_record([&](const RunRecord& r) { records.push_back(r); }).run();
    REQUIRE(records.size() == 7);
    CHECK(records[0].id.warmup);
    CHECK(records[1].ok());
    CHECK_FALSE(records[2].ok());
    CHECK(records[2].outcome.error_kind == errc::server);
    CHECK_FALSE(records[3].ok());
    CHECK(records[3].outcome.error_kind == errc::protocol);
    CHECK(records[4].ok());
    CHECK(acc.runs_ok() == 4);
    CHECK(acc.runs_failed() == 2);
    const auto s = acc.summary();
    CHECK(s.failures_by_kind.at("server") == 1);
    CHECK(s.failures_by_kind.at("protocol") == 1);
    CHECK(s.find("ttft_s")->n == 4);
}

TEST_CASE("a server that goes away for 2 s and comes back: at most the cut run fails, the others wait for it") {
    MockConfig cfg;
    cfg.token_delay = 2ms;
    cfg.natural_tokens = 10;  // about 20 ms a run
    MockOllama mock(cfg);
    BenchmarkConfig bc;
    bc.model = "llama3.1:8b";
    bc.prompts = {{"a", "a prompt", {}, {}}};
    bc.runs = 8;
    bc.warmup = 0;
    std::atomic<bool> stop{false};
    ServerWatch watch(&stop, 10);
    std::vector<std::string> events;
    watch.on_event = [&](const std::string& m) { events.push_back(m); };
    auto backend = watch.wrap(make_ollama_backend(mock.endpoint()));
    std::vector<RunRecord> records;
    std::atomic<bool> second_started{false};
    std::thread outage([&] {  // kills the server during the third run, restarts it 2 s later
        while (!second_started) std::this_thread::sleep_for(1ms);
        std::this_thread::sleep_for(30ms);
        mock.go_away();
        std::this_thread::sleep_for(2s);
        mock.come_back();
    });
    Benchmark bench(*backend, bc);
    bench.stop_when(&stop).on_record([&](const RunRecord& r) {
        records.push_back(r);
        if (records.size() == 2) second_started = true;
    });
    const auto acc = bench.run();
    outage.join();
    REQUIRE(records.size() == 8);  // every run measured: none lost to the outage
    CHECK(acc.runs_failed() <= 1);  // the run in flight when the server went away, if one was
    CHECK(acc.runs_ok() >= 7);
    CHECK(watch.recovered() >= 1);  // a request waited and got through after the restart
    CHECK(watch.abandoned() == 0);
    CHECK_FALSE(watch.gave_up());
    CHECK_FALSE(stop.load());
    REQUIRE(events.size() >= 2);
    CHECK(events.front().find("refused the connection: waiting up to 10.0 s") != std::string::npos);
    CHECK(events.back().find(" is back after ") != std::string::npos);
    for (const auto& r : records)
        if (!r.ok()) CHECK(r.outcome.error_kind != errc::connect);  // the cut run, not a refused one
}

TEST_CASE("a server that stays away: each run waits --server-wait, then fails - after 3 in a row the run stops") {
    MockOllama mock;
    BenchmarkConfig bc;
    bc.model = "llama3.1:8b";
    bc.prompts = {{"a", "a prompt", {}, {}}};
    bc.runs = 10;
    bc.warmup = 0;
    std::atomic<bool> stop{false};
    ServerWatch watch(&stop, 0.3);
    auto backend = watch.wrap(make_ollama_backend(mock.endpoint()));
    std::vector<RunRecord> records;
    Benchmark bench(*backend, bc);
    bench.stop_when(&stop).on_record([&](const RunRecord& r) {
        records.push_back(r);
        if (records.size() == 2) mock.go_away();  // for good
    });
    const auto acc = bench.run();
    REQUIRE(records.size() == 5);  // two measured, three that waited in vain, then stopped
    CHECK(acc.runs_ok() == 2);
    CHECK(acc.runs_failed() == 3);
    for (std::size_t i = 2; i < 5; ++i) {
        CHECK(records[i].outcome.error_kind == errc::connect);
        CHECK(records[i].outcome.error_message.find("(the server did not come back within 0.3 s)") != std::string::npos);
        CHECK(records[i].client.wall_s.value_or(1) < 0.3);  // the record times the last try, not the wait
    }
    CHECK(watch.gave_up());
    CHECK(stop.load());  // the runners' stop flag: the benchmark stopped as on Ctrl-C
    CHECK(bench.interrupted());
    CHECK(watch.reason().find("3 requests in a row found http://127.0.0.1:") != std::string::npos);

    // With waiting off, a refused request fails at once and nothing gives up.
    std::atomic<bool> stop2{false};
    ServerWatch off(&stop2, 0);
    auto direct = off.wrap(make_ollama_backend(mock.endpoint()));
    StreamTimer timer;
    GenerateRequest r = request();
    CHECK(direct->generate(r, timer).failure->code() == errc::connect);
    CHECK_FALSE(off.gave_up());
}

TEST_CASE("a watched backend's load runs in the event loop, and a request waiting there for its server lets the other streams go on") {
    // ServerWatch wraps every program's backends (--server-wait): a wrapper that hid the
    // socket reader sent each load back to a thread per stream, and a wait that slept the
    // thread would stall every stream of its loop.
    MockOllama mock;
    std::atomic<bool> stop{false};
    ServerWatch watch(&stop, 5);
    LoadSpec spec;
    spec.concurrency = 3;
    spec.requests = 6;
    spec.loop_threads = 1;
    const auto result = run_load([&] { return watch.wrap(make_ollama_backend(mock.endpoint())); }, request(), spec);
    CHECK(result.succeeded() == 6);
    CHECK(result.driver == (LLMBENCH_HAS_FIBER_LOOP ? "event_loop" : "threads"));
#if LLMBENCH_HAS_FIBER_LOOP
    CHECK(result.driver_threads == 1);
    watch.first_backoff = 200ms;
    bool other_ran = false, waited = false;
    int tries = 0;
    detail::FiberLoop loop;
    loop.spawn([&] {
        StreamTimer timer;
        const auto r = watch.send_waiting("http://127.0.0.1:9", timer, [&](StreamTimer&) {
            StreamResult refused;
            if (++tries == 1) {
                refused.failure = error(errc::connect, "connection refused");
                return refused;
            }
            waited = other_ran;  // the other fiber ran during the 200 ms pause
            refused.done = true;
            return refused;
        });
        CHECK(r.ok());
    });
    loop.spawn([&] {
        detail::sleep_until(std::chrono::steady_clock::now() + 1ms);
        other_ran = true;
    });
    loop.run();
    CHECK(tries == 2);
    CHECK(waited);
#endif
}

TEST_CASE("a server that answers 503 while it loads its model is waited for - a 500 is not") {
    // llama-server restarted: it listens at once and answers 503 "Loading model" until ready.
    std::atomic<bool> stop{false};
    ServerWatch watch(&stop, 5);
    watch.first_backoff = 1ms;
    std::vector<std::string> events;
    watch.on_event = [&](const std::string& m) { events.push_back(m); };
    const auto answering = [](int status) {
        StreamResult r;
        r.http_status = status;
        if (status != 200) r.failure = error(errc::http_status, "HTTP " + std::to_string(status) + ": Loading model", status);
        else r.done = true;
        return r;
    };
    int tries = 0;
    StreamTimer timer;
    const auto loaded = watch.send_waiting("http://127.0.0.1:8080", timer, [&](StreamTimer&) { return answering(++tries < 3 ? 503 : 200); });
    CHECK(loaded.ok());
    CHECK(tries == 3);
    CHECK(watch.recovered() == 1);
    REQUIRE(events.size() == 2);
    CHECK(events[0].find("is not ready (HTTP 503") != std::string::npos);

    tries = 0;
    const auto broken = watch.send_waiting("http://127.0.0.1:8080", timer, [&](StreamTimer&) { return ++tries, answering(500); });
    CHECK(tries == 1);  // a server error is a measured failure, not a server away
    CHECK(broken.failure->http_status() == 500);

    ServerWatch brief(&stop, 0.2);
    brief.first_backoff = 1ms;
    const auto never = brief.send_waiting("http://127.0.0.1:8080", timer, [&](StreamTimer&) { return answering(503); });
    REQUIRE_FALSE(never.ok());
    CHECK(never.failure->code() == errc::http_status);  // its kind kept, the wait said
    CHECK(never.failure->http_status() == 503);
    CHECK(std::string(never.failure->what()).find("(the server did not come back within 0.2 s)") != std::string::npos);
    CHECK(brief.abandoned() == 1);
}

TEST_CASE("a stop flag ends the benchmark after the current run") {
    MockOllama mock;
    OllamaClient client(mock.endpoint());
    BenchmarkConfig bc;
    bc.model = "llama3.1:8b";
    bc.prompts = {{"a", "x", {}, {}}, {"b", "y", {}, {}}};
    bc.runs = 5;
    bc.warmup = 0;
    std::atomic<bool> stop{false};
    int seen = 0;
    Benchmark bench(client, bc);
    bench.stop_when(&stop).on_record([&](const RunRecord&) {
        if (++seen == 3) stop = true;
    });
    const auto acc = bench.run();
    CHECK(seen == 3);
    CHECK(bench.interrupted());
    CHECK(acc.runs_ok() == 3);
}

TEST_CASE("preloading uses the benchmark's load-time options, so the timed runs do not reload") {
    MockConfig cfg;
    cfg.load_delay = 50ms;
    MockOllama mock(cfg);
    OllamaClient client(mock.endpoint());
    BenchmarkConfig bc;
    bc.model = "llama3.1:8b";
    bc.prompts = {{"a", "x", {}, {}}};
    bc.runs = 2;
    bc.warmup = 0;
    bc.options.num_ctx = 8192;
    Benchmark bench(client, bc);
    REQUIRE(bench.preload().ok());
    REQUIRE(client.running().size() == 1);
    CHECK(client.running()[0].context_length == 8192);
    std::vector<RunRecord> records;
    bench.on_record([&](const RunRecord& r) { records.push_back(r); }).run();
    REQUIRE(records.size() == 2);
    const auto served = mock.stream_requests();  // the mock's own account: which requests loaded the model
    REQUIRE(served.size() >= 3);
    CHECK(served.front().cold_load);  // the preload
    CHECK_FALSE(served[served.size() - 2].cold_load);  // the timed runs: no reload, whatever the machine's speed
    CHECK_FALSE(served[served.size() - 1].cold_load);
}
