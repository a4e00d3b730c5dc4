// llmbench/client/openai_client.hpp - a streaming client for OpenAI-compatible servers: llama.cpp's
// llama-server, vLLM, LM Studio, Ollama's /v1.
//
// /v1/chat/completions and /v1/completions with stream=true and include_usage, and
// llama.cpp's native /completion. Each quirk of ../shared/docs/protocols.md §3 is handled:
// content:null and empty deltas are not tokens; usage is taken wherever it appears (the last
// non-zero one wins, so Ollama's zero usage on every chunk is harmless); llama.cpp's
// `timings` (milliseconds) fill the server timings; an error event (or a legacy `error:`
// line) fails the run; and success needs a finish_reason, because vLLM sends [DONE] even
// after an error. Without usage, the output tokens are estimated from content chunks and
// the result says so.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>
#include <simdjson.h>

#include "llmbench/detail/http_client.hpp"
#include "llmbench/detail/json_parse.hpp"
#include "llmbench/detail/stream_chunk.hpp"
#include "llmbench/core/endpoint.hpp"
#include "llmbench/core/error.hpp"
#include "llmbench/client/framing.hpp"
#include "llmbench/core/json.hpp"
#include "llmbench/core/request.hpp"
#include "llmbench/core/response.hpp"
#include "llmbench/client/sse.hpp"
#include "llmbench/core/stream_timer.hpp"

