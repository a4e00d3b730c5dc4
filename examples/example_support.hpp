// Shared by the example programs: JSON-lines output, Ctrl-C handling, the demo server.
#pragma once

#include <llmbench/client/backend.hpp>
#include <llmbench/client/server_watch.hpp>
#include <llmbench/core/error.hpp>
#include <llmbench/host/memory_sampler.hpp>
#include <llmbench/host/roofline.hpp>
#include <llmbench/host/run_metadata.hpp>
#include <llmbench/testing/mock_ollama.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

namespace example {

/// Set by the first Ctrl-C or SIGTERM; a second one ends the program at once.
inline std::atomic<bool> stop_requested{false};

extern "C" inline void on_stop_signal(int signal) {
    stop_requested = true;
    std::signal(signal, SIG_DFL);
}

/// The program's server: a request that finds it gone waits for it (--server-wait); after three
/// such requests in a row the watch gives up and stops the run, as Ctrl-C does.
inline llmbench::ServerWatch server_watch{&stop_requested};

/// The exit code once the summary is written: 3, with the reason, when the server went away
/// and did not come back; else `code`.
inline int exit_code(int code, const char* program) {
    if (!server_watch.gave_up()) return code;
    std::cerr << program << ": error: " << server_watch.reason() << '\n';
    return 3;
}

/// Ctrl-C and SIGTERM (what `kill`, systemd and CI runners send) stop after the current request;
/// the summary is still written.
inline void stop_on_signals() {
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
}

/// Holds SIGINT and SIGTERM back while alive, so a second signal (whose default action ends
/// the program) cannot land between two writes of one line.
class SignalsHeld {
public:
    SignalsHeld() {
        sigset_t held;
        sigemptyset(&held);
        sigaddset(&held, SIGINT);
        sigaddset(&held, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &held, &previous_);
    }
    ~SignalsHeld() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
    SignalsHeld(const SignalsHeld&) = delete;
    SignalsHeld& operator=(const SignalsHeld&) = delete;

private:
    sigset_t previous_;
};

/// Writes each JSON line to stdout and, when a path is given, to a file; flushed per line
/// so that a crash or Ctrl-C loses nothing already measured. `append` keeps what the file
/// holds (for resuming).
class JsonLines {
public:
    explicit JsonLines(const std::string& path, bool append = false) {
        if (path.empty()) return;
        file_.open(path, std::ios::out | (append ? std::ios::app : std::ios::trunc));
        if (!file_) throw llmbench::error(llmbench::errc::io, "cannot write output file '" + path + "'");
    }
    /// Writes one whole line: no signal can cut it in half.
    void write(const std::string& json) {
        const SignalsHeld held;
        std::cout << json << '\n' << std::flush;
        if (file_.is_open() && !(file_ << json << '\n' << std::flush))
            throw llmbench::error(llmbench::errc::io, "writing the output file failed (disk full?)");
    }

private:
    std::ofstream file_;
};

inline std::string fixed(const std::optional<double>& v, const char* unit, int decimals) {
    if (!v) return std::string("-") + unit;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f%s", decimals, *v, unit);
    return buf;
}

/// The mock behind --demo: fast enough for a quick look, slow enough to show the shape.
inline llmbench::testing::MockConfig demo_config() {
    using namespace std::chrono_literals;
    llmbench::testing::MockConfig cfg;
    cfg.load_delay = 300ms;
    cfg.first_token_delay = 20ms;
    cfg.prefill_per_token = 50us;
    cfg.token_delay = 500us;
    cfg.natural_tokens = 1000;
    return cfg;
}

/// Exit status for a setup error: 3 when no server answered, else 2.
inline int exit_code_for(const llmbench::error& e) {
    return e.code() == llmbench::errc::connect || e.code() == llmbench::errc::timeout ? 3 : 2;
}

/// --memory, --sample-interval-ms and --server-pid, shared by the examples.
struct MemoryOptions {
    bool enabled = false;
    bool subtract_idle = false;
    int interval_ms = 100;
    std::optional<int> server_pid;

