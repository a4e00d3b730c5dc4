// llmbench/host/run_metadata.hpp - what a result needs to be comparable: when, what, where, how.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>
#include <sys/utsname.h>
#endif
#if defined(__APPLE__)
#include <limits.h>  // OPEN_MAX
#include <sys/sysctl.h>
#endif

#include "llmbench/detail/sha256.hpp"
#include "llmbench/detail/text.hpp"
#include "llmbench/detail/utc_time.hpp"
#include "llmbench/core/error.hpp"
#include "llmbench/core/json.hpp"
#include "llmbench/core/request.hpp"
#include "llmbench/core/shard.hpp"
#include "llmbench/host/energy.hpp"
#include "llmbench/host/roofline.hpp"
#include "llmbench/version.hpp"

namespace llmbench {

struct GpuInfo {
    std::string name;
    std::optional<std::int64_t> memory_bytes;
    std::string driver;
};

/// The machine the benchmark ran on. Fields that could not be read say "unknown".
struct HostInfo {
    std::string os = "unknown";      ///< e.g. "Debian GNU/Linux 12 (bookworm)", "macOS 14.5"
    std::string kernel = "unknown";  ///< e.g. "Linux 6.1.0-18-amd64"
    std::string arch = "unknown";
    std::string cpu_model = "unknown";
    unsigned logical_cores = 0;
    std::optional<std::int64_t> total_ram_bytes;
    std::vector<GpuInfo> gpus;
    std::string gpu_source = "none";  ///< where gpus came from: "nvidia-smi", "apple-silicon", "none"
    /// The soft limit on open files (RLIMIT_NOFILE) of this process: each stream in flight
    /// holds a socket, so it bounds the concurrency a load run can reach.
    std::optional<std::int64_t> open_files_limit;

    static HostInfo probe();

    void write_json(JsonWriter& w) const {
        w.begin_object()
            .kv("os", os)
            .kv("kernel", kernel)
            .kv("arch", arch)
            .kv("cpu_model", cpu_model)
            .kv("logical_cores", logical_cores)
            .kv("total_ram_bytes", total_ram_bytes)
            .kv("open_files_limit", open_files_limit)
            .kv("gpu_source", gpu_source);
        w.key("gpus").begin_array();
        for (const auto& g : gpus)
            w.begin_object().kv("name", g.name).kv("memory_bytes", g.memory_bytes).kv("driver", g.driver).end_object();
        w.end_array().end_object();
    }
};

namespace detail {

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// The value after "key" and ':' or '=' on the first line that starts with key.
inline std::string field_value(const std::string& text, const std::string& key, char sep) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, key.size(), key) != 0) continue;
        auto pos = line.find(sep, key.size());
        if (pos == std::string::npos) continue;
        std::string v = std::string(trim(std::string_view(line).substr(pos + 1), " \t\""));
        return v;
    }
    return {};
}

/// Runs a shell command and returns its stdout ("" when it fails). POSIX only.
inline std::string run_command(const std::string& command) {
#if defined(__unix__) || defined(__APPLE__)
    std::string out;
    if (FILE* pipe = ::popen(command.c_str(), "r")) {
        char buf[512];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
        if (::pclose(pipe) != 0) return {};
    }
    return out;
#else
    (void)command;
    return {};
#endif
}

