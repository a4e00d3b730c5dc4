// Needle in a haystack: prompt building, calibration against the mock's token counts, a
// mock that finds needles only below a length (the expected heatmap), truncation and
// over-context exclusion, bad haystack files, and the HTML report.
#include <llmbench/niah/report.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <unistd.h>

#include <doctest/doctest.h>

using namespace llmbench;
using namespace llmbench::niah;

namespace {
/// The mock's "model": answers with every needle value it sees, but only in prompts up to
/// `limit` tokens (by the mock's own count).
std::string answer_below(const std::string& prompt, std::int64_t limit) {
    static const std::regex needle("special magic (?:number|word)s for [a-z]+-[a-z]+ is: ([A-Za-z0-9]+)\\.");
    if (testing::MockOllama::count_tokens(prompt) > limit) return "I do not know.";
    std::string values;
    for (auto it = std::sregex_iterator(prompt.begin(), prompt.end(), needle); it != std::sregex_iterator(); ++it)
        values += " " + (*it)[1].str();
    return "It is" + values + ".";
}

std::unique_ptr<testing::MockOllama> mock_answering_below(std::int64_t limit) {
    testing::MockConfig cfg;
    cfg.natural_tokens = 200;
    cfg.responder = [limit](const std::string& prompt) { return answer_below(prompt, limit); };
    return std::make_unique<testing::MockOllama>(cfg);
}
}  // namespace

TEST_CASE("the needle goes in at its depth, on a sentence boundary - the question comes last") {
    const Haystack h = generated_haystack(2000, 7);
    const Needle n = make_needle(NeedleKind::number, 3);
    REQUIRE(n.values.size() == 1);
    CHECK(n.values[0].size() == 7);
    for (int depth : {0, 10, 50, 90, 100}) {
        const auto p = build_prompt(h, 1000, n, depth);
        REQUIRE(p.needle_words.size() == 1);
        const std::size_t at = p.needle_words[0];
        const double wanted = 1000.0 * depth / 100;
        CHECK(static_cast<double>(at) <= wanted + 0.5);
        CHECK(static_cast<double>(at) >= wanted - 30);  // back to the sentence start, never far
        if (at > 0 && at < 1000) CHECK(h.words[at - 1].back() == '.');
        CHECK(p.text.find(n.sentence(n.values[0])) != std::string::npos);
        CHECK(p.text.substr(p.text.size() - n.question().size()) == n.question());
    }
    CHECK(build_prompt(h, 1000, n, 0).needle_words[0] == 0);
    CHECK(build_prompt(h, 1000, n, 100).needle_words[0] == 1000);
    const auto multi = build_prompt(h, 1000, make_needle(NeedleKind::multi_value, 3), 10);
    CHECK(multi.needle_words.size() == 3);
    CHECK_FALSE(multi.haystack_repeated);
    CHECK(build_prompt(h, 5000, n, 50).haystack_repeated);
}

TEST_CASE("scoring: every value for exact, the share for partial, case-insensitive") {
    Needle n;
    n.kind = NeedleKind::multi_value;
    n.values = {"1234567", "7654321", "5555555"};
    CHECK(score_reply("They are 1234567, 7654321 and 5555555.", n).exact());
    const auto two = score_reply("1234567 and 7654321", n);
    CHECK_FALSE(two.exact());
    CHECK(two.partial() == doctest::Approx(2.0 / 3));
    Needle w;
    w.kind = NeedleKind::word;
    w.values = {"zephyr"};
    CHECK(score_reply("The word is ZEPHYR.", w).exact());
    CHECK_FALSE(score_reply("I don't know", w).exact());
}

