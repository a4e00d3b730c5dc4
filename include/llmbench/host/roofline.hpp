// llmbench/host/roofline.hpp - how close decoding comes to the machine's memory-bandwidth limit.
//
// Decoding one token of a dense model at batch 1 reads every weight once, plus the KV cache
// of every position so far; the arithmetic is small next to that on CPUs and GPUs alike. So
// the fastest possible decode rate is bandwidth / bytes per token (the roofline), and the
// measured rate over the roofline says how much of the machine a backend uses. The formulas
// and a worked example for llama3.1:8b Q4_K_M are in docs/metrics.md ("Roofline").
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/stat.h>
#endif

#include "llmbench/detail/nvml.hpp"
#include "llmbench/core/json.hpp"
#include "llmbench/core/request.hpp"  // ModelInfo
#include "llmbench/core/run_record.hpp"

namespace llmbench {

namespace detail {
inline std::string number_text(double v) {
    std::string s;
    append_json_number(s, v);
    return s;
}
}  // namespace detail

/// A model's shape, from /api/show model_info ("llama.block_count", ...).
struct ModelGeometry {
    std::optional<std::int64_t> parameter_count, block_count, embedding_length, head_count, head_count_kv, key_length, value_length,
        vocab_size;

    static ModelGeometry from(const ModelInfo& info) {
        ModelGeometry g;
        const auto field = [&](const std::string& name) -> std::optional<std::int64_t> {
            const auto it = info.numbers.find(info.architecture + "." + name);
            return it == info.numbers.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
        };
        g.parameter_count = info.parameter_count;
        g.block_count = field("block_count");
        g.embedding_length = field("embedding_length");
        g.head_count = field("attention.head_count");
        g.head_count_kv = field("attention.head_count_kv");
        g.key_length = field("attention.key_length");
        g.value_length = field("attention.value_length");
        g.vocab_size = field("vocab_size");
        return g;
    }
};

/// Average bits per weight of a GGUF quantization (llama.cpp's figures, block scales
/// included; the K-quant mixes as measured on Llama-class 7-8B models). nullopt: unknown.
inline std::optional<double> bits_per_weight(std::string_view quantization) {
    static const std::map<std::string_view, double> table{
        {"F32", 32},     {"F16", 16},     {"BF16", 16},    {"Q8_0", 8.5},   {"Q6_K", 6.5625}, {"Q5_K_M", 5.69}, {"Q5_K_S", 5.54},
        {"Q5_1", 6.0},   {"Q5_0", 5.5},   {"Q4_K_M", 4.89}, {"Q4_K_S", 4.58}, {"Q4_1", 5.0},    {"Q4_0", 4.5},    {"IQ4_XS", 4.25},
        {"IQ4_NL", 4.5}, {"Q3_K_L", 4.27}, {"Q3_K_M", 3.91}, {"Q3_K_S", 3.5},  {"Q2_K", 3.35},
    };
    const auto it = table.find(quantization);
    return it == table.end() ? std::nullopt : std::optional<double>(it->second);
}

/// Bytes a decode step reads: the weights, and the K and V of each context position.
struct DecodeBytes {
    double weight_bytes = 0;           ///< read once per generated token
    double kv_bytes_per_position = 0;  ///< K and V of one position, all layers
    std::string weights_from;          ///< how weight_bytes was found

    double per_token(double context_position) const { return weight_bytes + kv_bytes_per_position * context_position; }

