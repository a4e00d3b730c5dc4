// llmbench/report/html_reporter.hpp - one self-contained HTML file with inline SVG charts.
//
// No scripts, no external fonts, styles or images: the file opens offline, attaches to an
// issue, and prints. Charts: TTFT and generation-rate distributions per cell, rates versus
// prompt length and versus context, latency over the run sequence, memory over time, energy
// per token.
#pragma once

#include <algorithm>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "llmbench/report/reporter.hpp"
#include "llmbench/report/svg.hpp"

namespace llmbench {

namespace detail {

inline const char* html_style() {
    return R"(body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1200px;margin:0 auto;padding:16px;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:8px 0}th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}td.text{text-align:left;font-family:ui-monospace,monospace;word-break:break-all}
.unstable{color:#b00;font-weight:600}.banner{background:#fff4d6;border:1px solid #e0b000;padding:8px 12px;margin:8px 0}
.note{fill:#666;font-size:11px}svg.chart{width:100%;height:auto;margin:8px 0;font-size:12px}svg .chart-title{font-size:14px;font-weight:600}
.tick{fill:#555;font-size:11px}.axis-label{fill:#333}.group-label,.legend{fill:#222}p.empty{color:#666}
@media print{body{max-width:none}svg.chart{break-inside:avoid}h2{break-after:avoid}})";
}

inline std::string html_escape(const std::string& s) { return svg::escape(s); }

/// Every report page's start, through its <h1>: `title` ("llmbench report") names the page
/// and heads it. The page is closed with "</body>\n</html>\n".
inline void html_page_head(std::ostream& out, const std::string& title) {
    out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
           "content=\"width=device-width, initial-scale=1\">\n<title>"
        << html_escape(title) << "</title>\n<style>" << html_style() << "</style>\n</head>\n<body>\n<h1>" << html_escape(title) << "</h1>\n";
}

inline svg::Format unit_format(const char* unit) {
    const std::string u = unit;
    return [u](double v) { return format_metric(v, u); };
}

}  // namespace detail

/// The whole report as one HTML page.
class HtmlReporter : public Reporter {
public:
    void report(const ResultSet& results, std::ostream& out) const override {
        using detail::html_escape;
        detail::html_page_head(out, "llmbench report");
        for (const auto& f : results.files)
            for (const auto& m : f.metadata)
                if (m.backend_kind.rfind("mock", 0) == 0) {  // "mock", "mock-openai"
                    out << "<p class=\"banner\">" << html_escape(f.path)
                        << " was measured against llmbench's built-in mock server: its numbers describe the mock, not a model.</p>\n";
                    break;
                }
        summary_table(results, out);
        load_section(results, out);
        section(out, "ttft", "Time to first token per cell", distribution(results, "ttft_s"));
        section(out, "gen-rate", "Generation rate per cell", distribution(results, "gen_toks_per_s"));
        section(out, "roofline", "Share of the memory-bandwidth roofline per cell", roofline_chart(results));
        section(out, "rate-vs-prompt", "Rates versus prompt length", rates_versus(results, Versus::prompt));
        section(out, "rate-vs-context", "Generation rate versus context size", rates_versus(results, Versus::context));
        section(out, "latency-over-runs", "Latency over the run sequence", latency_over_runs(results));
        section(out, "memory-over-time", "Memory over time", memory_over_time(results));
        section(out, "energy", "Energy per token per cell", energy_charts(results));
        metadata_tables(results, out);
        out << "<p class=\"note\">Percentiles by linear interpolation (numpy's default); CV = stddev / mean; rows marked unstable have a "
               "CV above 5%. Statistics cover successful timed runs; warm-ups and re-run short replies are excluded.</p>\n</body>\n</html>\n";
    }

private:
    enum class Versus { prompt, context };

    static void section(std::ostream& out, const char* id, const char* title, const std::string& body) {
        out << "<h2 id=\"" << id << "\">" << title << "</h2>\n" << body;
    }

    static void summary_table(const ResultSet& results, std::ostream& out) {
        out << "<h2 id=\"summary\">Summary</h2>\n<table>\n<tr><th>cell</th><th>runs</th><th>TTFT p50</th><th>TTFT p95</th><th>gen tok/s "
               "mean</th><th>p50</th><th>p95</th><th>CV</th><th>prompt tok/s mean</th><th>wall p50</th><th>peak RSS</th><th>peak "
               "VRAM</th></tr>\n";
        for (const auto& cell : results.cells) {
            const auto fmt = [&](const char* metric, double Stats::*field, const char* unit) {
                return detail::html_escape(detail::format_metric(cell.stat(metric).*field, unit));
            };
            const bool unstable = cell.unstable("gen_toks_per_s");
            out << "<tr><td>" << detail::html_escape(results.cell_label(cell)) << "</td><td>" << detail::html_escape(run_counts(cell))
                << "</td><td>" << fmt("ttft_s", &Stats::p50, "s") << "</td><td>" << fmt("ttft_s", &Stats::p95, "s") << "</td><td>"
                << fmt("gen_toks_per_s", &Stats::mean, "tok/s") << "</td><td>" << fmt("gen_toks_per_s", &Stats::p50, "tok/s")
                << "</td><td>" << fmt("gen_toks_per_s", &Stats::p95, "tok/s") << "</td><td" << (unstable ? " class=\"unstable\"" : "")
                << ">" << detail::format_percent(cell.stat("gen_toks_per_s").cv) << (unstable ? " unstable" : "") << "</td><td>"
                << fmt("prompt_toks_per_s", &Stats::mean, "tok/s") << "</td><td>" << fmt("wall_s", &Stats::p50, "s") << "</td><td>"
                << fmt("peak_rss_bytes", &Stats::max, "bytes") << "</td><td>" << fmt("peak_vram_bytes", &Stats::max, "bytes")
                << "</td></tr>\n";
        }
        out << "</table>\n";
    }

    /// Load levels: their table, and latency against the throughput each level achieved.
    static void load_section(const ResultSet& results, std::ostream& out) {
        const LoadTable table = load_table(results);
        if (table.rows.empty()) return;
        out << "<h2 id=\"load\">Throughput and latency under load</h2>\n<table>\n<tr>";
        for (const auto& h : table.header) out << "<th>" << detail::html_escape(h) << "</th>";
        out << "</tr>\n";
        for (const auto& row : table.rows) {
            out << "<tr>";
            for (const auto& cell : row) out << "<td>" << detail::html_escape(cell) << "</td>";
            out << "</tr>\n";
        }
        out << "</table>\n";
        const auto chart = [&](const char* id, const char* title, const char* metric, const char* label) {
            std::vector<svg::Series> series;
            for (const auto& f : results.files) {
                const std::string suffix = results.files.size() > 1 ? " (" + f.path.substr(f.path.find_last_of('/') + 1) + ")" : "";
                for (const char* p : {"p50", "p99"}) {
                    svg::Series s{std::string(label) + " " + p + suffix, {}, true};
                    for (const auto& l : f.load) {
                        const auto x = l.value("output_token_throughput"), y = l.value(std::string(metric) + "." + p);
                        if (x && y) s.points.push_back({*x, *y, false});
                    }
                    if (!s.points.empty()) series.push_back(std::move(s));
                }
            }
            if (series.empty()) return std::string("<p class=\"empty\">No ") + label + " in these load results.</p>\n";
            return svg::xy_chart(id, title, "output tokens per second, all streams", "seconds", series,
                                 [](double v) { return detail::format_metric(v, "tok"); }, detail::unit_format("s"));
        };
        out << chart("load-ttft", "Time to first token against throughput (one point per load level)", "ttft_s", "TTFT");
        out << chart("load-tpot", "Time per output token against throughput (one point per load level)", "tpot_s", "TPOT");
    }

    static const Metric& info(const std::string& metric) {
        const Metric* m = find_metric(metric);
        return m ? *m : report_metrics().front();
    }

    static std::string distribution(const ResultSet& results, const std::string& metric) {
        std::vector<svg::Group> groups;
        for (const auto& cell : results.cells) groups.push_back({results.cell_label(cell), cell.samples(metric)});
        const auto& m = info(metric);
        return svg::distribution_chart(metric, std::string(m.label) + " (" + m.unit + ")", std::string(m.label) + ", every timed run",
                                       groups, detail::unit_format(m.unit));
    }

    /// Joules per generated (and per evaluated prompt) token, with the sources they came from.
    static std::string energy_charts(const ResultSet& results) {
        std::string out;
        for (const char* metric : {"joules_per_token", "joules_per_prompt_token"})
            if (std::any_of(results.cells.begin(), results.cells.end(), [&](const auto& cell) { return !cell.samples(metric).empty(); }))
                out += distribution(results, metric);
        if (out.empty())
            return "<p class=\"empty\">No energy in these results: run with --memory on a machine with an energy counter (RAPL, "
                   "amdgpu, NVML, or powermetrics as root on a Mac; see docs/metrics.md, Energy).</p>\n";
        std::set<std::string> sources;
        bool idle_subtracted = false;
        for (const auto& cell : results.cells)
            for (const ResultRun* r : cell.runs)
                if (r->run.memory && r->run.memory->energy_j) {
                    sources.insert(r->run.memory->energy_source);
                    idle_subtracted = idle_subtracted || r->run.memory->energy_idle_j.has_value();
                }
        std::string from;
        for (const auto& s : sources) from += (from.empty() ? "" : ", ") + s;
        out += "<p class=\"note\">Measured by " + detail::html_escape(from) +
               " over each request: the energy of the hardware each source covers (CPU packages and DRAM, GPU boards, or an Apple "
               "SoC), not of the model process alone" +
               (idle_subtracted ? "; idle power subtracted" : "") + ". See docs/metrics.md, Energy.</p>\n";
        return out;
    }

    static std::string roofline_chart(const ResultSet& results) {
        for (const auto& cell : results.cells)
            if (!cell.samples("roofline_efficiency").empty()) return distribution(results, "roofline_efficiency");
        return "<p class=\"empty\">No roofline in these results: it needs Ollama's model shape and placement, and the memory bandwidth "
               "(see docs/metrics.md, Roofline).</p>\n";
    }

    /// Every timed run as a point; one series per cell family (the cell minus the varied axis).
    static std::string rates_versus(const ResultSet& results, Versus versus) {
        std::string out;
        const std::vector<std::string> metrics =
            versus == Versus::prompt ? std::vector<std::string>{"gen_toks_per_s", "prompt_toks_per_s"} : std::vector<std::string>{"gen_toks_per_s"};
        for (const auto& metric : metrics) {
            std::map<std::string, svg::Series> families;
            std::set<double> xs;
            for (const auto& cell : results.cells) {
                CellCoordinates family = cell.coordinates;
                if (versus == Versus::prompt) family.prompt_tokens.reset();
                else family.num_ctx.reset();
                const ResultCell named{cell.file_index, family, {}, {}, 0, {}};
                const std::string name = results.cell_label(named);
                auto& series = families[name];
                series.name = name;
                series.lines = false;
                for (const auto* r : cell.runs) {
                    if (!r->timed()) continue;
                    const auto x = versus == Versus::prompt ? r->value("prompt_eval_count")
                                                            : (cell.coordinates.num_ctx ? std::optional<double>(*cell.coordinates.num_ctx)
                                                                                        : std::nullopt);
                    const auto y = r->value(metric);
                    if (!x || !y) continue;
                    series.points.push_back({*x, *y, false});
                    xs.insert(*x);
                }
            }
            if (xs.size() < 2) {
                out += std::string("<p class=\"empty\">") +
                       (versus == Versus::prompt ? "Fewer than two prompt lengths in these results (bench-matrix --prompt-tokens 200,4000 varies them)."
                                                 : "Fewer than two context sizes in these results (bench-matrix --num-ctx 4096,32768 varies them).") +
                       "</p>\n";
                return out;
            }
            std::vector<svg::Series> series;
            for (auto& [name, s] : families)
                if (!s.points.empty()) series.push_back(std::move(s));
            const auto& m = info(metric);
            out += svg::xy_chart(metric + (versus == Versus::prompt ? "-vs-prompt" : "-vs-context"),
                                 std::string(m.label) + (versus == Versus::prompt ? " vs prompt tokens evaluated" : " vs num_ctx"),
                                 versus == Versus::prompt ? "prompt tokens (server's count)" : "num_ctx (tokens)", std::string(m.label) + " (" + m.unit + ")",
                                 series, [](double v) { return detail::format_metric(v, "tok"); }, detail::unit_format(m.unit));
        }
        return out;
    }

    /// TTFT and wall time of every run in the order run, warm-ups drawn hollow: shows warm-up
    /// cost and drift (thermal throttling, memory pressure) over a session.
    static std::string latency_over_runs(const ResultSet& results) {
        std::vector<svg::Series> series;
        for (const auto& f : results.files) {
            const std::string suffix = results.files.size() > 1 ? " (" + f.path.substr(f.path.find_last_of('/') + 1) + ")" : "";
            svg::Series wall{"wall" + suffix, {}, true}, ttft{"TTFT" + suffix, {}, true};
            for (const auto& r : f.runs) {
                if (!r.run.ok() || r.run.retry.superseded) continue;
                const double x = static_cast<double>(r.sequence);
                if (auto v = r.run.client.wall_s) wall.points.push_back({x, *v, r.run.id.warmup});
                if (auto v = r.run.client.ttft_s) ttft.points.push_back({x, *v, r.run.id.warmup});
            }
            for (auto* s : {&wall, &ttft})
                if (!s->points.empty()) series.push_back(std::move(*s));
        }
        if (series.empty()) return "<p class=\"empty\">No successful runs.</p>\n";
        return svg::xy_chart("latency-over-runs", "Latency by run order (hollow: warm-up)", "run number (in the order sent)", "seconds",
                             series, [](double v) { return detail::format_metric(v, "tok"); }, detail::unit_format("s"));
    }

    static std::string memory_over_time(const ResultSet& results) {
        std::vector<svg::Series> bytes, power;
        for (const auto& f : results.files) {
            if (!f.memory) continue;
            const auto& t = *f.memory;
            const std::string suffix = results.files.size() > 1 ? " (" + f.path.substr(f.path.find_last_of('/') + 1) + ")" : "";
            const auto add = [&](std::vector<svg::Series>& to, const std::string& name, const std::vector<std::optional<double>>& column) {
                svg::Series s{name + suffix, {}, true};
                for (std::size_t i = 0; i < t.t_s.size(); ++i)
                    if (column[i]) s.points.push_back({t.t_s[i], *column[i], false});
                if (!s.points.empty()) to.push_back(std::move(s));
            };
            add(bytes, "server RSS", t.rss_bytes);
            add(bytes, "GPU memory used", t.vram_bytes);
            add(bytes, "Ollama /api/ps size", t.ollama_size_bytes);
            add(power, "GPU power", t.power_w);
        }
        if (bytes.empty() && power.empty())
            return "<p class=\"empty\">No memory samples in these results (run with --memory).</p>\n";
        std::string out;
        const auto seconds = [](double v) { return detail::printf_string("%.0f s", v); };
        if (!bytes.empty())
            out += svg::xy_chart("memory", "Memory over time", "time since the first sample", "bytes", bytes, seconds,
                                 detail::unit_format("bytes"));
        if (!power.empty())
            out += svg::xy_chart("power", "GPU power over time", "time since the first sample", "watts", power, seconds,
                                 [](double v) { return detail::printf_string("%.0f W", v); });
        return out;
    }

    static void metadata_tables(const ResultSet& results, std::ostream& out) {
        using detail::html_escape;
        out << "<h2 id=\"metadata\">Conditions</h2>\n";
        for (const auto& f : results.files) {
            out << "<h3>" << html_escape(f.path) << "</h3>\n<table>\n";
            const auto row = [&out](const char* name, const std::string& value) {
                if (!value.empty()) out << "<tr><th>" << name << "</th><td class=\"text\">" << html_escape(value) << "</td></tr>\n";
            };
            for (const auto& m : f.metadata) {
                row("model", m.model_tag + (m.quantization.empty() ? "" : " (" + m.quantization + ", " + m.parameter_size + ")"));
                row("digest", m.model_digest);
                row("backend", m.backend_kind + " " + m.backend_version);
                row("OS", m.os);
                row("CPU", m.cpu_model);
                if (m.total_ram_bytes) row("RAM", detail::format_metric(static_cast<double>(*m.total_ram_bytes), "bytes"));
                row("GPUs", m.gpus);
                row("options", m.request_options);
                row("started (UTC)", m.timestamp_utc);
                row("llmbench", m.llmbench_version);
            }
            if (f.metadata.empty()) row("metadata", "none in this file");
            for (const auto& w : f.warnings) row("warning", w);
            out << "</table>\n";
        }
    }
};

}  // namespace llmbench
