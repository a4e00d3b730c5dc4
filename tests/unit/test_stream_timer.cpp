#include <llmbench/core/stream_timer.hpp>

#include <chrono>

#include <doctest/doctest.h>

using doctest::Approx;
using llmbench::StreamTimer;
using namespace std::chrono_literals;

TEST_CASE("StreamTimer derives TTFT, wall time and inter-chunk gaps from injected time") {
    StreamTimer::time_point t0{};
    StreamTimer::time_point now = t0;
    StreamTimer timer([&] { return now; });
    timer.mark_sent(timer.now());
    now = t0 + 200ms;
    timer.mark_first_byte(timer.now());
    timer.mark_content(t0 + 250ms);
    timer.mark_content(t0 + 260ms);
    timer.mark_content(t0 + 290ms);
    timer.mark_done(t0 + 300ms);
    CHECK(*timer.ttft_s() == Approx(0.250));
    CHECK(*timer.first_byte_s() == Approx(0.200));
    CHECK(*timer.wall_s() == Approx(0.300));
    REQUIRE(timer.gaps_s().size() == 2);
    CHECK(timer.gaps_s()[0] == Approx(0.010));
    CHECK(timer.gaps_s()[1] == Approx(0.030));
    CHECK(*timer.decode_window_s() == Approx(0.040));
    const auto gaps = timer.gap_stats();
    CHECK(gaps.n == 2);
    CHECK(gaps.p50 == Approx(0.020));  // halfway between 10 ms and 30 ms
    CHECK(gaps.p95 == Approx(0.029));
    CHECK(gaps.max == Approx(0.030));
    CHECK(*timer.chunks_per_s() == Approx(2 / 0.040));
}

TEST_CASE("no content means no TTFT, and mark_sent starts over") {
    StreamTimer timer;
    timer.mark_sent(StreamTimer::time_point{});
    timer.mark_done(StreamTimer::time_point{} + 1s);
    CHECK_FALSE(timer.ttft_s().has_value());
    CHECK_FALSE(timer.chunks_per_s().has_value());
    CHECK(*timer.wall_s() == Approx(1.0));
    timer.mark_content(StreamTimer::time_point{} + 2s);
    timer.mark_sent(StreamTimer::time_point{} + 3s);
    CHECK(timer.content_chunks() == 0);
    CHECK_FALSE(timer.wall_s().has_value());
}
