// The experiment matrix against the mock server.
#include <llmbench/run/matrix.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#include <chrono>

#include <cstdlib>

#include <doctest/doctest.h>

using namespace llmbench;
using namespace std::chrono_literals;
using testing::MockConfig;
using testing::MockFault;
using testing::MockOllama;

namespace {
const std::string q4_model = "llama3.1:8b-instruct-q4_K_M", q8_model = "llama3.1:8b-instruct-q8_0";

MockConfig two_models() {
    MockConfig cfg;
    cfg.models = {q4_model, q8_model};
    cfg.natural_tokens = 1000;
    cfg.prefill_per_token = 30us;  // >= 32 tokens in under 1 ms would look like a cache hit
    return cfg;
}
}  // namespace

TEST_CASE("lists parse, and bad items name the option") {
    CHECK(parse_int_list("4096, 32768", "--num_ctx") == std::vector<int>{4096, 32768});
    CHECK(parse_string_list("a,b", "--model") == std::vector<std::string>{"a", "b"});
    CHECK_THROWS_WITH_AS(parse_int_list("128,x", "--num_predict"),
                         "--num_predict: 'x' is not a positive whole number (in '128,x')", error);
    CHECK_THROWS_AS(parse_int_list("", "--num_ctx"), error);
    CHECK_THROWS_AS(parse_string_list("a,,b", "--model"), error);
}

TEST_CASE("service-level objectives parse - a bad one names the item") {
    const Slo both = parse_slo("ttft_s=0.5, tpot_s=0.05");
    CHECK(both.ttft_s == 0.5);
    CHECK(both.tpot_s == 0.05);
    const Slo none = parse_slo("");
    CHECK_FALSE(none.ttft_s.has_value());
    CHECK_FALSE(none.tpot_s.has_value());
    CHECK_THROWS_WITH_AS(parse_slo("ttft_s=fast"), "--slo: 'ttft_s=fast' is not ttft_s=SECONDS or tpot_s=SECONDS", error);
    CHECK_THROWS_AS(parse_slo("e2e_s=1"), error);
    CHECK_THROWS_AS(parse_slo("tpot_s=0"), error);
    CHECK_THROWS_AS(parse_slo("ttft_s=0.5s"), error);
}

TEST_CASE("cells are grouped by model, then num_ctx, so reloads happen only when needed") {
    MatrixSpec spec;
    spec.models = {q4_model, q8_model};
    spec.num_ctx = {4096, 32768};
    spec.prompt_tokens = {200, 4000};
    spec.num_predict = {128, 512};
    const auto cells = plan_cells(spec);
    REQUIRE(cells.size() == 16);
    CHECK(cells[0].model == q4_model);
    CHECK(cells[0].num_ctx == 4096);
    CHECK(cells[3].num_ctx == 4096);
    CHECK(cells[4].num_ctx == 32768);
    CHECK(cells[8].model == q8_model);
    CHECK(cells[1].num_predict == 512);
    CHECK(cells[2].prompt_tokens == 4000);
    CHECK(planned_requests(spec) == 16 * (1 + 3) + 8 * 3);
}

TEST_CASE("2 models x 2 num_ctx x 2 prompt lengths x 2 output lengths, end to end") {
    MockOllama mock(two_models());
    OllamaClient client(mock.endpoint());
    MatrixSpec spec;
    spec.models = {q4_model, q8_model};
    spec.num_ctx = {2048, 4096};
    spec.prompt_tokens = {60, 400};
    spec.num_predict = {4, 9};
    spec.runs = 2;
    spec.warmup = 1;
    spec.options.temperature = 0;
    std::vector<RunRecord> records;
    OllamaBackend backend(client);
    backend.set_label("mock");
    MatrixRunner runner(backend, spec);
    const auto results = runner.on_record([&](const RunRecord& r) { records.push_back(r); }).run();
    REQUIRE(results.size() == 16);
    CHECK(records.size() == 16 * 3);
    for (const auto& r : records) {
        REQUIRE(r.cell.has_value());
        CHECK(r.ok());
        CHECK(r.server.eval_count == r.cell->num_predict);
        CHECK(r.id.prompt_tokens_target == r.cell->prompt_tokens);
        // Calibrated to the server's own count: within 2% of the target, or one word (<= 3 tokens).
        const auto target = static_cast<double>(*r.cell->prompt_tokens);
        CHECK(std::fabs(static_cast<double>(*r.server.prompt_eval_count) - target) <= std::max(0.02 * target, 3.0));
        CHECK_FALSE(r.flags.prompt_cache_suspected);
        CHECK_FALSE(r.flags.truncation_suspected);
    }
    for (const auto& c : results) {
        CHECK(c.summary.runs_ok == 2);
        CHECK(c.calibration.within_tolerance);
        CHECK(c.summary.find("ttft_s")->n == 2);
    }
    // Reloads: first cell of each (model, num_ctx) group, never inside a group.
    for (std::size_t i = 0; i < results.size(); ++i) CHECK_MESSAGE(results[i].reload.reloaded == (i % 4 == 0), i);
    CHECK(results[4].reload.context_before == 2048);
    CHECK(results[4].reload.context_after == 4096);
    // Unique prefixes: the mock never served a timed run from its prompt cache.
    for (const auto& req : mock.stream_requests()) CHECK_FALSE(req.prompt_cache_hit);
    const std::string json = results[0].to_json();
    CHECK(json.find("\"type\":\"cell\"") == 1);
    CHECK(json.find("\"reloaded\":true") != std::string::npos);
}