inline std::string utc_now_iso8601() {
    const std::time_t t = std::time(nullptr);
    const std::tm tm = detail::utc_tm(t);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace detail

/// Raises this process's soft limit on open files to its hard limit (a load run holds a socket
/// per stream, and 1,024 is a common default), and returns the limit now in effect; nullopt
/// where there is none to read. Programs call it before they probe the host.
inline std::optional<std::int64_t> raise_open_files_limit() {
#if defined(__unix__) || defined(__APPLE__)
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
#if defined(__APPLE__)
        raised.rlim_cur = std::min<rlim_t>(limit.rlim_max, OPEN_MAX);  // macOS refuses more than OPEN_MAX
#endif
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    if (limit.rlim_cur == RLIM_INFINITY) return std::nullopt;
    return static_cast<std::int64_t>(limit.rlim_cur);
#else
    return std::nullopt;
#endif
}

inline HostInfo HostInfo::probe() {
    HostInfo h;
    h.logical_cores = std::thread::hardware_concurrency();
#if defined(__unix__) || defined(__APPLE__)
    if (rlimit limit{}; ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        h.open_files_limit = static_cast<std::int64_t>(limit.rlim_cur);
    struct utsname u {};
    if (::uname(&u) == 0) {
        h.kernel = std::string(u.sysname) + " " + u.release;
        h.arch = u.machine;
    }
#endif
#if defined(__linux__)
    if (auto name = detail::field_value(detail::read_file("/etc/os-release"), "PRETTY_NAME", '='); !name.empty())
        h.os = name;
    else
        h.os = "Linux";
    if (auto cpu = detail::field_value(detail::read_file("/proc/cpuinfo"), "model name", ':'); !cpu.empty())
        h.cpu_model = cpu;
    if (auto mem = detail::field_value(detail::read_file("/proc/meminfo"), "MemTotal", ':'); !mem.empty())
        h.total_ram_bytes = std::strtoll(mem.c_str(), nullptr, 10) * 1024;  // "32768000 kB"
#elif defined(__APPLE__)
    char brand[256] = {};
    std::size_t size = sizeof brand;
    if (::sysctlbyname("machdep.cpu.brand_string", brand, &size, nullptr, 0) == 0) h.cpu_model = brand;
    std::int64_t mem = 0;
    size = sizeof mem;
    if (::sysctlbyname("hw.memsize", &mem, &size, nullptr, 0) == 0) h.total_ram_bytes = mem;
    if (auto v = detail::run_command("sw_vers -productVersion 2>/dev/null"); !v.empty())
        h.os = "macOS " + std::string(detail::trim(v, " \n"));
    if (h.cpu_model.rfind("Apple", 0) == 0) {  // unified memory: the GPU shares RAM
        h.gpus.push_back(GpuInfo{h.cpu_model + " GPU", h.total_ram_bytes, "unified memory"});
        h.gpu_source = "apple-silicon";
    }
#endif
#if defined(__unix__) && !defined(__APPLE__)
    const std::string smi = detail::run_command(
        "command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,memory.total,driver_version "
        "--format=csv,noheader,nounits 2>/dev/null");
    std::istringstream lines(smi);
    std::string line;
    while (std::getline(lines, line)) {
        std::vector<std::string> cols;
        std::istringstream cells(line);
        std::string cell;
        while (std::getline(cells, cell, ',')) cols.emplace_back(detail::trim(cell, " \r"));
        if (cols.size() < 3) continue;
        GpuInfo g{cols[0], std::nullopt, cols[2]};
        try {
            g.memory_bytes = std::stoll(cols[1]) * 1024 * 1024;  // MiB
        } catch (const std::exception&) {
        }
        h.gpus.push_back(g);
        h.gpu_source = "nvidia-smi";
    }
#endif
    return h;
}

/// How the server was set up, beyond the model: what else must match for two runs to compare.
/// What the server does not say stays empty (written as null).
struct ServerSettings {
    std::optional<std::int64_t> parallel;  ///< requests served at once: llama.cpp total_slots, Ollama OLLAMA_NUM_PARALLEL
    std::string chat_template_sha256;      ///< llama.cpp /props chat_template
    /// The sampling values a request that leaves them out gets, under Ollama's option names
    /// (temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n, seed, num_predict, num_ctx).
    std::map<std::string, double> defaults;
    std::string defaults_source;  ///< where `defaults` came from; empty: nowhere
    /// The server process's OLLAMA_*, LLAMA_ARG_* and *_VISIBLE_DEVICES (record_server_environment;
    /// credentials never copied).
    std::map<std::string, std::string> environment;

    void write_json(JsonWriter& w) const {
        w.begin_object().kv("parallel", parallel).key("chat_template_sha256");
        if (chat_template_sha256.empty()) w.null();
        else w.value(chat_template_sha256);
        w.key("defaults").begin_object();
        for (const auto& [name, v] : defaults) w.kv(name, v);
        w.end_object().key("defaults_source");
        if (defaults_source.empty()) w.null();
        else w.value(defaults_source);
        w.key("environment").begin_object();
        for (const auto& [name, v] : environment) w.kv(name, v);
        w.end_object().end_object();
    }
};

namespace detail {
/// llama.cpp's sampling names under Ollama's, for ServerSettings::defaults.
inline std::string ollama_option_name(const std::string& llamacpp) {
    if (llamacpp == "n_predict") return "num_predict";
    if (llamacpp == "n_ctx") return "num_ctx";
    return llamacpp;
}

}  // namespace detail

/// Everything needed to compare a result with another: timestamp, versions, backend,
/// model, host, every request parameter, the prompt file and the command line.
struct RunMetadata {
    std::string timestamp_utc = detail::utc_now_iso8601();
    std::string backend_kind = "ollama";  ///< "ollama" or "mock"
    std::string backend_version = "unknown";
    std::string base_url;

    std::string model;  ///< the tag as requested
    std::string digest, family, parameter_size, quantization, format, architecture;
    std::optional<std::int64_t> parameter_count, context_length;  ///< context_length: trained maximum
    std::optional<std::int64_t> size_bytes, size_vram_bytes, loaded_context_length;  ///< from /api/ps
    std::optional<std::int64_t> file_size_bytes;  ///< the model file, from /api/tags
    ModelGeometry geometry;                       ///< from /api/show model_info
    std::string roofline_json;                    ///< Roofline::write_json, when there is one

    HostInfo host;
    ServerSettings server;
    /// The sampling options every request sent, when the program knows them: beside the
    /// server's defaults, the metadata then says which values were sent and which the server chose.
    std::optional<Options> sent_options;
    std::string request_json = "{}";  ///< every request parameter, as a JSON object
    std::string prompts_path, prompts_sha256;
    std::size_t prompt_count = 0;
    std::vector<std::string> command_line;
    std::optional<Shard> shard;      ///< this file is shard I of N (--shard): llmbench-report merges the N
    std::optional<IdlePower> idle_power;  ///< measured before the runs (--subtract-idle)
    std::vector<std::string> notes;  ///< what could not be read, and why

    /// Asks an Ollama server (an OllamaClient) about itself and `model`, and probes the host.
    /// Throws llmbench::error when the server cannot be reached or lacks the model. A template,
    /// so that this header describes a run without pulling in an HTTP client.
    template <class OllamaClientType>
    static RunMetadata collect(OllamaClientType& client, const std::string& model) {
        RunMetadata m;
        m.base_url = client.endpoint().url();
        m.model = model;
        m.backend_version = client.version();
        const ModelInfo info = client.show(model);
        m.family = info.details.family;
        m.parameter_size = info.details.parameter_size;
        m.quantization = info.details.quantization_level;
        m.format = info.details.format;
        m.architecture = info.architecture;
        m.parameter_count = info.parameter_count;
        m.context_length = info.context_length;
        m.geometry = ModelGeometry::from(info);
        m.server.defaults = info.parameters;
        m.server.defaults_source = "the model's Modelfile (/api/show parameters); Ollama's built-in defaults, which changed between releases, "
                                   "apply to the rest";
        for (const auto& t : client.list_models())
            if (detail::same_model(t.name, model)) {
                m.digest = t.digest;
                m.file_size_bytes = t.size_bytes;
            }
        m.refresh_loaded(client);
        m.host = HostInfo::probe();
        return m;
    }

    /// Reads /api/ps again (sizes are known only once the model is loaded).
    template <class OllamaClientType>
    void refresh_loaded(OllamaClientType& client) {
        for (const auto& r : client.running()) {
            if (!detail::same_model(r.name, model)) continue;
            size_bytes = r.size_bytes;
            size_vram_bytes = r.size_vram_bytes;
            loaded_context_length = r.context_length;
            return;
        }
        notes.push_back("model was not loaded when /api/ps was read: size and size_vram unknown");
    }

    /// Where the loaded model is: "cpu", "gpu", "cpu+gpu", or "unknown" (not loaded, or not an
    /// Ollama server). With no GPU on this host the model is on the CPU whatever /api/ps's
    /// size_vram says: Ollama 0.33 reports a few MB of "VRAM" on machines that have none.
    std::string placement() const {
        if (!size_bytes || *size_bytes <= 0) return "unknown";
        const std::int64_t vram = host.gpus.empty() ? 0 : size_vram_bytes.value_or(0);
        if (vram <= 0) return "cpu";
        return vram >= *size_bytes ? "gpu" : "cpu+gpu";
    }

    /// What roofline_for needs: the model's shape, size and placement, and the host.
    RooflineConditions roofline_conditions() const {
        RooflineConditions c;
        c.geometry = geometry;
        c.file_size_bytes = file_size_bytes;
        c.quantization = quantization;
        c.loaded_bytes = size_bytes;
        c.loaded_vram_bytes = placement() == "cpu" ? std::optional<std::int64_t>(0) : size_vram_bytes;
        c.cpu_model = host.cpu_model;
        c.host_key = host.cpu_model + ", " + std::to_string(host.logical_cores) + " threads, " +
                     std::to_string(host.total_ram_bytes.value_or(0)) + " B RAM";
        return c;
    }

    /// Fingerprints the prompts file.
    void set_prompts_file(const std::string& path, std::size_t count) {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw error(errc::io, "cannot read prompts file '" + path + "'");
        std::ostringstream ss;
        ss << in.rdbuf();
        prompts_path = path;
        prompts_sha256 = detail::sha256_hex(ss.str());
        prompt_count = count;
    }

    void write_json(JsonWriter& w) const {
        auto text = [&w](const char* name, const std::string& v) {
            w.key(name);
            if (v.empty()) w.value("unknown");
            else w.value(v);
        };
        w.begin_object()
            .kv("type", "metadata")
            .kv("schema_version", schema_version)
            .kv("timestamp_utc", timestamp_utc)
            .kv("llmbench_version", version_string);
        w.key("backend").begin_object().kv("kind", backend_kind).kv("version", backend_version).kv("base_url", base_url).end_object();
        w.key("model").begin_object().kv("tag", model);
        text("digest", digest);
        text("family", family);
        text("architecture", architecture);
        text("parameter_size", parameter_size);
        w.kv("parameter_count", parameter_count);
        text("quantization", quantization);
        text("format", format);
        w.kv("context_length", context_length)
            .kv("loaded_context_length", loaded_context_length)
            .kv("size_bytes", size_bytes)
            .kv("size_vram_bytes", size_vram_bytes)
            .kv("file_size_bytes", file_size_bytes)
            .kv("placement", placement())
            .end_object();
        w.key("roofline");
        if (roofline_json.empty()) w.null();
        else w.raw(roofline_json);
        w.key("host");
        host.write_json(w);
        w.key("server");
        server.write_json(w);
        write_sampling_json(w);
        w.key("request").raw(request_json);
        w.key("prompts").begin_object().kv("path", prompts_path).kv("sha256", prompts_sha256).kv("count", prompt_count).end_object();
        w.key("command_line").begin_array();
        for (const auto& arg : command_line) w.value(arg);
        w.end_array();
        w.key("shard");
        if (shard) w.begin_object().kv("index", shard->index).kv("count", shard->count).end_object();
        else w.null();
        w.key("idle_power");
        if (idle_power) idle_power->write_json(w);
        else w.null();
        w.key("notes").begin_array();
        for (const auto& n : notes) w.value(n);
        w.end_array().end_object();
    }

    std::string to_json() const {
        JsonWriter w;
        write_json(w);
        return w.take();
    }

private:
    /// "sampling": {"temperature": {"sent": 0, "server_default": 0.8}, ...}: each value the
    /// requests sent (null: left to the server) beside the server's own default (null: it does
    /// not say); null when the program does not know what it sent.
    void write_sampling_json(JsonWriter& w) const {
        w.key("sampling");
        if (!sent_options) {
            w.null();
            return;
        }
        w.begin_object();
        sent_options->for_each_sampling([&](const char* name, const auto& sent) {
            w.key(name).begin_object().key("sent");
            if (sent) w.value(*sent);
            else w.null();
            const auto d = server.defaults.find(name);
            w.key("server_default");
            if (d != server.defaults.end()) w.value(d->second);
            else w.null();
            w.end_object();
        });
        w.end_object();
    }
};

}  // namespace llmbench
