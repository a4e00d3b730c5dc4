#include <llmbench/metrics.hpp>
#include <llmbench/run_record.hpp>

#include <chrono>

#include <doctest/doctest.h>

using doctest::Approx;
using namespace llmbench;
using namespace std::chrono_literals;

namespace {
RunRecord record_with(std::int64_t prompt_count, std::int64_t prompt_ns, std::int64_t eval_count, std::int64_t eval_ns) {
    StreamResult result;
    result.done = true;
    result.text = "hello";
    result.server.prompt_eval_count = prompt_count;
    result.server.prompt_eval_duration_ns = prompt_ns;
    result.server.eval_count = eval_count;
    result.server.eval_duration_ns = eval_ns;
    result.server.load_duration_ns = 5'000'000;
    StreamTimer timer;
    const StreamTimer::time_point t0{};
    timer.mark_sent(t0);
    timer.mark_content(t0 + 100ms);
    timer.mark_content(t0 + 120ms);
    timer.mark_content(t0 + 150ms);
    timer.mark_done(t0 + 160ms);
    return make_run_record(result, timer, RunContext{"mock", "m", "p1", 0, false, 256});
}
}  // namespace

TEST_CASE("rates are the reference script's formulas, plus the corrected decode rate") {
    const auto r = record_with(26, 325'953'000, 290, 4'709'213'000);
    CHECK(*r.gen_toks_per_s() == Approx(290 / 4.709213));
    CHECK(*r.prompt_toks_per_s() == Approx(26 / 0.325953));
    CHECK(*r.decode_toks_per_s() == Approx(289 / 4.709213));
    CHECK(*r.client_decode_toks_per_s() == Approx(289 / 0.050));
    CHECK(*r.ttft_s == Approx(0.100));
    CHECK(*r.itl_p50_s == Approx(0.025));
    CHECK(*r.itl_max_s == Approx(0.030));
    CHECK(r.output_sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");  // sha256("hello")
}

TEST_CASE("missing server fields are unknown, not zero") {
    StreamResult result;
    StreamTimer timer;
    const auto r = make_run_record(result, timer, RunContext{});
    CHECK_FALSE(r.gen_toks_per_s().has_value());
    CHECK_FALSE(r.prompt_toks_per_s().has_value());
    CHECK(r.to_json().find("\"gen_toks_per_s\":null") != std::string::npos);
}

TEST_CASE("flags: short output, TTFT below server time, suspected prompt cache") {
    auto first = record_with(400, 200'000'000, 256, 1'000'000'000);
    flag_run(first, nullptr);
    CHECK_FALSE(first.flags.prompt_cache_suspected);
    CHECK_FALSE(first.flags.short_output);
    CHECK(first.flags.ttft_below_server);  // ttft 0.1 s < load 0.005 + prompt 0.2

    auto repeat = record_with(400, 300'000, 100, 1'000'000'000);  // same count, 1 token's time
    flag_run(repeat, &first);
    CHECK(repeat.flags.prompt_cache_suspected);
    CHECK(repeat.flags.short_output);

    auto shrunk = record_with(1, 300'000, 256, 1'000'000'000);  // count of new tokens only
    flag_run(shrunk, &first);
    CHECK(shrunk.flags.prompt_cache_suspected);

    auto fresh = record_with(400, 60'000'000, 256, 1'000'000'000);  // 3.3x faster: within run-to-run noise
    flag_run(fresh, &first);
    CHECK_FALSE(fresh.flags.prompt_cache_suspected);
    CHECK_FALSE(fresh.flags.ttft_below_server);
}

TEST_CASE("MetricsAccumulator counts failures by kind and keeps warm-ups out") {
    MetricsAccumulator acc;
    auto a = record_with(10, 10'000'000, 100, 1'000'000'000);
    a.ok = true;
    acc.add(a);
    auto b = record_with(10, 10'000'000, 50, 1'000'000'000);
    b.ok = true;
    acc.add(b);
    auto warm = b;
    warm.warmup = true;
    acc.add(warm);
    RunRecord failed;
    failed.ok = false;
    failed.error_kind = errc::server;
    acc.add(failed);
    const auto s = acc.summary();
    CHECK(s.runs_ok == 2);
    CHECK(s.runs_failed == 1);
    CHECK(s.failures_by_kind.at("server") == 1);
    const Stats* gen = s.find("gen_toks_per_s");
    REQUIRE(gen != nullptr);
    CHECK(gen->n == 2);
    CHECK(gen->mean == Approx(75));
    REQUIRE(s.per_prompt.size() == 1);
    CHECK(s.per_prompt[0].first == "p1");
}

TEST_CASE("determinism share and the CV warning") {
    MetricsAccumulator acc;
    auto add = [&](const char* prompt, const char* sha, std::int64_t eval_ns) {
        auto r = record_with(10, 10'000'000, 100, eval_ns);
        r.prompt_id = prompt;
        r.output_sha256 = sha;
        acc.add(r);
    };
    add("a", "h1", 1'000'000'000);
    add("a", "h1", 1'000'000'000);
    add("b", "h2", 1'000'000'000);
    add("b", "h3", 1'000'000'000);
    add("c", "h4", 1'000'000'000);  // one run: not compared
    auto s = acc.summary();
    CHECK(s.prompts_compared == 2);
    CHECK(s.identical_outputs == 1);
    CHECK(s.warnings.empty());
    CHECK(s.to_json().find(R"("determinism":{"prompts_compared":2,"identical_outputs":1,"share":0.5})") != std::string::npos);
    add("c", "h4", 2'000'000'000);  // gen_toks_per_s 50 among 100s: CV well over 5%
    s = acc.summary();
    REQUIRE(s.warnings.size() == 1);
    CHECK(s.warnings[0].find("gen_toks_per_s varies by") == 0);
    CHECK(s.identical_outputs == 2);
}
