// llmbench/report/console_reporter.hpp - aligned plain-text tables, one per cell.
#pragma once

#include <algorithm>
#include <ostream>
#include <string>

#include "llmbench/report/console_table.hpp"
#include "llmbench/report/reporter.hpp"

namespace llmbench {

/// Aligned plain-text tables, one per cell: n, mean, p50, p95 and CV per metric; a row whose
/// CV exceeds 5% is marked "unstable".
class ConsoleReporter : public Reporter {
public:
    void report(const ResultSet& results, std::ostream& out) const override {
        using detail::pad_left;
        using detail::pad_right;
        bool first = true;
        for (const auto& cell : results.cells) {
            out << (first ? "" : "\n") << "== " << results.cell_label(cell) << "  (" << run_counts(cell) << ")\n";
            first = false;
            out << pad_right("metric", 16) << pad_left("n", 4) << pad_left("mean", 13) << pad_left("p50", 13) << pad_left("p95", 13)
                << pad_left("CV", 8) << '\n';
            for (const auto& m : table_metrics(cell)) {
                const Stats s = cell.stat(m.name);
                out << pad_right(m.label, 16) << pad_left(std::to_string(s.n), 4)
                    << pad_left(detail::format_metric(s.mean, m.unit), 13) << pad_left(detail::format_metric(s.p50, m.unit), 13)
                    << pad_left(detail::format_metric(s.p95, m.unit), 13) << pad_left(detail::format_percent(s.cv), 8)
                    << (cell.unstable(m.name) ? "  unstable" : "") << '\n';
            }
        }
        if (const LoadTable load = load_table(results); !load.rows.empty()) {
            out << (first ? "" : "\n") << "== load\n";
            std::vector<std::size_t> width(load.header.size());
            for (std::size_t c = 0; c < width.size(); ++c) {
                width[c] = load.header[c].size();
                for (const auto& row : load.rows) width[c] = std::max(width[c], row[c].size());
            }
            const auto print = [&](const std::vector<std::string>& row) {
                for (std::size_t c = 0; c < row.size(); ++c) out << (c == 0 ? pad_right(row[c], width[c]) : "  " + pad_left(row[c], width[c]));
                out << '\n';
            };
            print(load.header);
            for (const auto& row : load.rows) print(row);
        } else if (results.cells.empty()) {
            out << "no runs in the given files\n";
        }
        for (const auto& f : results.files)
            for (const auto& w : f.warnings) out << "warning: " << w << '\n';
    }
};

}  // namespace llmbench
