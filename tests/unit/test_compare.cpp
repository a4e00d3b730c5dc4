// A/B comparison: the statistics against hand-computed values, and the verdicts on planted
// differences and on no difference.
#include <cmath>
#include <llmbench/report/compare_report.hpp>
#include <llmbench/report/eval_compare.hpp>

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

using namespace llmbench;

namespace {
/// Normal samples from a fixed seed (Box-Muller on mt19937_64, the same on every platform).
std::vector<double> normal_samples(std::size_t n, double mean, double sd, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const auto uniform = [&rng] { return (static_cast<double>(rng() >> 11) + 0.5) / 9007199254740992.0; };
    std::vector<double> out;
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(mean + sd * std::sqrt(-2 * std::log(uniform())) * std::cos(6.283185307179586 * uniform()));
    return out;
}

/// A run of 64 output tokens at `gen` tokens/s: the rate is the server fields' (eval_count / eval_duration).
std::string run_line(const std::string& model, double ttft, double gen) {
    const auto eval_ns = static_cast<long long>(std::llround(64 / gen * 1e9));
    return R"({"type":"run","schema_version":1,"model":")" + model + R"(","ok":true,"num_predict":64,"ttft_s":)" + std::to_string(ttft) +
           R"(,"server":{"eval_count":64,"eval_duration_ns":)" + std::to_string(eval_ns) + "}}\n";
}
std::string meta_line(const std::string& digest, const std::string& options, const std::string& cpu) {
    return R"({"type":"metadata","schema_version":1,"model":{"tag":"m","digest":")" + digest + R"("},"host":{"cpu_model":")" + cpu +
           R"(","gpus":[],"total_ram_bytes":1024},"request":{"options":)" + options + "}}\n";
}
}  // namespace

TEST_CASE("Mann-Whitney U: exact p-values without ties") {
    auto r = mann_whitney_u({1, 2, 3}, {4, 5, 6});
    CHECK(r.exact);
    CHECK(r.u == 0);
    CHECK(r.p_value == doctest::Approx(0.1));  // 2 * 1 / C(6, 3)
    r = mann_whitney_u({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10});
    CHECK(r.p_value == doctest::Approx(2.0 / 252));  // 2 * 1 / C(10, 5)
    r = mann_whitney_u({1, 4, 5}, {2, 3, 6});          // U = 0 + 2 + 2 = 4 of 9: the middle
    CHECK(r.u == 4);
    CHECK(r.p_value == doctest::Approx(1.0));
    CHECK(mann_whitney_u({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5}).p_value == doctest::Approx(2.0 / 252));  // symmetric
}

TEST_CASE("Mann-Whitney U: ties use mid-ranks and the corrected normal approximation") {
    // ranks: 1 | 2 2 2 -> 3 | 3 3 -> 5.5 | 4 -> 7 | 5 -> 8; R_a = 1 + 3 + 3 + 5.5 = 12.5, U = 2.5
    // var = 4*4/12 * (9 - (24 + 6) / (8*7)); z = (|2.5 - 8| - 0.5) / sqrt(var)
    const auto r = mann_whitney_u({1, 2, 2, 3}, {2, 3, 4, 5});
    CHECK_FALSE(r.exact);
    CHECK(r.u == 2.5);
    CHECK(r.p_value == doctest::Approx(0.13665824773814753));
    CHECK(mann_whitney_u({7, 7, 7}, {7, 7, 7}).p_value == 1.0);  // all equal: no evidence
}

TEST_CASE("bootstrap interval of the relative change of medians") {
    const std::vector<double> a = {100, 101, 99, 100, 102, 98, 100, 101, 99, 100};
    std::vector<double> b;
    for (double v : a) b.push_back(v * 1.1);
    const auto [low, high] = bootstrap_relative_change(a, b, 2000);
    CHECK(low <= 0.1 + 1e-12);
    CHECK(high >= 0.1 - 1e-12);
    CHECK(low > 0.05);  // excludes no change
    const auto same = bootstrap_relative_change(a, a, 2000);
    CHECK(same.first < 0);
    CHECK(same.second > 0);
    CHECK(bootstrap_relative_change(a, b, 2000) == bootstrap_relative_change(a, b, 2000));  // fixed seed: repeatable
}