TEST_CASE("each length is calibrated within 2% by the server's count - a mock blind above 5k tokens gives the expected heatmap") {
    auto mock = mock_answering_below(5000);
    OllamaClient client(mock->endpoint());
    SweepSpec spec;
    spec.model = "llama3.1:8b";
    spec.lengths = {2048, 4096, 8192};
    spec.depths = {0, 50, 100};
    std::vector<std::string> lines;
    OllamaBackend backend(client);
    backend.set_label("mock");
    Sweep sweep(backend, spec, generated_haystack(9000, 1));
    const auto result = sweep.on_trial([&](const Trial& t) { lines.push_back(t.to_json()); }).run();
    REQUIRE(result.trials.size() == 9);
    CHECK(lines.size() == 9);
    for (int len : spec.lengths) {
        const auto& cal = result.calibrations.at(len);
        CHECK_MESSAGE(std::fabs(static_cast<double>(cal.actual_tokens - len)) <= 0.02 * len, "length " << len << ": " << cal.actual_tokens);
        CHECK(cal.within_tolerance);
    }
    for (int depth : spec.depths) {
        CHECK(result.cell(2048, depth).accuracy() == 1.0);
        CHECK(result.cell(4096, depth).accuracy() == 1.0);
        CHECK(result.cell(8192, depth).accuracy() == 0.0);
    }
    // every trial's prompt reached the server whole: prompt_eval_count within 2% of its length
    for (const auto& t : result.trials) {
        CHECK(t.scored());
        REQUIRE(t.timing.server.prompt_eval_count.has_value());
        CHECK(std::fabs(static_cast<double>(*t.timing.server.prompt_eval_count - t.length)) <= 0.02 * t.length + 16);
    }
    const std::string summary = result.summary_json(spec);
    CHECK(summary.find(R"("length_tokens":8192,"num_ctx":9139)") != std::string::npos);
    CHECK(summary.find(R"("model_context_length":131072)") != std::string::npos);
    CHECK(lines[0].find(R"("type":"niah_trial")") == 1);

    std::ostringstream html;
    write_niah_html(result, spec, html, true);
    const std::string page = html.str();
    CHECK(page.find(R"(data-chart="heatmap")") != std::string::npos);
    CHECK(page.find(R"(data-x="8k" data-y="50%" data-value="0.0")") != std::string::npos);
    CHECK(page.find(R"(data-x="2k" data-y="50%" data-value="1.0")") != std::string::npos);
    CHECK(page.find(R"(data-chart="accuracy-vs-length")") != std::string::npos);
    CHECK(page.find(R"(data-chart="ttft-vs-length")") != std::string::npos);
    CHECK(page.find("<script") == std::string::npos);
    const std::string table = format_niah_table(result, spec);
    const auto row = table.substr(table.find("\n8k "), table.find('\n', table.find("\n8k ") + 1) - table.find("\n8k "));
    CHECK(row.find("  0%") != std::string::npos);
    CHECK(table.find("\n2k ") != std::string::npos);
}

TEST_CASE("a window too small for the prompt: the server truncates silently, the trial is flagged and excluded") {
    auto mock = mock_answering_below(100000);
    OllamaClient client(mock->endpoint());
    SweepSpec spec;
    spec.model = "llama3.1:8b";
    spec.lengths = {4096};
    spec.depths = {50};
    spec.num_ctx = 2048;  // the mock, like Ollama, keeps half the window and answers 200
    const auto result = Sweep(client, spec, generated_haystack(5000, 2)).run();
    REQUIRE(result.trials.size() == 1);
    const Trial& t = result.trials[0];
    CHECK(t.timing.ok());
    CHECK(t.truncated);
    CHECK_FALSE(t.scored());
    CHECK_FALSE(result.cell(4096, 50).accuracy().has_value());  // excluded, not scored as a miss
    CHECK(result.cell(4096, 50).excluded == 1);
    CHECK(t.to_json().find(R"("scored":false,"truncated":true)") != std::string::npos);
}