TEST_CASE("with the prompt cache allowed, hits are flagged under both Ollama behaviours") {
    for (bool new_only : {false, true}) {
        CAPTURE(new_only);
        MockConfig cfg = two_models();
        cfg.prefill_per_token = 500us;  // cold: 100 ms; a hit: one token, far under a fifth of that
        cfg.cache_hit_counts_new_tokens_only = new_only;
        MockOllama mock(cfg);
        OllamaClient client(mock.endpoint());
        MatrixSpec spec;
        spec.models = {q4_model};
        spec.prompt_tokens = {200};
        spec.num_predict = {4};
        spec.runs = 3;
        spec.allow_prompt_cache = true;
        std::vector<RunRecord> records;
        MatrixRunner(client, spec).on_record([&](const RunRecord& r) { records.push_back(r); }).run();
        REQUIRE(records.size() == 4);
        for (std::size_t i = 1; i < records.size(); ++i) {
            CHECK(records[i].flags.prompt_cache_suspected);
            CHECK_FALSE(records[i].flags.truncation_suspected);
        }
    }
}

TEST_CASE("a short reply is re-run with another seed - the short one stays in the output only") {
    MockOllama mock(two_models());
    OllamaClient client(mock.endpoint());
    MatrixSpec spec;
    spec.models = {q4_model};
    spec.prompt_tokens = {50};
    spec.num_predict = {8};
    spec.runs = 2;
    spec.warmup = 0;
    spec.retry_short = 2;
    REQUIRE(client.load(q4_model).ok());  // already loaded: no reload, so no forced warm-up
    std::vector<RunRecord> records;
    MatrixRunner runner(client, spec);
    runner.on_record([&](const RunRecord& r) {
        records.push_back(r);
        if (records.size() == 1) mock.script({MockFault::short_reply});  // the next request replies short
    });
    const auto results = runner.run();
    REQUIRE(records.size() == 3);
    CHECK_FALSE(records[0].retry.superseded);
    CHECK(records[1].retry.superseded);
    CHECK(records[1].flags.short_output);
    CHECK(records[2].retry.attempt == 1);
    CHECK(records[2].server.eval_count == 8);
    CHECK(mock.stream_requests().back().body.find("\"seed\":1000") != std::string::npos);
    CHECK(results[0].reruns == 1);
    CHECK(results[0].summary.runs_ok == 2);
    CHECK(results[0].summary.short_outputs == 0);
}

TEST_CASE("a prompt longer than num_ctx is flagged as truncated") {
    MockOllama mock(two_models());
    OllamaClient client(mock.endpoint());
    MatrixSpec spec;
    spec.models = {q4_model};
    spec.num_ctx = {256};
    spec.prompt_tokens = {400};
    spec.num_predict = {4};
    spec.runs = 1;
    std::vector<RunRecord> records;
    const auto results = MatrixRunner(client, spec).on_record([&](const RunRecord& r) { records.push_back(r); }).run();
    CHECK_FALSE(results[0].calibration.within_tolerance);
    REQUIRE(records.size() == 2);
    CHECK(records[1].flags.truncation_suspected);
    CHECK(records[1].server.prompt_eval_count == 128);  // the mock kept half the window
    // Twice the words gave no more tokens: a cut, never a converged cell, and no prefill rate.
    CHECK(results[0].calibration.saturated);
    CHECK(results[0].summary.find("prompt_toks_per_s") == nullptr);
    CHECK(results[0].summary.find("prefill_toks_per_s") == nullptr);
    CHECK(results[0].summary.find("gen_toks_per_s") != nullptr);
    REQUIRE_FALSE(results[0].summary.warnings.empty());
    CHECK(results[0].summary.warnings.back().find("saturated") != std::string::npos);
    CHECK(results[0].to_json().find(R"("saturated":true)") != std::string::npos);
}

