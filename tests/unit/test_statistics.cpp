#include <llmbench/core/statistics.hpp>

#include <cmath>

#include <doctest/doctest.h>

using doctest::Approx;
using llmbench::compute_stats;
using llmbench::percentile;

TEST_CASE("percentiles interpolate linearly between closest ranks (numpy default)") {
    // Hand-computed: n=5, sorted {1,2,3,4,10}. p50: h=2 -> 3. p90: h=3.6 -> 4+0.6*6=7.6.
    // p95: h=3.8 -> 4+0.8*6=8.8. p25: h=1 -> 2. p99: h=3.96 -> 4+0.96*6=9.76.
    const std::vector<double> x{10, 2, 4, 1, 3};
    CHECK(percentile(x, 50) == Approx(3));
    CHECK(percentile(x, 90) == Approx(7.6));
    CHECK(percentile(x, 95) == Approx(8.8));
    CHECK(percentile(x, 25) == Approx(2));
    CHECK(percentile(x, 99) == Approx(9.76));
    CHECK(percentile(x, 0) == Approx(1));
    CHECK(percentile(x, 100) == Approx(10));
    // n=4 {1,2,3,4}: p50 h=1.5 -> 2.5; p95 h=2.85 -> 3.85.
    CHECK(percentile({4, 3, 2, 1}, 50) == Approx(2.5));
    CHECK(percentile({4, 3, 2, 1}, 95) == Approx(3.85));
    CHECK(percentile({7}, 95) == Approx(7));
    CHECK(std::isnan(percentile({}, 50)));
}

TEST_CASE("stats: mean, sample stddev, CV and the t-based 95% CI by hand") {
    // {2,4,4,4,5,5,7,9}: mean 5, sum of squares 32, sample variance 32/7, sd 2.13809.
    // t(0.975, 7) = 2.3646; half-width = 2.3646 * 2.13809 / sqrt(8) = 1.78747.
    const auto s = compute_stats({2, 4, 4, 4, 5, 5, 7, 9});
    CHECK(s.n == 8);
    CHECK(s.mean == Approx(5));
    CHECK(s.stddev == Approx(2.13809).epsilon(1e-5));
    CHECK(s.cv == Approx(2.13809 / 5).epsilon(1e-5));
    CHECK(s.ci95_low == Approx(5 - 1.78747).epsilon(1e-4));
    CHECK(s.ci95_high == Approx(5 + 1.78747).epsilon(1e-4));
    CHECK(s.min == 2);
    CHECK(s.max == 9);
    CHECK(s.p50 == Approx(4.5));
}

TEST_CASE("one sample has no spread - none has nothing") {
    const auto one = compute_stats({3.5});
    CHECK(one.mean == 3.5);
    CHECK(std::isnan(one.stddev));
    CHECK(std::isnan(one.ci95_low));
    const auto none = compute_stats({});
    CHECK(none.n == 0);
    CHECK(std::isnan(none.mean));
}

TEST_CASE("Student t quantiles match tables") {
    CHECK(llmbench::student_t_975(1) == Approx(12.7062).epsilon(1e-4));
    CHECK(llmbench::student_t_975(4) == Approx(2.7764).epsilon(1e-4));
    CHECK(llmbench::student_t_975(30) == Approx(2.0423).epsilon(1e-4));
    CHECK(llmbench::student_t_975(40) == Approx(2.0211).epsilon(1e-4));
    CHECK(llmbench::student_t_975(60) == Approx(2.0003).epsilon(1e-4));
    CHECK(llmbench::student_t_975(120) == Approx(1.9799).epsilon(1e-4));
}
