// llmbench/openai_client.hpp - a streaming client for OpenAI-compatible servers: llama.cpp's
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

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>
#include <simdjson.h>

#include "llmbench/detail/json_parse.hpp"
#include "llmbench/detail/stall_guard.hpp"
#include "llmbench/detail/streaming_post.hpp"
#include "llmbench/endpoint.hpp"
#include "llmbench/error.hpp"
#include "llmbench/framing.hpp"
#include "llmbench/json.hpp"
#include "llmbench/ollama_client.hpp"  // ChatRequest, GenerateRequest, Options, ClientOptions
#include "llmbench/response.hpp"
#include "llmbench/sse.hpp"
#include "llmbench/stream_timer.hpp"

namespace llmbench {

struct OpenAIClientOptions : ClientOptions {
    /// The environment variable holding an API key, sent as "Authorization: Bearer". The key
    /// is read once and never written anywhere (not to records, metadata or errors).
    std::string api_key_env = "OPENAI_API_KEY";
};

namespace detail {

/// The OpenAI request body: messages or prompt, stream with usage, and the options mapped
/// (num_predict -> max_tokens; top_k, min_p, repeat_penalty as llama.cpp and vLLM take them).
inline void write_openai_options(JsonWriter& w, const Options& o) {
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

// Each takes an element or a lookup result: a missing field reads as nullopt.
template <class E>
std::string_view json_string(E e) {
    std::string_view s;
    return e.get_string().get(s) == simdjson::SUCCESS ? s : std::string_view();
}

}  // namespace detail

class OpenAIClient {
public:
    /// `base_url`: "http://127.0.0.1:8080" (llama.cpp), "http://127.0.0.1:8000" (vLLM),
    /// "http://127.0.0.1:11434" (Ollama); a trailing "/v1" is accepted and dropped.
    explicit OpenAIClient(const std::string& base_url, OpenAIClientOptions options = {})
        : endpoint_(parse_base_url(base_url)), options_(std::move(options)), http_(make_http(endpoint_)) {
        http_.set_connection_timeout(std::chrono::milliseconds(static_cast<std::int64_t>(options_.timeouts.connect_s * 1000)));
        http_.set_read_timeout(std::chrono::seconds(24 * 3600));  // the StallGuard enforces the real limits
        http_.set_keep_alive(true);
        if (const char* key = options_.api_key_env.empty() ? nullptr : std::getenv(options_.api_key_env.c_str()); key && *key)
            auth_ = std::string("Bearer ") + key;
    }

    const Endpoint& endpoint() const noexcept { return endpoint_; }
    bool has_api_key() const noexcept { return !auth_.empty(); }

    /// POST /v1/chat/completions, streamed, with include_usage.
    StreamResult chat(const ChatRequest& request, StreamTimer& timer) {
        JsonWriter w;
        w.begin_object().kv("model", request.model).key("messages").begin_array();
        for (const auto& m : request.messages) w.begin_object().kv("role", m.role).kv("content", m.content).end_object();
        w.end_array().kv("stream", true).key("stream_options").begin_object().kv("include_usage", true).end_object();
        detail::write_openai_options(w, request.options);
        return stream("/v1/chat/completions", w.end_object().take(), request.model, timer, Flavour::openai);
    }

    /// POST /v1/completions (a raw prompt), streamed, with include_usage.
    StreamResult completion(const GenerateRequest& request, StreamTimer& timer) {
        JsonWriter w;
        w.begin_object().kv("model", request.model).kv("prompt", request.prompt).kv("stream", true);
        w.key("stream_options").begin_object().kv("include_usage", true).end_object();
        detail::write_openai_options(w, request.options);
        return stream("/v1/completions", w.end_object().take(), request.model, timer, Flavour::openai);
    }

    /// POST /completion, llama.cpp's native API (no [DONE]: the last event has "stop": true).
    StreamResult native_completion(const GenerateRequest& request, StreamTimer& timer) {
        JsonWriter w;
        w.begin_object().kv("prompt", request.prompt).kv("stream", true);
        if (request.options.num_predict) w.kv("n_predict", *request.options.num_predict);
        if (request.options.temperature) w.kv("temperature", *request.options.temperature);
        if (request.options.seed) w.kv("seed", *request.options.seed);
        if (request.options.top_k) w.kv("top_k", *request.options.top_k);
        if (request.options.top_p) w.kv("top_p", *request.options.top_p);
        return stream("/completion", w.end_object().take(), request.model, timer, Flavour::llamacpp_native);
    }

    /// GET /v1/models: the ids the server serves.
    std::vector<std::string> models() {
        const std::string body = get("/v1/models");
        std::vector<std::string> ids;
        simdjson::dom::parser parser;
        simdjson::dom::array data;
        if (parser.parse(body).get_object()["data"].get_array().get(data) == simdjson::SUCCESS)
            for (auto m : data) {
                std::string_view id;
                if (m["id"].get_string().get(id) == simdjson::SUCCESS) ids.emplace_back(id);
            }
        return ids;
    }

