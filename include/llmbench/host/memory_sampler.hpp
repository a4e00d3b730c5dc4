// llmbench/host/memory_sampler.hpp - peak memory and power while requests run.
//
// A background thread samples, at a fixed interval, three views of memory: Ollama's own
// (/api/ps size and size_vram), the server's processes (the named process and all its
// children, e.g. ollama and its model runners: RSS from Linux /proc, physical footprint from
// macOS libproc), and GPUs (NVIDIA through NVML or nvidia-smi, AMD through amdgpu's sysfs
// files: memory used and power draw). Each view that cannot be read says why. Around each
// request it also reads the machine's energy counters (host/energy.hpp).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "llmbench/detail/nvml.hpp"
#include "llmbench/detail/text.hpp"
#include "llmbench/core/endpoint.hpp"
#include "llmbench/core/json.hpp"
#include "llmbench/version.hpp"
#include "llmbench/core/run_record.hpp"
#include "llmbench/core/request.hpp"
#include "llmbench/core/stream_timer.hpp"
#include "llmbench/host/energy.hpp"
#include "llmbench/host/processes.hpp"
#include "llmbench/host/run_metadata.hpp"

namespace llmbench {

struct GpuReading {
    std::int64_t used_bytes = 0;
    std::optional<double> power_w;
};
/// Returns one reading per GPU, or nullopt when GPUs cannot be read.
using GpuQuery = std::function<std::optional<std::vector<GpuReading>>()>;

/// Parses `nvidia-smi --query-gpu=memory.used,power.draw --format=csv,noheader,nounits`
/// (MiB and watts; "[N/A]" power where the board does not report it).
inline std::optional<std::vector<GpuReading>> parse_nvidia_smi(std::string_view csv) {
    std::vector<GpuReading> out;
    std::istringstream lines{std::string(csv)};
    std::string line;
    while (std::getline(lines, line)) {
        if (detail::trim(line, " \r").empty()) continue;
        const auto comma = line.find(',');
        const std::string used(detail::trim(std::string_view(line).substr(0, comma), " "));
        char* end = nullptr;
        const double mib = std::strtod(used.c_str(), &end);
        if (used.empty() || end != used.c_str() + used.size()) return std::nullopt;
        const auto bytes = detail::to_int64(mib * 1024 * 1024);  // "1e300" is no reading, not undefined behaviour
        if (!bytes || *bytes < 0) return std::nullopt;
        GpuReading g;
        g.used_bytes = *bytes;
        if (comma != std::string::npos) {
            const std::string power(detail::trim(std::string_view(line).substr(comma + 1), " "));
            const double w = std::strtod(power.c_str(), &end);
            if (!power.empty() && end == power.c_str() + power.size()) g.power_w = w;
        }
        out.push_back(g);
    }
    if (out.empty()) return std::nullopt;
    return out;
}

/// Queries nvidia-smi (a process per sample: use intervals >= 100 ms). It is looked up on
/// PATH once, here, so machines without it pay nothing per sample.
inline GpuQuery nvidia_smi_query() {
    const std::string found(detail::trim(detail::run_command("command -v nvidia-smi 2>/dev/null"), " \r\n"));
    if (found.empty() || found.find('\'') != std::string::npos) return [] { return std::optional<std::vector<GpuReading>>{}; };
    const std::string command = "'" + found + "' --query-gpu=memory.used,power.draw --format=csv,noheader,nounits 2>/dev/null";
    return [command]() -> std::optional<std::vector<GpuReading>> { return parse_nvidia_smi(detail::run_command(command)); };
}

/// Reads GPUs through NVIDIA's management library, loaded at run time (no link-time
/// dependency): memory used and power draw of every device. Returns nullptr when the
/// library or a GPU is missing; the caller then falls back to nvidia-smi.
inline GpuQuery nvml_query(const char* library = "libnvidia-ml.so.1") {
    const auto nvml = detail::Nvml::load(library);
    unsigned devices = 0;
    if (!nvml || !nvml->device_count || !nvml->memory_info || nvml->device_count(&devices) != 0 || devices == 0) return nullptr;
    return [n = *nvml, devices]() -> std::optional<std::vector<GpuReading>> {
        std::vector<GpuReading> out;
        for (unsigned i = 0; i < devices; ++i) {
            void* device = nullptr;
            detail::Nvml::Memory m{};
            if (n.device_handle(i, &device) != 0 || n.memory_info(device, &m) != 0) return std::nullopt;
            GpuReading g;
            g.used_bytes = static_cast<std::int64_t>(m.used);
            unsigned milliwatts = 0;
            if (n.power_usage && n.power_usage(device, &milliwatts) == 0) g.power_w = milliwatts / 1000.0;
            out.push_back(g);
        }
        return out;
    };
}

/// AMD GPUs through amdgpu's files under `drm` (/sys/class/drm): VRAM used
/// (device/mem_info_vram_used) and watts (hwmon power1_average, else power1_input). Returns
/// nullptr when no card is driven by amdgpu.
inline GpuQuery amdgpu_query(const std::filesystem::path& drm = sysfs_root() / "class" / "drm") {
    std::vector<std::filesystem::path> cards;
    for (const auto& card : detail::entries_starting(drm, "card"))
        if (card.filename().string().find('-') == std::string::npos && detail::read_number(card / "device" / "mem_info_vram_used")) cards.push_back(card);
    if (cards.empty()) return nullptr;
    return [cards]() -> std::optional<std::vector<GpuReading>> {
        std::vector<GpuReading> out;
        for (const auto& card : cards) {
            const auto used = detail::read_number(card / "device" / "mem_info_vram_used");
            if (!used) return std::nullopt;
            GpuReading g;
            g.used_bytes = static_cast<std::int64_t>(*used);
            for (const auto& hwmon : detail::entries_starting(card / "device" / "hwmon", "hwmon")) {
                auto uw = detail::read_number(hwmon / "power1_average");
                if (!uw) uw = detail::read_number(hwmon / "power1_input");
                if (uw) g.power_w = *uw / 1e6;
            }
            out.push_back(g);
        }
        return out;
    };
}

/// NVML when it loads, else amdgpu's files, else nvidia-smi.
inline GpuQuery default_gpu_query() {
    if (auto nvml = nvml_query()) return nvml;
    if (auto amd = amdgpu_query()) return amd;
    return nvidia_smi_query();
}

struct SamplerConfig {
    std::chrono::milliseconds interval{100};
    LoadedModelsQuery loaded_models;  ///< e.g. ollama_loaded_models(endpoint): Ollama's /api/ps; empty: not asked
    std::string process_name = "ollama";
    std::optional<int> server_pid;   ///< instead of finding the process by name
    std::shared_ptr<const ProcessSource> processes = default_process_source();  ///< null: unsupported
    GpuQuery gpu = default_gpu_query();
    EnergyQuery energy = default_energy_query();  ///< read before and after each request; empty: not read
};

struct MemorySample {
    std::chrono::steady_clock::time_point at;
    std::optional<std::int64_t> ollama_size_bytes, ollama_vram_bytes;  ///< /api/ps, all loaded models
    std::optional<std::int64_t> process_rss_bytes;                     ///< server process tree
    std::optional<std::int64_t> gpu_used_bytes;                        ///< all GPUs
    std::optional<double> gpu_power_w;                                 ///< all GPUs
};

class MemorySampler {
public:
    using clock = std::chrono::steady_clock;

