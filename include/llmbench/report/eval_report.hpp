// llmbench/report/eval_report.hpp - eval-suite's output as a report: one table per task
// (accuracy with its interval, failures, calibration, speed per item, the published number),
// MMLU by category and subject, reliability per logprob-scored task, and accuracy against
// output length for generative runs. Markdown (also the console's), CSV and one HTML page.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "llmbench/eval/scoring.hpp"
#include "llmbench/report/html_reporter.hpp"
#include "llmbench/report/results.hpp"
#include "llmbench/report/svg.hpp"

namespace llmbench {

/// Whether the files hold eval-suite output (then llmbench-report shows the eval report).
inline bool has_evals(const ResultSet& results) {
    for (const auto& f : results.files)
        if (!f.eval_summaries.empty()) return true;
    return false;
}

namespace detail {

/// One task's summary with its items (from the same file, task and setting; scored ones).
struct EvalTaskView {
    const ResultFile* file = nullptr;
    const EvalSummary* summary = nullptr;
    std::vector<const EvalItem*> items;
    std::optional<double> mean_ttft_s, mean_gen_toks_per_s;

    std::string label(bool with_file) const {
        std::string s = summary->task + " (" + summary->setting + ")";
        if (!with_file) return s;
        return file->path.substr(file->path.find_last_of('/') + 1) + ": " + s;
    }
};

inline std::vector<EvalTaskView> eval_views(const ResultSet& results) {
    std::vector<EvalTaskView> out;
    for (const auto& f : results.files)
        for (const auto& s : f.eval_summaries) {
            EvalTaskView v{&f, &s, {}, std::nullopt, std::nullopt};
            std::map<std::pair<std::string, int>, const EvalItem*> latest;  // a resumed file repeats failed items: the last counts
            for (const auto& i : f.eval_items)
                if (i.task == s.task && i.setting == s.setting) latest[{i.item_id, i.sample}] = &i;
            double ttft = 0, rate = 0;
            std::size_t timed_ttft = 0, timed_rate = 0;
            for (const auto& entry : latest) {
                const EvalItem* i = entry.second;
                if (!i->ok) continue;
                v.items.push_back(i);
                if (i->ttft_s) ttft += *i->ttft_s, ++timed_ttft;
                if (i->gen_toks_per_s) rate += *i->gen_toks_per_s, ++timed_rate;
            }
            if (timed_ttft) v.mean_ttft_s = ttft / static_cast<double>(timed_ttft);
            if (timed_rate) v.mean_gen_toks_per_s = rate / static_cast<double>(timed_rate);
            out.push_back(std::move(v));
        }
    return out;
}

inline std::string percent(double share, int digits = 1) { return svg::fixed(share * 100, digits) + "%"; }
inline std::string interval_text(const EvalScore& s) { return svg::fixed(s.ci95_low * 100, 1) + "-" + svg::fixed(s.ci95_high * 100, 1); }
inline std::string share_of(std::size_t part, std::size_t n) { return n ? percent(static_cast<double>(part) / static_cast<double>(n)) : "-"; }
template <class T>
std::string maybe(const std::optional<T>& v, int digits, const char* unit = "") {
    return v ? svg::fixed(static_cast<double>(*v), digits) + unit : "-";
}

inline std::string reference_text(const EvalSummary& s) {
    if (!s.reference) return "not published";
    const auto& r = *s.reference;
    std::string t = percent(r.score) + " (" + r.model + ", " + r.setting + ")";
    return r.comparable ? t : t + "; not comparable: " + r.not_comparable;
}

/// Items bucketed by output tokens (eval_count), for generative runs: does reasoning longer help?
struct TokenBucket {
    std::string label;
    std::int64_t upper;  ///< inclusive
    std::size_t n = 0, correct = 0;
};

inline std::vector<TokenBucket> accuracy_by_output_tokens(const std::vector<const EvalItem*>& items) {
    std::vector<TokenBucket> b = {{"1-64", 64}, {"65-256", 256}, {"257-512", 512}, {"513-1024", 1024}, {"over 1024", std::numeric_limits<std::int64_t>::max()}};
    for (const auto* i : items) {
        if (!i->eval_count) continue;
        for (auto& bucket : b)
            if (*i->eval_count <= bucket.upper) {
                ++bucket.n;
                bucket.correct += i->correct ? 1U : 0U;
                break;
            }
    }
    return b;
}

inline EvalScore score_of(std::size_t correct, std::size_t n) {
    const auto [low, high] = eval::wilson_interval(correct, n);
    return {correct, n, n ? static_cast<double>(correct) / static_cast<double>(n) : 0.0, low, high};
}

/// MMLU's subjects, most accurate first (ties by name).
inline std::vector<std::pair<std::string, EvalScore>> subjects_by_accuracy(const EvalSummary& s) {
    std::vector<std::pair<std::string, EvalScore>> v(s.per_subject.begin(), s.per_subject.end());
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.accuracy > b.second.accuracy; });
    return v;
}