TEST_CASE("a planted 10% slowdown is called slower - two samples of one distribution are not") {
    const auto a = normal_samples(20, 50, 2, 1);
    auto b = normal_samples(20, 50, 2, 2);
    const auto same = compare_samples("gen_toks_per_s", a, b);
    CHECK(same.verdict == Verdict::no_difference);
    CHECK(same.verdict_text() == "no significant difference");
    for (auto& v : b) v *= 0.9;
    const auto slower = compare_samples("gen_toks_per_s", a, b);
    CHECK(slower.verdict == Verdict::worse);
    CHECK(slower.verdict_text() == "slower");
    CHECK(slower.change == doctest::Approx(-0.1).epsilon(0.3));
    CHECK(slower.ci_high < 0);
    // for a time, lower is better: 10% less TTFT is faster
    CHECK(compare_samples("ttft_s", a, b).verdict_text() == "faster");
    CHECK(compare_samples("gen_toks_per_s", {1, 2}, {3, 4}).verdict == Verdict::too_few_runs);
}

TEST_CASE("same-distribution comparisons are called different about alpha of the time, not more") {
    CompareOptions options;
    options.resamples = 400;
    int false_alarms = 0;
    const int trials = 200;
    for (int t = 0; t < trials; ++t) {
        const auto a = normal_samples(15, 30, 1.5, 1000 + static_cast<std::uint64_t>(t));
        const auto b = normal_samples(15, 30, 1.5, 5000 + static_cast<std::uint64_t>(t));
        false_alarms += compare_samples("gen_toks_per_s", a, b, options).verdict == Verdict::no_difference ? 0 : 1;
    }
    MESSAGE(false_alarms << " of " << trials << " same-distribution pairs called different at alpha 0.05");
    CHECK(false_alarms <= trials * 8 / 100);
}

TEST_CASE("different conditions are listed - equal ones are not") {
    const std::string runs = run_line("m", 0.1, 50) + run_line("m", 0.2, 51) + run_line("m", 0.15, 49);
    const auto base = parse_result_set({{"a", meta_line("abc", R"({"temperature":0})", "cpu") + runs}});
    const auto same = parse_result_set({{"b", meta_line("abc", R"({"temperature":0})", "cpu") + runs}});
    CHECK(comparability_problems(base, same).empty());
    const auto other = parse_result_set({{"c", meta_line("def", R"({"temperature":0.8})", "other cpu") + runs}});
    const auto problems = comparability_problems(base, other);
    REQUIRE(problems.size() == 3);
    CHECK(problems[0] == "model digest of m differs: A abc, B def");
    CHECK(problems[1] == R"(sampling parameters differ: A {"temperature":0}, B {"temperature":0.8})");
    CHECK(problems[2] == "CPU differs: A cpu, B other cpu");
    const auto bare = parse_result_set({{"d", runs}});
    CHECK(comparability_problems(base, bare).at(0).find("no metadata line in B") == 0);
}

TEST_CASE("cells pair by coordinates - the report shows every compared metric") {
    std::string a_text = meta_line("abc", "{}", "cpu"), b_text = a_text;
    const auto slow = normal_samples(10, 40, 1, 7), fast = normal_samples(10, 48, 1, 8);
    for (std::size_t i = 0; i < 10; ++i) {
        a_text += run_line("m", 0.2, slow[i]);
        b_text += run_line("m", 0.2, fast[i]);
    }
    a_text += run_line("other", 0.2, 10);  // only in A: not compared
    const auto a = parse_result_set({{"a.jsonl", a_text}});
    const auto b = parse_result_set({{"b.jsonl", b_text}});
    const auto cells = compare_results(a, b);
    REQUIRE(cells.size() == 1);
    CHECK(cells[0].a->label() == "m out=64");
    REQUIRE(cells[0].metrics.size() == 3);  // ttft_s, gen_toks_per_s and decode_toks_per_s have samples
    CHECK(cells[0].metrics[0].verdict_text() == "no significant difference");
    CHECK(cells[0].metrics[1].verdict_text() == "faster");
    CHECK(cells[0].metrics[2].verdict_text() == "faster");

    Comparison c{"a.jsonl", "b.jsonl", cells, {}, {}};
    std::ostringstream text, html;
    write_comparison_text(c, text, false);
    write_comparison_html(c, html);
    CHECK(text.str().find("gen tok/s") != std::string::npos);
    CHECK(text.str().find("faster") != std::string::npos);
    CHECK(html.str().find("data-chart=\"gen_toks_per_s-0\"") != std::string::npos);
    CHECK(html.str().find("<script") == std::string::npos);
}

