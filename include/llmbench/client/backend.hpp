// llmbench/client/backend.hpp - the one small interface the benchmark runner needs from a server.
//
// Ollama's native API and OpenAI-compatible servers (llama.cpp, vLLM, LM Studio, Ollama /v1)
// both stream a reply to a prompt; the runner asks for nothing else, so either can be
// measured by the same Benchmark.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "llmbench/core/error.hpp"
#include "llmbench/client/ollama_client.hpp"
#include "llmbench/client/openai_client.hpp"
#include "llmbench/detail/fiber_loop.hpp"
#include "llmbench/host/processes.hpp"
#include "llmbench/host/run_metadata.hpp"

namespace llmbench {

/// What a backend can do. A runner checks what it needs up front (Backend::require) and refuses
/// a run the backend cannot give, with the reason, instead of comparing kind() strings.
struct BackendCapabilities {
    bool can_unload = false;              ///< frees a model's memory on request (cold runs)
    bool per_request_context = false;     ///< a request may set the context size (Ollama's num_ctx)
    bool reports_loaded_models = false;   ///< says which models it holds, and with what context (/api/ps)
    bool reports_server_timings = false;  ///< sends its own prefill and decode durations
    bool model_shape = false;             ///< describes the model's architecture (for the roofline)
    bool prompt_cache_switch = false;     ///< a request can turn the prompt cache off (llama.cpp's cache_prompt)
    /// Returns generated tokens' log-probabilities with top alternatives (RequestControls::logprobs).
    /// A server too old to know the field ignores it: the reply then has none, which a runner
    /// that needs them must check too (Ollama before 0.12.11).
    bool token_logprobs = false;
};

class Backend {
public:
    virtual ~Backend() = default;
    /// Streams the reply to `request.prompt` (with `request.system`, when set; `raw`: no chat template).
    virtual StreamResult generate(const GenerateRequest& request, StreamTimer& timer) = 0;
    /// Streams the reply to a conversation.
    virtual StreamResult chat(const ChatRequest& request, StreamTimer& timer) = 0;
    /// Gets the model ready before timed runs (Ollama: load it with these options).
    virtual StreamResult load(const std::string& model, const std::optional<std::string>& keep_alive, const Options& options) = 0;
    /// "ollama" or "openai".
    virtual std::string kind() const = 0;
    /// Where the server is ("http://127.0.0.1:11434"), for records when several serve one run;
    /// empty when the backend has no address.
    virtual std::string server_url() const { return ""; }
    virtual BackendCapabilities capabilities() const = 0;
    /// Everything the server says about itself and the model, plus the host. Throws when the
    /// server cannot be reached or does not have the model.
    virtual RunMetadata describe(const std::string& model) = 0;
    /// The most prompt plus reply tokens the model can take: Ollama, the trained context;
    /// llama.cpp, the serving window (/props). nullopt when the server does not say.
    virtual std::optional<std::int64_t> context_length(const std::string&) { return std::nullopt; }
    /// Prompt tokens the server makes of `request.prompt` (a one-token generation), or 0
    /// when it does not say. For sizing prompts (calibration.hpp).
    virtual std::int64_t count_prompt_tokens(GenerateRequest request) {
        request.options.num_predict = 1;
        StreamTimer timer;
        return counted_prompt_tokens(generate(request, timer));
    }
    /// The model as the server holds it now (Ollama's /api/ps); nullopt when not loaded, or
    /// when the server does not say (capabilities().reports_loaded_models).
    virtual std::optional<RunningModel> loaded_model(const std::string&) { return std::nullopt; }
    /// Frees the model's memory now; false where the server cannot (capabilities().can_unload).
    virtual bool unload(const std::string&) { return false; }

    /// Its streams can wait in run_load's event loop (fiber_loop.hpp): they are read by
    /// llmbench's socket reader, on Linux. Otherwise each stream of a load gets a thread.
    virtual bool waits_in_event_loop() const { return false; }
    /// What every record measured through this backend names as its backend: kind(), or a
    /// label such as "mock" for a demo server.
    std::string label() const { return label_.empty() ? kind() : label_; }
    void set_label(std::string label) { label_ = std::move(label); }

