// llmbench/memory_sampler.hpp - peak memory and power while requests run.
//
// A background thread samples, at a fixed interval, three views of memory: Ollama's own
// (/api/ps size and size_vram), the server's processes (Linux /proc: RSS of the named
// process and all its children, e.g. ollama and its model runners), and the GPUs
// (nvidia-smi: memory used and power draw). Each view that cannot be read says why.
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

#if defined(__unix__) || defined(__APPLE__)
#include <dirent.h>
#include <dlfcn.h>
#endif

#include "llmbench/endpoint.hpp"
#include "llmbench/run_record.hpp"
#include "llmbench/ollama_client.hpp"
#include "llmbench/run_metadata.hpp"

namespace llmbench {

/// Reads process memory from a /proc tree (a folder of the same shape in tests).
class ProcReader {
public:
    explicit ProcReader(std::string root = "/proc") : root_(std::move(root)) {}

    /// Processes whose name (/proc/PID/comm) is `name`.
    std::vector<int> find_by_name(const std::string& name) const {
        std::vector<int> out;
        for (int pid : pids())
            if (comm(pid) == name) out.push_back(pid);
        return out;
    }

    /// `roots` and every process descended from them (through /proc/PID/stat's ppid).
    std::vector<int> with_descendants(const std::vector<int>& roots) const {
        std::map<int, int> parent;
        for (int pid : pids())
            if (auto pp = ppid(pid)) parent[pid] = *pp;
        std::vector<int> out = roots;
        for (bool grew = true; grew;) {
            grew = false;
            for (const auto& [pid, pp] : parent)
                if (std::find(out.begin(), out.end(), pp) != out.end() && std::find(out.begin(), out.end(), pid) == out.end()) {
                    out.push_back(pid);
                    grew = true;
                }
        }
        return out;
    }

    /// Resident memory (VmRSS) of one process, in bytes.
    std::optional<std::int64_t> rss_bytes(int pid) const { return status_kb(pid, "VmRSS:"); }
    /// The kernel's own peak resident memory (VmHWM) of one process, in bytes.
    std::optional<std::int64_t> peak_rss_bytes(int pid) const { return status_kb(pid, "VmHWM:"); }

private:
    std::vector<int> pids() const {
        std::vector<int> out;
#if defined(__unix__) || defined(__APPLE__)
        if (DIR* dir = ::opendir(root_.c_str())) {
            while (const dirent* e = ::readdir(dir)) {
                char* end = nullptr;
                const long pid = std::strtol(e->d_name, &end, 10);
                if (end != e->d_name && *end == '\0' && pid > 0) out.push_back(static_cast<int>(pid));
            }
            ::closedir(dir);
        }
#endif
        std::sort(out.begin(), out.end());
        return out;
    }
    std::string read(int pid, const char* file) const {
        return detail::read_file(root_ + "/" + std::to_string(pid) + "/" + file);
    }
    std::string comm(int pid) const {
        std::string c = read(pid, "comm");
        while (!c.empty() && (c.back() == '\n' || c.back() == ' ')) c.pop_back();
        return c;
    }
    std::optional<int> ppid(int pid) const {
        const std::string stat = read(pid, "stat");  // "pid (comm) state ppid ..."; comm may hold spaces
        const auto close = stat.rfind(')');
        if (close == std::string::npos) return std::nullopt;
        std::istringstream rest(stat.substr(close + 1));
        std::string state;
        int pp = 0;
        if (!(rest >> state >> pp)) return std::nullopt;
        return pp;
    }
    std::optional<std::int64_t> status_kb(int pid, const std::string& key) const {
        const std::string v = detail::field_value(read(pid, "status"), key.substr(0, key.size() - 1), ':');
        if (v.empty()) return std::nullopt;
        return std::strtoll(v.c_str(), nullptr, 10) * 1024;
    }

