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
#include <llmbench/report/compare_report.hpp>
#include <llmbench/report/eval_compare.hpp>

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>

#include "command_line.hpp"

int main(int argc, char** argv) {
    CLI::App app{"llmbench-compare: A/B comparison of two llmbench result files, with statistics"};
    std::string file_a, file_b, format = "console", output;
    bool force = false, fail_on_regression = false;
    llmbench::CompareOptions options;
    app.add_option("a", file_a, "Baseline result file (JSONL)")->required()->check(CLI::ExistingFile);
    app.add_option("b", file_b, "Candidate result file (JSONL)")->required()->check(CLI::ExistingFile);
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
        const auto a = llmbench::load_result_set({file_a});
        const auto b = llmbench::load_result_set({file_b});
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
            llmbench::EvalComparison c{file_a, file_b, {}, llmbench::eval_comparability_problems(a, b), options.alpha};
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
        llmbench::Comparison c{file_a, file_b, {}, llmbench::comparability_problems(a, b), options};
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
