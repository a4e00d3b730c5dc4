// The server's own account of itself: Prometheus /metrics parsed and differenced, the server's
// environment (secrets never copied), its placement and its default settings in the metadata.
#include <llmbench/host/processes.hpp>
#include <llmbench/host/roofline.hpp>
#include <llmbench/host/server_metrics.hpp>

#include <doctest/doctest.h>

#include "../test_util.hpp"

using namespace llmbench;

TEST_CASE("a Prometheus page captured from llama-server b10587 --metrics parses whole") {
    const auto page = parse_prometheus(test_util::read_text(std::string(LLMBENCH_TEST_DATA_DIR) + "/llama-server-metrics.prom"));
    CHECK(page.skipped_lines == 0);
    CHECK(page.samples.size() == 15);
    CHECK(page.value("llamacpp:prompt_tokens_total") == 81);
    CHECK(page.value("llamacpp:prompt_tokens_cached_total") == 24);
    CHECK(page.value("llamacpp:prompt_seconds_total") == doctest::Approx(0.007257));
    CHECK(page.value("llamacpp:tokens_predicted_total") == 14);
    CHECK(page.types.at("llamacpp:prompt_tokens_seconds") == "gauge");
    CHECK(page.is_counter("llamacpp:tokens_predicted_seconds_total"));
    CHECK(page.is_counter("llamacpp:n_tokens_max"));  // declared a counter, though it is a maximum
    CHECK_FALSE(page.is_counter("llamacpp:predicted_tokens_seconds"));
    CHECK_FALSE(page.is_counter("llamacpp:requests_processing"));
}

TEST_CASE("garbage in a Prometheus page is skipped and counted, never fatal - labels, timestamps and Inf read") {
    const std::string text = "# HELP x whatever\n"
                             "# TYPE vllm:e2e_request_latency_seconds histogram\n"
                             "vllm:e2e_request_latency_seconds_bucket{le=\"+Inf\",model_name=\"a b}c\"} 7 1700000000000\n"
                             "vllm:e2e_request_latency_seconds_count{model_name=\"m\"} 7\n"
                             "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.25\n"
                             "vllm:prompt_tokens_total{model_name=\"m\"} +Inf\n"
                             "\x01\x02 binary\n"
                             "1starts_with_a_digit 3\n"
                             "unclosed{a=\"b\" 3\n"
                             "no_value\n"
                             "bad_value 12abc\n"
                             "\n   \n"
                             "# TYPE\n"
                             "last_total 5";
    const auto page = parse_prometheus(text);
    CHECK(page.skipped_lines == 5);  // a bare "# TYPE" is a comment
    REQUIRE(page.skipped.size() == 3);
    CHECK(page.skipped[0].rfind("line 7: not a metric name", 0) == 0);
    CHECK(page.samples.size() == 5);
    CHECK(page.value("vllm:e2e_request_latency_seconds_bucket{le=\"+Inf\",model_name=\"a b}c\"}") == 7);
    CHECK(page.is_counter("vllm:e2e_request_latency_seconds_count{model_name=\"m\"}"));  // a histogram's count grows
    CHECK_FALSE(page.is_counter("vllm:gpu_cache_usage_perc{model_name=\"m\"}"));
    CHECK(std::isinf(*page.value("vllm:prompt_tokens_total{model_name=\"m\"}")));
    CHECK(page.value("last_total") == 5);  // a last line without a newline
    CHECK(parse_prometheus("").samples.empty());
    CHECK(parse_prometheus(std::string(1000, '{')).skipped_lines == 1);
}