    void add_to(CLI::App& app) {
        app.add_flag("--memory", enabled,
                     "Sample peak RAM (server processes), GPU memory and power, and /api/ps during every request");
        app.add_option("--sample-interval-ms", interval_ms, "Memory sampling interval")->capture_default_str()->check(
            CLI::Range(10, 60000));
        app.add_option("--server-pid", server_pid, "PID of the server (default: the process named 'ollama')");
        app.add_flag("--subtract-idle", subtract_idle,
                     "With --memory: measure the machine's idle power for 2 s before the runs (reported in the metadata) and take idle "
                     "watts x duration off every run's energy");
    }

    /// --subtract-idle's measurement (nullopt without it); a usage error without --memory.
    std::optional<llmbench::IdlePower> measure_idle(llmbench::MemorySampler* sampler, bool quiet) const {
        if (!subtract_idle) return std::nullopt;
        if (sampler == nullptr) throw llmbench::error(llmbench::errc::usage, "--subtract-idle needs --memory (it measures energy)");
        const auto idle = sampler->measure_idle(std::chrono::milliseconds(2000), true);
        if (!quiet) {
            if (idle.watts) std::cerr << "idle power: " << *idle.watts << " W (" << idle.source << ", " << idle.seconds << " s), subtracted from every run\n";
            else std::cerr << "idle power: nothing measures energy on this machine; nothing subtracted\n";
        }
        return idle;
    }

    /// A started sampler, or nullptr without --memory. In a demo the server is this process.
    std::unique_ptr<llmbench::MemorySampler> start(const llmbench::Endpoint& endpoint, bool demo) const {
        return start(std::optional<llmbench::Endpoint>(endpoint), demo);
    }
    /// The same for servers without /api/ps (OpenAI-compatible ones).
    std::unique_ptr<llmbench::MemorySampler> start_without_ollama(bool demo) const { return start(std::nullopt, demo); }

private:
    std::unique_ptr<llmbench::MemorySampler> start(const std::optional<llmbench::Endpoint>& endpoint, bool demo) const {
        if (!enabled) return nullptr;
        llmbench::SamplerConfig cfg;
        cfg.interval = std::chrono::milliseconds(interval_ms);
        if (endpoint) cfg.loaded_models = llmbench::ollama_loaded_models(*endpoint);
        cfg.server_pid = demo ? std::optional<int>(static_cast<int>(::getpid())) : server_pid;
        auto sampler = std::make_unique<llmbench::MemorySampler>(cfg);
        sampler->start();
        return sampler;
    }
};

/// --mem-bandwidth-gbs and --no-roofline, shared by the examples.
struct RooflineOptions {
    std::optional<double> bandwidth_gbs;
    bool off = false;

    void add_to(CLI::App& app) {
        app.add_option("--mem-bandwidth-gbs", bandwidth_gbs,
                       "Memory bandwidth (GB/s) of the device holding the weights, for the roofline (default: NVML, Apple's table, "
                       "or measured once per host)")
            ->check(CLI::PositiveNumber);
        app.add_flag("--no-roofline", off, "No roofline: skip the bandwidth lookup or measurement");
    }

    /// The model's roofline, written into its metadata; nullopt, with a note saying why, when
    /// it cannot be known.
    std::optional<llmbench::Roofline> attach(llmbench::RunMetadata& meta) const {
        if (off) return std::nullopt;
        llmbench::RooflineSources sources;
        if (bandwidth_gbs) sources.bandwidth_bytes_per_s = *bandwidth_gbs * 1e9;
        std::string why_not;
        auto roofline = llmbench::roofline_for(meta.roofline_conditions(), sources, why_not);
        if (roofline) {
            llmbench::JsonWriter w;
            roofline->write_json(w);
            meta.roofline_json = w.take();
        } else {
            meta.notes.push_back("no roofline: " + why_not);
        }
        return roofline;
    }
};

/// --backend, --base-url, --api-key-env, --openai-endpoint, --think, --logprobs and --server-wait, shared by the examples.
struct BackendOptions {
    std::string kind = "ollama", base_url, api_key_env = "OPENAI_API_KEY", endpoint = "chat", think;
    std::optional<int> logprobs;
    double server_wait_s = 30;
    bool quiet = false;  ///< no line on stderr when a request waits for the server

