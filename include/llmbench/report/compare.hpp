// llmbench/report/compare.hpp - A versus B with statistics: is the difference real?
//
// Per metric and matching cell: medians of A and B, the relative change of the median, a 95%
// bootstrap confidence interval of that change, a two-sided Mann-Whitney U p-value, and a
// verdict. A difference is called only when the test and the interval agree. Runs measured
// under different conditions (model digest, sampling parameters, hardware) are refused
// unless forced, and the differences are listed.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <tuple>
#include <string>
#include <utility>
#include <vector>

#include "llmbench/report/results.hpp"
#include "llmbench/core/statistics.hpp"

namespace llmbench {

/// McNemar's exact test for two scorings of the same items: `a_only` items right under A
/// only, `b_only` right under B only (items both got right or wrong say nothing). Two-sided
/// p = min(1, 2 * P(X <= min(a_only, b_only))) for X ~ Binomial(a_only + b_only, 1/2); 1 when
/// no item differs.
inline double mcnemar_exact_p(std::size_t a_only, std::size_t b_only) {
    const std::size_t n = a_only + b_only, k = std::min(a_only, b_only);
    if (n == 0) return 1;
    // P(X = i) = C(n, i) / 2^n, summed in logs so that n in the thousands neither overflows nor underflows
    double tail = 0;
    for (std::size_t i = 0; i <= k; ++i) {
        const double dn = static_cast<double>(n), di = static_cast<double>(i);
        tail += std::exp(std::lgamma(dn + 1) - std::lgamma(di + 1) - std::lgamma(dn - di + 1) - dn * std::log(2.0));
    }
    return std::min(1.0, 2 * tail);
}

struct MannWhitneyResult {
    double u = 0;        ///< U of the first sample: pairs (a, b) with a > b, ties counting one half
    double p_value = 1;  ///< two-sided
    bool exact = false;  ///< exact distribution (no ties, both n <= 50), else normal approximation
};

/// Mann-Whitney U test (Wilcoxon rank-sum), two-sided. Exact when there are no ties and both
/// samples have at most 50 values; otherwise the normal approximation with tie correction and
/// continuity correction (as scipy.stats.mannwhitneyu with method="asymptotic").
inline MannWhitneyResult mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b) {
    MannWhitneyResult r;
    const std::size_t na = a.size(), nb = b.size(), n = na + nb;
    if (na == 0 || nb == 0) return r;
    std::vector<std::pair<double, bool>> all;  // value, from a
    for (double v : a) all.push_back({v, true});
    for (double v : b) all.push_back({v, false});
    std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    double rank_sum_a = 0, tie_term = 0;
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i;
        while (j < n && all[j].first == all[i].first) ++j;
        const double mid_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;  // ranks i+1..j
        for (std::size_t k = i; k < j; ++k)
            if (all[k].second) rank_sum_a += mid_rank;
        const auto t = static_cast<double>(j - i);
        tie_term += t * t * t - t;
        i = j;
    }
    const double dna = static_cast<double>(na), dnb = static_cast<double>(nb), dn = static_cast<double>(n);
    r.u = rank_sum_a - dna * (dna + 1) / 2;
    const double mean_u = dna * dnb / 2;
    if (tie_term == 0 && na <= 50 && nb <= 50) {
        // counts[k] = arrangements with U = k, built by the recurrence over sample sizes
        // N(u; m, k) = N(u - k; m - 1, k) + N(u; m, k - 1), in doubles (C(100, 50) ~ 1e29).
        const std::size_t max_u = na * nb;
        std::vector<std::vector<std::vector<double>>> table(na + 1, std::vector<std::vector<double>>(nb + 1));
        for (std::size_t m = 0; m <= na; ++m)
            for (std::size_t k = 0; k <= nb; ++k) {
                auto& cur = table[m][k];
                cur.assign(m * k + 1, 0);
                if (m == 0 || k == 0) {
                    cur[0] = 1;
                    continue;
                }
                const auto& fewer_a = table[m - 1][k];
                const auto& fewer_b = table[m][k - 1];
                for (std::size_t u = 0; u <= m * k; ++u)
                    cur[u] = (u >= k && u - k < fewer_a.size() ? fewer_a[u - k] : 0) + (u < fewer_b.size() ? fewer_b[u] : 0);
            }
        const auto& counts = table[na][nb];
        const double total = std::accumulate(counts.begin(), counts.end(), 0.0);
        const auto u = static_cast<std::size_t>(std::llround(r.u));
        double lower = 0, upper = 0;
        for (std::size_t k = 0; k <= max_u; ++k) {
            if (k <= u) lower += counts[k];
            if (k >= u) upper += counts[k];
        }
        r.p_value = std::min(1.0, 2 * std::min(lower, upper) / total);
        r.exact = true;
        return r;
    }
    const double variance = dna * dnb / 12 * ((dn + 1) - tie_term / (dn * (dn - 1)));
    if (variance <= 0) return r;  // every value equal: no evidence of a difference
    const double distance = std::max(std::fabs(r.u - mean_u) - 0.5, 0.0);
    r.p_value = std::min(1.0, std::erfc(distance / std::sqrt(variance) / std::sqrt(2.0)));
    return r;
}

