// llmbench/run/benchmark.hpp - the runner: warm-up, then runs x prompts, one RunRecord each.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "llmbench/host/thermal.hpp"
#include "llmbench/client/backend.hpp"
#include "llmbench/core/error.hpp"
#include "llmbench/core/json.hpp"
#include "llmbench/measure/measure.hpp"
#include "llmbench/host/memory_sampler.hpp"
#include "llmbench/core/metrics.hpp"
#include "llmbench/client/ollama_client.hpp"
#include "llmbench/run/prompts.hpp"
#include "llmbench/host/roofline.hpp"
#include "llmbench/core/run_record.hpp"
#include "llmbench/core/shard.hpp"
#include "llmbench/core/stream_timer.hpp"

namespace llmbench {

struct BenchmarkConfig {
    std::string model;
    std::vector<Prompt> prompts;
    int runs = 5;    ///< timed passes over all prompts
    int warmup = 1;  ///< untimed requests first (cycling through the prompts), excluded from stats
    Options options;
    std::optional<std::string> keep_alive;
    bool preload = true;                   ///< load the model with an empty prompt before anything
    /// Every request misses the prompt cache: `cache_prompt: false` where the backend has the
    /// switch (llama.cpp), else a unique first line per request (Ollama, vLLM: their caches
    /// match prefixes). cold_cache_method() says which.
    bool cold_cache = false;
    /// Sent with every request (--think); cold_cache adds cache_prompt where it applies.
    RequestControls controls;
    /// This process's share (--shard I/N): the prompts at positions p with p mod N = I, with
    /// all their runs, so each prompt's runs stay together (the cache flag compares a run with
    /// its prompt's first). Warm-ups are every shard's own.
    Shard shard;
};

/// Runs the benchmark. Order: warm-up, then `runs` passes, each over every prompt in file
/// order (so slow drift spreads over all prompts). Failed requests become failed records
/// and the benchmark goes on.
class Benchmark {
public:
    using RecordCallback = std::function<void(const RunRecord&)>;

    /// Against Ollama's native API.
    Benchmark(OllamaClient& client, BenchmarkConfig config)
        : owned_(std::make_unique<OllamaBackend>(client)), backend_(*owned_), config_(std::move(config)) {
        validate();
    }
    /// Against any backend (e.g. OpenAIBackend for llama.cpp, vLLM, LM Studio).
    Benchmark(Backend& backend, BenchmarkConfig config) : backend_(backend), config_(std::move(config)) { validate(); }

    /// Called for every record (warm-up included) as soon as it is measured.
    Benchmark& on_record(RecordCallback callback) {
        on_record_ = std::move(callback);
        return *this;
    }
    /// Checked between runs: when it turns true, the benchmark stops after the current run.
    Benchmark& stop_when(StopSignal stop) {
        stop_ = std::move(stop);
        return *this;
    }

    std::size_t total_runs() const { return config_.prompts.size() * static_cast<std::size_t>(config_.runs); }
    bool interrupted() const noexcept { return interrupted_; }

    /// Sets every successful record's roofline fields; the roofline must outlive the run.
    Benchmark& roofline(const Roofline* r) {
        roofline_ = r;
        return *this;
    }
    /// Samples memory (and GPU power) around every request; the sampler must outlive the run.
    Benchmark& memory_sampler(MemorySampler* sampler) {
        sampler_ = sampler;
        return *this;
    }

    /// The JSON object of every parameter sent with each request (for RunMetadata).
    std::string request_json() const {
        JsonWriter w;
        w.begin_object().kv("model", config_.model).kv("runs", config_.runs).kv("warmup", config_.warmup);
        w.kv("cold_cache", config_.cold_cache);
        if (config_.cold_cache) w.kv("cold_cache_method", cold_cache_method());
        w.key("keep_alive");
        if (config_.keep_alive) w.value(*config_.keep_alive);
        else w.null();
        w.key("options");
        config_.options.write_json(w);
        w.key("controls");
        config_.controls.write_json(w);
        w.end_object();
        return w.take();
    }