    explicit MemorySampler(SamplerConfig config) : config_(std::move(config)) {}
    MemorySampler(const MemorySampler&) = delete;
    MemorySampler& operator=(const MemorySampler&) = delete;
    ~MemorySampler() { stop(); }

    void start() {
        if (thread_.joinable()) return;
        stopping_ = false;
        thread_ = std::thread([this] { loop(); });
    }
    void stop() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    /// Takes one sample now (also what the thread does at each tick).
    MemorySample sample_now() {
        // The sampling thread and around() both sample, and the /api/ps client and the process
        // tree are not safe to share: one sample at a time (ThreadSanitizer found this).
        std::lock_guard<std::mutex> sampling(sampling_mutex_);
        const auto t0 = std::chrono::steady_clock::now();
        MemorySample s;
        if (config_.loaded_models)
            if (const auto loaded = config_.loaded_models()) {
                s.ollama_size_bytes = loaded->bytes;
                s.ollama_vram_bytes = loaded->vram_bytes;
            }
        // Walking the whole process table is the expensive part: do it once a second (or when
        // a process went away) and read only the known processes in between.
        const ProcessSource* procs = config_.processes.get();
        if (procs && (!tree_ || t0 - tree_at_ > std::chrono::seconds(1))) {
            std::vector<int> roots;
            if (config_.server_pid) roots.push_back(*config_.server_pid);
            else roots = procs->find_by_name(config_.process_name);
            tree_ = roots.empty() ? std::vector<int>{} : procs->with_descendants(roots);
            tree_at_ = t0;
        }
        if (procs && !tree_->empty()) {
            std::int64_t rss = 0;
            bool all_read = true;
            for (int pid : *tree_) {
                const auto r = procs->rss_bytes(pid);
                all_read = all_read && r.has_value();
                rss += r.value_or(0);
            }
            if (all_read) s.process_rss_bytes = rss;
            else tree_.reset();  // a process went away: rescan next time rather than undercount
        }
        if (config_.gpu) {
            if (auto gpus = config_.gpu()) {
                std::int64_t used = 0;
                double power = 0;
                bool has_power = false;
                for (const auto& g : *gpus) {
                    used += g.used_bytes;
                    if (g.power_w) {
                        power += *g.power_w;
                        has_power = true;
                    }
                }
                s.gpu_used_bytes = used;
                if (has_power) s.gpu_power_w = power;
            }
        }
        s.at = clock::now();
        std::lock_guard<std::mutex> lock(mutex_);
        samples_.push_back(s);
        cost_s_ += std::chrono::duration<double>(s.at - t0).count();
        return s;
    }

