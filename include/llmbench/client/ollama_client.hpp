// llmbench/client/ollama_client.hpp - OllamaClient: Ollama's native API over cpp-httplib.
//
// Streams are timestamped on arrival, framed into NDJSON lines and parsed with simdjson
// On-Demand. A failed stream is returned as a StreamResult with a typed failure (it is
// a measurement); metadata calls (version, show, ...) throw llmbench::error instead.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
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
#include "llmbench/core/stream_timer.hpp"
#include "llmbench/version.hpp"

namespace llmbench {

namespace detail {

// The bodies of Ollama's metadata calls, parsed; `source` (the server's URL) names it in the
// errc::protocol error a malformed body or a field of the wrong type throws. Bytes in, no I/O,
// so they are fuzzed directly.

/// A model's "details": format, family, parameter size, quantization.
inline void read_details(simdjson::ondemand::value& v, ModelDetails& d) {
    for (auto field : v.get_object()) {
        const std::string_view k = field.unescaped_key().value();
        simdjson::ondemand::value value = field.value();
        if (value.type().value() != simdjson::ondemand::json_type::string) continue;
        const std::string s(value.get_string().value());
        if (k == "format") d.format = s;
        else if (k == "family") d.family = s;
        else if (k == "parameter_size") d.parameter_size = s;
        else if (k == "quantization_level") d.quantization_level = s;
    }
}

/// {"models": [...]} of /api/tags and /api/ps, each entry's fields handed to on_field.
template <class Model, class OnField>
std::vector<Model> parse_model_list(std::string_view body, const std::string& source, OnField&& on_field) {
    return parse_fields(body, source, [&](std::string_view key, simdjson::ondemand::value& v, std::vector<Model>& out) {
        if (key != "models") return;
        for (auto item : v.get_array()) {
            Model m;
            for (auto field : item.get_object()) {
                const std::string_view k = field.unescaped_key().value();
                simdjson::ondemand::value value = field.value();
                on_field(m, k, value);
            }
            out.push_back(std::move(m));
        }
    }, std::vector<Model>{});
}

/// GET /api/version.
inline std::string parse_version(std::string_view body, const std::string& source) {
    return parse_fields(body, source, [](std::string_view key, simdjson::ondemand::value& v, std::string& out) {
        if (key == "version") out = std::string(v.get_string().value());
    }, std::string{});
}

/// GET /api/tags.
inline std::vector<ModelSummary> parse_tags(std::string_view body, const std::string& source) {
    return parse_model_list<ModelSummary>(body, source, [](ModelSummary& m, std::string_view key, simdjson::ondemand::value& v) {
        if (key == "name") m.name = std::string(v.get_string().value());
        else if (key == "digest") m.digest = std::string(v.get_string().value());
        else if (key == "modified_at") m.modified_at = std::string(v.get_string().value());
        else if (key == "size") m.size_bytes = v.get_int64().value();
        else if (key == "details") read_details(v, m.details);
    });
}

/// POST /api/show: details, the Modelfile's parameters, and model_info (the architecture, the
/// parameter count, the context length of the model's own architecture, the other integers).
inline ModelInfo parse_show(std::string_view body, const std::string& source) {
    std::vector<std::pair<std::string, std::int64_t>> context_lengths;
    ModelInfo info = parse_fields(body, source, [&](std::string_view key, simdjson::ondemand::value& v, ModelInfo& out) {
        if (key == "details") {
            read_details(v, out.details);
        } else if (std::string_view text; key == "parameters" && v.get_string().get(text) == simdjson::SUCCESS) {
            out.parameters = modelfile_numbers(text);
        } else if (key == "model_info") {
            for (auto field : v.get_object()) {
                const std::string_view k = field.unescaped_key().value();
                simdjson::ondemand::value value = field.value();
                if (k == "general.architecture") {
                    out.architecture = std::string(value.get_string().value());
                } else if (k == "general.parameter_count") {
                    out.parameter_count = value.get_int64().value();
                } else if (k.size() > 15 && k.substr(k.size() - 15) == ".context_length") {
                    context_lengths.emplace_back(std::string(k.substr(0, k.size() - 15)), value.get_int64().value());
                } else if (simdjson::ondemand::json_type t; value.type().get(t) == simdjson::SUCCESS && t == simdjson::ondemand::json_type::number) {
                    if (std::int64_t n = 0; value.get_int64().get(n) == simdjson::SUCCESS) out.numbers[std::string(k)] = n;  // not 1e-05
                }
            }
        }
    }, ModelInfo{});
    for (const auto& [arch, length] : context_lengths)
        if (arch == info.architecture || !info.context_length) info.context_length = length;
    return info;
}

/// GET /api/ps.
inline std::vector<RunningModel> parse_running(std::string_view body, const std::string& source) {
    return parse_model_list<RunningModel>(body, source, [](RunningModel& m, std::string_view key, simdjson::ondemand::value& v) {
        if (key == "name") m.name = std::string(v.get_string().value());
        else if (key == "digest") m.digest = std::string(v.get_string().value());
        else if (key == "expires_at") m.expires_at = std::string(v.get_string().value());
        else if (key == "size") m.size_bytes = v.get_int64().value();
        else if (key == "size_vram") m.size_vram_bytes = v.get_int64().value();
        else if (key == "context_length") m.context_length = v.get_int64().value();
        else if (key == "details") read_details(v, m.details);
    });
}

/// One Ollama generate/chat stream's NDJSON lines into a StreamResult: text and thinking,
/// the final chunk's counts and durations, log-probabilities, and an error line mid-stream.
/// Kept across a client's requests: what the server has shown it reports (a cached count)
/// tells how to read its later silence. Bytes in, no I/O, so it is fuzzed directly.
class OllamaLineParser {
public:
    /// The next stream's request asked for log-probabilities (else they are skipped unread).
    void expect_logprobs(bool want) { want_logprobs_ = want; }

