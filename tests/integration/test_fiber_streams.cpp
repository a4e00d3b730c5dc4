// Streams measured inside run_load's event loop: the client's socket reader and the mock's
// fiber server (fiber_http_server.hpp), each as it is outside the loop.
#include <llmbench/detail/fiber_loop.hpp>

#if LLMBENCH_HAS_FIBER_LOOP
#include <llmbench/client/backend.hpp>
#include <llmbench/client/ollama_client.hpp>
#include <llmbench/measure/measure.hpp>
#include <llmbench/testing/mock_ollama.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using llmbench::detail::FiberLoop;

TEST_CASE("a stream in the event loop keeps its kernel arrival times while another fiber holds the thread") {
    // The first token is written ~20 ms in; another fiber of the same loop keeps the thread
    // until that token has waited 250 ms in the socket (however late a loaded machine has the
    // mock write it), and its arrival time must be the kernel's.
    llmbench::testing::MockOpenAIConfig cfg;
    cfg.first_token_delay = 20ms;
    llmbench::testing::MockOpenAI mock(cfg);
    auto backend = llmbench::make_openai_backend(mock.base_url());
    REQUIRE(backend->waits_in_event_loop());
    llmbench::GenerateRequest request;
    request.model = "mock-model";
    request.prompt = "Hi";
    request.options.num_predict = 5;
    llmbench::RunRecord record;
    FiberLoop loop;
    loop.spawn([&] { record = llmbench::measure(*backend, request); });
    loop.spawn([&] {
        llmbench::detail::sleep_until(FiberLoop::clock::now() + 5ms);  // the stream has sent its request and waits
        for (const auto give_up = FiberLoop::clock::now() + 10s; FiberLoop::clock::now() < give_up;) {
            const auto seen = mock.requests();
            if (!seen.empty() && seen[0].first_content_write && FiberLoop::clock::now() >= *seen[0].first_content_write + 250ms) break;
        }
    });
    loop.run();
    REQUIRE(record.ok());
    CHECK(record.client.content_chunks == 5);
    const auto written = mock.requests().at(0).first_content_write;
    REQUIRE(written.has_value());
    REQUIRE(record.client.first_token_at.has_value());
    REQUIRE(record.client.ended_at.has_value());
    const double stamped = std::chrono::duration<double>(*record.client.first_token_at - *written).count();
    CHECK(stamped >= 0.0);
    CHECK(stamped < 0.100);  // the kernel's time, not the 250 ms the token waited for the loop
    CHECK(*record.client.ended_at - *written >= 200ms);  // the stream really was held up
}

TEST_CASE("the mock on an event loop answers as cpp-httplib serves it: bodies, statuses, streams, kept-alive connections") {
    llmbench::testing::MockOpenAIConfig base;
    base.flavour = llmbench::testing::OpenAIFlavour::llamacpp;
    base.tokens = 6;
    llmbench::testing::MockOpenAIConfig looped = base;
    looped.event_loop_threads = 2;
    llmbench::testing::MockOpenAI threaded_mock(base), looped_mock(looped);
    looped_mock.script({llmbench::testing::OpenAIFault::none, llmbench::testing::OpenAIFault::http_500});
    threaded_mock.script({llmbench::testing::OpenAIFault::none, llmbench::testing::OpenAIFault::http_500});
    for (auto* mock : {&threaded_mock, &looped_mock}) {
        httplib::Client http("127.0.0.1", mock->port());
        const auto models = http.Get("/v1/models");
        REQUIRE(models);
        CHECK(models->status == 200);
        CHECK(models->body.find("\"id\":\"mock-model\"") != std::string::npos);
        const auto missing = http.Get("/nothing-here");
        REQUIRE(missing);
        CHECK(missing->status == 404);
    }
    // The same streams, read by the client through both: one kept-alive connection each.
    auto a = llmbench::make_openai_backend(threaded_mock.base_url());
    auto b = llmbench::make_openai_backend(looped_mock.base_url());
    llmbench::GenerateRequest request;
    request.model = "mock-model";
    request.prompt = "Hi";
    for (int i = 0; i < 3; ++i) {
        const auto x = llmbench::measure(*a, request), y = llmbench::measure(*b, request);
        CHECK(x.ok() == y.ok());
        CHECK(x.output.text == y.output.text);
        CHECK(x.server.eval_count == y.server.eval_count);
        CHECK(x.client.content_chunks == y.client.content_chunks);
        CHECK(x.outcome.http_status == y.outcome.http_status);
        const auto after_port = [](const std::string& m) { return m.substr(std::min(m.size(), m.find("/v1/"))); };  // the ports differ
        CHECK(after_port(x.outcome.error_message) == after_port(y.outcome.error_message));
        CHECK(y.ok() == (i != 1));  // the second was scripted to answer 500
    }
    CHECK(looped_mock.requests().size() == 3);
    llmbench::testing::MockOpenAIConfig with_slots = looped;
    with_slots.slots = 1;
    CHECK_THROWS_AS(llmbench::testing::MockOpenAI{with_slots}, llmbench::error);
}

TEST_CASE("an event callback that waits in the event loop keeps its chunk's text while the thread's other streams parse theirs") {
    // The streams of a thread share one parser (json_parse.hpp): a callback that sleeps lets
    // the other stream parse its chunks meanwhile, and the text it was handed must not change.
    llmbench::testing::MockOllama mock;
    const std::vector<std::string> prompts{"Why is the sky blue?", "Name three rivers of Europe."};
    std::vector<llmbench::StreamResult> results(prompts.size());
    std::vector<std::string> seen(prompts.size());
    std::size_t events = 0, changed = 0;
    FiberLoop loop;
    for (std::size_t i = 0; i < prompts.size(); ++i)
        loop.spawn([&, i] {
            llmbench::OllamaClient client(mock.endpoint());
            llmbench::GenerateRequest request;
            request.model = "llama3.1:8b";
            request.prompt = prompts[i];
            request.options.num_predict = 8;
            llmbench::StreamTimer timer;
            results[i] = client.generate(request, timer, [&, i](const llmbench::StreamEvent& e) {
                const std::string text(e.text);
                llmbench::detail::sleep_until(FiberLoop::clock::now() + 2ms);  // the other stream reads and parses
                ++events;
                if (e.text != text) ++changed;
                seen[i] += text;
            });
        });
    loop.run();
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        REQUIRE_MESSAGE(results[i].ok(), std::string(results[i].failure ? results[i].failure->what() : ""));
        CHECK(results[i].text.size() > 8);
        CHECK(seen[i] == results[i].text);
    }
    CHECK(results[0].text != results[1].text);  // else a text overwritten by the other's would pass
    CHECK(events == 18);  // 8 tokens and the final line, each stream
    CHECK(changed == 0);
}

#endif