    /// How cold_cache makes requests miss the cache; "" without it.
    std::string cold_cache_method() const {
        if (!config_.cold_cache) return "";
        return backend_.capabilities().prompt_cache_switch ? "cache_prompt: false on every request"
                                                           : "a unique first line (\"Request N.\") on every prompt";
    }

    /// Loads the model (empty prompt) so the first timed request does not pay for it.
    StreamResult preload() { return backend_.load(config_.model, config_.keep_alive, config_.options); }

    /// The machine's thermal state when run() started and ended (host/thermal.hpp).
    const ThermalConditions& conditions() const noexcept { return conditions_; }

    MetricsAccumulator run() {
        MetricsAccumulator acc;
        conditions_.start = read_thermal();
        if (config_.preload) preload();  // a failure here shows again, measured, in the first run
        const std::size_t n = config_.prompts.size();
        for (int i = 0; i < config_.warmup && !stopped(); ++i)
            run_one(config_.prompts[static_cast<std::size_t>(i) % n], i, true, acc);
        for (int run = 0; run < config_.runs; ++run)
            for (std::size_t p = 0; p < n && !stopped(); ++p)
                if (config_.shard.owns(p)) run_one(config_.prompts[p], run, false, acc);
        conditions_.end = read_thermal();
        return acc;
    }

private:
    bool stopped() {
        if (stop_.requested()) interrupted_ = true;
        return interrupted_;
    }

    void run_one(const Prompt& prompt, int run_index, bool warmup, MetricsAccumulator& acc) {
        GenerateRequest req;
        req.model = config_.model;
        req.prompt = prompt.text;
        req.system = prompt.system;
        req.options = config_.options;
        if (prompt.num_predict) req.options.num_predict = prompt.num_predict;
        req.keep_alive = config_.keep_alive;
        req.controls = config_.controls;
        if (config_.cold_cache) {
            if (backend_.capabilities().prompt_cache_switch) req.controls.cache_prompt = false;
            else req.prompt = "Request " + std::to_string(++requests_sent_) + ".\n" + req.prompt;
        }
        const auto first = first_of_prompt_.find(prompt.id);
        RunLabel label;
        label.prompt_id = prompt.id;
        label.run_index = run_index;
        label.warmup = warmup;
        if (config_.shard.sharded()) label.shard = config_.shard;
        const RunRecord record =
            measure(backend_, req, label, MeasureHooks{sampler_, roofline_, first == first_of_prompt_.end() ? nullptr : &first->second});
        if (first == first_of_prompt_.end() && record.ok()) first_of_prompt_.emplace(prompt.id, record);
        acc.add(record);
        if (on_record_) on_record_(record);
    }

    void validate() const {
        if (config_.model.empty()) throw error(errc::usage, "benchmark: no model given");
        if (config_.prompts.empty()) throw error(errc::usage, "benchmark: no prompts given");
        if (config_.runs < 1) throw error(errc::usage, "benchmark: runs must be at least 1");
        if (config_.warmup < 0) throw error(errc::usage, "benchmark: warmup must not be negative");
        if (config_.shard.count == 0 || config_.shard.index >= config_.shard.count) throw error(errc::usage, "benchmark: shard " + config_.shard.label() + " does not exist");
    }

    std::unique_ptr<Backend> owned_;  ///< when made from an OllamaClient
    Backend& backend_;
    BenchmarkConfig config_;
    RecordCallback on_record_;
    const Roofline* roofline_ = nullptr;
    StopSignal stop_;
    MemorySampler* sampler_ = nullptr;
    bool interrupted_ = false;
    ThermalConditions conditions_;
    std::size_t requests_sent_ = 0;  ///< numbers cold_cache's unique first lines
    std::map<std::string, RunRecord> first_of_prompt_;
};

}  // namespace llmbench