TEST_CASE("different server settings are listed too - where-only variables are not") {
    const std::string runs = run_line("m", 0.1, 50) + run_line("m", 0.2, 51) + run_line("m", 0.15, 49);
    const auto with_server = [&](const std::string& server, const std::string& placement) {
        std::string meta = meta_line("abc", R"({"temperature":0})", "cpu");
        meta.replace(meta.find(R"("digest":"abc"})"), 15, R"("digest":"abc","placement":")" + placement + "\"}");
        meta.insert(meta.size() - 2, R"(,"server":)" + server);
        return meta + runs;
    };
    const std::string base = R"({"parallel":1,"chat_template_sha256":"aaaa","defaults":{"temperature":0.8},"environment":{"OLLAMA_FLASH_ATTENTION":"1","OLLAMA_HOST":"0.0.0.0"}})";
    const auto a = parse_result_set({{"a", with_server(base, "cpu")}});
    const std::string moved = R"({"parallel":1,"chat_template_sha256":"aaaa","defaults":{"temperature":0.8},"environment":{"OLLAMA_FLASH_ATTENTION":"1","OLLAMA_HOST":"127.0.0.1:9"}})";
    CHECK(comparability_problems(a, parse_result_set({{"b", with_server(moved, "cpu")}})).empty());  // OLLAMA_HOST says where, not how
    const std::string other = R"({"parallel":4,"chat_template_sha256":"bbbb","defaults":{"temperature":0.6},"environment":{"OLLAMA_FLASH_ATTENTION":"0"}})";
    const auto problems = comparability_problems(a, parse_result_set({{"c", with_server(other, "gpu")}}));
    REQUIRE(problems.size() == 5);
    CHECK(problems[0] == "model placement differs: A cpu, B gpu");
    CHECK(problems[1] == "server parallelism differs: A 1, B 4");
    CHECK(problems[2] == "server chat template differs (sha256): A aaaa, B bbbb");
    CHECK(problems[3] == R"(server default settings differ: A {"temperature":0.8}, B {"temperature":0.6})");
    CHECK(problems[4] == "server environment differs: A OLLAMA_FLASH_ATTENTION=1, B OLLAMA_FLASH_ATTENTION=0");
}

TEST_CASE("McNemar's exact test against hand values") {
    CHECK(mcnemar_exact_p(1, 6) == doctest::Approx(2.0 * (1 + 7) / 128));  // X ~ B(7, 1/2): P(X <= 1) = 8 / 128
    CHECK(mcnemar_exact_p(6, 1) == doctest::Approx(0.125));                 // symmetric
    CHECK(mcnemar_exact_p(0, 10) == doctest::Approx(2.0 / 1024));
    CHECK(mcnemar_exact_p(5, 5) == 1.0);  // 2 * 638 / 1024 > 1
    CHECK(mcnemar_exact_p(0, 0) == 1.0);  // no item differs
    const double big = mcnemar_exact_p(400, 600);  // far in the tail, and still finite
    CHECK(big > 0.0);
    CHECK(big < 1e-9);
}

namespace {
/// eval-suite's item lines, one per entry of `right` ('1' right, '0' wrong, '-' failed), with
/// ids "0", "1", ... offset by `first_id`.
std::string eval_items(const std::string& task, const std::string& setting, const std::string& right, int first_id = 0) {
    std::string out;
    for (std::size_t i = 0; i < right.size(); ++i)
        out += R"({"type":"eval_item","task":")" + task + R"(","setting":")" + setting + R"(","item_id":")" +
               std::to_string(first_id + static_cast<int>(i)) + R"(","sample":0,"ok":)" + (right[i] == '-' ? "false" : "true") +
               R"(,"correct":)" + (right[i] == '1' ? "true" : "false") + "}\n";
    return out;
}
std::string eval_summary(const std::string& task, const std::string& setting, const std::string& sha = "") {
    return R"({"type":"eval_summary","task":")" + task + R"(","setting":")" + setting + R"(","dataset":{"sha256":)" +
           (sha.empty() ? std::string("null") : "\"" + sha + "\"") + R"(},"score":{"correct":0,"n":0}})" + "\n";
}
std::string eval_file(const std::string& task, const std::string& setting, const std::string& right, int first_id = 0,
                      const std::string& sha = "") {
    return eval_items(task, setting, right, first_id) + eval_summary(task, setting, sha);
}
ResultSet eval_set(const std::string& name, const std::string& text) { return parse_result_set({{name, text}}); }
}  // namespace

