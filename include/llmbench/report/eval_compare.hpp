// llmbench/report/eval_compare.hpp - two eval-suite files compared: per task, the accuracy of
// A and B over the items both scored, the difference with its interval, and McNemar's exact
// test, which uses the pairing (the same items under both) and so sees differences an
// unpaired test misses.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "llmbench/report/compare.hpp"
#include "llmbench/report/console_table.hpp"
#include "llmbench/report/eval_report.hpp"

namespace llmbench {

/// One task scored in both files, over the items both scored.
struct EvalTaskComparison {
    std::string task, setting_a, setting_b;
    std::size_t paired = 0;        ///< items (and samples) scored in both files
    std::size_t a_only = 0;        ///< right under A only
    std::size_t b_only = 0;        ///< right under B only
    std::size_t both_correct = 0;
    std::size_t unpaired_a = 0, unpaired_b = 0;  ///< scored on one side only (failed or absent on the other)
    double accuracy_a = 0, accuracy_b = 0;
    double difference = 0, ci_low = 0, ci_high = 0;  ///< accuracy B - A, with its interval at 1 - alpha
    double p_value = 1;                              ///< McNemar's exact test, two-sided
    Verdict verdict = Verdict::too_few_runs;

    std::string setting() const { return setting_a == setting_b ? setting_a : setting_a + " vs " + setting_b; }
    std::string verdict_text() const {
        switch (verdict) {
            case Verdict::better: return "B more accurate";
            case Verdict::worse: return "B less accurate";
            case Verdict::no_difference: return "no significant difference";
            case Verdict::too_few_runs: return "no items in common";
        }
        return "";
    }
};

/// What an eval comparison shows.
struct EvalComparison {
    std::string name_a, name_b;
    std::vector<EvalTaskComparison> tasks;
    std::vector<std::string> problems;  ///< reasons the items may not be the same ones (shown even when forced)
    double alpha = 0.05;
};

namespace detail {

/// The standard normal's quantile, by bisection on erfc (a handful of calls per comparison).
inline double normal_quantile(double p) {
    double lo = -10, hi = 10;
    for (int i = 0; i < 100; ++i) {
        const double mid = (lo + hi) / 2;
        (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
    }
    return (lo + hi) / 2;
}

/// Summaries of A and B that score the same task: the same task and setting, or the task's only
/// summary on each side (so a logprob run compares with a generative one of the same task).
inline std::vector<std::pair<const EvalTaskView*, const EvalTaskView*>> matching_tasks(const std::vector<EvalTaskView>& a,
                                                                                     const std::vector<EvalTaskView>& b) {
    std::vector<std::pair<const EvalTaskView*, const EvalTaskView*>> out;
    const auto count = [](const std::vector<EvalTaskView>& views, const std::string& task) {
        std::size_t n = 0;
        for (const auto& v : views) n += v.summary->task == task ? 1U : 0U;
        return n;
    };
    for (const auto& va : a)
        for (const auto& vb : b) {
            if (va.summary->task != vb.summary->task) continue;
            const bool only_ones = count(a, va.summary->task) == 1 && count(b, vb.summary->task) == 1;
            if (va.summary->setting == vb.summary->setting || only_ones) out.push_back({&va, &vb});
        }
    return out;
}

}  // namespace detail

/// Pairs each task's items by (item id, sample) and compares their correctness. The interval
/// is the Wald interval of a paired difference of proportions, (b_only - a_only) / n +- z *
/// sqrt(a_only + b_only - (b_only - a_only)^2 / n) / n; a verdict needs McNemar's p < alpha and
/// an interval that excludes 0.
inline std::vector<EvalTaskComparison> compare_evals(const ResultSet& a, const ResultSet& b, double alpha = 0.05) {
    const auto views_a = detail::eval_views(a), views_b = detail::eval_views(b);
    std::vector<EvalTaskComparison> out;
    for (const auto& [va, vb] : detail::matching_tasks(views_a, views_b)) {
        EvalTaskComparison c;
        c.task = va->summary->task;
        c.setting_a = va->summary->setting;
        c.setting_b = vb->summary->setting;
        std::map<std::pair<std::string, int>, bool> right_a;
        for (const auto* i : va->items) right_a[{i->item_id, i->sample}] = i->correct;
        std::size_t correct_a = 0, correct_b = 0;
        for (const auto* i : vb->items) {
            const auto found = right_a.find({i->item_id, i->sample});
            if (found == right_a.end()) {
                ++c.unpaired_b;
                continue;
            }
            ++c.paired;
            correct_a += found->second ? 1U : 0U;
            correct_b += i->correct ? 1U : 0U;
            if (found->second && i->correct) ++c.both_correct;
            else if (found->second) ++c.a_only;
            else if (i->correct) ++c.b_only;
        }
        c.unpaired_a = va->items.size() - c.paired;
        if (c.paired > 0) {
            const double n = static_cast<double>(c.paired), ao = static_cast<double>(c.a_only), bo = static_cast<double>(c.b_only);
            c.accuracy_a = static_cast<double>(correct_a) / n;
            c.accuracy_b = static_cast<double>(correct_b) / n;
            c.difference = (bo - ao) / n;
            const double half = detail::normal_quantile(1 - alpha / 2) * std::sqrt(std::max(0.0, ao + bo - (bo - ao) * (bo - ao) / n)) / n;
            c.ci_low = c.difference - half;
            c.ci_high = c.difference + half;
            c.p_value = mcnemar_exact_p(c.a_only, c.b_only);
            const bool significant = c.p_value < alpha && (c.ci_low > 0 || c.ci_high < 0);
            c.verdict = !significant ? Verdict::no_difference : c.difference > 0 ? Verdict::better : Verdict::worse;
        }
        out.push_back(std::move(c));
    }
    return out;
}

/// Why A's and B's items may not be the same ones: a task's dataset file differs (by sha256).
inline std::vector<std::string> eval_comparability_problems(const ResultSet& a, const ResultSet& b) {
    std::vector<std::string> problems;
    const auto views_a = detail::eval_views(a), views_b = detail::eval_views(b);
    for (const auto& [va, vb] : detail::matching_tasks(views_a, views_b)) {
        const auto &sa = va->summary->dataset_sha256, &sb = vb->summary->dataset_sha256;
        if (!sa.empty() && !sb.empty() && sa != sb)
            problems.push_back(va->summary->task + ": the dataset files differ (sha256 A " + sa.substr(0, 12) + "..., B " + sb.substr(0, 12) +
                               "...): items with the same id may not be the same items");
    }
    return problems;
}

namespace detail {
/// The comparison's one table, for every format.
inline Table eval_comparison_table(const EvalComparison& c) {
    const auto points = [](double d) { return printf_string("%+.1f", d * 100); };
    Table t{{"task", "setting", "paired items", "accuracy A", "accuracy B", "B - A (points)", printf_string("%.0f", (1 - c.alpha) * 100) + "% CI",
             "right in A only", "right in B only", "McNemar p", "verdict"},
            {}};
    for (const auto& task : c.tasks) {
        const bool any = task.paired > 0;
        t.rows.push_back({task.task, task.setting(), std::to_string(task.paired), any ? percent(task.accuracy_a) : "-",
                          any ? percent(task.accuracy_b) : "-", any ? points(task.difference) : "-",
                          any ? "[" + points(task.ci_low) + ", " + points(task.ci_high) + "]" : "-", std::to_string(task.a_only),
                          std::to_string(task.b_only), any ? printf_string("%.4g", task.p_value) : "-", task.verdict_text()});
    }
    return t;
}
}  // namespace detail

/// The comparison as plain text (markdown = false) or one Markdown table.
inline void write_eval_comparison_text(const EvalComparison& c, std::ostream& out, bool markdown) {
    const detail::Table t = detail::eval_comparison_table(c);
    out << (markdown ? "# " : "") << "A: " << c.name_a << (markdown ? "  \n" : "\n") << "B: " << c.name_b << "\n\n";
    for (const auto& p : c.problems) out << (markdown ? "> **warning:** " : "warning: ") << p << '\n';
    if (!c.problems.empty()) out << '\n';
    if (markdown) {
        t.markdown(out);
    } else {
        std::vector<std::size_t> width(t.header.size());
        for (std::size_t k = 0; k < t.header.size(); ++k) {
            width[k] = t.header[k].size();
            for (const auto& r : t.rows) width[k] = std::max(width[k], r[k].size());
        }
        const auto line = [&](const std::vector<std::string>& cells) {
            for (std::size_t k = 0; k < cells.size(); ++k)
                out << (k ? "  " : "") << (k + 1 < cells.size() ? detail::pad_right(cells[k], width[k]) : cells[k]);
            out << '\n';
        };
        line(t.header);
        for (const auto& r : t.rows) line(r);
        out << '\n';
    }
    for (const auto& task : c.tasks)
        if (task.unpaired_a || task.unpaired_b)
            out << task.task << ": " << task.unpaired_a << " item(s) scored only in A, " << task.unpaired_b
                << " only in B (failed or absent on the other side), left out of the comparison\n";
    out << "Accuracy over the items scored in both files; CI: Wald interval of the paired difference; p: McNemar's exact test "
           "(two-sided). A verdict needs p < "
        << detail::printf_string("%g", c.alpha) << " and an interval that excludes 0.\n";
}

/// The comparison as one self-contained HTML page.
inline void write_eval_comparison_html(const EvalComparison& c, std::ostream& out) {
    using detail::html_escape;
    detail::html_page_head(out, "llmbench eval compare");
    out << "<p>A: " << html_escape(c.name_a)
        << "<br>B: " << html_escape(c.name_b) << "</p>\n";
    for (const auto& p : c.problems) out << "<p class=\"banner\">warning: " << html_escape(p) << "</p>\n";
    detail::eval_comparison_table(c).html(out);
    out << "<p class=\"note\">Accuracy over the items scored in both files, in percentage points; CI: Wald interval of the paired "
           "difference; p: McNemar's exact test (two-sided).</p>\n</body>\n</html>\n";
}

}  // namespace llmbench
