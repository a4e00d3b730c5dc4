// Reports: result files read back, and the console, Markdown, CSV and HTML documents.
// Golden files live in tests/golden; LLMBENCH_UPDATE_GOLDEN=1 rewrites them (then review the diff).
#include <llmbench/report/console_reporter.hpp>
#include <llmbench/report/csv_reporter.hpp>
#include <llmbench/report/eval_report.hpp>
#include <llmbench/report/html_reporter.hpp>
#include <llmbench/report/markdown_reporter.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "../test_util.hpp"

using namespace llmbench;

namespace {

const std::string data_dir = LLMBENCH_TEST_DATA_DIR;

ResultSet small_results() { return parse_result_set({{"results-small.jsonl", test_util::read_text(data_dir + "/results-small.jsonl")}}); }

std::string render(const Reporter& reporter, const ResultSet& results) {
    std::ostringstream out;
    reporter.report(results, out);
    return out.str();
}

void check_exact_golden(const std::string& actual, const std::string& name) {
    const std::string path = data_dir + "/golden/" + name;
    if (const char* update = std::getenv("LLMBENCH_UPDATE_GOLDEN"); update && std::string(update) == "1") {
        std::ofstream(path, std::ios::binary) << actual;
        MESSAGE("rewrote " << path);
    }
    CHECK_MESSAGE(actual == test_util::read_text(path), "differs from " << path << "; actual:\n" << actual);
}

/// Checks that every non-void element is closed in order; returns the first problem.
std::string unbalanced_tags(const std::string& html) {
    static const std::vector<std::string> void_elements = {"meta", "br", "img", "input", "link", "hr", "!DOCTYPE"};
    std::vector<std::string> open;
    for (std::size_t at = html.find('<'); at != std::string::npos; at = html.find('<', at + 1)) {
        const auto end = html.find('>', at);
        if (end == std::string::npos) return "unterminated tag at " + std::to_string(at);
        std::string tag = html.substr(at + 1, end - at - 1);
        const bool closing = !tag.empty() && tag[0] == '/';
        const bool self_closing = !tag.empty() && tag.back() == '/';
        if (closing) tag.erase(0, 1);
        tag = tag.substr(0, tag.find_first_of(" \n/"));
        if (self_closing || std::find(void_elements.begin(), void_elements.end(), tag) != void_elements.end()) continue;
        if (!closing) {
            open.push_back(tag);
        } else {
            if (open.empty() || open.back() != tag) return "</" + tag + "> closes <" + (open.empty() ? "" : open.back()) + ">";
            open.pop_back();
        }
        if (tag == "style" && !closing) {  // CSS is text, not tags
            at = html.find("</style>", end) - 1;
        }
    }
    return open.empty() ? "" : "<" + open.back() + "> never closed";
}
}  // namespace

TEST_CASE("result files read back: runs grouped into cells, stats over timed runs only") {
    const auto set = small_results();
    REQUIRE(set.files.size() == 1);
    CHECK(set.files[0].runs.size() == 9);
    REQUIRE(set.files[0].metadata.size() == 1);
    CHECK(set.files[0].metadata[0].model_digest.substr(0, 12) == "46e0c10c039e");
    CHECK(set.files[0].metadata[0].request_options == R"({"temperature":0,"seed":42})");
    REQUIRE(set.cells.size() == 2);
    const auto& a = set.cells[0];
    CHECK(a.label() == "llama3.1:8b ctx=4096 prompt=200 out=128");
    CHECK(a.runs.size() == 4);  // warm-up included in runs, not in stats
    const Stats ttft = a.stat("ttft_s");
    CHECK(ttft.n == 3);
    CHECK(ttft.mean == doctest::Approx(0.2));
    CHECK(ttft.p95 == doctest::Approx(0.29));  // 0.2 + 0.9 * (0.3 - 0.2)
    const auto& b = set.cells[1];
    CHECK(b.stat("ttft_s").n == 2);  // superseded and failed runs left out
    CHECK(b.failed == 1);
    CHECK(b.failures_by_kind.at("timeout") == 1);
    CHECK(a.unstable("gen_toks_per_s"));         // CV 11%
    CHECK_FALSE(b.unstable("gen_toks_per_s"));  // CV 0.7%
    REQUIRE(set.files[0].memory.has_value());
    CHECK(set.files[0].memory->t_s.size() == 3);
    CHECK_FALSE(set.files[0].memory->rss_bytes[2].has_value());
}