namespace llmbench {

struct OpenAIClientOptions : ClientOptions {
    /// The environment variable holding an API key, sent as "Authorization: Bearer". The key
    /// is read once and never written anywhere (not to records, metadata or errors).
    std::string api_key_env = "OPENAI_API_KEY";
    /// The key itself, when the program has read it already (and taken it out of its
    /// environment, as eval-suite does before running model code); wins over api_key_env.
    std::optional<std::string> api_key;
};

namespace detail {

/// The OpenAI request body: messages or prompt, stream with usage, and the options mapped
/// (num_predict -> max_tokens; top_k, min_p, repeat_penalty as llama.cpp and vLLM take them).
inline void write_openai_options(JsonWriter& w, const Options& o, const RequestControls& c) {
    if (c.cache_prompt) w.kv("cache_prompt", *c.cache_prompt);
    const auto put = [&w](const char* name, const auto& v) {
        if (v) w.kv(name, *v);
    };
    put("max_tokens", o.num_predict);
    put("temperature", o.temperature);
    put("top_p", o.top_p);
    put("seed", o.seed);
    put("top_k", o.top_k);
    put("min_p", o.min_p);
    put("repeat_penalty", o.repeat_penalty);
    if (o.stop) {
        w.key("stop").begin_array();
        for (const auto& s : *o.stop) w.value(s);
        w.end_array();
    }
}

/// --think on a chat request: `reasoning_effort` (OpenAI, vLLM, Ollama /v1; "none" turns
/// thinking off) and llama.cpp's template switch `chat_template_kwargs.enable_thinking`.
inline void write_openai_think(JsonWriter& w, const std::optional<Think>& think) {
    if (!think) return;
    if (*think == Think::off) w.kv("reasoning_effort", "none");
    else if (*think != Think::on) w.kv("reasoning_effort", to_string(*think));
    w.key("chat_template_kwargs").begin_object().kv("enable_thinking", *think != Think::off).end_object();
}

}  // namespace detail

/// What llama.cpp's GET /props says about the server (other servers have no /props).
struct ServerProps {
    std::string build_info;                   ///< "b4747-4b2e6ed6"
    std::optional<std::int64_t> n_ctx;        ///< default_generation_settings.n_ctx: the slot's context
    std::string model_path;
    std::optional<std::int64_t> total_slots;  ///< requests served at once (--parallel)
    std::string chat_template;                ///< the Jinja template the server applies to chat requests
    /// default_generation_settings.params: the sampling values a request that does not set them
    /// gets (temperature, top_k, top_p, min_p, repeat_penalty, seed, n_predict, ...), numbers only.
    std::map<std::string, double> defaults;
};

/// One entry of /v1/models: its id and, from llama.cpp, the model's `meta`.
struct ServedModel {
    std::string id;
    std::optional<std::int64_t> n_params, size_bytes, n_ctx_train, n_ctx, n_embd, n_vocab;
    std::string ftype;  ///< "F16", "Q4_K - Medium", ...
};

namespace detail {

// The bodies of the metadata calls, parsed; `source` (the server's URL) names it in the
// errc::protocol error a malformed body throws. Bytes in, no I/O, so they are fuzzed directly.

/// GET /v1/models, with llama.cpp's `meta` where the server sends it.
inline std::vector<ServedModel> parse_served_models(std::string_view body, const std::string& source) {
    return parse_fields(body, source, [](std::string_view key, simdjson::ondemand::value& v, std::vector<ServedModel>& out) {
        if (key != "data") return;
        for (auto m : v.get_array()) {
            ServedModel model;
            simdjson::ondemand::value entry = m.value();
            (void)for_each_member(entry, [&](std::string_view k, simdjson::ondemand::value& f) -> simdjson::error_code {
                std::string_view text;
                if (k == "id" && f.get_string().get(text) == simdjson::SUCCESS) model.id = std::string(text);
                if (k != "meta") return simdjson::SUCCESS;
                return for_each_member(f, [&](std::string_view mk, simdjson::ondemand::value& mv) -> simdjson::error_code {
                    std::optional<std::int64_t>* field = mk == "n_params"      ? &model.n_params
                                                         : mk == "size"        ? &model.size_bytes
                                                         : mk == "n_ctx_train" ? &model.n_ctx_train
                                                         : mk == "n_ctx"       ? &model.n_ctx
                                                         : mk == "n_embd"      ? &model.n_embd
                                                         : mk == "n_vocab"     ? &model.n_vocab
                                                                               : nullptr;
                    if (field != nullptr) (void)read_int(mv, *field);  // another type reads as unknown
                    else if (std::string_view ftype; mk == "ftype" && mv.get_string().get(ftype) == simdjson::SUCCESS) model.ftype = std::string(ftype);
                    return simdjson::SUCCESS;
                });
            });
            out.push_back(std::move(model));
        }
    }, std::vector<ServedModel>{});
}

/// GET /props (llama.cpp).
inline ServerProps parse_props(std::string_view body, const std::string& source) {
    return parse_fields(body, source, [](std::string_view key, simdjson::ondemand::value& v, ServerProps& p) {
        std::string_view s;
        if (key == "build_info" && v.get_string().get(s) == simdjson::SUCCESS) p.build_info = std::string(s);
        else if (key == "model_path" && v.get_string().get(s) == simdjson::SUCCESS) p.model_path = std::string(s);
        else if (key == "chat_template" && v.get_string().get(s) == simdjson::SUCCESS) p.chat_template = std::string(s);
        else if (key == "total_slots") (void)read_int(v, p.total_slots);
        else if (key == "default_generation_settings") {
            (void)for_each_member(v, [&p](std::string_view k, simdjson::ondemand::value& d) -> simdjson::error_code {
                if (k == "n_ctx") return read_int(d, p.n_ctx);
                if (k != "params") return simdjson::SUCCESS;
                return for_each_member(d, [&p](std::string_view name, simdjson::ondemand::value& value) {
                    if (double number = 0; value.get_double().get(number) == simdjson::SUCCESS) p.defaults[std::string(name)] = number;
                    return simdjson::SUCCESS;  // strings, arrays and booleans are not sampling values
                });
            });
        }
    }, ServerProps{});
}

/// One OpenAI-style (or llama.cpp native) stream's SSE lines into a StreamResult: text and
/// reasoning, usage and llama.cpp timings, log-probabilities, an error event mid-stream.
/// Bytes in, no I/O, so it is fuzzed directly.
class OpenAIEventParser {
public:
    enum class Flavour { openai, llamacpp_native };

    /// Starts a stream of `flavour`; `want_logprobs`: the request asked for them (else they are
    /// skipped unread); `on_event`, when not null, is called for every event that carries
    /// text or reasoning and for the one that finishes the stream (done), and must outlive it.
    void begin(Flavour flavour, bool want_logprobs, const EventCallback* on_event = nullptr) {
        state_ = State{};
        flavour_ = flavour;
        want_logprobs_ = want_logprobs;
        on_event_ = on_event != nullptr && *on_event ? on_event : nullptr;
    }

    /// One SSE line. Returns false (with result.failure set) when the stream must stop.
    bool feed_line(std::string_view line, StreamTimer::time_point arrival, StreamResult& result, StreamTimer& timer) {
        if (auto event = state_.sse.feed_line(line)) return read_event(*event, arrival, result, timer);
        return true;
    }

