// The event loop under run_load: fibers that take turns where they wait, socket waits that end
// on an edge or a deadline, and a stream measured inside it exactly as outside (kernel times).
#include <llmbench/detail/fiber_loop.hpp>

#if LLMBENCH_HAS_FIBER_LOOP
#include <llmbench/client/backend.hpp>
#include <llmbench/measure/measure.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cfenv>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using llmbench::detail::FiberLoop;

TEST_CASE("an event loop: fibers take turns where they wait, wake in deadline order, and a failure is rethrown after all end") {
    FiberLoop loop;
    std::vector<std::string> order;
    const auto t0 = FiberLoop::clock::now();
    loop.spawn([&] {
        order.push_back("a starts");
        llmbench::detail::sleep_until(t0 + 30ms);
        order.push_back("a wakes");
    });
    loop.spawn([&] {
        order.push_back("b starts");
        CHECK(FiberLoop::current() == &loop);
        llmbench::detail::sleep_until(t0 + 10ms);
        order.push_back("b wakes");
        throw std::runtime_error("b failed");
    });
    loop.spawn([&] { order.push_back("c ends"); });
    CHECK(FiberLoop::current() == nullptr);
    CHECK_THROWS_WITH_AS(loop.run(), "b failed", std::runtime_error);
    CHECK(FiberLoop::current() == nullptr);
    CHECK(order == std::vector<std::string>{"a starts", "b starts", "c ends", "b wakes", "a wakes"});  // a still ran to its end
    CHECK(FiberLoop::clock::now() - t0 >= 30ms);
}

TEST_CASE("each fiber keeps its own registers and floating-point rounding across switches - and the thread's signal mask is left alone") {
    FiberLoop loop;
    std::vector<int> rounding(2, -1);
    std::vector<double> sums(2, 0.0);
    sigset_t blocked_in_fiber;
    sigemptyset(&blocked_in_fiber);
    for (int id = 0; id < 2; ++id)
        loop.spawn([&, id] {
            if (id == 1) std::fesetround(FE_UPWARD);  // the other fiber keeps the default
            volatile double third = 1.0;
            double sum = 0;
            for (int i = 0; i < 1000; ++i) {
                sum += third / 3.0;  // rounded as this fiber's mode says
                FiberLoop::current()->yield();
            }
            sums[static_cast<std::size_t>(id)] = sum;
            rounding[static_cast<std::size_t>(id)] = std::fegetround();
            if (id == 0) {
                sigset_t usr1;
                sigemptyset(&usr1);
                sigaddset(&usr1, SIGUSR1);
                ::pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
                FiberLoop::current()->yield();
                ::pthread_sigmask(SIG_BLOCK, nullptr, &blocked_in_fiber);  // as it was set, whoever ran meanwhile
                ::pthread_sigmask(SIG_UNBLOCK, &usr1, nullptr);
            }
        });
    loop.run();
    CHECK(rounding[0] == FE_TONEAREST);
    CHECK(rounding[1] == FE_UPWARD);
    CHECK(sums[1] > sums[0]);  // rounding up, every one of the 1,000 additions
    CHECK(std::fegetround() == FE_TONEAREST);  // the scheduler's own mode came back too
    CHECK(sigismember(&blocked_in_fiber, SIGUSR1) == 1);
}

TEST_CASE("an event loop: a socket wait ends when bytes arrive, and at its deadline when none do") {
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) == 0);
    FiberLoop loop;
    bool got_bytes = false, timed_out = false, second_edge = false;
    loop.spawn([&] {
        REQUIRE(FiberLoop::current()->watch(pair[0]));
        const auto start = FiberLoop::clock::now();
        got_bytes = FiberLoop::current()->wait(pair[0], FiberLoop::Direction::read, start + 5s);
        CHECK(FiberLoop::clock::now() - start < 4s);  // woken by the write, not the deadline
        char buf[16];
        CHECK(::read(pair[0], buf, sizeof buf) == 2);
        // Nothing more was written: this wait ends at its deadline.
        timed_out = !FiberLoop::current()->wait(pair[0], FiberLoop::Direction::read, FiberLoop::clock::now() + 20ms);
        // Bytes that arrive while the fiber is not waiting are an edge the next wait sees at once.
        llmbench::detail::sleep_until(FiberLoop::clock::now() + 30ms);
        second_edge = FiberLoop::current()->wait(pair[0], FiberLoop::Direction::read, FiberLoop::clock::now() + 5s);
        CHECK(::read(pair[0], buf, sizeof buf) == 1);
        FiberLoop::current()->forget(pair[0]);
    });
    loop.spawn([&] {
        llmbench::detail::sleep_until(FiberLoop::clock::now() + 10ms);
        CHECK(::write(pair[1], "hi", 2) == 2);
        llmbench::detail::sleep_until(FiberLoop::clock::now() + 40ms);  // the reader has timed out and sleeps
        CHECK(::write(pair[1], "!", 1) == 1);
    });
    loop.run();
    CHECK(got_bytes);
    CHECK(timed_out);
    CHECK(second_edge);
    ::close(pair[0]);
    ::close(pair[1]);
}

TEST_CASE("a stream in the event loop keeps its kernel arrival times while another fiber holds the thread") {
    // The first token is written ~20 ms in; another fiber of the same loop keeps the thread for
    // 250 ms. The token waits in the socket until then, and its arrival time must be the kernel's.
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
        const auto until = FiberLoop::clock::now() + 250ms;
        while (FiberLoop::clock::now() < until) {
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
    CHECK(stamped < 0.100);  // the kernel's time, not the 250 ms the loop was held
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

#endif