TEST_CASE("a run line reads back into the record that wrote it: every field, every registered metric") {
    RunRecord r;
    r.id = RunIdentity{"openai", "m:q4", "p7", 3, false, 128, 2000};
    r.cell = CellCoordinates{"m:q4", 4096, 2000, 128};
    r.retry.attempt = 1;
    r.outcome.ok = true;
    r.client.ttft_s = 0.25;
    r.client.connect_s = 0.0625;
    r.client.first_byte_s = 0.125;
    r.client.wall_s = 3.5;
    r.client.content_chunks = 127;
    r.client.itl_p50_s = 0.02;
    r.client.itl_p95_s = 0.03;
    r.client.itl_max_s = 0.5;
    r.client.decode_window_s = 3.1;
    r.client.ttfa_s = 1.25;  // thought for a second first
    r.client.thinking_chunks = 40;
    r.client.answer_window_s = 2.1;
    r.output.thinking_chars = 170;
    r.server.thinking_tokens = 40;
    r.roofline.decode_toks_per_s = 80;
    r.roofline.efficiency = 0.5;
    r.server.total_duration_ns = 3'400'000'000;
    r.server.load_duration_ns = 10'000'000;
    r.server.prompt_eval_count = 1990;
    r.server.prompt_eval_duration_ns = 190'000'000;
    r.server.eval_count = 128;
    r.server.eval_duration_ns = 3'100'000'000;
    r.server.prompt_cached_tokens = 10;
    r.server.prompt_evaluated_tokens = 1980;
    r.done_reason = "length";
    r.output.bytes = 600;
    r.output.sha256 = std::string(64, 'a');
    r.memory = RunMemory{};
    r.memory->peak_rss_bytes = 6'000'000'000;
    r.memory->peak_vram_bytes = 5'000'000'000;
    r.memory->peak_ollama_size_bytes = 4'900'000'000;
    r.memory->energy_j = 150.0;
    r.memory->samples = 40;
    r.memory->vram_note = "no GPU";
    r.memory->energy_source = "rapl+nvml";
    r.memory->energy_zones_j = {{"rapl:intel-rapl:0", 100.0}, {"nvml:gpu0", 50.0}};
    r.memory->energy_prefill_j = 19.8;
    r.flags.truncation_suspected = true;
    r.flags.prompt_rate_includes_cache = true;
    const std::string line = r.to_json();

    const auto file = parse_results(line + "\n", "r.jsonl");
    REQUIRE(file.runs.size() == 1);
    CHECK(file.warnings.empty());
    const ResultRun& back = file.runs[0];
    CHECK(back.where == "r.jsonl:1");
    CHECK(back.run.to_json() == line);  // nothing the line holds is lost
    for (const Metric& m : run_metrics()) {
        INFO(m.name);
        const auto want = m.get(r);
        REQUIRE(want.has_value());  // the record above sets every metric, so each is compared
        CHECK(back.value(m.name) == want);
    }
    CHECK_FALSE(back.value("no_such_metric").has_value());

    RunRecord failed;
    failed.id.model = "m";
    failed.outcome.error_kind = errc::timeout;
    failed.outcome.error_message = "no first byte within 5 s";
    failed.outcome.http_status = 504;
    const auto f = parse_results(failed.to_json(), "f.jsonl");
    REQUIRE(f.runs.size() == 1);
    CHECK(f.runs[0].run.to_json() == failed.to_json());
}

TEST_CASE("a derived metric that disagrees with the line's own fields is reported, and the fields win") {
    const std::string text =
        R"({"type":"run","schema_version":1,"model":"m","ok":true,"gen_toks_per_s":40,"server":{"eval_count":128,"eval_duration_ns":1000000000}})"
        "\n";
    const auto file = parse_results(text, "x.jsonl");
    REQUIRE(file.runs.size() == 1);
    CHECK(file.runs[0].value("gen_toks_per_s") == doctest::Approx(128));
    REQUIRE(file.warnings.size() == 1);
    CHECK(file.warnings[0] == "x.jsonl:1: gen_toks_per_s is 40 but the line's own fields give 128; reports use the fields");
}

TEST_CASE("ollama-bench files (no cell) make one cell per model and output length") {
    const std::string text =
        R"({"type":"run","schema_version":1,"model":"m:a","prompt_id":"p","run":0,"warmup":false,"cell":null,"ok":true,"ttft_s":0.5,"num_predict":64})"
        "\n"
        R"({"type":"run","schema_version":1,"model":"m:a","prompt_id":"q","run":0,"warmup":false,"cell":null,"ok":true,"ttft_s":0.7,"num_predict":64})"
        "\n";
    const auto set = parse_result_set({{"x.jsonl", text}});
    REQUIRE(set.cells.size() == 1);
    CHECK(set.cells[0].label() == "m:a out=64");
    CHECK(set.cells[0].stat("ttft_s").mean == doctest::Approx(0.6));
}

