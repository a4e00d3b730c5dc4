// llmbench/core/statistics.hpp - percentiles, mean, standard deviation and confidence intervals.
// Pure functions on samples; no knowledge of requests or servers.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace llmbench {

/// Percentile `q` (0..100) of ascending `sorted` samples by linear interpolation between
/// closest ranks: rank h = (n-1)*q/100, value = x[floor h] + (h - floor h)*(x[floor h + 1] - x[floor h]).
/// This is numpy.percentile's default ("linear", Hyndman & Fan type 7). NaN when empty.
inline double percentile_sorted(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
    if (sorted.size() == 1) return sorted.front();
    q = std::clamp(q, 0.0, 100.0);
    const double h = static_cast<double>(sorted.size() - 1) * q / 100.0;
    const auto lo = static_cast<std::size_t>(std::floor(h));
    const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

/// Same as percentile_sorted for unsorted samples (copies and sorts).
inline double percentile(std::vector<double> samples, double q) {
    std::sort(samples.begin(), samples.end());
    return percentile_sorted(samples, q);
}

/// Two-sided 97.5% quantile of Student's t with `df` degrees of freedom, for 95% CIs.
/// Exact table to df=30, then the Cornish-Fisher expansion (error < 1e-4).
inline double student_t_975(std::size_t df) {
    static constexpr double table[] = {
        0,      12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
        2.2010, 2.1788,  2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796,
        2.0739, 2.0687,  2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423};
    if (df == 0) return std::numeric_limits<double>::quiet_NaN();
    if (df <= 30) return table[df];
    const double z = 1.959963984540054, v = static_cast<double>(df);
    const double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;
    return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v) +
           (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v);
}

/// Summary statistics of one metric over a set of samples.
struct Stats {
    std::size_t n = 0;
    double mean = std::numeric_limits<double>::quiet_NaN();
    double stddev = std::numeric_limits<double>::quiet_NaN();  ///< sample (n-1) standard deviation
    double cv = std::numeric_limits<double>::quiet_NaN();      ///< stddev / mean
    double min = std::numeric_limits<double>::quiet_NaN();
    double p50 = std::numeric_limits<double>::quiet_NaN();
    double p90 = std::numeric_limits<double>::quiet_NaN();
    double p95 = std::numeric_limits<double>::quiet_NaN();
    double p99 = std::numeric_limits<double>::quiet_NaN();
    double max = std::numeric_limits<double>::quiet_NaN();
    double ci95_low = std::numeric_limits<double>::quiet_NaN();   ///< mean - t(0.975, n-1) * stddev / sqrt(n)
    double ci95_high = std::numeric_limits<double>::quiet_NaN();  ///< mean + t(0.975, n-1) * stddev / sqrt(n)
};

/// Computes Stats; NaN fields mean "not defined for this n" (stddev and CI need n >= 2).
inline Stats compute_stats(std::vector<double> samples) {
    Stats s;
    s.n = samples.size();
    if (samples.empty()) return s;
    std::sort(samples.begin(), samples.end());
    double sum = 0;
    for (double x : samples) sum += x;
    const double n = static_cast<double>(s.n);
    s.mean = sum / n;
    s.min = samples.front();
    s.max = samples.back();
    s.p50 = percentile_sorted(samples, 50);
    s.p90 = percentile_sorted(samples, 90);
    s.p95 = percentile_sorted(samples, 95);
    s.p99 = percentile_sorted(samples, 99);
    if (s.n >= 2) {
        double ss = 0;
        for (double x : samples) ss += (x - s.mean) * (x - s.mean);
        s.stddev = std::sqrt(ss / (n - 1));
        if (s.mean != 0) s.cv = s.stddev / std::fabs(s.mean);
        const double half = student_t_975(s.n - 1) * s.stddev / std::sqrt(n);
        s.ci95_low = s.mean - half;
        s.ci95_high = s.mean + half;
    }
    return s;
}

/// Above this coefficient of variation a mean is not to be trusted (nanobench warns there too).
inline constexpr double unstable_cv = 0.05;

/// Whether `s` spreads too much for its mean to mean much (needs two samples).
inline bool unstable(const Stats& s) { return s.n >= 2 && s.cv > unstable_cv; }

}  // namespace llmbench