    std::string root_;
};

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
        GpuReading g;
        g.used_bytes = static_cast<std::int64_t>(mib * 1024 * 1024);
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

/// Queries nvidia-smi (a process per sample: use intervals >= 100 ms). Whether it is
/// installed is checked once, here, so machines without it pay nothing per sample.
inline GpuQuery nvidia_smi_query() {
    const bool installed = !detail::run_command("command -v nvidia-smi 2>/dev/null").empty();
    return [installed]() -> std::optional<std::vector<GpuReading>> {
        if (!installed) return std::nullopt;
        return parse_nvidia_smi(
            detail::run_command("nvidia-smi --query-gpu=memory.used,power.draw --format=csv,noheader,nounits 2>/dev/null"));
    };
}

/// Reads GPUs through NVIDIA's management library, loaded at run time (no link-time
/// dependency): memory used and power draw of every device. Returns nullptr when the
/// library or a GPU is missing; the caller then falls back to nvidia-smi.
inline GpuQuery nvml_query(const char* library = "libnvidia-ml.so.1") {
#if defined(__unix__) && !defined(__APPLE__)
    struct Memory {
        unsigned long long total, free, used;
    };
    using init_fn = int (*)();
    using count_fn = int (*)(unsigned*);
    using handle_fn = int (*)(unsigned, void**);
    using memory_fn = int (*)(void*, Memory*);
    using power_fn = int (*)(void*, unsigned*);
    void* lib = ::dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return nullptr;
    auto sym = [lib](const char* name) { return ::dlsym(lib, name); };
    const auto init = reinterpret_cast<init_fn>(sym("nvmlInit_v2"));
    const auto count = reinterpret_cast<count_fn>(sym("nvmlDeviceGetCount_v2"));
    const auto handle = reinterpret_cast<handle_fn>(sym("nvmlDeviceGetHandleByIndex_v2"));
    const auto memory = reinterpret_cast<memory_fn>(sym("nvmlDeviceGetMemoryInfo"));
    const auto power = reinterpret_cast<power_fn>(sym("nvmlDeviceGetPowerUsage"));
    unsigned devices = 0;
    if (!init || !count || !handle || !memory || init() != 0 || count(&devices) != 0 || devices == 0) {
        ::dlclose(lib);
        return nullptr;
    }
    // The library stays loaded for the life of the process, as NVML expects.
    return [=]() -> std::optional<std::vector<GpuReading>> {
        std::vector<GpuReading> out;
        for (unsigned i = 0; i < devices; ++i) {
            void* device = nullptr;
            Memory m{};
            if (handle(i, &device) != 0 || memory(device, &m) != 0) return std::nullopt;
            GpuReading g;
            g.used_bytes = static_cast<std::int64_t>(m.used);
            unsigned milliwatts = 0;
            if (power && power(device, &milliwatts) == 0) g.power_w = milliwatts / 1000.0;
            out.push_back(g);
        }
        return out;
    };
#else
    (void)library;
    return nullptr;
#endif
}

/// NVML when it loads, else nvidia-smi.
inline GpuQuery default_gpu_query() {
    if (auto nvml = nvml_query()) return nvml;
    return nvidia_smi_query();
}

struct SamplerConfig {
    std::chrono::milliseconds interval{100};
    std::optional<Endpoint> ollama;  ///< read /api/ps of this server (own client, own thread)
    std::string process_name = "ollama";
    std::optional<int> server_pid;   ///< instead of finding the process by name
    std::string proc_root = "/proc";
    GpuQuery gpu = default_gpu_query();
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

    explicit MemorySampler(SamplerConfig config) : config_(std::move(config)), proc_(config_.proc_root) {}
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
        const auto t0 = std::chrono::steady_clock::now();
        MemorySample s;
        if (config_.ollama) {
            try {
                if (!ps_client_) ps_client_ = std::make_unique<OllamaClient>(*config_.ollama);
                std::int64_t size = 0, vram = 0;
                for (const auto& m : ps_client_->running()) {
                    size += m.size_bytes;
                    vram += m.size_vram_bytes;
                }
                s.ollama_size_bytes = size;
                s.ollama_vram_bytes = vram;
            } catch (const error&) {
            }
        }
        // Walking the whole process table is the expensive part: do it once a second (or when
        // a process went away) and read only the known processes in between.
        if (!tree_ || t0 - tree_at_ > std::chrono::seconds(1)) {
            std::vector<int> roots;
            if (config_.server_pid) roots.push_back(*config_.server_pid);
            else roots = proc_.find_by_name(config_.process_name);
            tree_ = roots.empty() ? std::vector<int>{} : proc_.with_descendants(roots);
            tree_at_ = t0;
        }
        std::int64_t rss = 0;
        bool any = false;
        for (int pid : *tree_) {
            if (auto r = proc_.rss_bytes(pid)) {
                rss += *r;
                any = true;
            } else {
                tree_.reset();  // gone: rescan next time
                break;
            }
        }
        if (any && tree_) s.process_rss_bytes = rss;
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
#if defined(__linux__)
            if (!w.peak_rss_bytes)
                w.rss_note = config_.server_pid ? "cannot read /proc for pid " + std::to_string(*config_.server_pid)
                                                : "no process named '" + config_.process_name + "' (set the server pid)";
#else
            if (!w.peak_rss_bytes) w.rss_note = "process memory is read from /proc, which this platform lacks";
#endif
            if (!w.peak_vram_bytes) w.vram_note = "no GPU reading (NVML and nvidia-smi not found or failed)";
        }
        return w;
    }

    /// Samples now, runs `request`, samples again, and returns the peaks in between.
    template <class Request>
    RunMemory around(Request&& request) {
        const auto before = sample_now().at;
        request();
        return window(before, sample_now().at);
    }

    std::vector<MemorySample> samples() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return samples_;
    }
    /// Mean wall time one sample takes, in seconds (the sampler's own overhead).
    double mean_sample_cost_s() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return samples_.empty() ? 0 : cost_s_ / static_cast<double>(samples_.size());
    }

private:
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
    ProcReader proc_;
    std::unique_ptr<OllamaClient> ps_client_;
    std::optional<std::vector<int>> tree_;  ///< the server's process tree, rescanned every second
    std::chrono::steady_clock::time_point tree_at_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::vector<MemorySample> samples_;
    double cost_s_ = 0;
    std::thread thread_;
};

}  // namespace llmbench
