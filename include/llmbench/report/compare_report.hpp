// llmbench/report/compare_report.hpp - an A/B comparison as text, Markdown or HTML.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "llmbench/report/compare.hpp"
#include "llmbench/report/html_reporter.hpp"
#include "llmbench/report/markdown_reporter.hpp"
#include "llmbench/report/console_table.hpp"
#include "llmbench/report/reporter.hpp"
#include "llmbench/report/svg.hpp"

namespace llmbench {

/// Everything one comparison shows.
struct Comparison {
    std::string name_a, name_b;
    std::vector<CellComparison> cells;
    std::vector<std::string> problems;  ///< conditions that differ (shown even when forced)
    CompareOptions options;
};

namespace detail {
inline std::string signed_percent(double fraction) {
    return std::isnan(fraction) ? "-" : printf_string("%+.1f%%", fraction * 100);
}
inline std::string p_value_text(const MetricComparison& m) {
    if (m.n_a == 0 || m.n_b == 0) return "-";
    return (m.test.p_value < 0.0001 ? std::string("<0.0001") : printf_string("%.4f", m.test.p_value)) + (m.test.exact ? "" : "*");
}
inline const Metric& metric_info(const std::string& name) {
    const Metric* m = find_metric(name);
    return m ? *m : report_metrics().front();
}
}  // namespace detail

/// Plain text (markdown = false) or a Markdown table per matched cell.
inline void write_comparison_text(const Comparison& c, std::ostream& out, bool markdown) {
    using detail::pad_left;
    using detail::pad_right;
    const double level = (1 - c.options.alpha) * 100;
    out << (markdown ? "# " : "") << "A: " << c.name_a << (markdown ? "  \n" : "\n") << "B: " << c.name_b
        << "\n\n";
    for (const auto& p : c.problems) out << (markdown ? "> **warning:** " : "warning: ") << p << '\n';
    if (!c.problems.empty()) out << '\n';
    if (c.cells.empty()) out << "no cells in common: nothing to compare\n";
    for (const auto& cell : c.cells) {
        const std::string label = cell.a->label() == cell.b->label() ? cell.a->label() : cell.a->label() + " vs " + cell.b->label();
        if (markdown) {
            out << "## " << detail::markdown_cell(label) << "\n\n| metric | n A | n B | median A | median B | change | "
                << detail::printf_string("%.0f", level) << "% CI | p | verdict |\n|---|--:|--:|--:|--:|--:|--:|--:|---|\n";
        } else {
            out << "== " << label << '\n'
                << pad_right("metric", 14) << pad_left("n A", 5) << pad_left("n B", 5) << pad_left("median A", 13) << pad_left("median B", 13)
                << pad_left("change", 9) << pad_left(detail::printf_string("%.0f", level) + "% CI", 20) << pad_left("p", 9) << "  verdict\n";
        }
        for (const auto& m : cell.metrics) {
            const auto& info = detail::metric_info(m.metric);
            const std::string ci = "[" + detail::signed_percent(m.ci_low) + ", " + detail::signed_percent(m.ci_high) + "]";
            if (markdown)
                out << "| " << info.label << " | " << m.n_a << " | " << m.n_b << " | " << detail::format_metric(m.median_a, info.unit) << " | "
                    << detail::format_metric(m.median_b, info.unit) << " | " << detail::signed_percent(m.change) << " | " << ci << " | "
                    << detail::p_value_text(m) << " | " << m.verdict_text() << " |\n";
            else
                out << pad_right(info.label, 14) << pad_left(std::to_string(m.n_a), 5) << pad_left(std::to_string(m.n_b), 5)
                    << pad_left(detail::format_metric(m.median_a, info.unit), 13) << pad_left(detail::format_metric(m.median_b, info.unit), 13)
                    << pad_left(detail::signed_percent(m.change), 9) << pad_left(ci, 20) << pad_left(detail::p_value_text(m), 9) << "  "
                    << m.verdict_text() << '\n';
        }
        out << '\n';
    }
    out << "change = median B / median A - 1; CI: percentile bootstrap (" << c.options.resamples
        << " resamples, fixed seed); p: two-sided Mann-Whitney U, exact without ties (* normal approximation). A verdict needs p < "
        << detail::printf_string("%g", c.options.alpha) << " and an interval that excludes 0, with at least " << c.options.min_runs
        << " runs a side.\n";
}

/// One HTML page: the comparison table, then A and B side by side in each metric's chart.
inline void write_comparison_html(const Comparison& c, std::ostream& out) {
    using detail::html_escape;
    detail::html_page_head(out, "llmbench compare");
    out << "<p>A: " << html_escape(c.name_a)
        << "<br>B: " << html_escape(c.name_b) << "</p>\n";
    for (const auto& p : c.problems) out << "<p class=\"banner\">warning: " << html_escape(p) << "</p>\n";
    for (std::size_t i = 0; i < c.cells.size(); ++i) {
        const auto& cell = c.cells[i];
        out << "<h2>" << html_escape(cell.a->label()) << "</h2>\n<table>\n<tr><th>metric</th><th>n A</th><th>n B</th><th>median A</th><th>median "
               "B</th><th>change</th><th>CI</th><th>p</th><th>verdict</th></tr>\n";
        for (const auto& m : cell.metrics) {
            const auto& info = detail::metric_info(m.metric);
            out << "<tr><td>" << info.label << "</td><td>" << m.n_a << "</td><td>" << m.n_b << "</td><td>"
                << html_escape(detail::format_metric(m.median_a, info.unit)) << "</td><td>" << html_escape(detail::format_metric(m.median_b, info.unit))
                << "</td><td>" << detail::signed_percent(m.change) << "</td><td>[" << detail::signed_percent(m.ci_low) << ", "
                << detail::signed_percent(m.ci_high) << "]</td><td>" << html_escape(detail::p_value_text(m)) << "</td><td"
                << (m.verdict == Verdict::worse ? " class=\"unstable\"" : "") << ">" << m.verdict_text() << "</td></tr>\n";
        }
        out << "</table>\n";
        for (const char* metric : {"ttft_s", "gen_toks_per_s"}) {
            const auto& info = detail::metric_info(metric);
            const std::vector<svg::Group> groups = {{"A: " + c.name_a, cell.a->samples(metric)}, {"B: " + c.name_b, cell.b->samples(metric)}};
            out << svg::distribution_chart(std::string(metric) + "-" + std::to_string(i), std::string(info.label) + ": A and B",
                                           std::string(info.label) + ", every timed run", groups, detail::unit_format(info.unit));
        }
    }
    out << "<p class=\"note\">change = median B / median A - 1; CI: percentile bootstrap; p: two-sided Mann-Whitney U (* normal "
           "approximation).</p>\n</body>\n</html>\n";
}

}  // namespace llmbench