    /// Peaks and energy between two times (use the request's start and end).
    RunMemory window(clock::time_point from, clock::time_point to) const {
        std::lock_guard<std::mutex> lock(mutex_);
        RunMemory w;
        const MemorySample* prev = nullptr;
        double energy = 0;
        bool has_energy = false;
        for (const auto& s : samples_) {
            if (s.at < from || s.at > to) {
                if (s.at < from) prev = &s;  // the last sample before the window bounds its power
                continue;
            }
            ++w.samples;
            detail::keep_max(w.peak_rss_bytes, s.process_rss_bytes);
            detail::keep_max(w.peak_vram_bytes, s.gpu_used_bytes);
            detail::keep_max(w.peak_ollama_size_bytes, s.ollama_size_bytes);
            if (prev && prev->gpu_power_w && s.gpu_power_w) {
                const auto start = std::max(prev->at, from);
                energy += 0.5 * (*prev->gpu_power_w + *s.gpu_power_w) * std::chrono::duration<double>(s.at - start).count();
                has_energy = true;
            }
            prev = &s;
        }
        if (has_energy) w.energy_j = energy;
        if (w.samples == 0) {
            w.rss_note = w.vram_note = "no sample inside the run (shorter than the sampling interval)";
        } else {
            if (!w.peak_rss_bytes) w.rss_note = why_no_process_memory();
#if defined(__APPLE__)
            if (!w.peak_vram_bytes) w.vram_note = "unified memory: the GPU's share is counted in peak_rss_bytes";
#else
            if (!w.peak_vram_bytes) w.vram_note = "no GPU reading (NVML and nvidia-smi not found or failed)";
#endif
        }
        return w;
    }

    /// Samples now, runs `request`, samples again, and returns the peaks in between, with the
    /// energy the machine's counters counted meanwhile (sampled GPU watts for GPUs without one).
    /// With `timer`, the counters are read at the first token too, for the prefill's share.
    template <class Request>
    RunMemory around(Request&& request, StreamTimer* timer = nullptr) {
        const EnergyReading energy_before = read_energy();
        const auto energy_from = clock::now();
        std::optional<EnergyReading> at_first_token;
        clock::time_point first_token_at{};
        if (timer != nullptr && config_.energy)
            timer->on_first_token([&] {
                at_first_token = read_energy();
                first_token_at = clock::now();
            });
        const auto before = sample_now().at;
        request();
        const auto after = sample_now().at;
        const EnergyReading energy_after = read_energy();
        const auto energy_to = clock::now();
        if (timer != nullptr) timer->on_first_token(nullptr);
        RunMemory w = window(before, after);
        attribute_energy(w, energy_between(energy_before, energy_after));
        // Sampled watts cannot be split at the first token: then there is no prefill share.
        if (at_first_token && w.energy_source.find("gpu_power_sampled") == std::string::npos)
            w.energy_prefill_j = energy_between(energy_before, *at_first_token).total_j;
        if (idle_w_ && w.energy_j) {  // --subtract-idle: what the machine spends doing nothing
            w.energy_idle_j = *idle_w_ * seconds(energy_from, energy_to);
            *w.energy_j -= *w.energy_idle_j;
            if (w.energy_prefill_j) *w.energy_prefill_j -= *idle_w_ * seconds(energy_from, first_token_at);
        }
        return w;
    }