    /// The bytes ended: `pending` is a last line the server sent without a newline, and an event
    /// it never ended with a blank line still counts.
    void end_of_bytes(std::string_view pending, StreamTimer::time_point arrival, StreamResult& result, StreamTimer& timer) {
        if (!pending.empty() && !feed_line(pending, arrival, result, timer)) return;
        if (auto event = state_.sse.flush()) read_event(*event, arrival, result, timer);
    }

    /// Why a stream that broke no rule of the transport failed: no finish_reason. nullopt when
    /// it finished.
    std::optional<error> unfinished(const StreamResult& result) const {
        if (state_.finished) return std::nullopt;
        return error(errc::protocol, std::string(state_.done_marker ? "[DONE] arrived without a finish_reason (vLLM ends failed streams so)"
                                                                    : "stream ended without a finish_reason") +
                                         " after " + std::to_string(result.lines) + " events");
    }

    /// After the stream: done, and the token counts from usage where the server sent it, else
    /// llama.cpp's timings, else an estimate from the chunks `timer` counted.
    void settle(StreamResult& result, const StreamTimer& timer) const {
        if (state_.finished) result.done = true;
        ServerTimings& s = result.server;
        if (state_.usage_completion && *state_.usage_completion > 0) s.eval_count = state_.usage_completion;
        if (!s.prompt_cached_tokens) s.prompt_cached_tokens = state_.usage_cached;
        s.thinking_tokens = state_.usage_reasoning;
        // The whole prompt, cached part included, as Ollama counts it: usage, else prompt_n + cache_n.
        if (state_.usage_prompt && *state_.usage_prompt > 0) s.prompt_eval_count = state_.usage_prompt;
        else if (s.prompt_evaluated_tokens) s.prompt_eval_count = *s.prompt_evaluated_tokens + s.prompt_cached_tokens.value_or(0);
        s.complete_prompt_split();  // older llama.cpp sends prompt_n but no cache_n
        if (const std::size_t chunks = timer.content_chunks() + timer.thinking_chunks(); !s.eval_count && chunks > 0) {
            s.eval_count = static_cast<std::int64_t>(chunks);
            result.token_counts_estimated = true;
        }
    }

private:
    /// What the stream said, gathered event by event.
    struct State {
        SseParser sse;
        bool finished = false;  ///< finish_reason, or native stop:true
        bool done_marker = false;
        std::optional<std::int64_t> usage_prompt, usage_completion, usage_cached, usage_reasoning;
    };

    bool read_event(const SseEvent& event, StreamTimer::time_point arrival, StreamResult& result, StreamTimer& timer) {
        if (event.kind == SseEvent::Kind::legacy_error) {
            result.failure = error(errc::server, "server error event: " + error_message_from_body(event.data));
            return false;
        }
        if (event.done_marker()) {
            state_.done_marker = true;
            return true;
        }
        ++result.lines;
        const auto malformed = [&](simdjson::error_code code) {
            result.failure = error(errc::protocol, "malformed JSON in event " + std::to_string(result.lines) + ": " + simdjson::error_message(code));
            return false;
        };
        // On-Demand reads only what it visits; a cheap check catches a cut-off object.
        const std::string_view data = trim(event.data, " \t\r\n");
        if (data.empty() || data.back() != '}') return malformed(simdjson::INCOMPLETE_ARRAY_OR_OBJECT);
        simdjson::ondemand::document doc;
        EventParseSpace& space = thread_event_parse_space();
        if (auto err = space.parser.iterate(padded(space.padded_copy, data)).get(doc)) return malformed(err);
        simdjson::ondemand::value root;
        if (auto err = doc.get_value().get(root)) return malformed(err);
        std::string_view text, thinking, native_stop_type;
        bool has_error = false, native_stop = false;
        const bool finished_before = state_.finished;
        const auto err = for_each_member(root, [&](std::string_view key, simdjson::ondemand::value& v) -> simdjson::error_code {
            if (key == "error") has_error = true;  // the message is read below, from the whole event
            else if (key == "usage") return read_usage(v, state_);
            else if (key == "timings") return read_timings(v, result.server);
            else if (flavour_ == Flavour::openai && key == "choices") return read_first_choice(v, text, thinking, result);
            else if (flavour_ == Flavour::llamacpp_native && key == "content") return read_string(v, text);
            else if (flavour_ == Flavour::llamacpp_native && key == "stop") return v.get_bool().get(native_stop);
            else if (flavour_ == Flavour::llamacpp_native && key == "stop_type") return read_string(v, native_stop_type);
            else if (flavour_ == Flavour::llamacpp_native && key == "completion_probabilities" && want_logprobs_) return read_logprobs_array(v, result.logprobs);
            return simdjson::SUCCESS;
        });
        if (err) return malformed(err);
        if (has_error) {
            result.failure = error(errc::server, "server error after " + std::to_string(timer.content_chunks()) +
                                                     " content chunks: " + error_message_from_body(event.data));
            return false;
        }
        if (native_stop) {
            state_.finished = true;
            if (!native_stop_type.empty())
                result.done_reason = native_stop_type == "limit"                              ? "length"
                                     : native_stop_type == "eos" || native_stop_type == "word" ? "stop"
                                                                                               : std::string(native_stop_type);
        }
        StreamEvent chunk = record_chunk(text, thinking, arrival, result, timer);
        if (state_.finished) timer.mark_done(arrival);
        if (on_event_ != nullptr && (!chunk.text.empty() || !chunk.thinking.empty() || state_.finished != finished_before)) {
            chunk.done = state_.finished;
            (*on_event_)(chunk);
        }
        return true;
    }

