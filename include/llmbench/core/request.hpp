// llmbench/core/request.hpp - what is sent (prompts, conversations, options) and what a server says
// about its models: plain types, no HTTP and no JSON parser, so the headers that only describe
// a run (roofline, metadata) need not pull in a client.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmbench/core/json.hpp"
#include "llmbench/core/stream_timer.hpp"

namespace llmbench {

/// Ollama's `options` object. Only the fields that are set are sent, so the server's
/// (or Modelfile's) defaults apply to the rest; benchmarks should set every sampling value.
struct Options {
    // Load-time options: changing one reloads the model.
    std::optional<int> num_ctx, num_batch, num_gpu, num_thread;
    // Per-request sampling options.
    std::optional<int> num_predict, top_k, seed, repeat_last_n;
    std::optional<double> temperature, top_p, min_p, repeat_penalty;
    std::optional<std::vector<std::string>> stop;

    /// Calls f(name, value) for each sampling value that decides the output, and num_ctx, under
    /// Ollama's names, set or not: what a record must say it sent.
    template <class F>
    void for_each_sampling(F&& f) const {
        f("temperature", temperature);
        f("top_k", top_k);
        f("top_p", top_p);
        f("min_p", min_p);
        f("repeat_penalty", repeat_penalty);
        f("repeat_last_n", repeat_last_n);
        f("seed", seed);
        f("num_predict", num_predict);
        f("num_ctx", num_ctx);
    }

    void write_json(JsonWriter& w) const {
        w.begin_object();
        auto put = [&w](const char* name, const auto& v) {
            if (v) w.kv(name, *v);
        };
        put("num_ctx", num_ctx);
        put("num_batch", num_batch);
        put("num_gpu", num_gpu);
        put("num_thread", num_thread);
        put("num_predict", num_predict);
        put("temperature", temperature);
        put("top_p", top_p);
        put("top_k", top_k);
        put("min_p", min_p);
        put("repeat_penalty", repeat_penalty);
        put("repeat_last_n", repeat_last_n);
        put("seed", seed);
        if (stop) {
            w.key("stop").begin_array();
            for (const auto& s : *stop) w.value(s);
            w.end_array();
        }
        w.end_object();
    }
};

/// Whether a reasoning model thinks before it answers, and how hard (`--think`).
enum class Think { off, on, low, medium, high };

inline const char* to_string(Think t) {
    switch (t) {
        case Think::off: return "off";
        case Think::on: return "on";
        case Think::low: return "low";
        case Think::medium: return "medium";
        case Think::high: return "high";
    }
    return "on";
}

/// "off", "on", "low", "medium" or "high"; nullopt for anything else.
inline std::optional<Think> parse_think(std::string_view s) {
    for (Think t : {Think::off, Think::on, Think::low, Think::medium, Think::high})
        if (s == to_string(t)) return t;
    return std::nullopt;
}

/// Request fields beyond `options`, each sent only when set.
struct RequestControls {
    /// Ollama 0.30+: false makes a prompt that does not fit num_ctx fail (HTTP 400, which the
    /// client reports as errc::context_overflow) instead of being cut (`truncate`) or making
    /// room by dropping old context (`shift`). Both default to true on the server.
    std::optional<bool> truncate, shift;
    /// llama.cpp: false evaluates the whole prompt, reusing nothing from the slot's cache
    /// (the OpenAI client sends it; Ollama has no such field).
    std::optional<bool> cache_prompt;
    /// Ollama's `think` (false, true, "low"...); OpenAI-style chat's `reasoning_effort` and
    /// llama.cpp's `chat_template_kwargs.enable_thinking`. Unset: the model's default.
    std::optional<Think> think;
    /// Return each generated token's log-probability with this many most likely alternatives
    /// (0-20): Ollama's and OpenAI chat's logprobs + top_logprobs, OpenAI completions'
    /// logprobs, llama.cpp's n_probs. Unset: none are asked for.
    std::optional<int> logprobs;

    /// These controls, refusing over-long prompts (truncate and shift false) unless `allowed`:
    /// the server's default cuts them silently.
    RequestControls with_truncation(bool allowed) const {
        RequestControls c = *this;
        if (!allowed) c.truncate = c.shift = false;
        return c;
    }