inline bool mock_backend(const ResultSet& results) {
    for (const auto& f : results.files) {
        for (const auto& s : f.eval_summaries)
            if (s.backend.rfind("mock", 0) == 0) return true;
        for (const auto& m : f.metadata)
            if (m.backend_kind.rfind("mock", 0) == 0) return true;
    }
    return false;
}

/// A table as rows of cells, written as Markdown or HTML.
struct Table {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;

    void markdown(std::ostream& out) const {
        const auto row = [&out](const std::vector<std::string>& cells) {
            out << '|';
            for (const auto& c : cells) {
                std::string cell = c;
                for (std::size_t p = 0; (p = cell.find('|', p)) != std::string::npos; p += 2) cell.replace(p, 1, "\\|");
                out << ' ' << cell << " |";
            }
            out << '\n';
        };
        row(header);
        out << '|';
        for (std::size_t i = 0; i < header.size(); ++i) out << "---|";
        out << '\n';
        for (const auto& r : rows) row(r);
        out << '\n';
    }
    void html(std::ostream& out) const {
        out << "<table>\n<tr>";
        for (const auto& h : header) out << "<th>" << html_escape(h) << "</th>";
        out << "</tr>\n";
        for (const auto& r : rows) {
            out << "<tr>";
            for (const auto& c : r) out << "<td>" << html_escape(c) << "</td>";
            out << "</tr>\n";
        }
        out << "</table>\n";
    }
};

inline Table eval_task_table(const std::vector<EvalTaskView>& views, bool with_file) {
    Table t{{"task", "setting", "scoring", "n", "accuracy", "95% CI", "unparsable", "no letter in top-k", "ECE", "Brier", "mean TTFT",
             "mean tok/s", "failed", "Meta's number"},
            {}};
    for (const auto& v : views) {
        const auto& s = *v.summary;
        const bool logprob = s.scoring_method == "logprob";
        std::string accuracy = percent(s.score.accuracy);
        if (!s.pass_at_k.empty()) accuracy += " (pass@1)";
        t.rows.push_back({with_file ? v.label(true) : s.task, s.setting, s.scoring_method, std::to_string(s.score.n), accuracy,
                          interval_text(s.score), share_of(s.unparsable, s.score.n), logprob ? share_of(s.no_letter_in_top_k, s.score.n) : "-",
                          maybe(s.ece, 3), maybe(s.brier, 3), maybe(v.mean_ttft_s, 3, " s"), maybe(v.mean_gen_toks_per_s, 1),
                          std::to_string(s.failed_requests), reference_text(s)});
    }
    return t;
}

inline Table score_table(const char* what, const std::vector<std::pair<std::string, EvalScore>>& groups) {
    Table t{{what, "n", "accuracy", "95% CI"}, {}};
    for (const auto& [name, score] : groups) t.rows.push_back({name, std::to_string(score.n), percent(score.accuracy), interval_text(score)});
    return t;
}

inline Table reliability_table(const EvalSummary& s) {
    Table t{{"confidence", "n", "mean confidence", "accuracy"}, {}};
    for (const auto& b : s.reliability)
        if (b.n > 0)
            t.rows.push_back({svg::fixed(b.lower, 2) + "-" + svg::fixed(b.upper, 2), std::to_string(b.n), svg::fixed(b.mean_confidence, 3),
                              svg::fixed(b.accuracy, 3)});
    return t;
}

inline Table token_table(const std::vector<TokenBucket>& buckets) {
    Table t{{"output tokens", "n", "accuracy", "95% CI"}, {}};
    for (const auto& b : buckets)
        if (b.n > 0) {
            const EvalScore s = score_of(b.correct, b.n);
            t.rows.push_back({b.label, std::to_string(b.n), percent(s.accuracy), interval_text(s)});
        }
    return t;
}

inline const char* mock_note() { return "measured against llmbench's built-in mock server: its numbers describe the mock, not a model."; }

}  // namespace detail

/// The eval report as Markdown (llmbench-report's console output too).
inline void write_eval_markdown(const ResultSet& results, std::ostream& out) {
    using namespace detail;
    const auto views = eval_views(results);
    const bool with_file = results.files.size() > 1;
    out << "# llmbench eval report\n\n";
    if (mock_backend(results)) out << "> " << mock_note() << "\n\n";
    out << "## Tasks\n\n";
    eval_task_table(views, with_file).markdown(out);
    for (const auto& v : views) {
        const auto& s = *v.summary;
        if (!s.per_category.empty()) {
            out << "## " << v.label(with_file) << " by category\n\n";
            score_table("category", {s.per_category.begin(), s.per_category.end()}).markdown(out);
            out << "## " << v.label(with_file) << " by subject, most accurate first\n\n";
            score_table("subject", subjects_by_accuracy(s)).markdown(out);
        }
        if (!s.reliability.empty()) {
            out << "## Reliability: " << v.label(with_file) << "\n\nECE " << maybe(s.ece, 3) << ", Brier " << maybe(s.brier, 3)
                << ", mean confidence " << maybe(s.mean_confidence, 3) << " over the items with a letter in the top-k.\n\n";
            reliability_table(s).markdown(out);
        }
        if (s.scoring_method == "generative" && s.pass_at_k.empty()) {
            const auto buckets = accuracy_by_output_tokens(v.items);
            if (std::any_of(buckets.begin(), buckets.end(), [](const TokenBucket& b) { return b.n > 0; })) {
                out << "## Accuracy by output tokens: " << v.label(with_file) << "\n\n";
                token_table(buckets).markdown(out);
            }
        }
    }
}