    /// Parses one line into `result`. Returns false (with result.failure set) when the stream
    /// must stop.
    bool feed(std::string_view line, std::uint64_t offset, StreamTimer::time_point arrival, StreamResult& result, StreamTimer& timer,
              const EventCallback& on_event) {
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) return true;  // blank line
        if (result.done) return true;  // nothing after the final chunk counts
        ++result.lines;
        std::string_view text, thinking;
        bool done = false, has_error = false;
        auto fail = [&](simdjson::error_code code) {
            result.failure = error(errc::protocol, "malformed JSON in stream line " + std::to_string(result.lines) +
                                                      " at byte offset " + std::to_string(offset) + ": " +
                                                      simdjson::error_message(code));
            return false;
        };
        // On-Demand reads only what it visits; a cheap check catches a cut-off object.
        if (trim(line, " \t\r").back() != '}') return fail(simdjson::INCOMPLETE_ARRAY_OR_OBJECT);
        simdjson::ondemand::document doc;
        EventParseSpace& space = thread_event_parse_space();
        if (auto err = space.parser.iterate(padded(space.padded_copy, line)).get(doc)) return fail(err);
        simdjson::ondemand::object obj;
        if (auto err = doc.get_object().get(obj)) return fail(err);
        ServerTimings& s = result.server;
        for (auto field_result : obj) {
            simdjson::ondemand::field field;
            if (auto err = std::move(field_result).get(field)) return fail(err);
            std::string_view key;
            if (auto err = field.unescaped_key().get(key)) return fail(err);
            simdjson::ondemand::value value = field.value();
            simdjson::error_code err = simdjson::SUCCESS;
            if (key == "response") {
                err = read_string(value, text);
            } else if (key == "thinking") {
                err = read_string(value, thinking);
            } else if (key == "message") {
                simdjson::ondemand::object message;
                if (!(err = value.get_object().get(message))) {
                    for (auto m : message) {
                        simdjson::ondemand::field mf;
                        std::string_view mk;
                        if ((err = std::move(m).get(mf)) || (err = mf.unescaped_key().get(mk))) break;
                        if (mk == "content" || mk == "thinking") {
                            simdjson::ondemand::value content = mf.value();
                            if ((err = read_string(content, mk == "content" ? text : thinking))) break;
                        }
                    }
                }
            } else if (key == "done") {
                err = value.get_bool().get(done);
            } else if (key == "done_reason") {
                std::string_view reason;
                if (!(err = read_string(value, reason))) result.done_reason = std::string(reason);
            } else if (key == "error") {
                has_error = true;  // the message is read below, from the whole line
            } else if (key == "total_duration") {
                err = read_int(value, s.total_duration_ns);
            } else if (key == "load_duration") {
                err = read_int(value, s.load_duration_ns);
            } else if (key == "prompt_eval_count") {
                err = read_int(value, s.prompt_eval_count);
            } else if (key == "prompt_eval_duration") {
                err = read_int(value, s.prompt_eval_duration_ns);
            } else if (key == "eval_count") {
                err = read_int(value, s.eval_count);
            } else if (key == "eval_duration") {
                err = read_int(value, s.eval_duration_ns);
            } else if (key == "prompt_eval_cached_count") {
                err = read_int(value, s.prompt_cached_tokens);
            } else if (key == "logprobs" && want_logprobs_) {  // unvisited, On-Demand skips it
                err = read_logprobs_array(value, result.logprobs);
            }
            if (err) return fail(err);
        }
        if (has_error) {
            result.failure = error(errc::server, "server error after " + std::to_string(timer.content_chunks()) +
                                                     " content chunks: " + error_message_from_body(line));
            return false;
        }
        StreamEvent event = record_chunk(text, thinking, arrival, result, timer);
        if (done) {
            result.done = true;
            timer.mark_done(arrival);
            // Ollama 0.33+ counts the cached tokens in prompt_eval_count and names them apart. Like
            // every metric it omits the field when it is 0, so once this server has sent it, its
            // absence means none were cached.
            if (s.prompt_cached_tokens) reports_cached_count_ = true;
            else if (reports_cached_count_ && s.prompt_eval_count) s.prompt_cached_tokens = 0;
            s.complete_prompt_split();
        }
        event.done = done;
        if (on_event) on_event(event);
        return true;
    }

private:
    bool reports_cached_count_ = false;  ///< this server has sent prompt_eval_cached_count
    bool want_logprobs_ = false;         ///< the request being streamed asked for log-probabilities
};

}  // namespace detail

