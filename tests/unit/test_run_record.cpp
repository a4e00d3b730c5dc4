#include <llmbench/core/metrics.hpp>
#include <llmbench/core/run_record.hpp>

#include <simdjson.h>

#include <chrono>

#include <doctest/doctest.h>

using doctest::Approx;
using namespace llmbench;
using namespace std::chrono_literals;

namespace {
RunRecord record_with(std::int64_t prompt_count, std::int64_t prompt_ns, std::int64_t eval_count, std::int64_t eval_ns) {
    StreamResult result;
    result.done = true;
    result.text = "hello";
    result.server.prompt_eval_count = prompt_count;
    result.server.prompt_eval_duration_ns = prompt_ns;
    result.server.eval_count = eval_count;
    result.server.eval_duration_ns = eval_ns;
    result.server.load_duration_ns = 5'000'000;
    StreamTimer timer;
    const StreamTimer::time_point t0{};
    timer.mark_sent(t0);
    timer.mark_content(t0 + 100ms);
    timer.mark_content(t0 + 120ms);
    timer.mark_content(t0 + 150ms);
    timer.mark_done(t0 + 160ms);
    return make_run_record(result, timer, RunIdentity{"mock", "m", "p1", 0, false, 256, std::nullopt});
}
}  // namespace

TEST_CASE("rates are the reference script's formulas, plus the corrected decode rate") {
    const auto r = record_with(26, 325'953'000, 290, 4'709'213'000);
    CHECK(*r.gen_toks_per_s() == Approx(290 / 4.709213));
    CHECK(*r.prompt_toks_per_s() == Approx(26 / 0.325953));
    CHECK(*r.decode_toks_per_s() == Approx(289 / 4.709213));
    CHECK(*r.client_decode_toks_per_s() == Approx(289 / 0.050));
    CHECK(*r.client.ttft_s == Approx(0.100));
    CHECK(*r.client.itl_p50_s == Approx(0.025));
    CHECK(*r.client.itl_max_s == Approx(0.030));
    CHECK(r.output.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");  // sha256("hello")
}

TEST_CASE("missing server fields are unknown, not zero") {
    StreamResult result;
    StreamTimer timer;
    const auto r = make_run_record(result, timer, RunIdentity{});
    CHECK_FALSE(r.gen_toks_per_s().has_value());
    CHECK_FALSE(r.prompt_toks_per_s().has_value());
    CHECK(r.to_json().find("\"gen_toks_per_s\":null") != std::string::npos);
}

TEST_CASE("flags: short output, TTFT below server time, suspected prompt cache") {
    auto first = record_with(400, 200'000'000, 256, 1'000'000'000);
    flag_run(first, nullptr);
    CHECK_FALSE(first.flags.prompt_cache_suspected);
    CHECK_FALSE(first.flags.short_output);
    CHECK(first.flags.ttft_below_server);  // ttft 0.1 s < load 0.005 + prompt 0.2

    auto repeat = record_with(400, 300'000, 100, 1'000'000'000);  // same count, 1 token's time
    flag_run(repeat, &first);
    CHECK(repeat.flags.prompt_cache_suspected);
    CHECK(repeat.flags.short_output);

    auto shrunk = record_with(1, 300'000, 256, 1'000'000'000);  // count of new tokens only
    flag_run(shrunk, &first);
    CHECK(shrunk.flags.prompt_cache_suspected);

    auto fresh = record_with(400, 60'000'000, 256, 1'000'000'000);  // 3.3x faster: within run-to-run noise
    flag_run(fresh, &first);
    CHECK_FALSE(fresh.flags.prompt_cache_suspected);
    CHECK_FALSE(fresh.flags.ttft_below_server);
}

TEST_CASE("MetricsAccumulator counts failures by kind and keeps warm-ups out") {
    MetricsAccumulator acc;
    auto a = record_with(10, 10'000'000, 100, 1'000'000'000);
    a.outcome.ok = true;
    acc.add(a);
    auto b = record_with(10, 10'000'000, 50, 1'000'000'000);
    b.outcome.ok = true;
    acc.add(b);
    auto warm = b;
    warm.id.warmup = true;
    acc.add(warm);
    RunRecord failed;
    failed.outcome.ok = false;
    failed.outcome.error_kind = errc::server;
    acc.add(failed);
    const auto s = acc.summary();
    CHECK(s.runs_ok == 2);
    CHECK(s.runs_failed == 1);
    CHECK(s.failures_by_kind.at("server") == 1);
    const Stats* gen = s.find("gen_toks_per_s");
    REQUIRE(gen != nullptr);
    CHECK(gen->n == 2);
    CHECK(gen->mean == Approx(75));
    REQUIRE(s.per_prompt.size() == 1);
    CHECK(s.per_prompt[0].first == "p1");
}

TEST_CASE("determinism share and the CV warning") {
    MetricsAccumulator acc;
    auto add = [&](const char* prompt, const char* sha, std::int64_t eval_ns) {
        auto r = record_with(10, 10'000'000, 100, eval_ns);
        r.id.prompt_id = prompt;
        r.output.sha256 = sha;
        acc.add(r);
    };
    add("a", "h1", 1'000'000'000);
    add("a", "h1", 1'000'000'000);
    add("b", "h2", 1'000'000'000);
    add("b", "h3", 1'000'000'000);
    add("c", "h4", 1'000'000'000);  // one run: not compared
    auto s = acc.summary();
    CHECK(s.prompts_compared == 2);
    CHECK(s.identical_outputs == 1);
    CHECK(s.warnings.empty());
    CHECK(s.to_json().find(R"("determinism":{"prompts_compared":2,"identical_outputs":1,"share":0.5})") != std::string::npos);
    add("c", "h4", 2'000'000'000);  // gen_toks_per_s 50 among 100s: CV well over 5%
    s = acc.summary();
    REQUIRE(s.warnings.size() == 1);
    CHECK(s.warnings[0].find("gen_toks_per_s varies by") == 0);
    CHECK(s.identical_outputs == 2);
}

#include <fstream>
#include <set>
#include <sstream>

TEST_CASE("docs/metrics.md defines every registered metric, and each field it names is in the run line") {
    std::ifstream in(std::string(LLMBENCH_DOCS_DIR) + "/metrics.md");
    REQUIRE(in.good());
    std::stringstream text;
    text << in.rdbuf();
    const std::string doc = text.str();
    const auto start = doc.find("## Per run (`\"type\":\"run\"`)");
    REQUIRE(start != std::string::npos);
    const std::string section = doc.substr(start, doc.find("\n## ", start + 1) - start);
    // Backticked names: in the whole row (server and memory metrics are named inside their
    // object's row), and in the first column alone (the fields the table defines).
    std::set<std::string> named, fields;
    std::istringstream rows(section);
    for (std::string row; std::getline(rows, row);) {
        if (row.rfind("| `", 0) != 0) continue;
        const std::size_t first_column_end = row.find(" |", 2);
        for (std::size_t at = row.find('`'); at != std::string::npos; at = row.find('`', at)) {
            const std::size_t end = row.find('`', at + 1);
            REQUIRE(end != std::string::npos);
            const std::string name = row.substr(at + 1, end - at - 1);
            named.insert(name);
            if (end < first_column_end) fields.insert(name);
            at = end + 1;
        }
    }
    for (const Metric& m : run_metrics()) CHECK_MESSAGE(named.count(m.name) == 1, "docs/metrics.md does not define " << std::string(m.name));

    // Every field the table defines is a key of a full run line (top level, or "flags.NAME").
    RunRecord r;
    r.memory = RunMemory{};
    r.cell = CellCoordinates{};
    simdjson::dom::parser parser;
    const std::string json = r.to_json();
    simdjson::dom::object line;
    REQUIRE(parser.parse(json).get_object().get(line) == simdjson::SUCCESS);
    std::set<std::string> keys;
    for (auto field : line) {
        keys.insert(std::string(field.key));
        simdjson::dom::object inner;
        if (field.value.get_object().get(inner) == simdjson::SUCCESS)
            for (auto f : inner) keys.insert(std::string(field.key) + "." + std::string(f.key));
    }
    for (const auto& f : fields) {
        if (f == "server.*") continue;  // one row for the server object's fields
        CHECK_MESSAGE(keys.count(f) == 1, "docs/metrics.md defines '" << f << "', which the run line does not have");
    }
    for (const Metric& m : run_metrics())
        if (m.placement == MetricPlacement::top_level) CHECK_MESSAGE(fields.count(m.name) == 1, std::string(m.name) << " has no row of its own");
}