    /// Throws a usage error when the backend lacks `capability`: `need` says what asked for it
    /// ("cold runs need a server that unloads ..."), `hint` what to do instead.
    void require(bool BackendCapabilities::*capability, const std::string& need, const std::string& hint = "") const {
        if (!(capabilities().*capability))
            throw error(errc::usage, need + "; the " + kind() + " backend cannot" + (hint.empty() ? "" : " (" + hint + ")"));
    }

private:
    std::string label_;
};

class OllamaBackend : public Backend {
public:
    explicit OllamaBackend(OllamaClient& client) : client_(client) {}
    StreamResult generate(const GenerateRequest& request, StreamTimer& timer) override { return client_.generate(request, timer); }
    StreamResult chat(const ChatRequest& request, StreamTimer& timer) override { return client_.chat(request, timer); }
    StreamResult load(const std::string& model, const std::optional<std::string>& keep_alive, const Options& options) override {
        return client_.load(model, keep_alive, options);
    }
    std::string kind() const override { return "ollama"; }
    std::string server_url() const override { return client_.endpoint().url(); }
    BackendCapabilities capabilities() const override {
        BackendCapabilities c;
        c.can_unload = c.per_request_context = c.reports_loaded_models = c.reports_server_timings = c.model_shape = true;
        c.token_logprobs = true;  // since 0.12.11
        return c;
    }
    /// The server and model, and, for a server on this machine, its OLLAMA_* environment.
    RunMetadata describe(const std::string& model) override {
        RunMetadata m = RunMetadata::collect(client_, model);
        if (client_.endpoint().is_loopback()) {
            if (const auto processes = default_process_source()) record_server_environment(m, *processes, server_pid_, "ollama");
        } else {
            m.notes.push_back("server environment unknown: the server is not on this machine");
        }
        return m;
    }
    /// The server's process, when it is not the one named "ollama" (--server-pid).
    void set_server_pid(std::optional<int> pid) { server_pid_ = pid; }
    std::optional<std::int64_t> context_length(const std::string& model) override { return client_.show(model).context_length; }
    std::int64_t count_prompt_tokens(GenerateRequest request) override { return client_.count_prompt_tokens(std::move(request)); }
    std::optional<RunningModel> loaded_model(const std::string& model) override {
        for (auto& r : client_.running())
            if (detail::same_model(r.name, model)) return r;
        return std::nullopt;
    }
    bool unload(const std::string& model) override { return client_.unload(model).ok(); }
    bool waits_in_event_loop() const override { return LLMBENCH_HAS_FIBER_LOOP && client_.socket_reader(); }
    OllamaClient& client() noexcept { return client_; }

private:
    OllamaClient& client_;
    std::optional<int> server_pid_;
};

inline RunMetadata describe_openai_server(OpenAIClient& client, const std::string& model);  // below

/// An OpenAI-compatible server through /v1/chat/completions (the prompt as the user message,
/// the system prompt as a system message) or /v1/completions (the raw prompt). A raw prompt
/// always goes to /v1/completions: a chat endpoint would wrap it in the model's template.
class OpenAIBackend : public Backend {
public:
    explicit OpenAIBackend(OpenAIClient& client, bool chat = true) : client_(client), chat_(chat) {}
    StreamResult generate(const GenerateRequest& request, StreamTimer& timer) override {
        if (!chat_ || request.raw.value_or(false)) return client_.completion(request, timer);
        ChatRequest c;
        c.model = request.model;
        if (request.system) c.messages.push_back({"system", *request.system});
        c.messages.push_back({"user", request.prompt});
        c.options = request.options;
        c.controls = request.controls;
        return client_.chat(c, timer);
    }
    StreamResult chat(const ChatRequest& request, StreamTimer& timer) override { return client_.chat(request, timer); }
    /// OpenAI servers load at start-up; a one-token request warms the slot and checks the model.
    StreamResult load(const std::string& model, const std::optional<std::string>&, const Options& options) override {
        GenerateRequest r;
        r.model = model;
        r.prompt = "Hi";
        r.options = options;
        r.options.num_predict = 1;
        StreamTimer timer;
        return generate(r, timer);
    }
    std::string kind() const override { return "openai"; }
    std::string server_url() const override { return client_.endpoint().url(); }
    /// llama.cpp's server (it answers /props) sends its own timings; vLLM and LM Studio do not.
    BackendCapabilities capabilities() const override {
        BackendCapabilities c;
        c.reports_server_timings = c.prompt_cache_switch = props().has_value();
        c.token_logprobs = true;  // llama.cpp, vLLM and OpenAI's own; a server without them sends none, checked per reply
        return c;
    }
    RunMetadata describe(const std::string& model) override { return describe_openai_server(client_, model); }
    std::optional<std::int64_t> context_length(const std::string&) override {
        const auto& p = props();
        return p ? p->n_ctx : std::nullopt;
    }
    bool waits_in_event_loop() const override { return LLMBENCH_HAS_FIBER_LOOP && client_.socket_reader(); }
    OpenAIClient& client() noexcept { return client_; }

private:
    /// llama.cpp's /props, asked once; nullopt from other servers.
    const std::optional<ServerProps>& props() const {
        if (!props_asked_) {
            props_ = client_.props();
            props_asked_ = true;
        }
        return props_;
    }