    /// GET /props (llama.cpp): the raw JSON, for metadata; nullopt where the server has none.
    std::optional<std::string> props() {
        try {
            return get("/props");
        } catch (const error&) {
            return std::nullopt;
        }
    }

    /// GET /health (llama.cpp): 200 ready; 503 while loading.
    bool healthy() {
        auto res = http_.Get(path("/health"), headers());
        return res && res->status == 200;
    }

private:
    enum class Flavour { openai, llamacpp_native };

    /// What the stream said, gathered event by event.
    struct StreamState {
        SseParser sse;
        bool finished = false;  ///< finish_reason, or native stop:true
        bool done_marker = false;
        std::optional<std::int64_t> usage_prompt, usage_completion;
    };

    static Endpoint parse_base_url(std::string url) {
        while (!url.empty() && url.back() == '/') url.pop_back();
        if (url.size() >= 3 && url.compare(url.size() - 3, 3, "/v1") == 0) url.resize(url.size() - 3);
        if (url.find("://") == std::string::npos) url = "http://" + url;
        return parse_ollama_host(url);
    }

    static httplib::Client make_http(const Endpoint& endpoint) {
        try {
            return httplib::Client(endpoint.scheme + "://" + endpoint.authority());
        } catch (const std::invalid_argument&) {
            throw error(errc::usage, "cannot use " + endpoint.url() + ": this cpp-httplib was built without " + endpoint.scheme + " support");
        }
    }

    std::string path(std::string_view api_path) const {
        return endpoint_.base_path.empty() ? std::string(api_path) : "/" + endpoint_.base_path + std::string(api_path);
    }

    httplib::Headers headers() const {
        httplib::Headers h;
        if (!auth_.empty()) h.emplace("Authorization", auth_);
        return h;
    }

    error connect_error(httplib::Error err) const {
        return detail::connect_error(endpoint_, err, options_.timeouts.connect_s, "the server",
                                     "is llama-server / vLLM / LM Studio running? Set --base-url");
    }

    error status_error(int status, std::string_view api_path, std::string_view body, const std::string& model) const {
        return detail::status_error(endpoint_, status, api_path, body, model, "");
    }

    std::string get(std::string_view api_path) {
        auto res = http_.Get(path(api_path), headers());
        if (!res) throw connect_error(res.error());
        if (res->status != 200) throw status_error(res->status, api_path, res->body, {});
        return std::move(res->body);
    }

    StreamResult stream(std::string_view api_path, std::string body, const std::string& model, StreamTimer& timer, Flavour flavour) {
        StreamResult result;
        StreamState state;
        LineFramer framer(options_.max_line_bytes);
        httplib::Request req;
        req.method = "POST";
        req.path = path(api_path);
        req.headers = headers();
        req.headers.emplace("Content-Type", "application/json");
        req.headers.emplace("Accept", "text/event-stream");
        req.body = std::move(body);
        const detail::PostOutcome post =
            detail::streaming_post(http_, socket_stream_.get(), std::move(req), timer, options_.timeouts, framer, result.bytes_received,
                                   [&](std::string_view line, std::uint64_t, StreamTimer::time_point arrival) {
                                       if (auto event = state.sse.feed_line(line)) return on_event(*event, arrival, result, state, timer, flavour);
                                       return true;
                                   });
        const auto end = post.end;
        const auto fired = post.fired;
        const int status = post.status;
        result.http_status = status;
        if (!result.failure && status == 200 && !framer.overflowed()) {  // the last event, if the server never ended it
            if (!framer.pending().empty())
                if (auto event = state.sse.feed_line(framer.pending())) on_event(*event, end, result, state, timer, flavour);
            if (!result.failure)
                if (auto event = state.sse.flush()) on_event(*event, end, result, state, timer, flavour);
        }
        if (!result.done) timer.mark_done(end);

        const auto& t = options_.timeouts;
        if (result.failure) {
            // set while parsing: an error event or malformed JSON
        } else if (fired == detail::StallGuard<httplib::Client>::fired_by::first_byte) {
            result.failure = detail::first_byte_timeout(endpoint_, api_path, t.first_byte_s);
        } else if (fired == detail::StallGuard<httplib::Client>::fired_by::idle) {
            result.failure = detail::idle_timeout(endpoint_, t.idle_s, result.lines, "events");
        } else if (status == 0) {
            result.failure = connect_error(post.error);
        } else if (status != 200) {
            result.failure = status_error(status, api_path, post.error_body, model);
        } else if (framer.overflowed()) {
            result.failure = error(errc::protocol, "stream line longer than " + std::to_string(framer.max_line_bytes()) + " bytes");
        } else if (!state.finished) {
            result.failure = error(errc::protocol, std::string(state.done_marker ? "[DONE] arrived without a finish_reason (vLLM ends failed streams so)"
                                                                                 : "stream ended without a finish_reason") +
                                                      " after " + std::to_string(result.lines) + " events");
        }
        if (state.finished) result.done = true;
        // Token counts: usage where the server sent it, else llama.cpp timings, else an estimate.
        if (state.usage_completion && *state.usage_completion > 0) result.server.eval_count = state.usage_completion;
        if (state.usage_prompt && *state.usage_prompt > 0 && !result.server.prompt_eval_count)
            result.server.prompt_eval_count = state.usage_prompt;
        if (!result.server.eval_count && timer.content_chunks() > 0) {
            result.server.eval_count = static_cast<std::int64_t>(timer.content_chunks());
            result.token_counts_estimated = true;
        }
        return result;
    }