TEST_CASE("numbers too large for their field read as unknown, not as a wrapped value (a fuzz finding)") {
    const std::string text =
        R"({"type":"metadata","schema_version":1,"model":{"tag":"m:a"},"host":{"total_ram_bytes":343597383E68}})"
        "\n"
        R"({"type":"run","schema_version":1,"model":"m:a","prompt_id":"p","run":0,"ok":true,"ttft_s":0.5,"num_predict":1e300})"
        "\n";
    const auto set = parse_result_set({{"x.jsonl", text}});
    REQUIRE(set.files.size() == 1);
    REQUIRE(set.files[0].metadata.size() == 1);
    CHECK_FALSE(set.files[0].metadata[0].total_ram_bytes.has_value());
    REQUIRE(set.cells.size() == 1);
    CHECK_FALSE(set.cells[0].coordinates.num_predict.has_value());
}

TEST_CASE("bad result files are errors naming file and line - a last line cut short is skipped, not fatal") {
    const std::string good = R"({"type":"run","schema_version":1,"model":"m","ok":true,"ttft_s":0.5})";
    CHECK_THROWS_WITH_AS(parse_results(good + "\n{not json\n" + good + "\n", "r.jsonl"),
                         doctest::Contains("r.jsonl:2: invalid JSON"), error);
    CHECK_THROWS_WITH_AS(parse_results("[1,2]\n", "r.jsonl"), "r.jsonl:1: expected a JSON object", error);
    CHECK_THROWS_WITH_AS(parse_results(R"({"a":1})", "r.jsonl"), doctest::Contains("r.jsonl:1: missing field \"type\""), error);
    CHECK_THROWS_WITH_AS(parse_results(R"({"type":"run","schema_version":99})", "r.jsonl"),
                         doctest::Contains("r.jsonl:1: schema_version 99 is newer"), error);
    const auto cut = parse_results(good + "\n" + good + "\n" + R"({"type":"run","schema_ver)", "r.jsonl");
    CHECK(cut.runs.size() == 2);
    REQUIRE(cut.warnings.size() == 1);
    CHECK(cut.warnings[0].find("r.jsonl:3: last line cut short") == 0);
    CHECK_THROWS_WITH_AS(load_results("/nonexistent/r.jsonl"), "cannot open result file '/nonexistent/r.jsonl'", error);
}

TEST_CASE("console report matches its golden file") { check_exact_golden(render(ConsoleReporter{}, small_results()), "report.console.txt"); }

TEST_CASE("Markdown report matches its golden file") { check_exact_golden(render(MarkdownReporter{}, small_results()), "report.md"); }