/// One row per accuracy: the task, its MMLU categories and subjects, its output-token buckets.
inline void write_eval_csv(const ResultSet& results, std::ostream& out) {
    using namespace detail;
    const auto field = [](const std::string& s) {
        if (s.find_first_of(",\"\n") == std::string::npos) return s;
        std::string q = "\"";
        for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
        return q + "\"";
    };
    out << "file,task,setting,scoring,scope,name,n,correct,accuracy,ci95_low,ci95_high,ece,brier,mean_confidence\n";
    for (const auto& v : eval_views(results)) {
        const auto& s = *v.summary;
        const auto row = [&](const char* scope, const std::string& name, const EvalScore& score, bool calibration) {
            out << field(v.file->path) << ',' << field(s.task) << ',' << field(s.setting) << ',' << s.scoring_method << ',' << scope << ','
                << field(name) << ',' << score.n << ',' << score.correct << ',' << svg::fixed(score.accuracy, 6) << ','
                << svg::fixed(score.ci95_low, 6) << ',' << svg::fixed(score.ci95_high, 6) << ',';
            const auto opt = [&](const std::optional<double>& x) { return calibration && x ? svg::fixed(*x, 6) : std::string(); };
            out << opt(s.ece) << ',' << opt(s.brier) << ',' << opt(s.mean_confidence) << '\n';
        };
        row("task", s.task, s.score, true);
        for (const auto& [name, score] : s.per_category) row("category", name, score, false);
        for (const auto& [name, score] : s.per_subject) row("subject", name, score, false);
        if (s.scoring_method == "generative" && s.pass_at_k.empty())
            for (const auto& b : accuracy_by_output_tokens(v.items))
                if (b.n > 0) row("output_tokens", b.label, score_of(b.correct, b.n), false);
    }
}

/// The eval report as one self-contained HTML page, in the speed report's style.
inline void write_eval_html(const ResultSet& results, std::ostream& out) {
    using namespace detail;
    const auto views = eval_views(results);
    const bool with_file = results.files.size() > 1;
    html_page_head(out, "llmbench eval report");
    if (mock_backend(results)) out << "<p class=\"banner\">These files were " << mock_note() << "</p>\n";
    out << "<h2 id=\"tasks\">Tasks</h2>\n";
    eval_task_table(views, with_file).html(out);
    for (std::size_t k = 0; k < views.size(); ++k) {
        const auto& v = views[k];
        const auto& s = *v.summary;
        const std::string id = std::to_string(k);
        if (!s.per_category.empty()) {
            out << "<h2 id=\"categories-" << id << "\">" << html_escape(v.label(with_file)) << " by category and subject</h2>\n";
            score_table("category", {s.per_category.begin(), s.per_category.end()}).html(out);
            std::vector<svg::Interval> bars;
            for (const auto& [name, score] : subjects_by_accuracy(s)) bars.push_back({name, score.accuracy, score.ci95_low, score.ci95_high, score.n});
            out << svg::interval_bars("subjects-" + id, "Accuracy by subject, with 95% intervals", "accuracy", bars);
        }
        if (!s.reliability.empty()) {
            out << "<h2 id=\"reliability-" << id << "\">Reliability: " << html_escape(v.label(with_file)) << "</h2>\n<p>ECE "
                << maybe(s.ece, 3) << ", Brier " << maybe(s.brier, 3) << ", mean confidence " << maybe(s.mean_confidence, 3)
                << ": bars are the accuracy of the items in each confidence bin (their count above), dots the bin's mean confidence; "
                   "a calibrated model's bars reach the diagonal.</p>\n";
            std::vector<svg::ReliabilityBin> bins;
            for (const auto& b : s.reliability) bins.push_back({b.lower, b.upper, b.accuracy, b.mean_confidence, b.n});
            out << svg::reliability_diagram("reliability-" + id, "Confidence against accuracy", bins);
            reliability_table(s).html(out);
        }
        if (s.scoring_method == "generative" && s.pass_at_k.empty()) {
            const auto buckets = accuracy_by_output_tokens(v.items);
            if (std::any_of(buckets.begin(), buckets.end(), [](const TokenBucket& b) { return b.n > 0; })) {
                out << "<h2 id=\"tokens-" << id << "\">Accuracy by output tokens: " << html_escape(v.label(with_file)) << "</h2>\n";
                std::vector<svg::Interval> bars;
                for (const auto& b : buckets)
                    if (b.n > 0) {
                        const EvalScore sc = score_of(b.correct, b.n);
                        bars.push_back({b.label + " tokens", sc.accuracy, sc.ci95_low, sc.ci95_high, sc.n});
                    }
                out << svg::interval_bars("tokens-" + id, "Accuracy by output tokens, with 95% intervals", "accuracy", bars);
            }
        }
    }
    out << "</body>\n</html>\n";
}

}  // namespace llmbench