TEST_CASE("Ollama 0.33 told truncate:false refuses the over-long prompt: a counted context_overflow, never a score") {
    for (bool allow : {false, true}) {
        CAPTURE(allow);
        testing::MockConfig cfg;
        cfg.generation = testing::MockGeneration::ollama_0_33;
        cfg.natural_tokens = 200;
        cfg.responder = [](const std::string& prompt) { return answer_below(prompt, 100000); };
        testing::MockOllama mock(cfg);
        OllamaClient client(mock.endpoint());
        SweepSpec spec;
        spec.model = "llama3.1:8b";
        spec.lengths = {4096};
        spec.depths = {50};
        spec.num_ctx = 2048;
        spec.allow_truncation = allow;
        const auto result = Sweep(client, spec, generated_haystack(5000, 2)).run();
        REQUIRE(result.trials.size() == 1);
        const Trial& t = result.trials[0];
        CHECK_FALSE(t.scored());
        CHECK_FALSE(result.cell(4096, 50).accuracy().has_value());
        for (const auto& req : mock.stream_requests())
            CHECK((req.body.find(R"("truncate":false,"shift":false)") != std::string::npos) == !allow);
        if (allow) {  // the server default: cut silently, caught by the count
            CHECK(t.timing.ok());
            CHECK(t.truncated);
            CHECK(result.cell(4096, 50).context_overflows == 0);
            continue;
        }
        REQUIRE_FALSE(t.timing.ok());
        CHECK(t.context_overflow());
        CHECK(t.timing.outcome.http_status == 400);
        const std::string what = t.timing.outcome.error_message;
        CHECK_MESSAGE(what.find("tokens) does not fit the context (2048 tokens)") != std::string::npos, what);
        CHECK_MESSAGE(what.find("exceeds the available context size") != std::string::npos, what);  // the nested message, decoded
        CHECK(result.cell(4096, 50).failed == 1);
        CHECK(result.cell(4096, 50).context_overflows == 1);
        CHECK(t.to_json().find(R"("kind":"context_overflow")") != std::string::npos);
    }
}

TEST_CASE("a length beyond the model's trained context is flagged and excluded") {
    auto mock = mock_answering_below(1000000);
    OllamaClient client(mock->endpoint());
    SweepSpec spec;
    spec.model = "llama3.1:8b";
    spec.lengths = {131072};  // + the answer > the 131072 the model reports
    spec.depths = {50};
    const auto result = Sweep(client, spec, generated_haystack(1000, 3)).run();  // a short source, repeated
    REQUIRE(result.trials.size() == 1);
    CHECK(result.trials[0].exceeds_context);
    CHECK(result.trials[0].haystack_repeated);
    CHECK_FALSE(result.trials[0].scored());
}

TEST_CASE("haystack files: a book's licence text is cut off - a missing or tiny file is a clear error") {
    const auto dir = std::filesystem::temp_directory_path() / ("llmbench_niah_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
        std::ofstream book(dir / "book.txt");
        book << "The Project Gutenberg eBook licence text.\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\n";
        for (int i = 0; i < 300; ++i) book << "Call me Ishmael. Some years ago I sailed.\n";
        book << "*** END OF THE PROJECT GUTENBERG EBOOK X ***\nMore licence.\n";
        std::ofstream(dir / "tiny.txt") << "Too short.";
    }
    const auto h = haystack_from_file((dir / "book.txt").string());
    CHECK(h.words.front() == "Call");
    CHECK(h.words.back() == "sailed.");
    CHECK(h.words.size() == 300 * 8);
    CHECK_THROWS_WITH_AS(haystack_from_file((dir / "tiny.txt").string()), doctest::Contains("has 2 words; at least 1000 are needed"), error);
    CHECK_THROWS_WITH_AS(haystack_from_file((dir / "none.txt").string()), doctest::Contains("cannot open"), error);
    std::filesystem::remove_all(dir);
    CHECK_THROWS_WITH_AS(parse_needle_kind("emoji"), doctest::Contains("unknown needle kind 'emoji'"), error);
}

TEST_CASE("the public-domain books in ../shared fill 128k tokens without repeating, when present") {
    const std::string path = std::string(LLMBENCH_FIXTURES_DIR) + "/../../datasets/haystack/pg2701_moby_dick.txt";
    if (!std::filesystem::exists(path)) {
        MESSAGE("skipped: no ../shared/datasets");
        return;
    }
    const auto h = haystack_from_file(path);
    CHECK(h.words.size() > 100000);  // ~1.3 tokens a word: 128k tokens need ~98k words
    const auto p = build_prompt(h, 98000, make_needle(NeedleKind::number, 1), 50);
    CHECK_FALSE(p.haystack_repeated);
}