    /// From the model file's size (/api/tags), else parameter count x bits per weight of the
    /// quantization. The token-embedding table is left out: a token reads one row of it, not
    /// all (models that tie it to the output layer do read it whole; there this undercounts).
    /// `kv_element_bytes`: 2 for Ollama's default f16 cache (q8_0: 1.0625, q4_0: 0.5625).
    /// nullopt when the model's shape or size cannot be known.
    static std::optional<DecodeBytes> of(const ModelGeometry& g, std::optional<std::int64_t> file_bytes, const std::string& quantization,
                                         double kv_element_bytes = 2.0) {
        if (!g.block_count || !g.embedding_length || !g.head_count || *g.head_count <= 0) return std::nullopt;
        DecodeBytes b;
        const auto bits = bits_per_weight(quantization);
        if (file_bytes && *file_bytes > 0) {
            b.weight_bytes = static_cast<double>(*file_bytes);
            b.weights_from = "model file size (/api/tags)";
        } else if (g.parameter_count && bits) {
            b.weight_bytes = static_cast<double>(*g.parameter_count) * *bits / 8;
            b.weights_from = "parameter count x " + detail::number_text(*bits) + " bits (" + quantization + ")";
        } else {
            return std::nullopt;
        }
        if (g.vocab_size && g.parameter_count && *g.parameter_count > 0) {
            const double table = static_cast<double>(*g.vocab_size) * static_cast<double>(*g.embedding_length);
            const double bytes_per_weight = b.weight_bytes / static_cast<double>(*g.parameter_count);
            if (table < static_cast<double>(*g.parameter_count)) {
                b.weight_bytes -= table * bytes_per_weight;
                b.weights_from += ", less the token-embedding table";
            }
        }
        const double head_dim = static_cast<double>(*g.embedding_length) / static_cast<double>(*g.head_count);
        const double k = g.key_length ? static_cast<double>(*g.key_length) : head_dim;
        const double v = g.value_length ? static_cast<double>(*g.value_length) : head_dim;
        const double kv_heads = static_cast<double>(g.head_count_kv.value_or(*g.head_count));
        b.kv_bytes_per_position = static_cast<double>(*g.block_count) * kv_heads * (k + v) * kv_element_bytes;
        return b;
    }
};

/// Peak memory bandwidth of one device, and where the number came from.
struct Bandwidth {
    double bytes_per_s = 0;
    std::string source;  ///< "--mem-bandwidth-gbs", "NVML: ...", "Apple M2 Pro (table)", "measured: ..."
};

/// NVIDIA: peak bandwidth from NVML = max memory clock x 2 (double data rate) x bus width,
/// of the first GPU (layers split over GPUs run one after another, so one GPU's bandwidth is
/// the bound). nullopt without the library or a GPU.
inline std::optional<Bandwidth> nvml_bandwidth(const char* library = "libnvidia-ml.so.1") {
    const auto nvml = detail::Nvml::load(library);
    void* device = nullptr;
    unsigned mhz = 0, bits = 0;
    if (!nvml || !nvml->max_clock || !nvml->memory_bus_width || nvml->device_handle(0, &device) != 0 ||
        nvml->max_clock(device, detail::Nvml::clock_mem, &mhz) != 0 || nvml->memory_bus_width(device, &bits) != 0 || mhz == 0 || bits == 0)
        return std::nullopt;
    char gpu[96] = "GPU 0";
    if (nvml->device_name) nvml->device_name(device, gpu, sizeof gpu);
    Bandwidth b;
    b.bytes_per_s = static_cast<double>(mhz) * 1e6 * 2 * bits / 8;
    b.source = "NVML: " + std::string(gpu) + ", " + std::to_string(mhz) + " MHz x 2 x " + std::to_string(bits) + "-bit bus";
    return b;
}

/// Apple Silicon: unified-memory bandwidth by chip, from Apple's specifications (for the Max
/// chips, the larger GPU's figure; the smaller one has less). `cpu_model` as the OS names it,
/// e.g. "Apple M2 Pro". nullopt for other chips.
inline std::optional<Bandwidth> apple_bandwidth(const std::string& cpu_model) {
    static const std::vector<std::pair<std::string_view, double>> chips{
        // longest names first, so "M1 Pro" is not taken for "M1"
        {"M1 Ultra", 800}, {"M2 Ultra", 800}, {"M3 Ultra", 819}, {"M1 Max", 400}, {"M2 Max", 400}, {"M3 Max", 400}, {"M4 Max", 546},
        {"M1 Pro", 200},   {"M2 Pro", 200},   {"M3 Pro", 150},   {"M4 Pro", 273}, {"M1", 68.25},  {"M2", 100},     {"M3", 100},
        {"M4", 120},
    };
    if (cpu_model.rfind("Apple ", 0) != 0) return std::nullopt;
    const std::string_view chip = std::string_view(cpu_model).substr(6);
    for (const auto& [name, gbs] : chips)
        if (chip.rfind(name, 0) == 0 && (chip.size() == name.size() || chip[name.size()] == ' ')) {
            Bandwidth b;
            b.bytes_per_s = gbs * 1e9;
            b.source = "Apple " + std::string(name) + " (Apple's specification, llmbench's table)";
            return b;
        }
    return std::nullopt;
}

/// Measures the CPU's memory read bandwidth: `threads` threads scan disjoint slices of a buffer
/// of `buffer_bytes` (far larger than any last-level cache) for `passes` passes; the best pass
/// counts. The scan is libc's memchr for a byte that is not there: vectorised by libc, so the
/// figure does not depend on how this header was compiled (a -O0 loop would measure the loop).
/// The buffer is written first, so no page is first touched while timing.
inline Bandwidth measure_cpu_bandwidth(std::size_t buffer_bytes = std::size_t{1} << 29, unsigned threads = 0, int passes = 3) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    std::unique_ptr<unsigned char[]> buffer(new unsigned char[buffer_bytes]);
    std::memset(buffer.get(), 1, buffer_bytes);
    std::atomic<std::size_t> found{0};
    double best_s = 1e300;
    for (int pass = 0; pass < passes; ++pass) {
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> pool;
        for (unsigned t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                const std::size_t begin = buffer_bytes * t / threads, end = buffer_bytes * (t + 1) / threads;
                if (std::memchr(buffer.get() + begin, 0, end - begin) != nullptr) ++found;
            });
        for (auto& th : pool) th.join();
        best_s = std::min(best_s, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    Bandwidth b;
    b.bytes_per_s = static_cast<double>(buffer_bytes) / best_s;
    b.source = "measured: " + std::to_string(threads) + " threads reading " + std::to_string(buffer_bytes >> 20) + " MiB, best of " +
               std::to_string(passes) + " passes";
    if (found.load() != 0) b.source += " (a zero byte was found: the buffer was not filled)";
    return b;
}

/// measure_cpu_bandwidth() once per host: the result is kept in `cache_path` under `host_key`
/// (e.g. the CPU model and RAM size) and reused while the key matches.
inline Bandwidth cached_cpu_bandwidth(const std::string& cache_path, const std::string& host_key,
                                      const std::function<Bandwidth()>& measure = [] { return measure_cpu_bandwidth(); }) {
    {
        std::ifstream in(cache_path);
        std::string key, source;
        double bytes_per_s = 0;
        if (std::getline(in, key) && key == host_key && (in >> bytes_per_s) && bytes_per_s > 0 && std::getline(in >> std::ws, source)) {
            Bandwidth b;
            b.bytes_per_s = bytes_per_s;
            b.source = source + " (cached in " + cache_path + ")";
            return b;
        }
    }
    Bandwidth b = measure();
    std::ofstream out(cache_path, std::ios::trunc);
    if (out) out << host_key << '\n' << detail::number_text(b.bytes_per_s) << '\n' << b.source << '\n';
    return b;
}

/// Where llmbench keeps the measured bandwidth: $XDG_CACHE_HOME/llmbench-bandwidth, else
/// ~/.cache/llmbench-bandwidth (the folder is made if missing), else /tmp.
inline std::string default_bandwidth_cache() {
    std::string dir;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) dir = x;
    else if (const char* h = std::getenv("HOME"); h && *h) dir = std::string(h) + "/.cache";
    else dir = "/tmp";
#if defined(__unix__) || defined(__APPLE__)
    ::mkdir(dir.c_str(), 0755);  // exists already, usually
#endif
    return dir + "/llmbench-bandwidth";
}