    void add_to(CLI::App& app) {
        app.add_option("--backend", kind, "ollama (native API) or openai (llama.cpp, vLLM, LM Studio, Ollama /v1)")
            ->capture_default_str()
            ->check(CLI::IsMember({"ollama", "openai"}));
        app.add_option("--base-url,--base_url", base_url, "OpenAI-compatible server, e.g. http://127.0.0.1:8080 (llama-server)");
        app.add_option("--api-key-env", api_key_env, "Environment variable with the API key (sent as a Bearer token, never recorded)")
            ->capture_default_str();
        app.add_option("--openai-endpoint", endpoint, "chat (/v1/chat/completions) or completions (/v1/completions)")
            ->capture_default_str()
            ->check(CLI::IsMember({"chat", "completions"}));
        app.add_option("--think", think,
                       "Reasoning models: off, on, low, medium or high (Ollama's think; OpenAI-style reasoning_effort and "
                       "chat_template_kwargs.enable_thinking). Sent only when given")
            ->check(CLI::IsMember({"off", "on", "low", "medium", "high"}));
        app.add_option("--logprobs", logprobs,
                       "Record each generated token's log-probability with this many top alternatives, 0-20 (Ollama's and OpenAI "
                       "chat's logprobs + top_logprobs, OpenAI completions' logprobs, llama.cpp's n_probs)")
            ->check(CLI::Range(0, 20));
        app.add_option("--server-wait", server_wait_s,
                       "Seconds a request whose connection is refused waits for the server to come back before it counts as "
                       "failed (0: fail at once); after 3 such requests in a row the run stops, keeping its records (exit 3)")
            ->capture_default_str()
            ->check(CLI::Range(0.0, 3600.0));
    }
    /// `backend`, waiting for its server as --server-wait says (the program's one ServerWatch).
    std::unique_ptr<llmbench::Backend> watched(std::unique_ptr<llmbench::Backend> backend) const {
        if (server_wait_s <= 0) return backend;
        server_watch.set_wait_s(server_wait_s);
        if (!quiet && !server_watch.on_event) server_watch.on_event = [](const std::string& m) { std::cerr << "llmbench: " << m << '\n'; };
        return server_watch.wrap(std::move(backend));
    }
    /// The request fields these options set (--think, --logprobs), for every request a program sends.
    llmbench::RequestControls controls() const {
        llmbench::RequestControls c;
        if (!think.empty()) c.think = llmbench::parse_think(think);
        c.logprobs = logprobs;
        return c;
    }
    bool openai() const { return kind == "openai"; }
    bool chat() const { return endpoint == "chat"; }

    /// Makes a backend for this program's server on each call (every load or eval worker gets
    /// its own client); `label` ("mock" in demos) names it in every record.
    llmbench::BackendFactory factory(const llmbench::Endpoint& ollama, const llmbench::OpenAIClientOptions& options,
                                     const std::string& label = "") const {
        if (openai() && base_url.empty()) throw llmbench::error(llmbench::errc::usage, "--backend openai needs --base-url");
        return [=, self = *this]() {
            auto backend = self.openai() ? llmbench::make_openai_backend(self.base_url, options, self.chat())
                                         : llmbench::make_ollama_backend(ollama, options);
            if (!label.empty()) backend->set_label(label);
            return self.watched(std::move(backend));
        };
    }

    /// The llama.cpp-flavoured mock behind --demo --backend openai; sets base_url to it.
    std::unique_ptr<llmbench::testing::MockOpenAI> start_demo_server(const std::string& model) {
        using namespace std::chrono_literals;
        llmbench::testing::MockOpenAIConfig cfg;
        cfg.flavour = llmbench::testing::OpenAIFlavour::llamacpp;
        cfg.model = model;
        cfg.tokens = 300;
        cfg.first_token_delay = 20ms;
        cfg.token_delay = 500us;
        auto mock = std::make_unique<llmbench::testing::MockOpenAI>(cfg);
        base_url = mock->base_url();
        return mock;
    }
};

}  // namespace example