    /// choices[0]: its text (delta.content for chat, null meaning none; text for completions),
    /// its reasoning (delta.reasoning_content as llama.cpp and vLLM send it, or delta.reasoning)
    /// and its finish_reason, which ends the stream.
    simdjson::error_code read_first_choice(simdjson::ondemand::value& choices, std::string_view& text, std::string_view& thinking,
                                           StreamResult& result) {
        simdjson::ondemand::array array;
        if (auto err = choices.get_array().get(array)) return err;
        bool first = true;
        for (auto element : array) {
            simdjson::ondemand::value choice;
            if (auto err = std::move(element).get(choice)) return err;
            if (!first) continue;
            first = false;
            std::string_view delta_text, completion_text, reason;
            bool has_delta = false;
            if (auto err = for_each_member(choice, [&](std::string_view key, simdjson::ondemand::value& v) -> simdjson::error_code {
                    if (key == "delta") {
                        has_delta = true;
                        return for_each_member(v, [&](std::string_view k, simdjson::ondemand::value& d) {
                            if (k == "content") return read_string(d, delta_text);
                            if (k == "reasoning_content" || k == "reasoning") return read_string(d, thinking);
                            return simdjson::SUCCESS;
                        });
                    }
                    if (key == "text") return read_string(v, completion_text);
                    if (key == "finish_reason") return read_string(v, reason);
                    if (key == "logprobs" && want_logprobs_) return read_choice_logprobs(v, result.logprobs);
                    return simdjson::SUCCESS;
                }))
                return err;
            text = has_delta ? delta_text : completion_text;
            if (!reason.empty()) {
                state_.finished = true;
                result.done_reason = std::string(reason);
            }
        }
        return simdjson::SUCCESS;
    }

    /// usage: the last non-zero one wins (Ollama's /v1 sends zeros on every chunk).
    /// prompt_tokens_details.cached_tokens: the prompt tokens served from the cache;
    /// completion_tokens_details.reasoning_tokens: the generated tokens spent thinking.
    static simdjson::error_code read_usage(simdjson::ondemand::value& v, State& state) {
        std::optional<std::int64_t> prompt, completion, cached, reasoning;
        if (auto err = for_each_member(v, [&](std::string_view key, simdjson::ondemand::value& n) {
                if (key == "prompt_tokens") return read_int(n, prompt);
                if (key == "completion_tokens") return read_int(n, completion);
                if (key == "prompt_tokens_details")
                    return for_each_member(n, [&](std::string_view k, simdjson::ondemand::value& d) {
                        return k == "cached_tokens" ? read_int(d, cached) : simdjson::SUCCESS;
                    });
                if (key == "completion_tokens_details")
                    return for_each_member(n, [&](std::string_view k, simdjson::ondemand::value& d) {
                        return k == "reasoning_tokens" ? read_int(d, reasoning) : simdjson::SUCCESS;
                    });
                return simdjson::SUCCESS;
            }))
            return err;
        if (prompt.value_or(0) > 0 || completion.value_or(0) > 0 || !state.usage_completion) {
            state.usage_prompt = prompt;
            state.usage_completion = completion;
            state.usage_cached = cached;
            state.usage_reasoning = reasoning;
        }
        return simdjson::SUCCESS;
    }