    /// {"think", "truncate", "shift", "cache_prompt", "logprobs"}: null where the server's default applies.
    void write_json(JsonWriter& w) const {
        w.begin_object().key("think");
        if (think) w.value(to_string(*think));
        else w.null();
        w.kv("truncate", truncate).kv("shift", shift).kv("cache_prompt", cache_prompt).kv("logprobs", logprobs).end_object();
    }
};

namespace detail {
/// Whether two model names mean the same model: Ollama adds ":latest" to an untagged name.
inline bool same_model(const std::string& a, const std::string& b) {
    return a == b || a == b + ":latest" || a + ":latest" == b;
}

/// The members every generate/chat request ends with, then the closing brace. keep_alive
/// is a duration string ("10m") or a number of seconds (-1 = forever).
inline void write_request_tail(JsonWriter& w, const std::optional<std::string>& keep_alive, bool stream,
                               const Options& options, const RequestControls& controls) {
    if (controls.think) {
        w.key("think");
        if (*controls.think == Think::off || *controls.think == Think::on) w.value(*controls.think == Think::on);
        else w.value(to_string(*controls.think));
    }
    if (controls.truncate) w.kv("truncate", *controls.truncate);
    if (controls.shift) w.kv("shift", *controls.shift);
    if (controls.logprobs) w.kv("logprobs", true).kv("top_logprobs", *controls.logprobs);
    if (keep_alive) {
        const std::string& k = *keep_alive;
        char* end = nullptr;
        const double number = std::strtod(k.c_str(), &end);
        w.key("keep_alive");
        if (!k.empty() && end == k.c_str() + k.size()) w.value(number);
        else w.value(k);
    }
    w.kv("stream", stream).key("options");
    options.write_json(w);
    w.end_object();
}
}  // namespace detail

struct GenerateRequest {
    std::string model;
    std::string prompt;
    std::optional<std::string> system;
    Options options;
    std::optional<bool> raw;
    std::optional<std::string> keep_alive;  ///< "5m", "300", "-1", "0"
    bool stream = true;
    RequestControls controls;

    std::string to_json() const {
        JsonWriter w;
        w.begin_object().kv("model", model).kv("prompt", prompt);
        if (system) w.kv("system", *system);
        if (raw) w.kv("raw", *raw);
        detail::write_request_tail(w, keep_alive, stream, options, controls);
        return w.take();
    }
};

struct ChatMessage {
    std::string role;  ///< system, user, assistant, tool
    std::string content;
};

struct ChatRequest {
    std::string model;
    std::vector<ChatMessage> messages;
    Options options;
    std::optional<std::string> keep_alive;
    bool stream = true;
    RequestControls controls;

    std::string to_json() const {
        JsonWriter w;
        w.begin_object().kv("model", model).key("messages").begin_array();
        for (const auto& m : messages) w.begin_object().kv("role", m.role).kv("content", m.content).end_object();
        w.end_array();
        detail::write_request_tail(w, keep_alive, stream, options, controls);
        return w.take();
    }
};

/// One parsed chunk as it arrived, for callers who want to watch the stream.
struct StreamEvent {
    StreamTimer::time_point arrival;  ///< when the bytes that completed this line arrived
    std::string_view text;            ///< answer text of this chunk (may be empty)
    std::string_view thinking;        ///< reasoning text of this chunk (may be empty)
    bool done = false;
};
using EventCallback = std::function<void(const StreamEvent&)>;

/// `details` of /api/tags, /api/show and /api/ps.
struct ModelDetails {
    std::string format, family, parameter_size, quantization_level;
};

struct ModelSummary {  ///< one entry of /api/tags
    std::string name, digest, modified_at;
    std::int64_t size_bytes = 0;
    ModelDetails details;
};

struct ModelInfo {  ///< /api/show
    ModelDetails details;
    std::string architecture;
    std::optional<std::int64_t> context_length;  ///< trained context, from model_info
    std::optional<std::int64_t> parameter_count;
    /// Every whole-number field of model_info, e.g. "llama.block_count" (see roofline.hpp).
    std::map<std::string, std::int64_t> numbers;
    /// The Modelfile's numeric parameters ("temperature" 0.6, "num_ctx" 8192): the defaults a
    /// request that does not set them gets, before Ollama's own.
    std::map<std::string, double> parameters;
};

struct RunningModel {  ///< one entry of /api/ps
    std::string name, digest, expires_at;
    std::int64_t size_bytes = 0;
    std::int64_t size_vram_bytes = 0;
    std::optional<std::int64_t> context_length;  ///< loaded num_ctx (Ollama 0.10+)
    ModelDetails details;
};

/// What the server's loaded models take, all of them together.
struct LoadedModelsSize {
    std::int64_t bytes = 0;       ///< /api/ps size
    std::int64_t vram_bytes = 0;  ///< /api/ps size_vram
};
/// Asks the server what its loaded models take; nullopt when it cannot say. The memory
/// sampler calls it from its own thread, one call at a time. See ollama_loaded_models().
using LoadedModelsQuery = std::function<std::optional<LoadedModelsSize>()>;

}  // namespace llmbench