    bool on_event(const SseEvent& event, StreamTimer::time_point arrival, StreamResult& result, StreamState& state, StreamTimer& timer,
                  Flavour flavour) {
        if (event.kind == SseEvent::Kind::legacy_error) {
            result.failure = error(errc::server, "server error event: " + detail::error_message_from_body(event.data));
            return false;
        }
        if (event.done_marker()) {
            state.done_marker = true;
            return true;
        }
        ++result.lines;
        simdjson::dom::element doc;
        simdjson::dom::object obj;
        if (auto e = parser_.parse(event.data).get(doc); e || doc.get_object().get(obj)) {
            result.failure = error(errc::protocol, "malformed JSON in event " + std::to_string(result.lines) + ": " +
                                                      (e ? simdjson::error_message(e) : "not an object"));
            return false;
        }
        if (simdjson::dom::element err; obj["error"].get(err) == simdjson::SUCCESS) {
            result.failure = error(errc::server, "server error after " + std::to_string(timer.content_chunks()) +
                                                     " content chunks: " + detail::error_message_from_body(event.data));
            return false;
        }
        std::string_view text;
        if (flavour == Flavour::llamacpp_native) {
            text = detail::json_string(obj["content"]);
            bool stop = false;
            if (obj["stop"].get_bool().get(stop) == simdjson::SUCCESS && stop) {
                state.finished = true;
                std::string_view stop_type;
                if (obj["stop_type"].get_string().get(stop_type) == simdjson::SUCCESS)
                    result.done_reason = stop_type == "limit" ? "length" : stop_type == "eos" || stop_type == "word" ? "stop" : std::string(stop_type);
            }
        } else {
            simdjson::dom::array choices;
            if (obj["choices"].get_array().get(choices) == simdjson::SUCCESS && choices.size() > 0) {
                simdjson::dom::element choice = choices.at(0);
                simdjson::dom::element delta;
                if (choice["delta"].get(delta) == simdjson::SUCCESS) text = detail::json_string(delta["content"]);  // null: no text
                else text = detail::json_string(choice["text"]);                                                    // /v1/completions
                std::string_view reason;
                if (choice["finish_reason"].get_string().get(reason) == simdjson::SUCCESS) {
                    state.finished = true;
                    result.done_reason = std::string(reason);
                }
            }
        }
        if (simdjson::dom::object usage; obj["usage"].get_object().get(usage) == simdjson::SUCCESS) {
            const auto prompt = detail::dom_int64(usage["prompt_tokens"]);
            const auto completion = detail::dom_int64(usage["completion_tokens"]);
            if (prompt.value_or(0) > 0 || completion.value_or(0) > 0 || !state.usage_completion) {
                state.usage_prompt = prompt;
                state.usage_completion = completion;
            }
        }
        if (simdjson::dom::object timings; obj["timings"].get_object().get(timings) == simdjson::SUCCESS) {
            ServerTimings& s = result.server;
            const auto ms_to_ns = [](std::optional<double> ms) {
                return ms ? detail::to_int64(*ms * 1e6) : std::nullopt;  // a huge value reads as unknown, not UB
            };
            if (auto n = detail::dom_int64(timings["prompt_n"])) s.prompt_eval_count = n;
            if (auto ns = ms_to_ns(detail::dom_double(timings["prompt_ms"]))) s.prompt_eval_duration_ns = ns;
            if (auto n = detail::dom_int64(timings["predicted_n"])) s.eval_count = n;
            if (auto ns = ms_to_ns(detail::dom_double(timings["predicted_ms"]))) s.eval_duration_ns = ns;
            if (auto n = detail::dom_int64(timings["cache_n"])) s.prompt_eval_cached_count = n;
        }
        if (!text.empty()) {
            timer.mark_content(arrival);
            result.text.append(text.data(), text.size());
        }
        if (state.finished) timer.mark_done(arrival);
        return true;
    }

    Endpoint endpoint_;
    OpenAIClientOptions options_;
    httplib::Client http_;
    std::unique_ptr<detail::SocketStream> socket_stream_ = detail::make_socket_stream(endpoint_, options_.kernel_timestamps);  ///< streams, where usable
    std::string auth_;  ///< never logged
    simdjson::dom::parser parser_;
};

}  // namespace llmbench
