// llmbench/report/markdown_reporter.hpp - the cell tables and metadata as GitHub Markdown.
#pragma once

#include <ostream>
#include <string>

#include "llmbench/report/reporter.hpp"

namespace llmbench {

namespace detail {
/// Escapes the characters that would break a Markdown table cell.
inline std::string markdown_cell(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '|' || c == '\\' || c == '`' || c == '*' || c == '_' || c == '<') out += '\\';
        out += c == '\n' ? ' ' : c;
    }
    return out;
}
}  // namespace detail

/// GitHub-flavoured Markdown: the metadata of every file, then the cell tables; ready to paste
/// into an issue.
class MarkdownReporter : public Reporter {
public:
    void report(const ResultSet& results, std::ostream& out) const override {
        using detail::markdown_cell;
        out << "# llmbench results\n\n";
        for (const auto& f : results.files) {
            out << "## " << markdown_cell(f.path) << "\n\n| | |\n|---|---|\n";
            for (const auto& m : f.metadata) {
                const auto row = [&out](const char* name, const std::string& value) {
                    if (!value.empty()) out << "| " << name << " | " << markdown_cell(value) << " |\n";
                };
                row("model", m.model_tag + (m.quantization.empty() ? "" : " (" + m.quantization + ")"));
                row("digest", m.model_digest.substr(0, 12));
                row("backend", m.backend_kind + " " + m.backend_version);
                row("host", m.os + ", " + m.cpu_model +
                                (m.total_ram_bytes ? ", " + detail::format_metric(static_cast<double>(*m.total_ram_bytes), "bytes") + " RAM"
                                                   : ""));
                row("GPUs", m.gpus == "[]" ? "none" : m.gpus);
                row("options", m.request_options);
                row("started (UTC)", m.timestamp_utc);
                row("llmbench", m.llmbench_version);
            }
            if (f.metadata.empty()) out << "| metadata | none in this file |\n";
            for (const auto& w : f.warnings) out << "\n> warning: " << markdown_cell(w) << '\n';
            out << '\n';
        }
        for (const auto& cell : results.cells) {
            out << "### " << markdown_cell(results.cell_label(cell)) << "\n\n" << run_counts(cell) << "\n\n";
            out << "| metric | n | mean | p50 | p95 | CV |\n|---|--:|--:|--:|--:|--:|\n";
            for (const auto& m : table_metrics(cell)) {
                const Stats s = cell.stat(m.name);
                out << "| " << m.label << " | " << s.n << " | " << detail::format_metric(s.mean, m.unit) << " | "
                    << detail::format_metric(s.p50, m.unit) << " | " << detail::format_metric(s.p95, m.unit) << " | "
                    << detail::format_percent(s.cv) << (cell.unstable(m.name) ? " ⚠ unstable" : "") << " |\n";
            }
            out << '\n';
        }
        if (const LoadTable load = load_table(results); !load.rows.empty()) {
            out << "### Load\n\n|";
            for (const auto& h : load.header) out << ' ' << h << " |";
            out << "\n|---|";
            for (std::size_t c = 1; c < load.header.size(); ++c) out << "--:|";
            out << '\n';
            for (const auto& row : load.rows) {
                out << '|';
                for (const auto& cell : row) out << ' ' << markdown_cell(cell) << " |";
                out << '\n';
            }
            out << '\n';
        }
        out << "Percentiles by linear interpolation (numpy's default); CV = stddev / mean; \"unstable\": CV above 5%.\n";
    }
};

}  // namespace llmbench