inline double median_of(std::vector<double> v) { return percentile(std::move(v), 50); }

/// 95% (by default) percentile-bootstrap interval of median(B) / median(A) - 1: both samples
/// resampled with replacement, `resamples` times, from a fixed seed so reports repeat
/// exactly. Indices come straight from mt19937_64 (not a std distribution, whose algorithm
/// differs between standard libraries), so the interval is the same on every platform.
inline std::pair<double, double> bootstrap_relative_change(const std::vector<double>& a, const std::vector<double>& b,
                                                           int resamples = 10000, std::uint64_t seed = 0x6c6c6d62656e6368ULL,
                                                           double level = 0.95) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (a.empty() || b.empty()) return {nan, nan};
    std::mt19937_64 rng(seed);
    std::vector<double> changes, ra(a.size()), rb(b.size());
    changes.reserve(static_cast<std::size_t>(resamples));
    for (int i = 0; i < resamples; ++i) {
        for (auto& v : ra) v = a[rng() % a.size()];
        for (auto& v : rb) v = b[rng() % b.size()];
        const double ma = median_of(ra);
        if (ma != 0) changes.push_back(median_of(rb) / ma - 1);
    }
    if (changes.empty()) return {nan, nan};
    const double tail = (1 - level) / 2 * 100;
    return {percentile(changes, tail), percentile(changes, 100 - tail)};
}

enum class Verdict { better, worse, no_difference, too_few_runs };

struct MetricComparison {
    std::string metric;
    std::size_t n_a = 0, n_b = 0;
    double median_a = std::numeric_limits<double>::quiet_NaN(), median_b = median_a;
    double change = median_a;                   ///< median_b / median_a - 1
    double ci_low = median_a, ci_high = median_a;  ///< bootstrap interval of `change`
    MannWhitneyResult test;
    Verdict verdict = Verdict::too_few_runs;

    /// "faster" / "slower" for times and rates, "lower" / "higher" for the rest.
    std::string verdict_text() const {
        const Metric* info = find_metric(metric);
        const bool speed = info && (std::string(info->unit) == "s" || std::string(info->unit) == "tok/s");
        const bool higher_is_better = info && info->higher_is_better;
        switch (verdict) {
            case Verdict::better: return speed ? "faster" : (higher_is_better ? "higher" : "lower");
            case Verdict::worse: return speed ? "slower" : (higher_is_better ? "lower" : "higher");
            case Verdict::no_difference: return "no significant difference";
            case Verdict::too_few_runs: return "too few runs to tell";
        }
        return "";
    }
};

struct CellComparison {
    const ResultCell* a = nullptr;
    const ResultCell* b = nullptr;
    std::vector<MetricComparison> metrics;
};

struct CompareOptions {
    double alpha = 0.05;        ///< significance level of the test; the interval is at 1 - alpha
    int resamples = 10000;
    std::size_t min_runs = 3;   ///< per side, below which no verdict is given
    std::vector<std::string> metrics = {"ttft_s", "gen_toks_per_s", "prompt_toks_per_s", "decode_toks_per_s", "wall_s",
                                        "peak_rss_bytes", "peak_vram_bytes", "joules_per_token"};
};

