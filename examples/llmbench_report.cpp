// llmbench-report: result files (JSON lines from ollama-bench or bench-matrix) as a console
// table, Markdown, CSV or one self-contained HTML page; eval-suite files as the eval report
// (tasks, MMLU by subject, reliability diagrams; the console gets its Markdown).
//
//   llmbench-report run.jsonl                       # tables on stdout
//   llmbench-report --format html -o report.html a.jsonl b.jsonl
//
// Exit: 0 written; 2 a file is missing or malformed (the message names file and line).
#include <llmbench/report/console_reporter.hpp>
#include <llmbench/report/csv_reporter.hpp>
#include <llmbench/report/eval_report.hpp>
#include <llmbench/report/html_reporter.hpp>
#include <llmbench/report/markdown_reporter.hpp>

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "command_line.hpp"

int main(int argc, char** argv) {
    CLI::App app{"llmbench-report: tables, Markdown, CSV or an HTML page with charts from llmbench result files"};
    std::vector<std::string> files;
    std::string format = "console", output;
    app.add_option("files", files, "JSONL result files")->required()->check(CLI::ExistingFile);
    app.add_option("--format,-f", format, "console, markdown, csv or html")
        ->capture_default_str()
        ->check(CLI::IsMember({"console", "markdown", "csv", "html"}));
    app.add_option("--output,-o", output, "Write here instead of stdout");
    if (const auto code = example::parse_command_line(app, argc, argv)) return *code;

    std::map<std::string, std::unique_ptr<llmbench::Reporter>> reporters;
    reporters["console"] = std::make_unique<llmbench::ConsoleReporter>();
    reporters["markdown"] = std::make_unique<llmbench::MarkdownReporter>();
    reporters["csv"] = std::make_unique<llmbench::CsvReporter>();
    reporters["html"] = std::make_unique<llmbench::HtmlReporter>();
    try {
        const auto results = llmbench::load_result_set(files);
        const bool evals = llmbench::has_evals(results);
        if (evals && !results.cells.empty())
            throw llmbench::error(llmbench::errc::usage, "these files mix eval-suite output with speed results: report them separately");
        std::ofstream file;
        if (!output.empty()) {
            file.open(output, std::ios::binary | std::ios::trunc);
            if (!file) throw llmbench::error(llmbench::errc::io, "cannot write '" + output + "'");
        }
        std::ostream& out = output.empty() ? std::cout : file;
        if (!evals) reporters.at(format)->report(results, out);
        else if (format == "html") llmbench::write_eval_html(results, out);
        else if (format == "csv") llmbench::write_eval_csv(results, out);
        else llmbench::write_eval_markdown(results, out);
        if (!out.flush()) throw llmbench::error(llmbench::errc::io, "writing '" + output + "' failed (disk full?)");
        return 0;
    } catch (const llmbench::error& e) {
        std::cerr << "llmbench-report: error: " << e.what() << '\n';
        return 2;
    }
}
