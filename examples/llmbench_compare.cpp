// llmbench-compare: is B faster or slower than A, and is the difference real?
//
//   llmbench-compare before.jsonl after.jsonl
//   llmbench-compare --format html -o compare.html before.jsonl after.jsonl
//
// Per metric and matching cell: medians, relative change, a bootstrap confidence interval,
// a Mann-Whitney U p-value and a verdict. Refuses runs made under different conditions
// (model digest, sampling parameters, hardware) unless --force. Two eval-suite files compare
// per task over the items both scored: accuracies, the difference with its interval, McNemar's
// exact test and a verdict (different models are what such a comparison is for; different
// dataset files are refused unless --force).
// Exit: 0 compared; 1 --fail-on-regression and something got worse; 2 bad input or refused.
#include <llmbench/core/cli.hpp>
#include <llmbench/report/compare_report.hpp>
#include <llmbench/report/eval_compare.hpp>

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "command_line.hpp"

int main(int argc, char** argv) {
    CLI::App app{"llmbench-compare: A/B comparison of two llmbench result files, with statistics"};
    std::vector<std::string> files_a, files_b;
    std::string format = "console", output;
    bool force = false, fail_on_regression = false;
    llmbench::CompareOptions options;
    // A side run in shards (--shard I/N) is its files joined by commas: they are merged first.
    std::string side_a, side_b;
    const auto existing_files = [](const std::string& side) {  // CLI::ExistingFile, on each comma-separated file
        std::string problems;
        llmbench::for_each_list_item(side, [&](const std::string& f) { problems += CLI::ExistingFile(f); });
        return problems;
    };
    app.add_option("a", side_a, "Baseline result file (JSONL); a run in shards: its files, comma-separated")->required()->check(existing_files);
    app.add_option("b", side_b, "Candidate result file (JSONL); a run in shards: its files, comma-separated")->required()->check(existing_files);
    app.add_option("--alpha", options.alpha, "Significance level")->capture_default_str()->check(CLI::Range(1e-6, 0.5));
    app.add_option("--resamples", options.resamples, "Bootstrap resamples")->capture_default_str()->check(CLI::Range(100, 1000000));
    app.add_option("--format,-f", format, "console, markdown or html")
        ->capture_default_str()
        ->check(CLI::IsMember({"console", "markdown", "html"}));
    app.add_option("--output,-o", output, "Write here instead of stdout");
    app.add_flag("--force", force, "Compare even when model digest, parameters or hardware differ");
    app.add_flag("--fail-on-regression", fail_on_regression, "Exit 1 when any metric (or an eval's accuracy) got significantly worse");
    if (const auto code = example::parse_command_line(app, argc, argv)) return *code;

    try {
        llmbench::for_each_list_item(side_a, [&](const std::string& f) { files_a.push_back(f); });
        llmbench::for_each_list_item(side_b, [&](const std::string& f) { files_b.push_back(f); });
        const auto a = llmbench::load_result_set(files_a);
        const auto b = llmbench::load_result_set(files_b);
        if (a.files.size() != 1 || b.files.size() != 1)
            throw llmbench::error(llmbench::errc::usage, "each side must be one run: one file, or the shard files of one run (" +
                                                             std::to_string(a.files.size()) + " and " + std::to_string(b.files.size()) + " runs given)");
        // Refused comparisons exit 2 listing why; --force goes on and the report lists them too.
        const auto refused = [force](const std::vector<std::string>& problems, const char* what) {
            if (problems.empty() || force) return false;
            std::cerr << "llmbench-compare: refusing to compare " << what << ":\n";
            for (const auto& p : problems) std::cerr << "  " << p << '\n';
            std::cerr << "(--force compares them anyway, and the report lists these differences)\n";
            return true;
        };
        const auto write = [&output](const auto& writer) {
            std::ofstream file;
            if (!output.empty()) {
                file.open(output, std::ios::binary | std::ios::trunc);
                if (!file) throw llmbench::error(llmbench::errc::io, "cannot write '" + output + "'");
            }
            std::ostream& out = output.empty() ? std::cout : file;
            writer(out);
            if (!out.flush()) throw llmbench::error(llmbench::errc::io, "writing the comparison failed (disk full?)");
        };
        if (llmbench::has_evals(a) || llmbench::has_evals(b)) {
            if (!llmbench::has_evals(a) || !llmbench::has_evals(b))
                throw llmbench::error(llmbench::errc::usage, std::string("only ") + (llmbench::has_evals(a) ? "A" : "B") +
                                                                 " holds eval-suite output: an eval file compares with another eval file");
            llmbench::EvalComparison c{a.files.front().path, b.files.front().path, {}, llmbench::eval_comparability_problems(a, b), options.alpha};
            if (refused(c.problems, "evals whose items may differ")) return 2;
            c.tasks = llmbench::compare_evals(a, b, options.alpha);
            write([&](std::ostream& out) {
                if (format == "html") llmbench::write_eval_comparison_html(c, out);
                else llmbench::write_eval_comparison_text(c, out, format == "markdown");
            });
            if (c.tasks.empty()) {
                std::cerr << "llmbench-compare: the two files share no task\n";
                return 2;
            }
            for (const auto& t : c.tasks)
                if (fail_on_regression && t.verdict == llmbench::Verdict::worse) return 1;
            return 0;
        }
        llmbench::Comparison c{a.files.front().path, b.files.front().path, {}, llmbench::comparability_problems(a, b), options};
        if (refused(c.problems, "runs made under different conditions")) return 2;
        c.cells = llmbench::compare_results(a, b, options);
        write([&](std::ostream& out) {
            if (format == "html") llmbench::write_comparison_html(c, out);
            else llmbench::write_comparison_text(c, out, format == "markdown");
        });
        if (c.cells.empty()) {
            std::cerr << "llmbench-compare: the two files share no cell (same model, num_ctx, prompt and output length)\n";
            return 2;
        }
        for (const auto& cell : c.cells)
            for (const auto& m : cell.metrics)
                if (fail_on_regression && m.verdict == llmbench::Verdict::worse) return 1;
        return 0;
    } catch (const llmbench::error& e) {
        std::cerr << "llmbench-compare: error: " << e.what() << '\n';
        return 2;
    }
}