/// A client for one Ollama server. Not thread-safe: use one client per thread.
class OllamaClient : public detail::HttpClient {
public:
    /// The server named by OLLAMA_HOST, else 127.0.0.1:11434.
    OllamaClient() : OllamaClient(endpoint_from_env()) {}
    explicit OllamaClient(Endpoint endpoint, ClientOptions options = {})
        : HttpClient(std::move(endpoint), options,
                     {"Ollama", "is it running? Start it with `ollama serve`, or set OLLAMA_HOST / --host", "ollama pull"}) {}
    explicit OllamaClient(std::string_view host, ClientOptions options = {})
        : OllamaClient(parse_ollama_host(host), options) {}

    /// GET /api/version, e.g. "0.5.12".
    std::string version() { return detail::parse_version(get("/api/version"), endpoint().url()); }

    /// GET /api/tags: the models pulled on the server.
    std::vector<ModelSummary> list_models() { return detail::parse_tags(get("/api/tags"), endpoint().url()); }

    /// POST /api/show: family, quantization and trained context length of `model`.
    /// Throws errc::model_not_found when the server does not have it.
    ModelInfo show(const std::string& model) {
        JsonWriter w;
        w.begin_object().kv("model", model).end_object();
        return detail::parse_show(post("/api/show", w.str(), model), endpoint().url());
    }

    /// GET /api/ps: the models loaded now, with their memory split.
    std::vector<RunningModel> running() { return detail::parse_running(get("/api/ps"), endpoint().url()); }

    /// POST /api/generate, streamed. Never throws for server or network trouble: the
    /// result says what failed, and `timer` holds the marks taken before it did.
    StreamResult generate(const GenerateRequest& request, StreamTimer& timer, const EventCallback& on_event = {}) {
        return stream("/api/generate", request.to_json(), request.model, timer, on_event, request.controls.logprobs.has_value());
    }