TEST_CASE("eval comparison pairs items by id - accuracy difference, its interval and McNemar's p by hand") {
    // Items 0-9 in both: A right on 0-5, B right on 2-9, so right in A only {0, 1}, in B only
    // {6, 7, 8, 9}. A's item 10 is missing in B, A's failed item 11 is not scored, B's item 12 is new.
    const auto a = eval_set("a", eval_file("mmlu", "completion/5-shot/logprob", "1111110000" "1-"));
    const std::string setting = "completion/5-shot/logprob";
    const auto b = eval_set("b", eval_items("mmlu", setting, "0011111111") + eval_items("mmlu", setting, "1", 12) + eval_summary("mmlu", setting));
    const auto tasks = compare_evals(a, b);
    REQUIRE(tasks.size() == 1);
    const auto& t = tasks[0];
    CHECK(t.paired == 10);
    CHECK(t.a_only == 2);
    CHECK(t.b_only == 4);
    CHECK(t.both_correct == 4);
    CHECK(t.unpaired_a == 1);
    CHECK(t.unpaired_b == 1);
    CHECK(t.accuracy_a == doctest::Approx(0.6));
    CHECK(t.accuracy_b == doctest::Approx(0.8));
    CHECK(t.difference == doctest::Approx(0.2));
    // Wald for paired proportions: 1.959964 * sqrt(2 + 4 - (4 - 2)^2 / 10) / 10 = 0.463812
    CHECK(t.ci_low == doctest::Approx(0.2 - 0.463812).epsilon(1e-5));
    CHECK(t.ci_high == doctest::Approx(0.2 + 0.463812).epsilon(1e-5));
    CHECK(t.p_value == doctest::Approx(2.0 * (1 + 6 + 15) / 64));  // X ~ B(6, 1/2): P(X <= 2) = 22 / 64
    CHECK(t.verdict == Verdict::no_difference);
}

TEST_CASE("eval comparison: 20 items right in B only out of 40 is a real difference - a task's only summaries pair across settings") {
    const std::string twenty(20, '1'), zeros(20, '0');
    const auto a = eval_set("a", eval_file("arc_challenge", "chat/0-shot", zeros + zeros));
    const auto b = eval_set("b", eval_file("arc_challenge", "completion/0-shot/logprob", twenty + zeros));
    const auto tasks = compare_evals(a, b);
    REQUIRE(tasks.size() == 1);
    CHECK(tasks[0].setting() == "chat/0-shot vs completion/0-shot/logprob");
    CHECK(tasks[0].p_value == doctest::Approx(2.0 / 1048576));  // 2 * 0.5^20
    CHECK(tasks[0].ci_low == doctest::Approx(0.5 - 1.959964 * std::sqrt(10.0) / 40).epsilon(1e-5));
    CHECK(tasks[0].verdict == Verdict::better);
    const auto back = compare_evals(b, a);
    CHECK(back[0].verdict == Verdict::worse);
    CHECK(back[0].difference == doctest::Approx(-0.5));

    EvalComparison c{"a.jsonl", "b.jsonl", tasks, {}, 0.05};
    std::ostringstream md;
    write_eval_comparison_text(c, md, true);
    CHECK(md.str().find("| arc_challenge | chat/0-shot vs completion/0-shot/logprob | 40 | 0.0% | 50.0% | +50.0 |") != std::string::npos);
    CHECK(md.str().find("| B more accurate |") != std::string::npos);
}

TEST_CASE("eval comparison: different dataset files are listed - tasks with no items in common say so") {
    const auto a = eval_set("a", eval_file("gsm8k", "chat/8-shot", "10", 0, std::string(64, 'a')));
    const auto b = eval_set("b", eval_file("gsm8k", "chat/8-shot", "10", 5, std::string(64, 'b')));
    const auto problems = eval_comparability_problems(a, b);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].find("gsm8k: the dataset files differ") != std::string::npos);
    CHECK(eval_comparability_problems(a, a).empty());
    const auto tasks = compare_evals(a, b);
    REQUIRE(tasks.size() == 1);
    CHECK(tasks[0].paired == 0);
    CHECK(tasks[0].verdict_text() == "no items in common");
}
