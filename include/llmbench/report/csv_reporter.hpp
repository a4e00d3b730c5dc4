// llmbench/report/csv_reporter.hpp - one rectangular table for pandas, R and spreadsheets.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "llmbench/report/reporter.hpp"

namespace llmbench {

namespace detail {
/// RFC 4180: a field with a comma, quote, CR or LF is quoted, and its quotes doubled.
inline std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + '"';
}
/// Whole numbers as integers; others in the shortest form that reads back exactly; empty
/// for a missing value (read as NA/NaN).
inline std::string csv_number(std::optional<double> v) {
    if (!v || !std::isfinite(*v)) return "";
    char buf[32];
    if (*v == std::floor(*v) && std::fabs(*v) < 1e15) {
        std::snprintf(buf, sizeof buf, "%.0f", *v);
        return buf;
    }
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, *v);
        if (std::strtod(buf, nullptr) == *v) break;
    }
    return buf;
}
inline std::string csv_int(std::optional<int> v) { return v ? std::to_string(*v) : ""; }
}  // namespace detail

/// One row per run (`kind` = run) and one per cell (`kind` = cell), under one header row.
/// Metric columns hold a run's value, or a cell's mean; `<metric>_p50`, `_p95` and `_cv`
/// are filled on cell rows only. Units are the JSON's: seconds, tokens/s, bytes. CRLF line
/// ends, as RFC 4180 says.
class CsvReporter : public Reporter {
public:
    void report(const ResultSet& results, std::ostream& out) const override {
        using detail::csv_field;
        using detail::csv_int;
        using detail::csv_number;
        const auto& metrics = report_metrics();
        out << "kind,file,model,num_ctx,prompt_tokens,num_predict,prompt_id,run,warmup,superseded,ok,error_kind,n";
        for (const auto& m : metrics) out << ',' << m.name;
        for (const auto& m : metrics) out << ',' << m.name << "_p50," << m.name << "_p95," << m.name << "_cv";
        out << "\r\n";
        const auto coordinates = [&](const ResultCell& cell) {
            const auto& c = cell.coordinates;
            out << csv_field(results.files[cell.file_index].path) << ',' << csv_field(c.model) << ',' << csv_int(c.num_ctx) << ','
                << csv_int(c.prompt_tokens) << ',' << csv_int(c.num_predict) << ',';
        };
        for (const auto& cell : results.cells) {
            for (const auto* r : cell.runs) {
                out << "run,";
                coordinates(cell);
                const RunRecord& run = r->run;
                out << csv_field(run.id.prompt_id) << ',' << run.id.run_index << ',' << (run.id.warmup ? "true" : "false") << ','
                    << (run.retry.superseded ? "true" : "false") << ',' << (run.ok() ? "true" : "false") << ','
                    << csv_field(run.outcome.error_kind ? to_string(*run.outcome.error_kind) : "") << ',';
                for (const auto& m : metrics) out << ',' << csv_number(r->value(m.name));
                for (std::size_t i = 0; i < metrics.size(); ++i) out << ",,,";
                out << "\r\n";
            }
        }
        for (const auto& cell : results.cells) {
            out << "cell,";
            coordinates(cell);
            out << ",,,,,," << cell.timed_runs();
            for (const auto& m : metrics) out << ',' << csv_number(cell.stat(m.name).mean);
            for (const auto& m : metrics) {
                const Stats s = cell.stat(m.name);
                out << ',' << csv_number(s.p50) << ',' << csv_number(s.p95) << ',' << csv_number(s.cv);
            }
            out << "\r\n";
        }
    }
};

}  // namespace llmbench