/// The roofline of one model on one machine: bytes per token, the bandwidth of the memory
/// holding the weights, and how the weights are split between GPU and CPU memory.
class Roofline {
public:
    /// `gpu_fraction`: the share of the model in GPU memory (/api/ps size_vram / size); the
    /// GPU part and the CPU part are read one after the other, each at its own bandwidth.
    Roofline(DecodeBytes bytes, double gpu_fraction, std::optional<Bandwidth> gpu, std::optional<Bandwidth> cpu)
        : bytes_(std::move(bytes)), gpu_fraction_(std::clamp(gpu_fraction, 0.0, 1.0)), gpu_(std::move(gpu)), cpu_(std::move(cpu)) {}

    const DecodeBytes& bytes() const noexcept { return bytes_; }
    double gpu_fraction() const noexcept { return gpu_fraction_; }

    /// Seconds to read what one token at `context_position` needs; nullopt when a bandwidth
    /// it needs is unknown.
    std::optional<double> seconds_per_token(double context_position) const {
        const double total = bytes_.per_token(context_position);
        double s = 0;
        if (gpu_fraction_ > 0) {
            if (!gpu_) return std::nullopt;
            s += total * gpu_fraction_ / gpu_->bytes_per_s;
        }
        if (gpu_fraction_ < 1) {
            if (!cpu_) return std::nullopt;
            s += total * (1 - gpu_fraction_) / cpu_->bytes_per_s;
        }
        return s;
    }

    /// The fastest decode rate for a run: its decode steps read the cache at positions
    /// prompt+1 ... prompt+generated-1, so on average at prompt + generated/2.
    std::optional<double> decode_toks_per_s(std::int64_t prompt_tokens, std::int64_t generated_tokens) const {
        const auto s = seconds_per_token(static_cast<double>(prompt_tokens) + static_cast<double>(generated_tokens) / 2);
        return s && *s > 0 ? std::optional<double>(1 / *s) : std::nullopt;
    }