/// Compares one metric's timed samples.
inline MetricComparison compare_samples(const std::string& metric, const std::vector<double>& a, const std::vector<double>& b,
                                        const CompareOptions& options = {}) {
    MetricComparison c;
    c.metric = metric;
    c.n_a = a.size();
    c.n_b = b.size();
    if (a.empty() || b.empty()) return c;
    c.median_a = median_of(a);
    c.median_b = median_of(b);
    c.change = c.median_a != 0 ? c.median_b / c.median_a - 1 : std::numeric_limits<double>::quiet_NaN();
    std::tie(c.ci_low, c.ci_high) = bootstrap_relative_change(a, b, options.resamples, 0x6c6c6d62656e6368ULL, 1 - options.alpha);
    c.test = mann_whitney_u(a, b);
    if (a.size() < options.min_runs || b.size() < options.min_runs) return c;
    const bool significant = c.test.p_value < options.alpha && (c.ci_low > 0 || c.ci_high < 0);
    if (!significant) {
        c.verdict = Verdict::no_difference;
        return c;
    }
    const Metric* info = find_metric(metric);
    const bool higher_is_better = info && info->higher_is_better;
    c.verdict = (c.change > 0) == higher_is_better ? Verdict::better : Verdict::worse;
    return c;
}

/// Pairs cells with the same coordinates; when each side holds a single cell, pairs those.
inline std::vector<CellComparison> compare_results(const ResultSet& a, const ResultSet& b, const CompareOptions& options = {}) {
    std::vector<CellComparison> out;
    const auto add = [&](const ResultCell& ca, const ResultCell& cb) {
        CellComparison cc{&ca, &cb, {}};
        for (const auto& metric : options.metrics) {
            auto sa = ca.samples(metric), sb = cb.samples(metric);
            if (sa.empty() && sb.empty()) continue;
            cc.metrics.push_back(compare_samples(metric, sa, sb, options));
        }
        out.push_back(std::move(cc));
    };
    for (const auto& ca : a.cells)
        for (const auto& cb : b.cells)
            if (detail::same_cell(ca.coordinates, cb.coordinates)) add(ca, cb);
    if (out.empty() && a.cells.size() == 1 && b.cells.size() == 1) add(a.cells[0], b.cells[0]);
    return out;
}

/// What differs between the conditions of A and B that would make a comparison unfair:
/// model digests, sampling parameters, hardware, the server's settings (placement, slots, chat
/// template, default sampling values, OLLAMA_* environment). Empty when they match. (A different
/// backend version is not listed: that is usually what is being compared.)
inline std::vector<std::string> comparability_problems(const ResultSet& a, const ResultSet& b) {
    std::vector<std::string> problems;
    const auto first_meta = [](const ResultSet& s) -> const ResultMetadata* {
        for (const auto& f : s.files)
            if (!f.metadata.empty()) return &f.metadata.front();
        return nullptr;
    };
    const ResultMetadata* ma = first_meta(a);
    const ResultMetadata* mb = first_meta(b);
    if (!ma || !mb) {
        problems.push_back(std::string("no metadata line in ") + (!ma ? "A" : "B") + ": conditions cannot be checked");
        return problems;
    }
    const auto differ = [&](const std::string& what, const std::string& va, const std::string& vb) {
        if (va != vb) problems.push_back(what + ": A " + (va.empty() ? "(unknown)" : va) + ", B " + (vb.empty() ? "(unknown)" : vb));
    };
    // Model digests, per tag both sides ran.
    bool shared_tag = false;
    for (const auto& fa : a.files)
        for (const auto& xa : fa.metadata)
            for (const auto& fb : b.files)
                for (const auto& xb : fb.metadata)
                    if (xa.model_tag == xb.model_tag) {
                        shared_tag = true;
                        differ("model digest of " + xa.model_tag + " differs", xa.model_digest.substr(0, 12), xb.model_digest.substr(0, 12));
                    }
    if (!shared_tag) differ("models differ", ma->model_tag + " " + ma->model_digest.substr(0, 12), mb->model_tag + " " + mb->model_digest.substr(0, 12));
    differ("sampling parameters differ", ma->request_options, mb->request_options);
    differ("CPU differs", ma->cpu_model, mb->cpu_model);
    differ("GPUs differ", ma->gpus, mb->gpus);
    differ("RAM differs", ma->total_ram_bytes ? std::to_string(*ma->total_ram_bytes) + " bytes" : "",
           mb->total_ram_bytes ? std::to_string(*mb->total_ram_bytes) + " bytes" : "");
    differ("model placement differs", ma->placement, mb->placement);
    differ("server parallelism differs", ma->server_parallel, mb->server_parallel);
    differ("server chat template differs (sha256)", ma->chat_template_sha256.substr(0, 12), mb->chat_template_sha256.substr(0, 12));
    differ("server default settings differ", ma->server_defaults, mb->server_defaults);
    differ("server environment differs", ma->server_environment, mb->server_environment);
    return problems;
}

}  // namespace llmbench