TEST_CASE("on Ollama 0.33 the matrix sends truncate:false: an over-long cell fails as context_overflow") {
    MockConfig cfg = two_models();
    cfg.generation = testing::MockGeneration::ollama_0_33;
    MockOllama mock(cfg);
    OllamaClient client(mock.endpoint());
    MatrixSpec spec;
    spec.models = {q4_model};
    spec.num_ctx = {256};
    spec.prompt_tokens = {400};
    spec.num_predict = {4};
    spec.runs = 1;
    std::vector<RunRecord> records;
    const auto results = MatrixRunner(client, spec).on_record([&](const RunRecord& r) { records.push_back(r); }).run();
    // Sized all the same: the server's refusal says how many tokens the prompt is.
    CHECK(results[0].calibration.within_tolerance);
    CHECK(std::abs(results[0].calibration.actual_tokens - 400) <= 8);
    REQUIRE(records.size() == 2);
    for (const auto& r : records) {
        REQUIRE_FALSE(r.ok());
        CHECK(r.outcome.error_kind == errc::context_overflow);
        CHECK(std::abs(r.server.prompt_eval_count.value_or(0) - 400) <= 16);  // the refusal's count, kept in the record
    }
    CHECK(results[0].summary.failures_by_kind.at("context_overflow") == 1);  // the timed run
}

TEST_CASE("--cold unloads before every timed run, so each one measures the load") {
    MockConfig cfg = two_models();
    cfg.load_delay = 60ms;
    MockOllama mock(cfg);
    OllamaClient client(mock.endpoint());
    MatrixSpec spec;
    spec.models = {q4_model};
    spec.prompt_tokens = {40};
    spec.num_predict = {3};
    spec.runs = 2;
    spec.cold = true;
    std::vector<RunRecord> records;
    MatrixRunner(client, spec).on_record([&](const RunRecord& r) { records.push_back(r); }).run();
    REQUIRE(records.size() == 3);
    std::vector<bool> cold;  // the mock's own account, for the requests that generated (not loads or unloads)
    for (const auto& r : mock.stream_requests())
        if (r.prompt_tokens > 0) cold.push_back(r.cold_load);
    REQUIRE(cold.size() >= 3);
    CHECK_FALSE(cold[cold.size() - 3]);  // warm-up: the preload already loaded it
    CHECK(cold[cold.size() - 2]);
    CHECK(cold[cold.size() - 1]);
    CHECK(records[1].load_s().value() >= 0.06);
    CHECK(records[2].load_s().value() >= 0.06);
}

#include <llmbench/testing/mock_openai.hpp>

TEST_CASE("an OpenAI-compatible backend: prompt x output lengths, calibrated by its usage counts - num_ctx and cold refused") {
    testing::MockOpenAIConfig cfg;
    cfg.flavour = testing::OpenAIFlavour::llamacpp;
    cfg.tokens = 1000;
    testing::MockOpenAI mock(cfg);
    OpenAIClient client(mock.base_url());
    OpenAIBackend backend(client);
    MatrixSpec spec;
    spec.models = {"mock-model"};
    spec.prompt_tokens = {60, 400};
    spec.num_predict = {4, 9};
    spec.runs = 2;
    spec.warmup = 0;
    std::vector<RunRecord> records;
    const auto results = MatrixRunner(backend, spec).on_record([&](const RunRecord& r) { records.push_back(r); }).run();
    REQUIRE(results.size() == 4);
    for (const auto& c : results) {
        CHECK(c.calibration.within_tolerance);
        CHECK(c.summary.runs_ok == 2);
    }
    // llama-server loaded its model at start, unseen: the first cell's "before" is unknown, and
    // a quick load is no reload; the later cells' model was loaded by this run.
    CHECK_FALSE(results[0].reload.loaded_before.has_value());
    CHECK_FALSE(results[0].reload.reloaded);
    CHECK(results[0].to_json().find(R"("reload":{"reloaded":false,"loaded_before":null)") != std::string::npos);
    for (std::size_t i = 1; i < results.size(); ++i) {
        CHECK(results[i].reload.loaded_before == true);
        CHECK_FALSE(results[i].reload.reloaded);
    }
    for (const auto& r : records) {
        REQUIRE(r.ok());
        CHECK(r.id.backend == "openai");
        CHECK(r.server.eval_count == r.cell->num_predict);
        const double target = *r.cell->prompt_tokens;
        CHECK(static_cast<double>(*r.server.prompt_eval_count) == doctest::Approx(target).epsilon(0.05));
    }
    spec.num_ctx = {4096};
    CHECK_THROWS_WITH_AS(MatrixRunner(backend, spec), doctest::Contains("fixes its context at start"), error);
    spec.num_ctx.clear();
    spec.cold = true;
    CHECK_THROWS_WITH_AS(MatrixRunner(backend, spec), doctest::Contains("cold runs need"), error);
}