    /// Measures the machine's power at rest over `how_long` (counters, else sampled GPU
    /// watts) and, with `subtract`, takes idle watts x duration off every later run's energy.
    /// Call it before the first request, with nothing else running.
    IdlePower measure_idle(std::chrono::milliseconds how_long, bool subtract) {
        const EnergyReading energy_before = read_energy();
        const auto from = clock::now();
        const auto before = sample_now().at;
        std::this_thread::sleep_for(how_long);
        const auto after = sample_now().at;
        const EnergyReading energy_after = read_energy();
        const auto to = clock::now();
        RunMemory w = window(before, after);
        attribute_energy(w, energy_between(energy_before, energy_after));
        IdlePower idle;
        idle.seconds = seconds(from, to);
        idle.source = w.energy_source;
        if (w.energy_j && idle.seconds > 0) idle.watts = *w.energy_j / idle.seconds;
        idle.subtracted = subtract && idle.watts.has_value();
        if (idle.subtracted) idle_w_ = idle.watts;
        return idle;
    }

    /// The machine's energy counters now (none without SamplerConfig::energy).
    EnergyReading read_energy() const { return config_.energy ? config_.energy() : EnergyReading{}; }

    std::vector<MemorySample> samples() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return samples_;
    }
    /// Every sample so far as one `"type":"memory_timeline"` object: parallel arrays, time in
    /// seconds since the first sample, null where a source gave nothing.
    std::string timeline_json() const {
        const auto all = samples();
        JsonWriter w;
        w.begin_object().kv("type", "memory_timeline").kv("schema_version", schema_version);
        w.kv("interval_ms", static_cast<std::int64_t>(config_.interval.count()));
        const auto column = [&](const char* name, auto get) {
            w.key(name).begin_array();
            for (const auto& s : all) w.value(get(s));
            w.end_array();
        };
        column("t_s", [&](const MemorySample& s) { return std::chrono::duration<double>(s.at - all.front().at).count(); });
        column("rss_bytes", [](const MemorySample& s) { return s.process_rss_bytes; });
        column("vram_bytes", [](const MemorySample& s) { return s.gpu_used_bytes; });
        column("power_w", [](const MemorySample& s) { return s.gpu_power_w; });
        column("ollama_size_bytes", [](const MemorySample& s) { return s.ollama_size_bytes; });
        return w.end_object().take();
    }

    /// Mean wall time one sample takes, in seconds (the sampler's own overhead).
    double mean_sample_cost_s() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return samples_.empty() ? 0 : cost_s_ / static_cast<double>(samples_.size());
    }

private:
    static double seconds(clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

    /// Counters first; GPU watts sampled and integrated (window()) only where no GPU counter ran.
    static void attribute_energy(RunMemory& w, const EnergyUse& use) {
        const std::optional<double> sampled = w.energy_j;
        w.energy_zones_j = use.zones_j;
        if (use.total_j) {
            w.energy_j = *use.total_j;
            w.energy_source = use.source;
            if (!use.covers_gpu && sampled) {
                *w.energy_j += *sampled;
                w.energy_source += "+gpu_power_sampled";
            }
        } else if (sampled) {
            w.energy_source = "gpu_power_sampled";
        }
        for (const auto& note : use.notes) w.energy_note += (w.energy_note.empty() ? "" : "; ") + note;
        if (!w.energy_j && w.energy_note.empty())
            w.energy_note = "no energy counter (RAPL, amdgpu, NVML, powermetrics) or GPU power reading on this machine";
    }

    std::string why_no_process_memory() const {
        if (!config_.processes) return "llmbench cannot read process memory on this platform (Linux /proc and macOS libproc only)";
        if (config_.server_pid) return "cannot read pid " + std::to_string(*config_.server_pid) + " through " + config_.processes->name();
        return "no process named '" + config_.process_name + "' (set the server pid)";
    }

    void loop() {
        std::unique_lock<std::mutex> lock(mutex_);
        while (!stopping_) {
            lock.unlock();
            sample_now();
            lock.lock();
            cv_.wait_for(lock, config_.interval, [this] { return stopping_; });
        }
    }

    SamplerConfig config_;
    std::optional<std::vector<int>> tree_;  ///< the server's process tree, rescanned every second
    std::chrono::steady_clock::time_point tree_at_;
    mutable std::mutex mutex_;
    std::mutex sampling_mutex_;  ///< held for a whole sample_now(); never while holding mutex_
    std::condition_variable cv_;
    bool stopping_ = false;
    std::vector<MemorySample> samples_;
    std::optional<double> idle_w_;  ///< --subtract-idle: taken off every run's energy
    double cost_s_ = 0;
    std::thread thread_;
};

}  // namespace llmbench