    /// llama.cpp's timings, in milliseconds: evaluated (prompt_n) and cached (cache_n) prompt tokens,
    /// generated tokens, and the prefill and decode durations.
    static simdjson::error_code read_timings(simdjson::ondemand::value& v, ServerTimings& s) {
        const auto ms_to_ns = [](std::optional<double> ms) {
            return ms ? to_int64(*ms * 1e6) : std::nullopt;  // a huge value reads as unknown, not UB
        };
        return for_each_member(v, [&](std::string_view key, simdjson::ondemand::value& n) {
            std::optional<std::int64_t>* count = key == "prompt_n"      ? &s.prompt_evaluated_tokens
                                                 : key == "predicted_n" ? &s.eval_count
                                                 : key == "cache_n"     ? &s.prompt_cached_tokens
                                                                        : nullptr;
            std::optional<std::int64_t>* duration = key == "prompt_ms" ? &s.prompt_eval_duration_ns : key == "predicted_ms" ? &s.eval_duration_ns : nullptr;
            std::optional<std::int64_t> i;
            std::optional<double> ms;
            if (count != nullptr) {
                if (auto err = read_int(n, i)) return err;
                if (i) *count = i;
            } else if (duration != nullptr) {
                if (auto err = read_double(n, ms)) return err;
                if (auto ns = ms_to_ns(ms)) *duration = ns;
            }
            return simdjson::SUCCESS;
        });
    }

    State state_;
    Flavour flavour_ = Flavour::openai;
    bool want_logprobs_ = false;
    const EventCallback* on_event_ = nullptr;
};

}  // namespace detail



/// A client for one OpenAI-compatible server. Not thread-safe: use one client per thread.
class OpenAIClient : public detail::HttpClient {
public:
    /// `base_url`: "http://127.0.0.1:8080" (llama.cpp), "http://127.0.0.1:8000" (vLLM),
    /// "http://127.0.0.1:11434" (Ollama); a trailing "/v1" is accepted and dropped.
    explicit OpenAIClient(const std::string& base_url, const OpenAIClientOptions& options = {})
        : HttpClient(parse_base_url(base_url), options,
                     {"the server", "is llama-server / vLLM / LM Studio running? Set --base-url", ""}, options.api_key ? bearer_of(*options.api_key) : bearer(options.api_key_env)) {}

    bool has_api_key() const noexcept { return has_authorization(); }

    /// POST /v1/chat/completions, streamed, with include_usage. `on_event` (optional) sees each
    /// event that carries text or reasoning as it arrives, and the one that finishes (done).
    StreamResult chat(const ChatRequest& request, StreamTimer& timer, const EventCallback& on_event = {}) {
        JsonWriter w;
        w.begin_object().kv("model", request.model).key("messages").begin_array();
        for (const auto& m : request.messages) w.begin_object().kv("role", m.role).kv("content", m.content).end_object();
        w.end_array().kv("stream", true).key("stream_options").begin_object().kv("include_usage", true).end_object();
        detail::write_openai_options(w, request.options, request.controls);
        detail::write_openai_think(w, request.controls.think);
        if (request.controls.logprobs) w.kv("logprobs", true).kv("top_logprobs", *request.controls.logprobs);
        return stream("/v1/chat/completions", w.end_object().take(), request.model, timer, Flavour::openai, request.controls.logprobs.has_value(),
                      on_event);
    }

    /// POST /v1/completions (a raw prompt), streamed, with include_usage; `on_event` as chat()'s.
    StreamResult completion(const GenerateRequest& request, StreamTimer& timer, const EventCallback& on_event = {}) {
        JsonWriter w;
        w.begin_object().kv("model", request.model).kv("prompt", request.prompt).kv("stream", true);
        w.key("stream_options").begin_object().kv("include_usage", true).end_object();
        detail::write_openai_options(w, request.options, request.controls);
        if (request.controls.logprobs) w.kv("logprobs", *request.controls.logprobs);  // completions: the number of alternatives
        return stream("/v1/completions", w.end_object().take(), request.model, timer, Flavour::openai, request.controls.logprobs.has_value(),
                      on_event);
    }