    /// Sets a successful record's roofline (roofline_decode_toks_per_s and roofline_efficiency): the
    /// decode rate (server-timed, else client-timed) over the fastest possible one. The run's
    /// context starts at its whole prompt, prompt_eval_count, which already counts the cached
    /// tokens (Ollama 0.30+; the OpenAI client sums llama.cpp's prompt_n and cache_n into it).
    void annotate(RunRecord& r) const {
        if (!r.ok() || !r.server.eval_count || *r.server.eval_count < 2) return;
        const std::int64_t prompt = r.server.prompt_eval_count.value_or(0);
        r.roofline.decode_toks_per_s = decode_toks_per_s(prompt, *r.server.eval_count);
        const auto measured = r.decode_toks_per_s() ? r.decode_toks_per_s() : r.client_decode_toks_per_s();
        if (r.roofline.decode_toks_per_s && measured) r.roofline.efficiency = *measured / *r.roofline.decode_toks_per_s;
    }

    /// For the metadata line: bytes, split and the sources of every number.
    void write_json(JsonWriter& w) const {
        w.begin_object().kv("weight_bytes_per_token", bytes_.weight_bytes).kv("kv_bytes_per_position", bytes_.kv_bytes_per_position);
        w.kv("weights_from", bytes_.weights_from).kv("gpu_fraction", gpu_fraction_);
        const auto put = [&w](const char* name, const std::optional<Bandwidth>& b) {
            w.key(name);
            if (!b) {
                w.null();
                return;
            }
            w.begin_object().kv("bytes_per_s", b->bytes_per_s).kv("source", b->source).end_object();
        };
        put("gpu_bandwidth", gpu_);
        put("cpu_bandwidth", cpu_);
        w.end_object();
    }

private:
    DecodeBytes bytes_;
    double gpu_fraction_;
    std::optional<Bandwidth> gpu_, cpu_;
};

/// What a run's conditions say about its roofline (RunMetadata::roofline_conditions()).
struct RooflineConditions {
    ModelGeometry geometry;
    std::optional<std::int64_t> file_size_bytes;                  ///< /api/tags size
    std::string quantization;                                      ///< details.quantization_level
    std::optional<std::int64_t> loaded_bytes, loaded_vram_bytes;  ///< /api/ps size and size_vram
    std::string cpu_model;                                         ///< HostInfo::cpu_model
    std::string host_key;                                          ///< names this machine in the bandwidth cache
};

/// Where bandwidths come from; each can be replaced (tests, other GPUs).
struct RooflineSources {
    std::optional<double> bandwidth_bytes_per_s;  ///< --mem-bandwidth-gbs: for every device, nothing probed
    std::function<std::optional<Bandwidth>()> gpu = [] { return nvml_bandwidth(); };
    std::function<Bandwidth(const std::string& host_key)> cpu = [](const std::string& key) {
        return cached_cpu_bandwidth(default_bandwidth_cache(), key);
    };
};

/// The model's roofline on this machine, or nullopt with the reason in `why_not`. The device
/// split comes from /api/ps (size_vram / size). Apple Silicon's GPU and CPU share one memory,
/// whose bandwidth comes from the chip's table; an NVIDIA GPU's from NVML; the CPU's is
/// measured once per host. Only what the split needs is looked up.
inline std::optional<Roofline> roofline_for(const RooflineConditions& c, const RooflineSources& sources, std::string& why_not) {
    const auto bytes = DecodeBytes::of(c.geometry, c.file_size_bytes, c.quantization);
    if (!bytes) {
        why_not = "the model's shape or size is unknown (needs Ollama's /api/show model_info, and /api/tags size or a known quantization)";
        return std::nullopt;
    }
    if (!c.loaded_bytes || *c.loaded_bytes <= 0) {
        why_not = "where the model is loaded is unknown (/api/ps did not list it)";
        return std::nullopt;
    }
    const double gpu_fraction = std::clamp(static_cast<double>(c.loaded_vram_bytes.value_or(0)) / static_cast<double>(*c.loaded_bytes), 0.0, 1.0);
    std::optional<Bandwidth> gpu, cpu;
    if (sources.bandwidth_bytes_per_s) {
        const Bandwidth given{*sources.bandwidth_bytes_per_s, "--mem-bandwidth-gbs"};
        if (gpu_fraction > 0) gpu = given;
        if (gpu_fraction < 1) cpu = given;
    } else if (const auto apple = apple_bandwidth(c.cpu_model)) {
        gpu = cpu = apple;  // unified memory
    } else {
        if (gpu_fraction > 0 && !(gpu = sources.gpu())) {
            why_not = "the GPU's memory bandwidth is unknown (no NVIDIA management library); give --mem-bandwidth-gbs";
            return std::nullopt;
        }
        if (gpu_fraction < 1) cpu = sources.cpu(c.host_key);
    }
    return Roofline(*bytes, gpu_fraction, gpu, cpu);
}

}  // namespace llmbench
