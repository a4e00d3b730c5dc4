// Roofline: bytes per token from a model's shape, bandwidth from every source, efficiency.
#include <llmbench/host/roofline.hpp>

#include <chrono>
#include <cstdio>
#include <string>

#include <unistd.h>

#include <doctest/doctest.h>

#include "../replay_server.hpp"
#include "../test_util.hpp"

using namespace llmbench;
using doctest::Approx;

namespace {
ModelGeometry made_up() {
    ModelGeometry g;
    g.parameter_count = 1'000'000'000;
    g.block_count = 10;
    g.embedding_length = 1024;
    g.head_count = 16;
    g.head_count_kv = 4;
    g.vocab_size = 10'000;
    return g;
}
}  // namespace

TEST_CASE("bytes per token of a made-up model, by hand") {
    // File 600,000,000 B for 1e9 weights: 0.6 B per weight. Token-embedding table 10,000 x 1024
    // = 10,240,000 weights = 6,144,000 B, not read. Head size 1024/16 = 64; K and V of 4
    // KV heads in 10 layers at 2 B: 10 x 4 x (64 + 64) x 2 = 10,240 B per position.
    const auto b = DecodeBytes::of(made_up(), 600'000'000, "Q4_K_M");
    REQUIRE(b.has_value());
    CHECK(b->weight_bytes == Approx(593'856'000.0));
    CHECK(b->kv_bytes_per_position == Approx(10'240.0));
    CHECK(b->per_token(1000) == Approx(604'096'000.0));
    CHECK(b->weights_from == "model file size (/api/tags), less the token-embedding table");

    // No file size: 1e9 x 8.5 bits (Q8_0) = 1,062,500,000 B, less the table at 1.0625 B each.
    const auto q8 = DecodeBytes::of(made_up(), std::nullopt, "Q8_0");
    REQUIRE(q8.has_value());
    CHECK(q8->weight_bytes == Approx(1'062'500'000.0 - 10'880'000.0));
    CHECK(q8->weights_from.find("8.5 bits (Q8_0)") != std::string::npos);

    // A q8_0 KV cache (34 bytes per 32 elements), and explicit key/value lengths.
    ModelGeometry g = made_up();
    g.key_length = 96;
    g.value_length = 32;
    CHECK(DecodeBytes::of(g, 600'000'000, "Q4_K_M", 34.0 / 32)->kv_bytes_per_position == Approx(10.0 * 4 * 128 * 34 / 32));

    CHECK_FALSE(DecodeBytes::of(made_up(), std::nullopt, "Q7_X").has_value());  // unknown size
    ModelGeometry shapeless;
    shapeless.parameter_count = 1000;
    CHECK_FALSE(DecodeBytes::of(shapeless, 600, "F16").has_value());
    CHECK(bits_per_weight("F16") == 16);
    CHECK_FALSE(bits_per_weight("q4_k_m").has_value());  // Ollama writes them upper case
}

TEST_CASE("the real tiny-llama capture: /api/show's model_info gives the shape") {
    const auto show = test_util::read_capture("ollama_show.txt");
    ReplayServer server(show, 0, "application/json; charset=utf-8");
    OllamaClient client(server.host());
    const ModelInfo info = client.show("tiny-llama");
    const ModelGeometry g = ModelGeometry::from(info);
    CHECK(g.block_count == 4);
    CHECK(g.embedding_length == 256);
    CHECK(g.head_count == 4);
    CHECK(g.head_count_kv == 4);
    CHECK(g.vocab_size == 32000);
    CHECK(g.parameter_count == 19'794'176);
    // /api/tags gives 40,320,415 B; the table is 32,000 x 256 = 8,192,000 of 19,794,176 weights.
    const auto b = DecodeBytes::of(g, 40'320'415, info.details.quantization_level);
    REQUIRE(b.has_value());
    CHECK(b->weight_bytes == Approx(40'320'415.0 * (1 - 8'192'000.0 / 19'794'176.0)));
    CHECK(b->kv_bytes_per_position == Approx(4.0 * 4 * (64 + 64) * 2));
}

TEST_CASE("the roofline of a run, on one device and split, and the efficiency of a record") {
    DecodeBytes bytes;
    bytes.weight_bytes = 4e9;
    bytes.kv_bytes_per_position = 1e5;
    Bandwidth gpu{1000e9, "test GPU"}, cpu{50e9, "test CPU"};
    const Roofline on_gpu(bytes, 1.0, gpu, std::nullopt);
    // 200-token prompt, 256 generated: mean position 328, 4e9 + 3.28e7 B at 1e12 B/s.
    CHECK(*on_gpu.decode_toks_per_s(200, 256) == Approx(1e12 / (4e9 + 3.28e7)));
    CHECK_FALSE(Roofline(bytes, 0.0, gpu, std::nullopt).decode_toks_per_s(200, 256).has_value());  // needs the CPU's
    const Roofline split(bytes, 0.75, gpu, cpu);
    const double per_token = 4e9 + 3.28e7;
    CHECK(*split.decode_toks_per_s(200, 256) == Approx(1 / (per_token * 0.75 / 1000e9 + per_token * 0.25 / 50e9)));

    RunRecord r;
    r.outcome.ok = true;
    r.server.prompt_eval_count = 200;
    r.server.eval_count = 256;
    r.server.eval_duration_ns = 2'550'000'000;  // 255 decode steps in 2.55 s: 100 tok/s
    on_gpu.annotate(r);
    REQUIRE(r.roofline.decode_toks_per_s.has_value());
    CHECK(*r.roofline.decode_toks_per_s == Approx(1e12 / (4e9 + 3.28e7)));
    CHECK(*r.roofline.efficiency == Approx(100.0 / *r.roofline.decode_toks_per_s));
    JsonWriter w;
    r.write_json(w);
    CHECK(w.str().find("\"roofline_efficiency\":") != std::string::npos);
    RunRecord failed;
    on_gpu.annotate(failed);
    CHECK_FALSE(failed.roofline.efficiency.has_value());
}

TEST_CASE("bandwidth from every source: NVML, Apple's table, a measurement, its cache") {
#ifdef LLMBENCH_FAKE_NVML_PATH
    const auto nvml = nvml_bandwidth(LLMBENCH_FAKE_NVML_PATH);  // 10501 MHz x 2 x 384 bits, as an RTX 4090
    REQUIRE(nvml.has_value());
    CHECK(nvml->bytes_per_s == Approx(10501e6 * 2 * 384 / 8));
    CHECK(nvml->source.find("Fake RTX") != std::string::npos);
#endif
    CHECK_FALSE(nvml_bandwidth("libnvidia-ml-absent.so").has_value());

    CHECK(apple_bandwidth("Apple M2 Pro")->bytes_per_s == Approx(200e9));
    CHECK(apple_bandwidth("Apple M1")->bytes_per_s == Approx(68.25e9));
    CHECK(apple_bandwidth("Apple M4 Max")->bytes_per_s == Approx(546e9));
    CHECK_FALSE(apple_bandwidth("AMD EPYC 7B13 64-Core Processor").has_value());
    CHECK_FALSE(apple_bandwidth("Apple M9").has_value());

    const auto t0 = std::chrono::steady_clock::now();
    const Bandwidth measured = measure_cpu_bandwidth(std::size_t{64} << 20, 2, 2);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
    CHECK(measured.bytes_per_s > 0.2e9);   // any machine that runs a model reads faster
    CHECK(measured.bytes_per_s < 10e12);
    CHECK(measured.source.find("measured: 2 threads reading 64 MiB") == 0);

    const std::string cache = "/tmp/llmbench-test-bandwidth-" + std::to_string(::getpid());
    std::remove(cache.c_str());
    int measurements = 0;
    const auto fake = [&] {
        ++measurements;
        return Bandwidth{12.5e9, "measured: fake"};
    };
    CHECK(cached_cpu_bandwidth(cache, "host A", fake).bytes_per_s == 12.5e9);
    const Bandwidth again = cached_cpu_bandwidth(cache, "host A", fake);
    CHECK(again.bytes_per_s == 12.5e9);
    CHECK(again.source.find("(cached in ") != std::string::npos);
    CHECK(measurements == 1);
    cached_cpu_bandwidth(cache, "host B", fake);  // another machine: measured again
    CHECK(measurements == 2);
    std::remove(cache.c_str());
}

TEST_CASE("roofline_for picks the bandwidth the model's placement needs, and says why not") {
    RooflineConditions c;
    c.geometry = made_up();
    c.file_size_bytes = 600'000'000;
    c.quantization = "Q4_K_M";
    c.loaded_bytes = 1'000'000'000;
    c.cpu_model = "AMD EPYC 7B13 64-Core Processor";
    c.host_key = "test host";
    int gpu_asked = 0, cpu_asked = 0;
    RooflineSources sources;
    sources.gpu = [&]() -> std::optional<Bandwidth> {
        ++gpu_asked;
        return Bandwidth{900e9, "fake NVML"};
    };
    sources.cpu = [&](const std::string& key) {
        ++cpu_asked;
        CHECK(key == "test host");
        return Bandwidth{40e9, "fake probe"};
    };
    std::string why;
    c.loaded_vram_bytes = 0;  // all on the CPU: only the CPU is measured
    auto r = roofline_for(c, sources, why);
    REQUIRE(r.has_value());
    CHECK(r->gpu_fraction() == 0);
    CHECK((gpu_asked == 0 && cpu_asked == 1));
    c.loaded_vram_bytes = 1'000'000'000;  // all on the GPU
    r = roofline_for(c, sources, why);
    CHECK(r->gpu_fraction() == 1);
    CHECK((gpu_asked == 1 && cpu_asked == 1));
    JsonWriter w;
    r->write_json(w);
    CHECK(w.str().find(R"("gpu_bandwidth":{"bytes_per_s":9e+11,"source":"fake NVML"},"cpu_bandwidth":null)") != std::string::npos);
    c.loaded_vram_bytes = 600'000'000;  // split: both
    r = roofline_for(c, sources, why);
    CHECK(r->gpu_fraction() == Approx(0.6));
    CHECK((gpu_asked == 2 && cpu_asked == 2));

    sources.bandwidth_bytes_per_s = 100e9;  // --mem-bandwidth-gbs 100: nothing probed
    r = roofline_for(c, sources, why);
    CHECK((gpu_asked == 2 && cpu_asked == 2));
    CHECK(*r->seconds_per_token(0) == Approx(593'856'000.0 / 100e9));
    sources.bandwidth_bytes_per_s.reset();

    c.cpu_model = "Apple M2 Max";  // unified memory: the table serves both
    r = roofline_for(c, sources, why);
    CHECK(*r->seconds_per_token(0) == Approx(593'856'000.0 / 400e9));
    CHECK((gpu_asked == 2 && cpu_asked == 2));

    c.cpu_model = "Intel Xeon";
    sources.gpu = [] { return std::optional<Bandwidth>(); };
    CHECK_FALSE(roofline_for(c, sources, why).has_value());
    CHECK(why.find("--mem-bandwidth-gbs") != std::string::npos);
    c.loaded_bytes.reset();
    CHECK_FALSE(roofline_for(c, sources, why).has_value());
    CHECK(why.find("/api/ps") != std::string::npos);
}