    OpenAIClient& client_;
    bool chat_;
    mutable bool props_asked_ = false;
    mutable std::optional<ServerProps> props_;
};

namespace detail {
/// A backend together with the client it talks through.
template <class BackendType, class Client>
class OwningBackend : public BackendType {
public:
    template <class... BackendArgs>
    explicit OwningBackend(std::unique_ptr<Client> client, BackendArgs... args) : BackendType(*client, args...), client_(std::move(client)) {}

private:
    std::unique_ptr<Client> client_;
};
}  // namespace detail

/// Makes a backend with its own client, for runners that run one per thread.
using BackendFactory = std::function<std::unique_ptr<Backend>()>;

/// A backend that owns its own client (clients are not thread-safe: each load worker gets one).
inline std::unique_ptr<Backend> make_ollama_backend(const Endpoint& endpoint, const ClientOptions& options = {}) {
    return std::make_unique<detail::OwningBackend<OllamaBackend, OllamaClient>>(std::make_unique<OllamaClient>(endpoint, options));
}
inline std::unique_ptr<Backend> make_openai_backend(const std::string& base_url, const OpenAIClientOptions& options = {}, bool chat = true) {
    return std::make_unique<detail::OwningBackend<OpenAIBackend, OpenAIClient>>(std::make_unique<OpenAIClient>(base_url, options), chat);
}

/// Metadata for an OpenAI-compatible server: what it says about itself (/v1/models, and
/// llama.cpp's /props build and context), plus the host. Throws when it cannot be reached.
inline RunMetadata describe_openai_server(OpenAIClient& client, const std::string& model) {
    RunMetadata m;
    m.backend_kind = "openai";
    m.base_url = client.endpoint().url();
    m.model = model;
    const auto models = client.served_models();  // fails fast when nothing answers
    const auto served = std::find_if(models.begin(), models.end(), [&](const ServedModel& s) { return s.id == model; });
    if (served == models.end() && !models.empty())
        m.notes.push_back("the server lists " + std::to_string(models.size()) + " model(s), not '" + model +
                          "' (llama.cpp in single-model mode serves its one model whatever the name)");
    // llama.cpp's `meta` describes the one model it serves, whatever it was called.
    if (const ServedModel* s = served != models.end() ? &*served : models.size() == 1 ? &models.front() : nullptr) {
        m.parameter_count = m.geometry.parameter_count = s->n_params;
        m.file_size_bytes = s->size_bytes;
        m.context_length = s->n_ctx_train;
        m.geometry.embedding_length = s->n_embd;
        m.geometry.vocab_size = s->n_vocab;
        m.quantization = s->ftype;
        if (s->n_params) m.format = "gguf";
    }
    if (const auto props = client.props()) {
        if (!props->build_info.empty()) m.backend_version = "llama.cpp " + props->build_info;
        if (props->n_ctx) m.loaded_context_length = *props->n_ctx;
        if (!props->model_path.empty()) m.notes.push_back("llama.cpp model file: " + props->model_path);
        m.server.parallel = props->total_slots;
        if (!props->chat_template.empty()) m.server.chat_template_sha256 = detail::sha256_hex(props->chat_template);
        for (const auto& [name, v] : props->defaults) m.server.defaults[detail::ollama_option_name(name)] = v;
        if (props->n_ctx) m.server.defaults["num_ctx"] = static_cast<double>(*props->n_ctx);
        if (!props->defaults.empty()) m.server.defaults_source = "llama.cpp /props default_generation_settings";
    } else {
        m.notes.push_back("no /props (not llama.cpp): server version, context, slots and default settings unknown");
    }
    if (client.has_api_key()) m.notes.push_back("an API key was sent (its value is not recorded)");
    m.host = HostInfo::probe();
    return m;
}

}  // namespace llmbench