    /// POST /completion, llama.cpp's native API (no [DONE]: the last event has "stop": true);
    /// `on_event` as chat()'s.
    StreamResult native_completion(const GenerateRequest& request, StreamTimer& timer, const EventCallback& on_event = {}) {
        JsonWriter w;
        w.begin_object().kv("prompt", request.prompt).kv("stream", true);
        if (request.options.num_predict) w.kv("n_predict", *request.options.num_predict);
        if (request.options.temperature) w.kv("temperature", *request.options.temperature);
        if (request.options.seed) w.kv("seed", *request.options.seed);
        if (request.options.top_k) w.kv("top_k", *request.options.top_k);
        if (request.options.top_p) w.kv("top_p", *request.options.top_p);
        if (request.controls.cache_prompt) w.kv("cache_prompt", *request.controls.cache_prompt);
        // n_probs 0 returns no probabilities at all, so the sampled token's needs at least 1.
        if (request.controls.logprobs) w.kv("n_probs", std::max(1, *request.controls.logprobs));
        return stream("/completion", w.end_object().take(), request.model, timer, Flavour::llamacpp_native, request.controls.logprobs.has_value(),
                      on_event);
    }

    /// GET /v1/models: the ids the server serves.
    std::vector<std::string> models() {
        std::vector<std::string> ids;
        for (auto& m : served_models()) ids.push_back(std::move(m.id));
        return ids;
    }

    /// GET /v1/models, with llama.cpp's `meta` (parameters, file size, trained context,
    /// vocabulary, file type) where the server sends it.
    std::vector<ServedModel> served_models() { return detail::parse_served_models(get("/v1/models"), endpoint().url()); }

    /// GET /props (llama.cpp): its build, context and model file; nullopt where the server has
    /// none or the body is not what llama.cpp sends.
    std::optional<ServerProps> props() {
        try {
            return detail::parse_props(get("/props"), endpoint().url());
        } catch (const error&) {
            return std::nullopt;
        }
    }

    /// GET /metrics: the server's Prometheus counters (llama-server started with --metrics,
    /// vLLM). Throws llmbench::error when the server has none (llama-server answers 501).
    std::string metrics_text() { return get("/metrics"); }

    /// GET /health (llama.cpp): 200 ready; 503 while loading.
    bool healthy() { return status_of("/health") == 200; }

private:
    static Endpoint parse_base_url(std::string url) {
        while (!url.empty() && url.back() == '/') url.pop_back();
        if (url.size() >= 3 && url.compare(url.size() - 3, 3, "/v1") == 0) url.resize(url.size() - 3);
        if (url.find("://") == std::string::npos) url = "http://" + url;
        return parse_ollama_host(url);
    }

    /// "Bearer KEY" from the environment variable `name`, or "" when it is unset or empty.
    static std::string bearer(const std::string& name) {
        const char* key = name.empty() ? nullptr : std::getenv(name.c_str());
        return bearer_of(key != nullptr ? key : "");
    }
    static std::string bearer_of(const std::string& key) { return key.empty() ? std::string() : "Bearer " + key; }

    using Flavour = detail::OpenAIEventParser::Flavour;

    StreamResult stream(std::string_view api_path, std::string body, const std::string& model, StreamTimer& timer, Flavour flavour,
                        bool logprobs, const EventCallback& on_event) {
        StreamResult result;
        events_.begin(flavour, logprobs, &on_event);
        LineFramer framer(options().max_line_bytes);
        const detail::PostOutcome post =
            post_stream(api_path, std::move(body), "text/event-stream", timer, framer, result.bytes_received,
                        [&](std::string_view line, std::uint64_t, StreamTimer::time_point arrival) {
                            return events_.feed_line(line, arrival, result, timer);
                        });
        result.http_status = post.status;
        if (!result.failure && post.status == 200 && !framer.overflowed()) events_.end_of_bytes(framer.pending(), post.end, result, timer);
        timer.mark_done(post.end);  // the whole response, the usage event and [DONE] after finish_reason included

        if (result.failure) {
            // set while parsing: an error event or malformed JSON
        } else if (auto failure = transport_failure(post, api_path, model, framer, result.lines, "events")) {
            if (failure->code() == errc::context_overflow) result.server.prompt_eval_count = refused_prompt_tokens(post);
            result.failure = std::move(failure);
        } else if (auto unfinished = events_.unfinished(result)) {
            result.failure = std::move(unfinished);
        }
        events_.settle(result, timer);
        return result;
    }

    detail::OpenAIEventParser events_;
};

}  // namespace llmbench
