// llmbench/niah/report.hpp - the sweep as a console table and as one HTML page: a heatmap of
// accuracy by length and depth, and accuracy, TTFT and prefill rate against length.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "llmbench/niah/sweep.hpp"
#include "llmbench/report/console_table.hpp"
#include "llmbench/report/html_reporter.hpp"
#include "llmbench/report/svg.hpp"

namespace llmbench::niah {

namespace detail {
inline std::string percent(std::optional<double> v) { return v ? std::to_string(std::lround(*v * 100)) + "%" : "-"; }
inline std::optional<double> mean_of(const std::vector<double>& v) {
    return v.empty() ? std::nullopt : std::optional<double>(compute_stats(v).mean);
}
inline std::string length_label(int tokens) { return tokens % 1024 == 0 ? std::to_string(tokens / 1024) + "k" : std::to_string(tokens); }
}  // namespace detail

/// One row per length: accuracy (exact, partial), trials scored and excluded, TTFT and prefill rate.
inline std::string format_niah_table(const SweepResult& result, const SweepSpec& spec) {
    using llmbench::detail::pad_left;
    using llmbench::detail::pad_right;
    std::string out = pad_right("length", 9) + pad_left("exact", 8) + pad_left("partial", 9) + pad_left("scored", 8) + pad_left("excluded", 10) +
                      pad_left("failed", 8) + pad_left("TTFT", 12) + pad_left("prompt tok/s", 14) + '\n';
    for (int len : spec.lengths) {
        const CellStats s = result.length(len);
        out += pad_right(detail::length_label(len), 9) + pad_left(detail::percent(s.accuracy()), 8) + pad_left(detail::percent(s.partial()), 9) +
               pad_left(std::to_string(s.scored), 8) + pad_left(std::to_string(s.excluded), 10) + pad_left(std::to_string(s.failed), 8) +
               pad_left(llmbench::detail::format_metric(detail::mean_of(s.ttft).value_or(std::nan("")), "s"), 12) +
               pad_left(llmbench::detail::format_metric(detail::mean_of(s.prompt_rate).value_or(std::nan("")), "tok/s"), 14) + '\n';
    }
    return out + "excluded: the server evaluated under " + llmbench::detail::printf_string("%.0f", spec.truncation_ratio * 100) +
           "% of the length (silent truncation) or the length exceeds the model's context\n";
}

/// The whole sweep as a self-contained HTML page.
inline void write_niah_html(const SweepResult& result, const SweepSpec& spec, std::ostream& out, bool mock = false) {
    using llmbench::detail::html_escape;
    out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>llmbench needle in a haystack</title>\n<style>"
        << llmbench::detail::html_style() << "</style>\n</head>\n<body>\n<h1>Needle in a haystack: " << html_escape(spec.model) << "</h1>\n";
    if (mock) out << "<p class=\"banner\">Measured against llmbench's built-in mock server: these numbers describe the mock, not a model.</p>\n";
    std::vector<std::string> xs, ys;
    for (int len : spec.lengths) xs.push_back(detail::length_label(len));
    for (int d : spec.depths) ys.push_back(std::to_string(d) + "%");
    std::vector<std::vector<std::optional<double>>> grid;
    for (int d : spec.depths) {
        grid.emplace_back();
        for (int len : spec.lengths) grid.back().push_back(result.cell(len, d).accuracy());
    }
    out << "<h2 id=\"heatmap\">Retrieval accuracy by length and depth</h2>\n"
        << svg::heatmap("heatmap", "Exact retrieval (share of scored trials)", "prompt length (tokens)", "needle depth", xs, ys, grid);
    svg::Series exact{"exact", {}, true}, partial{"partial", {}, true}, ttft{"TTFT", {}, true}, rate{"prompt tok/s", {}, true};
    for (int len : spec.lengths) {
        const CellStats s = result.length(len);
        const auto x = static_cast<double>(len);
        if (auto a = s.accuracy()) exact.points.push_back({x, *a * 100, false});
        if (auto p = s.partial()) partial.points.push_back({x, *p * 100, false});
        if (auto t = detail::mean_of(s.ttft)) ttft.points.push_back({x, *t, false});
        if (auto r = detail::mean_of(s.prompt_rate)) rate.points.push_back({x, *r, false});
    }
    const auto tokens = [](double v) { return llmbench::detail::format_metric(v, "tok"); };
    out << "<h2 id=\"accuracy\">Accuracy against length</h2>\n"
        << svg::xy_chart("accuracy-vs-length", "Accuracy (%) against prompt length", "prompt tokens", "% of scored trials", {exact, partial},
                         tokens, [](double v) { return llmbench::detail::printf_string("%.0f%%", v); })
        << "<h2 id=\"ttft\">Time to first token against length</h2>\n"
        << svg::xy_chart("ttft-vs-length", "TTFT against prompt length (prefill)", "prompt tokens", "seconds", {ttft}, tokens,
                         llmbench::detail::unit_format("s"))
        << svg::xy_chart("rate-vs-length", "Prefill rate against prompt length", "prompt tokens", "tokens/s", {rate}, tokens,
                         llmbench::detail::unit_format("tok/s"));
    out << "<h2 id=\"table\">Per length</h2>\n<pre>" << html_escape(format_niah_table(result, spec)) << "</pre>\n</body>\n</html>\n";
}

}  // namespace llmbench::niah