TEST_CASE("counters are differenced, gauges kept, a counter that went down has no delta") {
    const auto before = parse_prometheus("a_total 10\nb_total 100\nonly_before_total 1\ng 3\n");
    const auto after = parse_prometheus("a_total 25\nb_total 40\ng 9\nnew_total 2\n");
    const auto d = ServerMetricsDelta::between("http://x/metrics", before, after);
    CHECK(d.delta("a_total") == 15);
    CHECK_FALSE(d.delta("b_total").has_value());
    REQUIRE(d.notes.size() == 1);
    CHECK(d.notes[0].find("b_total went down") == 0);
    CHECK_FALSE(d.delta("new_total").has_value());  // no before: unknown
    CHECK(d.counters.at("only_before_total").before == 1);
    CHECK(d.gauges.at("g") == 9);
    CHECK(d.gauges.count("a_total") == 0);
}

TEST_CASE("client totals stand beside the server's counters - one request without a count makes that total unknown") {
    RunRecord a, b;
    a.server.prompt_evaluated_tokens = 10;
    a.server.prompt_eval_count = 12;
    a.server.eval_count = 5;
    a.server.prompt_eval_duration_ns = 2'000'000;
    b.server.prompt_evaluated_tokens = 3;
    b.server.eval_count = 7;
    b.server.prompt_eval_duration_ns = 1'000'000;
    ClientTotals t;
    t.add(a);
    t.add(b);
    CHECK(t.requests == 2);
    CHECK(t.prompt_evaluated_tokens == 13);
    CHECK(t.generated_tokens == 12);
    CHECK(*t.prompt_eval_s == doctest::Approx(0.003));
    CHECK_FALSE(t.prompt_tokens.has_value());  // b did not say
    const auto d = ServerMetricsDelta::between("u", parse_prometheus("llamacpp:prompt_tokens_total 100\n"),
                                               parse_prometheus("llamacpp:prompt_tokens_total 113\n"));
    JsonWriter w;
    write_server_metrics_json(w, d, t);
    CHECK(w.str().find(R"("llamacpp:prompt_tokens_total":{"before":100,"after":113,"delta":13,"client":13})") != std::string::npos);
    CHECK(w.str().rfind(R"({"type":"server_metrics","schema_version":1,"url":"u","skipped_lines":0,)", 0) == 0);
}

namespace {
struct OneProcess : ProcessSource {
    std::string block;
    std::vector<ProcessEntry> list() const override { return {{1, 0, "init"}, {42, 1, "ollama"}, {43, 42, "llama-server"}}; }
    std::optional<std::int64_t> rss_bytes(int) const override { return std::nullopt; }
    std::optional<std::int64_t> peak_rss_bytes(int) const override { return std::nullopt; }
    std::string name() const override { return "fake"; }
    std::string environment_block(int pid) const override { return pid == 42 ? block : std::string(); }
};
}  // namespace

TEST_CASE("the server's environment: OLLAMA_*, LLAMA_ARG_* and device selection kept, credentials and the rest never copied") {
    OneProcess p;
    for (const char* entry : {"PATH=/usr/bin", "OLLAMA_NUM_PARALLEL=2", "OLLAMA_FLASH_ATTENTION=1", "OLLAMA_KV_CACHE_TYPE=q8_0",
                              "OLLAMA_API_KEY=sk-secret", "HF_TOKEN=hf_x", "CUDA_VISIBLE_DEVICES=0,1", "LLAMA_ARG_CTX_SIZE=8192",
                              "OLLAMA_AUTH_TOKEN=t", "=odd", "no_equals", "OLLAMA_CONTEXT_LENGTH=8192"})
        p.block += std::string(entry) + '\0';
    RunMetadata m;
    record_server_environment(m, p, std::nullopt, "ollama");
    const std::map<std::string, std::string> want = {{"OLLAMA_NUM_PARALLEL", "2"},      {"OLLAMA_FLASH_ATTENTION", "1"},
                                                     {"OLLAMA_KV_CACHE_TYPE", "q8_0"},  {"CUDA_VISIBLE_DEVICES", "0,1"},
                                                     {"LLAMA_ARG_CTX_SIZE", "8192"},    {"OLLAMA_CONTEXT_LENGTH", "8192"}};
    CHECK(m.server.environment == want);
    CHECK(m.server.parallel == 2);
    CHECK(m.to_json().find("secret") == std::string::npos);
    CHECK(m.to_json().find(R"("environment":{"CUDA_VISIBLE_DEVICES":"0,1",)") != std::string::npos);

    RunMetadata unreadable;
    record_server_environment(unreadable, p, 43, "ollama");
    CHECK(unreadable.server.environment.empty());
    REQUIRE(unreadable.notes.size() == 1);
    CHECK(unreadable.notes[0].find("cannot read the environment of pid 43") != std::string::npos);
    RunMetadata missing;
    record_server_environment(missing, p, std::nullopt, "vllm");
    CHECK(missing.notes.at(0).find("no process named 'vllm'") != std::string::npos);
}