    /// POST /api/chat, streamed; as generate().
    StreamResult chat(const ChatRequest& request, StreamTimer& timer, const EventCallback& on_event = {}) {
        return stream("/api/chat", request.to_json(), request.model, timer, on_event, request.controls.logprobs.has_value());
    }

    /// How many tokens the server makes of the request's prompt: prompt_eval_count of a
    /// one-token generation (or of its refusal as too long), or 0 when it does not say. For
    /// sizing prompts (calibration.hpp).
    std::int64_t count_prompt_tokens(GenerateRequest request) {
        request.options.num_predict = 1;
        StreamTimer timer;
        return counted_prompt_tokens(generate(request, timer));
    }

    /// Loads `model` without generating (an empty prompt) and keeps it for `keep_alive`.
    /// Pass the benchmark's options: load-time ones (num_ctx, num_gpu, ...) decide how the
    /// model is loaded, and a later request with different ones would reload it.
    /// The result's server.load_duration_ns tells how long the load took.
    StreamResult load(const std::string& model, const std::optional<std::string>& keep_alive = std::nullopt,
                      const Options& options = {}) {
        GenerateRequest r;
        r.model = model;
        r.keep_alive = keep_alive;
        r.options = options;
        r.stream = false;
        StreamTimer timer;
        return stream("/api/generate", r.to_json(), model, timer, {}, false);
    }

    /// Unloads `model` now (keep_alive 0).
    StreamResult unload(const std::string& model) { return load(model, std::string("0")); }

private:
    StreamResult stream(std::string_view api_path, std::string body, const std::string& model, StreamTimer& timer,
                        const EventCallback& on_event, bool logprobs) {
        StreamResult result;
        lines_.expect_logprobs(logprobs);
        LineFramer framer(options().max_line_bytes);
        const detail::PostOutcome post = post_stream(api_path, std::move(body), "application/x-ndjson", timer, framer, result.bytes_received,
                                                     [&](std::string_view line, std::uint64_t offset, StreamTimer::time_point arrival) {
                                                         return lines_.feed(line, offset, arrival, result, timer, on_event);
                                                     });
        if (!result.done) timer.mark_done(post.end);
        result.http_status = post.status;
        if (result.failure) return result;  // set while parsing: a malformed line or an error line mid-stream
        if (auto failure = transport_failure(post, api_path, model, framer, result.lines, "lines")) {
            if (failure->code() == errc::context_overflow) result.server.prompt_eval_count = refused_prompt_tokens(post);
            result.failure = std::move(failure);
            return result;
        }
        if (!framer.pending().empty() && !result.done) {  // a last line without "\n"
            const std::string last(framer.pending());
            lines_.feed(last, framer.pending_offset(), post.end, result, timer, on_event);
        }
        if (!result.failure && !result.done) {
            const std::string why = post.error == httplib::Error::Success ? "the server closed the stream"
                                                                          : "the connection failed (" + httplib::to_string(post.error) + ")";
            result.failure = error(errc::protocol, "stream ended before done:true: " + why + " after " + std::to_string(result.lines) +
                                                      " lines and " + std::to_string(result.bytes_received) + " bytes");
        }
        return result;
    }

    detail::OllamaLineParser lines_;
};

/// A LoadedModelsQuery for the memory sampler: /api/ps of `endpoint`, through a client of its
/// own (the sampler's thread must not share the benchmark's); a failed call reads as unknown.
inline LoadedModelsQuery ollama_loaded_models(const Endpoint& endpoint) {
    auto client = std::make_shared<OllamaClient>(endpoint);
    return [client]() -> std::optional<LoadedModelsSize> {
        try {
            LoadedModelsSize total;
            for (const auto& m : client->running()) {
                total.bytes += m.size_bytes;
                total.vram_bytes += m.size_vram_bytes;
            }
            return total;
        } catch (const error&) {
            return std::nullopt;
        }
    };
}

}  // namespace llmbench