TEST_CASE("CSV report matches its golden file, and quotes by RFC 4180") {
    const std::string csv = render(CsvReporter{}, small_results());
    check_exact_golden(csv, "report.csv");
    // header + 9 runs + 2 cells, every row with the header's number of fields, CRLF ends
    std::size_t rows = 0, header_fields = 0;
    std::istringstream lines(csv);
    for (std::string line; std::getline(lines, line); ++rows) {
        REQUIRE(!line.empty());
        CHECK(line.back() == '\r');
        const auto fields = static_cast<std::size_t>(std::count(line.begin(), line.end(), ',')) + 1;
        if (rows == 0) header_fields = fields;
        CHECK(fields == header_fields);
    }
    CHECK(rows == 12);
    CHECK(detail::csv_field("a,b") == "\"a,b\"");
    CHECK(detail::csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
    CHECK(detail::csv_field("two\nlines") == "\"two\nlines\"");
    CHECK(detail::csv_number(0.1) == "0.1");
    CHECK(detail::csv_number(6442450944.0) == "6442450944");
    CHECK(detail::csv_number(std::nullopt).empty());
}

TEST_CASE("HTML report: every chart, balanced tags, nothing fetched from outside, text escaped") {
    std::string text = test_util::read_text(data_dir + "/results-small.jsonl");
    const std::string evil = R"(<script>alert(1)</script>)";
    const auto pos = text.find("\"prompt_id\":\"synthetic\"");
    text.replace(text.find("llama3.1:8b", pos), 11, "evil<b>&model");  // a model tag with markup in it
    const auto set = parse_result_set({{"small & " + evil + ".jsonl", text}});
    const std::string html = render(HtmlReporter{}, set);

    for (const char* chart : {"ttft_s", "gen_toks_per_s", "gen_toks_per_s-vs-prompt", "prompt_toks_per_s-vs-prompt", "latency-over-runs",
                              "memory"})
        CHECK_MESSAGE(html.find(std::string("data-chart=\"") + chart + "\"") != std::string::npos, "missing chart " << chart);
    CHECK(html.find("Fewer than two context sizes") != std::string::npos);  // says why a chart is absent
    CHECK(html.find("p50 200.0 ms") != std::string::npos);                   // p50 marked (TTFT cell 1)
    CHECK(html.find("p95 290.0 ms") != std::string::npos);                   // p95 marked
    CHECK(html.find("class=\"unstable\"") != std::string::npos);

    CHECK(unbalanced_tags(html).empty());
    // self-contained: the only URL is the SVG namespace, and nothing loads anything
    std::size_t urls = 0;
    for (auto at = html.find("http"); at != std::string::npos; at = html.find("http", at + 1)) {
        CHECK(html.compare(at, 26, "http://www.w3.org/2000/svg") == 0);
        ++urls;
    }
    CHECK(urls > 0);
    for (const char* banned : {"<script", "<link", "src=", "url(", "@import", "<iframe", "<img"})
        CHECK_MESSAGE(html.find(banned) == std::string::npos, "found " << banned);
    CHECK(html.find("evil&lt;b&gt;&amp;model") != std::string::npos);
    CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
}

TEST_CASE("HTML report: energy per token per cell - drawn from each run's energy and named by its source") {
    std::string text = test_util::read_text(data_dir + "/results-small.jsonl");
    const std::string plain = R"("memory":{"peak_rss_bytes":6442450944,"peak_vram_bytes":null})";
    int runs = 0;
    for (auto at = text.find(plain); at != std::string::npos; at = text.find(plain, at + 1), ++runs)
        text.replace(at, plain.size(), R"("memory":{"peak_rss_bytes":6442450944,"peak_vram_bytes":null,"energy_j":)" + std::to_string(100 + 10 * runs) +
                                           R"(,"energy_source":"powermetrics","energy_idle_j":1.5})");
    REQUIRE(runs > 2);
    const auto set = parse_result_set({{"energy.jsonl", text}});
    std::size_t with_energy = 0;
    for (const auto& cell : set.cells) with_energy += cell.samples("joules_per_token").size();
    CHECK(with_energy > 0);
    const std::string html = render(HtmlReporter{}, set);
    CHECK(html.find("<h2 id=\"energy\">Energy per token per cell</h2>") != std::string::npos);
    CHECK(html.find("data-chart=\"joules_per_token\"") != std::string::npos);
    CHECK(html.find("data-chart=\"joules_per_prompt_token\"") == std::string::npos);  // no prefill energy in these runs
    CHECK(html.find("Measured by powermetrics over each request: the energy of the hardware each source covers") != std::string::npos);
    CHECK(html.find("not of the model process alone; idle power subtracted.") != std::string::npos);
    CHECK(unbalanced_tags(html).empty());
}

TEST_CASE("the mock's results carry a banner in HTML, and missing data says why instead of drawing nothing") {
    const std::string text =
        R"({"type":"metadata","schema_version":1,"backend":{"kind":"mock","version":"0.5.12"},"model":{"tag":"m"}})"
        "\n"
        R"({"type":"run","schema_version":1,"model":"m","ok":false,"error":{"kind":"connect"},"num_predict":8})"
        "\n";
    const auto set = parse_result_set({{"mock.jsonl", text}});
    const std::string html = render(HtmlReporter{}, set);
    CHECK(html.find("measured against llmbench's built-in mock server") != std::string::npos);
    CHECK(html.find("No memory samples in these results (run with --memory)") != std::string::npos);
    CHECK(html.find("No energy in these results: run with --memory on a machine with an energy counter") != std::string::npos);
    CHECK(html.find(">no samples<") != std::string::npos);
    CHECK(unbalanced_tags(html).empty());
    CHECK(render(ConsoleReporter{}, set).find("0 ok, 1 failed (connect: 1)") != std::string::npos);
}

TEST_CASE("axis ticks are round numbers that cover the data") {
    CHECK(svg::nice_ticks(0, 47) == std::vector<double>{0, 10, 20, 30, 40, 50});
    const auto small = svg::nice_ticks(0.12, 0.31);
    const std::vector<double> expected{0.1, 0.15, 0.2, 0.25, 0.3, 0.35};
    REQUIRE(small.size() == expected.size());
    for (std::size_t i = 0; i < small.size(); ++i) CHECK(small[i] == doctest::Approx(expected[i]));
    const auto flat = svg::nice_ticks(5, 5);  // one value: still a usable axis around it
    CHECK(flat.front() < 5);
    CHECK(flat.back() > 5);
}

// The eval report reads tests/data/eval-report/evals.jsonl, written by hand: six MMLU items
// scored by letter log-probability over two subjects (3 right, one with no letter in the
// top-k, one tie the first letter wins), and six GSM8K items, one of them failed and then
// retried on resume, with output lengths in five buckets.
namespace {
ResultSet eval_results() {
    return parse_result_set({{"evals.jsonl", test_util::read_text(data_dir + "/eval-report/evals.jsonl")}});
}
}  // namespace

TEST_CASE("eval-suite files read back: summaries with calibration and references, items with the last try counting") {
    const auto set = eval_results();
    REQUIRE(has_evals(set));
    CHECK_FALSE(has_evals(small_results()));
    const auto& file = set.files.at(0);
    REQUIRE(file.eval_summaries.size() == 2);
    const auto& mmlu = file.eval_summaries[0];
    CHECK(mmlu.scoring_method == "logprob");
    CHECK(mmlu.score.correct == 3);
    CHECK(mmlu.score.n == 6);
    CHECK(mmlu.no_letter_in_top_k == 1);
    REQUIRE(mmlu.ece);
    // Brier per scored item: sum over the options of (p_k - [k is right])^2; the item with no letter is left out.
    const double brier = (0.09 + 0.01 + 0.01 + 0.01) + (0.16 + 0.4225 + 0.0225 + 0.01) + (0.0025 + 0.0025 + 0.01 + 0.04) +
                         (0.01 + 0.0016 + 0.0009 + 0.0009) + (0.09 + 0.49 + 0.04 + 0.04);
    CHECK(*mmlu.brier == doctest::Approx(brier / 5));
    CHECK(mmlu.reliability.size() == 15);
    CHECK(mmlu.per_subject.at("abstract_algebra").correct == 1);
    CHECK(mmlu.per_category.at("humanities").n == 3);
    REQUIRE(mmlu.reference);
    CHECK_FALSE(mmlu.reference->comparable);
    std::string sha;
    for (int i = 0; i < 32; ++i) sha += "ab";
    CHECK(file.eval_summaries[1].dataset_sha256 == sha);
    const auto views = detail::eval_views(set);
    REQUIRE(views.size() == 2);
    CHECK(views[1].items.size() == 6);  // item 5 failed once and was retried: the retry counts
    CHECK(views[1].mean_ttft_s == doctest::Approx(0.2));
}

TEST_CASE("eval report: Markdown matches its golden file") {
    std::ostringstream out;
    write_eval_markdown(eval_results(), out);
    check_exact_golden(out.str(), "eval-report.md");
}

TEST_CASE("eval report: CSV matches its golden file - a row per task, category, subject and output-length bucket") {
    std::ostringstream out;
    write_eval_csv(eval_results(), out);
    check_exact_golden(out.str(), "eval-report.csv");
}

TEST_CASE("eval report HTML: a bar per subject and length bucket, a bin per non-empty confidence bin, balanced tags") {
    const auto set = eval_results();
    std::ostringstream out;
    write_eval_html(set, out);
    const std::string html = out.str();
    CHECK(unbalanced_tags(html).empty());
    const auto count = [&html](const std::string& needle) {
        std::size_t n = 0;
        for (auto at = html.find(needle); at != std::string::npos; at = html.find(needle, at + 1)) ++n;
        return n;
    };
    std::size_t filled_bins = 0;
    for (const auto& b : set.files[0].eval_summaries[0].reliability) filled_bins += b.n > 0 ? 1U : 0U;
    CHECK(filled_bins == 5);  // confidences 0.3 (a tie), 0.4, 0.7, 0.8 and 0.9, in bins of width 1/15
    CHECK(count("<g class=\"bin\"") == filled_bins);
    CHECK(count("<g class=\"bar\"") == 2 + 5);  // two subjects; five output-length buckets
    CHECK(html.find("data-label=\"high_school_us_history\" data-value=\"0.6667\"") != std::string::npos);
    CHECK(html.find("<script") == std::string::npos);
    for (auto at = html.find("http"); at != std::string::npos; at = html.find("http", at + 1))  // only the SVG namespace
        CHECK(html.compare(at, 26, "http://www.w3.org/2000/svg") == 0);
    CHECK(html.find("measured against llmbench's built-in mock server") == std::string::npos);  // an Ollama file
}