TEST_CASE("placement: no GPU on the host means the CPU, whatever size_vram says (Ollama 0.33's ps-loaded capture)") {
    RunMetadata m;
    m.size_bytes = 75833015;  // the capture's tiny-llama
    m.size_vram_bytes = 23236444;
    CHECK(m.placement() == "cpu");
    CHECK(m.roofline_conditions().loaded_vram_bytes == 0);
    CHECK(m.to_json().find(R"("placement":"cpu")") != std::string::npos);
    m.host.gpus.push_back(GpuInfo{"NVIDIA RTX 4090", std::int64_t{24} << 30, "550"});
    CHECK(m.placement() == "cpu+gpu");
    CHECK(m.roofline_conditions().loaded_vram_bytes == 23236444);
    m.size_vram_bytes = m.size_bytes;
    CHECK(m.placement() == "gpu");
    m.size_bytes.reset();
    CHECK(m.placement() == "unknown");

    // The roofline of a CPU placement never asks for a GPU's bandwidth (it used to refuse: "GPU bandwidth unknown").
    RunMetadata cpu;
    cpu.size_bytes = 75833015;
    cpu.size_vram_bytes = 23236444;
    cpu.file_size_bytes = 39651584;
    cpu.quantization = "F16";
    cpu.geometry.parameter_count = 19825216;
    cpu.geometry.block_count = 2;
    cpu.geometry.embedding_length = 64;
    cpu.geometry.head_count = 4;
    cpu.geometry.head_count_kv = 4;
    cpu.geometry.vocab_size = 128256;
    RooflineSources sources;
    bool gpu_asked = false;
    sources.gpu = [&] {
        gpu_asked = true;
        return std::optional<Bandwidth>();
    };
    sources.cpu = [](const std::string&) { return Bandwidth{2e10, "test"}; };
    std::string why;
    const auto roofline = roofline_for(cpu.roofline_conditions(), sources, why);
    CHECK_MESSAGE(roofline.has_value(), why);
    CHECK_FALSE(gpu_asked);
}

TEST_CASE("the metadata says which sampling values were sent and which were the server's defaults") {
    RunMetadata m;
    m.server.defaults = {{"temperature", 0.8}, {"top_k", 40}};
    CHECK(m.to_json().find(R"("sampling":null)") != std::string::npos);  // the program did not say what it sent
    Options sent;
    sent.temperature = 0;
    sent.num_predict = 256;
    m.sent_options = sent;
    const std::string json = m.to_json();
    CHECK(json.find(R"("temperature":{"sent":0,"server_default":0.8})") != std::string::npos);
    CHECK(json.find(R"("top_k":{"sent":null,"server_default":40})") != std::string::npos);
    CHECK(json.find(R"("num_predict":{"sent":256,"server_default":null})") != std::string::npos);
    CHECK(json.find(R"("defaults":{"temperature":0.8,"top_k":40})") != std::string::npos);
}

TEST_CASE("Ollama's Modelfile parameters: the numeric ones are its defaults") {
    const auto numbers = llmbench::detail::modelfile_numbers("num_ctx                        8192\nstop                           \"[INST]\"\ntemperature 0.6\n\nbad");
    CHECK(numbers == std::map<std::string, double>{{"num_ctx", 8192}, {"temperature", 0.6}});
}
