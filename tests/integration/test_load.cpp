// Load: closed-loop concurrency and open-loop rates against the mock OpenAI server, with the
// accounting checked (peak streams, queueing in TTFT, schedule accuracy, goodput).
#include <llmbench/load.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include <doctest/doctest.h>

using namespace llmbench;
using namespace std::chrono_literals;

namespace {
std::function<std::unique_ptr<Backend>()> openai_backends(const std::string& url) {
    return [url] {
        struct Owning : OpenAIBackend {
            explicit Owning(std::unique_ptr<OpenAIClient> c) : OpenAIBackend(*c), client(std::move(c)) {}
            std::unique_ptr<OpenAIClient> client;
        };
        return std::unique_ptr<Backend>(new Owning(std::make_unique<OpenAIClient>(url)));
    };
}
GenerateRequest small_request() {
    GenerateRequest r;
    r.model = "mock-model";
    r.prompt = "Hi";
    r.options.num_predict = 10;
    return r;
}
}  // namespace

TEST_CASE("closed loop: N streams at once, each request timed, tokens and throughput counted") {
    testing::MockOpenAIConfig cfg;
    cfg.token_delay = 1ms;
    testing::MockOpenAI mock(cfg);
    LoadSpec spec;
    spec.concurrency = 4;
    spec.requests = 16;
    const auto result = run_load(openai_backends(mock.base_url()), small_request(), spec);
    CHECK(result.succeeded() == 16);
    CHECK(result.peak_concurrency == 4);
    CHECK(mock.peak_in_flight() == 4);
    for (const auto& r : result.requests) {
        CHECK(r.output_tokens == 10);
        REQUIRE(r.tpot_s.has_value());
        CHECK(*r.tpot_s >= 0.0009);  // 1 ms between tokens
    }
    CHECK(result.output_token_throughput() == doctest::Approx(160 / result.duration_s));
}

TEST_CASE("a server with one slot: queueing shows in TTFT, and goodput counts only requests within the SLO") {
    testing::MockOpenAIConfig cfg;
    cfg.token_delay = 2ms;
    cfg.slots = 1;
    testing::MockOpenAI mock(cfg);
    LoadSpec spec;
    spec.concurrency = 4;
    spec.requests = 12;
    spec.slo_ttft_s = 0.012;  // met only when a request does not wait behind another (~18 ms each)
    const auto result = run_load(openai_backends(mock.base_url()), small_request(), spec);
    REQUIRE(result.succeeded() == 12);
    CHECK(mock.peak_in_flight() == 1);
    const Stats ttft = result.stats([](const LoadRequest& r) { return r.ttft_s; });
    CHECK(ttft.max > 3 * ttft.min);  // the last in the queue waited for the three before it
    CHECK(result.goodput() < result.request_throughput());
}

TEST_CASE("open loop: the schedule's rate is kept, and waits for the cap count in latency") {
    const auto schedule = arrival_schedule(2000, 100.0, 1.0, 7);
    CHECK(2000.0 / schedule.back() == doctest::Approx(100.0).epsilon(0.05));  // Poisson at 100/s
    const auto bursty = arrival_schedule(2000, 100.0, 0.5, 7);
    CHECK(1999.0 / bursty.back() == doctest::Approx(100.0).epsilon(0.1));    // same mean rate, burstier gaps

    testing::MockOpenAIConfig cfg;
    testing::MockOpenAI mock(cfg);
    LoadSpec spec;
    spec.request_rate = 200.0;
    spec.requests = 100;
    spec.concurrency = 0;
    spec.seed = 3;
    const auto result = run_load(openai_backends(mock.base_url()), small_request(), spec);
    CHECK(result.succeeded() == 100);
    CHECK(result.achieved_send_rate() == doctest::Approx(99.0 / arrival_schedule(100, 200.0, 1.0, 3).back()).epsilon(0.1));

    testing::MockOpenAIConfig slow;
    slow.first_token_delay = 20ms;
    testing::MockOpenAI busy(slow);
    spec.concurrency = 1;  // one worker: later requests wait for it, and that wait is latency
    spec.requests = 5;
    const auto capped = run_load(openai_backends(busy.base_url()), small_request(), spec);
    CHECK(capped.requests.back().ttft_s.value_or(0) > 0.05);
    CHECK_THROWS_AS(run_load(openai_backends(busy.base_url()), small_request(), LoadSpec{0, std::nullopt, 1.0, 1, 0, {}, {}}), error);
}
