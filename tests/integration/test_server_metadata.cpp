// What an OpenAI-compatible server says about itself: llama-server's /v1/models meta, /props
// (slots, build, chat template, default settings) and /metrics, from the real captures and
// the llamacpp-flavoured mock; ollama-bench --server-metrics.
#include <llmbench/client/backend.hpp>
#include <llmbench/host/server_metrics.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include <doctest/doctest.h>

#include "../replay_server.hpp"
#include "../test_util.hpp"

using namespace llmbench;

TEST_CASE("llama-server b10587's /v1/models meta and /props, from the captures") {
    {
        ReplayServer server(test_util::read_capture("llama-server-b10587/v1-models.http"), 0, "application/json");
        OpenAIClient client(server.host());
        const auto models = client.served_models();
        REQUIRE(models.size() == 1);
        CHECK(models[0].id == "tiny-llama");
        CHECK(models[0].n_params == 19825216);
        CHECK(models[0].size_bytes == 39651584);
        CHECK(models[0].n_ctx_train == 8192);
        CHECK(models[0].n_ctx == 4096);
        CHECK(models[0].n_vocab == 128256);
        CHECK(models[0].n_embd == 64);
        CHECK(models[0].ftype == "F16");
    }
    ReplayServer server(test_util::read_capture("llama-server-b10587/props.http"), 0, "application/json");
    OpenAIClient client(server.host());
    const auto props = client.props();
    REQUIRE(props.has_value());
    CHECK(props->build_info == "b10587-3f545becc");
    CHECK(props->total_slots == 4);
    CHECK(props->n_ctx == 4096);
    CHECK(props->chat_template.rfind("{% set loop_messages = messages %}", 0) == 0);
    CHECK(props->defaults.at("temperature") == doctest::Approx(0.8));
    CHECK(props->defaults.at("top_k") == 40);
    CHECK(props->defaults.at("repeat_penalty") == 1.0);
    CHECK(props->defaults.at("n_predict") == -1);
    CHECK(props->defaults.count("samplers") == 0);  // not a number
}

TEST_CASE("describe_openai_server: model size, parameters, trained context, slots, template hash and defaults from llama.cpp") {
    testing::MockOpenAIConfig cfg;
    cfg.flavour = testing::OpenAIFlavour::llamacpp;
    cfg.slots = 2;
    testing::MockOpenAI mock(cfg);
    OpenAIClient client(mock.base_url());
    const RunMetadata m = describe_openai_server(client, "mock-model");
    CHECK(m.backend_version == "llama.cpp b10587-3f545becc");
    CHECK(m.parameter_count == 19825216);
    CHECK(m.file_size_bytes == 39651584);
    CHECK(m.context_length == 8192);
    CHECK(m.loaded_context_length == 4096);
    CHECK(m.quantization == "F16");
    CHECK(m.geometry.vocab_size == 32000);
    CHECK(m.server.parallel == 2);
    CHECK(m.server.chat_template_sha256.size() == 64);
    CHECK(m.server.defaults.at("temperature") == doctest::Approx(0.8));
    CHECK(m.server.defaults.at("num_predict") == -1);  // llama.cpp's n_predict, under Ollama's name
    CHECK(m.server.defaults.at("num_ctx") == 4096);
    CHECK(m.server.defaults_source == "llama.cpp /props default_generation_settings");

    testing::MockOpenAIConfig plain;  // vLLM-like: no /props, no meta
    testing::MockOpenAI other(plain);
    OpenAIClient other_client(other.base_url());
    const RunMetadata n = describe_openai_server(other_client, "mock-model");
    CHECK_FALSE(n.parameter_count.has_value());
    CHECK_FALSE(n.server.parallel.has_value());
    CHECK(n.server.defaults.empty());
    CHECK(n.to_json().find(R"("server":{"parallel":null,"chat_template_sha256":null,"defaults":{},"defaults_source":null)") != std::string::npos);
}

TEST_CASE("the mock's /metrics counts what its streams reported, and without --metrics it answers 501 like llama-server") {
    testing::MockOpenAIConfig cfg;
    cfg.flavour = testing::OpenAIFlavour::llamacpp;
    cfg.tokens = 6;
    testing::MockOpenAI mock(cfg);
    OpenAIClient client(mock.base_url());
    const auto before = parse_prometheus(client.metrics_text());
    CHECK(before.skipped_lines == 0);
    CHECK(before.value("llamacpp:prompt_tokens_total") == 0);
    ClientTotals totals;
    for (int i = 0; i < 3; ++i) {
        StreamTimer timer;
        auto r = client.chat(ChatRequest{"mock-model", {{"user", "hello there"}}, {}, {}, true, {}}, timer);
        REQUIRE(r.ok());
        totals.add(make_run_record(std::move(r), timer, RunIdentity{}));
    }
    const auto d = ServerMetricsDelta::between("m", before, parse_prometheus(client.metrics_text()));
    CHECK(d.delta("llamacpp:prompt_tokens_total") == static_cast<double>(*totals.prompt_evaluated_tokens));
    CHECK(d.delta("llamacpp:tokens_predicted_total") == static_cast<double>(*totals.generated_tokens));
    CHECK(*d.delta("llamacpp:prompt_seconds_total") == doctest::Approx(*totals.prompt_eval_s));
    CHECK(d.gauges.count("llamacpp:requests_processing") == 1);

    cfg.metrics = false;
    testing::MockOpenAI without(cfg);
    OpenAIClient c2(without.base_url());
    try {
        (void)c2.metrics_text();
        FAIL("a 501 must throw");
    } catch (const error& e) {
        CHECK(std::string(e.what()).find("501") != std::string::npos);
        CHECK(std::string(e.what()).find("--metrics") != std::string::npos);
    }
}
