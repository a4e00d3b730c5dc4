// llmbench/ollama_client.hpp - OllamaClient: Ollama's native API over cpp-httplib.
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
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <httplib.h>
#include <simdjson.h>

#include "llmbench/detail/http_errors.hpp"
#include "llmbench/detail/json_parse.hpp"
#include "llmbench/detail/stall_guard.hpp"
#include "llmbench/detail/streaming_post.hpp"
#include "llmbench/endpoint.hpp"
#include "llmbench/error.hpp"
#include "llmbench/framing.hpp"
#include "llmbench/json.hpp"
#include "llmbench/request.hpp"
#include "llmbench/response.hpp"
#include "llmbench/stream_timer.hpp"
#include "llmbench/version.hpp"

namespace llmbench {

struct ClientOptions {
    Timeouts timeouts;
    std::size_t max_line_bytes = LineFramer::default_max_line_bytes;
    /// Plain-http streams on Linux and macOS are read by llmbench's own socket reader, which
    /// stamps every token with the kernel's receive time, so a busy client does not delay
    /// what it measures (detail/http_stream.hpp). false: cpp-httplib reads them, stamped when
    /// each read returns (as for https, always).
    bool kernel_timestamps = true;
};

/// A client for one Ollama server. Not thread-safe: use one client per thread.
class OllamaClient {
public:
    /// The server named by OLLAMA_HOST, else 127.0.0.1:11434.
    OllamaClient() : OllamaClient(endpoint_from_env()) {}
    explicit OllamaClient(Endpoint endpoint, ClientOptions options = {})
        : endpoint_(std::move(endpoint)), options_(options), http_(make_http(endpoint_)) {
        const auto& t = options_.timeouts;
        http_.set_connection_timeout(to_duration(t.connect_s));
        // The stall guard enforces first-byte and idle deadlines; httplib's own read
        // timeout is only a backstop behind them.
        http_.set_read_timeout(to_duration(std::max(t.first_byte_s, t.idle_s) + 5.0));
        http_.set_write_timeout(to_duration(std::max(t.connect_s, 30.0)));
        http_.set_keep_alive(true);
        http_.set_tcp_nodelay(true);
        http_.set_default_headers({{"User-Agent", std::string("llmbench/") + version_string}});
    }
    explicit OllamaClient(std::string_view host, ClientOptions options = {})
        : OllamaClient(parse_ollama_host(host), options) {}

    const Endpoint& endpoint() const noexcept { return endpoint_; }
    const ClientOptions& options() const noexcept { return options_; }

    /// GET /api/version, e.g. "0.5.12".
    std::string version() {
        const std::string body = call("GET", "/api/version", "");
        return parse_fields(body, [](std::string_view key, simdjson::ondemand::value& v, std::string& out) {
            if (key == "version") out = std::string(v.get_string().value());
        }, std::string{});
    }

    /// GET /api/tags: the models pulled on the server.
    std::vector<ModelSummary> list_models() {
        const std::string body = call("GET", "/api/tags", "");
        return parse_model_list<ModelSummary>(body, [](ModelSummary& m, std::string_view key, simdjson::ondemand::value& v) {
            if (key == "name") m.name = std::string(v.get_string().value());
            else if (key == "digest") m.digest = std::string(v.get_string().value());
            else if (key == "modified_at") m.modified_at = std::string(v.get_string().value());
            else if (key == "size") m.size_bytes = v.get_int64().value();
            else if (key == "details") read_details(v, m.details);
        });
    }

    /// POST /api/show: family, quantization and trained context length of `model`.
    /// Throws errc::model_not_found when the server does not have it.
    ModelInfo show(const std::string& model) {
        JsonWriter w;
        w.begin_object().kv("model", model).end_object();
        const std::string body = call("POST", "/api/show", w.str(), model);
        std::vector<std::pair<std::string, std::int64_t>> context_lengths;
        ModelInfo info = parse_fields(body, [&](std::string_view key, simdjson::ondemand::value& v, ModelInfo& out) {
            if (key == "details") {
                read_details(v, out.details);
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

    /// GET /api/ps: the models loaded now, with their memory split.
    std::vector<RunningModel> running() {
        const std::string body = call("GET", "/api/ps", "");
        return parse_model_list<RunningModel>(body, [](RunningModel& m, std::string_view key, simdjson::ondemand::value& v) {
            if (key == "name") m.name = std::string(v.get_string().value());
            else if (key == "digest") m.digest = std::string(v.get_string().value());
            else if (key == "expires_at") m.expires_at = std::string(v.get_string().value());
            else if (key == "size") m.size_bytes = v.get_int64().value();
            else if (key == "size_vram") m.size_vram_bytes = v.get_int64().value();
            else if (key == "context_length") m.context_length = v.get_int64().value();
            else if (key == "details") read_details(v, m.details);
        });
    }

    /// POST /api/generate, streamed. Never throws for server or network trouble: the
    /// result says what failed, and `timer` holds the marks taken before it did.
    StreamResult generate(const GenerateRequest& request, StreamTimer& timer, const EventCallback& on_event = {}) {
        return stream("/api/generate", request.to_json(), request.model, timer, on_event);
    }

    /// POST /api/chat, streamed; as generate().
    StreamResult chat(const ChatRequest& request, StreamTimer& timer, const EventCallback& on_event = {}) {
        return stream("/api/chat", request.to_json(), request.model, timer, on_event);
    }

    /// How many tokens the server makes of the request's prompt: prompt_eval_count of a
    /// one-token generation, or 0 when it does not say. For sizing prompts (calibration.hpp).
    std::int64_t count_prompt_tokens(GenerateRequest request) {
        request.options.num_predict = 1;
        StreamTimer timer;
        const StreamResult r = generate(request, timer);
        return r.ok() && r.server.prompt_eval_count ? *r.server.prompt_eval_count : 0;
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
        return stream("/api/generate", r.to_json(), model, timer, {});
    }

    /// Unloads `model` now (keep_alive 0).
    StreamResult unload(const std::string& model) { return load(model, std::string("0")); }

private:
    static httplib::Client make_http(const Endpoint& endpoint) {
        try {
            return httplib::Client(endpoint.scheme + "://" + endpoint.authority());
        } catch (const std::invalid_argument&) {  // cpp-httplib built without OpenSSL rejects https
            throw error(errc::usage, "cannot use " + endpoint.url() + ": this cpp-httplib was built without " +
                                         endpoint.scheme + " support");
        }
    }

    static std::chrono::milliseconds to_duration(double seconds) {
        return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
    }

    std::string path(std::string_view api_path) const {
        return endpoint_.base_path.empty() ? std::string(api_path) : "/" + endpoint_.base_path + std::string(api_path);
    }

    error connect_error(httplib::Error err) const {
        return detail::connect_error(endpoint_, err, options_.timeouts.connect_s, "Ollama",
                                     "is it running? Start it with `ollama serve`, or set OLLAMA_HOST / --host");
    }

    error status_error(int status, std::string_view api_path, std::string_view body, const std::string& model) const {
        return detail::status_error(endpoint_, status, api_path, body, model, ": pull it with `ollama pull " + model + "`");
    }

    /// A non-streamed call; returns the body of a 200 response or throws.
    std::string call(const char* method, std::string_view api_path, const std::string& body,
                     const std::string& model = {}) {
        const std::string p = path(api_path);
        auto res = std::string_view(method) == "GET" ? http_.Get(p) : http_.Post(p, body, "application/json");
        if (!res) throw connect_error(res.error());
        if (res->status != 200) throw status_error(res->status, api_path, res->body, model);
        return std::move(res->body);
    }

    template <class T, class OnField>
    T parse_fields(const std::string& body, OnField&& on_field, T out) const {
        try {
            detail::for_each_field(body, [&](std::string_view key, simdjson::ondemand::value& value) { on_field(key, value, out); });
        } catch (const simdjson::simdjson_error& e) {
            throw error(errc::protocol, "unexpected JSON from " + endpoint_.url() + ": " + e.what());
        }
        return out;
    }

    template <class Model, class OnField>
    std::vector<Model> parse_model_list(const std::string& body, OnField&& on_field) const {
        return parse_fields(body, [&](std::string_view key, simdjson::ondemand::value& v, std::vector<Model>& out) {
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

    static void read_details(simdjson::ondemand::value& v, ModelDetails& d) {
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

    /// Parses one NDJSON line of a generate/chat stream into `result`. Returns false
    /// (with result.failure set) when the stream must stop.
    bool on_line(std::string_view line, std::uint64_t offset, StreamTimer::time_point arrival, StreamResult& result,
                 StreamTimer& timer, const EventCallback& on_event) {
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) return true;  // blank line
        if (result.done) return true;  // nothing after the final chunk counts
        ++result.lines;
        std::string_view text;
        bool done = false, has_error = false;
        auto fail = [&](simdjson::error_code code) {
            result.failure = error(errc::protocol, "malformed JSON in stream line " + std::to_string(result.lines) +
                                                      " at byte offset " + std::to_string(offset) + ": " +
                                                      simdjson::error_message(code));
            return false;
        };
        // On-Demand reads only what it visits; a cheap check catches a cut-off object.
        if (detail::trim(line, " \t\r").back() != '}') return fail(simdjson::INCOMPLETE_ARRAY_OR_OBJECT);
        simdjson::ondemand::document doc;
        if (auto err = parser_.iterate(detail::padded(line_buffer_, line)).get(doc)) return fail(err);
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
                err = detail::read_string(value, text);
            } else if (key == "message") {
                simdjson::ondemand::object message;
                if (!(err = value.get_object().get(message))) {
                    for (auto m : message) {
                        simdjson::ondemand::field mf;
                        std::string_view mk;
                        if ((err = std::move(m).get(mf)) || (err = mf.unescaped_key().get(mk))) break;
                        if (mk == "content") {
                            simdjson::ondemand::value content = mf.value();
                            if ((err = detail::read_string(content, text))) break;
                        }
                    }
                }
            } else if (key == "done") {
                err = value.get_bool().get(done);
            } else if (key == "done_reason") {
                std::string_view reason;
                if (!(err = detail::read_string(value, reason))) result.done_reason = std::string(reason);
            } else if (key == "error") {
                has_error = true;  // the message is read below, from the whole line
            } else if (key == "total_duration") {
                err = detail::read_int(value, s.total_duration_ns);
            } else if (key == "load_duration") {
                err = detail::read_int(value, s.load_duration_ns);
            } else if (key == "prompt_eval_count") {
                err = detail::read_int(value, s.prompt_eval_count);
            } else if (key == "prompt_eval_duration") {
                err = detail::read_int(value, s.prompt_eval_duration_ns);
            } else if (key == "eval_count") {
                err = detail::read_int(value, s.eval_count);
            } else if (key == "eval_duration") {
                err = detail::read_int(value, s.eval_duration_ns);
            } else if (key == "prompt_eval_cached_count") {
                err = detail::read_int(value, s.prompt_eval_cached_count);
            }
            if (err) return fail(err);
        }
        if (has_error) {
            result.failure = error(errc::server, "server error after " + std::to_string(timer.content_chunks()) +
                                                     " content chunks: " + detail::error_message_from_body(line));
            return false;
        }
        if (!text.empty()) {
            timer.mark_content(arrival);
            result.text.append(text.data(), text.size());
        }
        if (done) {
            result.done = true;
            timer.mark_done(arrival);
        }
        if (on_event) on_event(StreamEvent{arrival, text, done});
        return true;
    }

    StreamResult stream(std::string_view api_path, std::string body, const std::string& model, StreamTimer& timer,
                        const EventCallback& on_event) {
        StreamResult result;
        LineFramer framer(options_.max_line_bytes);
        httplib::Request req;
        req.method = "POST";
        req.path = path(api_path);
        req.headers = {{"Content-Type", "application/json"}, {"Accept", "application/x-ndjson"}};
        req.body = std::move(body);
        const detail::PostOutcome post =
            detail::streaming_post(http_, socket_stream_.get(), std::move(req), timer, options_.timeouts, framer, result.bytes_received,
                                   [&](std::string_view line, std::uint64_t offset, StreamTimer::time_point arrival) {
                                       return on_line(line, offset, arrival, result, timer, on_event);
                                   });
        const auto end = post.end;
        const auto fired = post.fired;
        const int status = post.status;
        const httplib::Error err = post.error;
        const std::string& error_body = post.error_body;
        if (!result.done) timer.mark_done(end);
        result.http_status = status;

        const auto& t = options_.timeouts;
        if (result.failure) {
            // Set while parsing: a malformed line or an error line mid-stream.
        } else if (fired == detail::StallGuard<httplib::Client>::fired_by::first_byte) {
            result.failure = detail::first_byte_timeout(endpoint_, api_path, t.first_byte_s);
        } else if (fired == detail::StallGuard<httplib::Client>::fired_by::idle) {
            result.failure = detail::idle_timeout(endpoint_, t.idle_s, result.lines, "lines");
        } else if (status == 0) {
            result.failure = connect_error(err);
        } else if (status != 200) {
            result.failure = status_error(status, api_path, error_body, model);
        } else if (framer.overflowed()) {
            result.failure = error(errc::protocol, "stream line at byte offset " + std::to_string(framer.pending_offset()) +
                                                      " is longer than " + std::to_string(framer.max_line_bytes()) +
                                                      " bytes");
        } else {
            if (!framer.pending().empty() && !result.done) {  // a last line without "\n"
                const std::string last(framer.pending());
                on_line(last, framer.pending_offset(), end, result, timer, on_event);
            }
            if (!result.failure && !result.done) {
                std::string why = err == httplib::Error::Success ? "the server closed the stream"
                                                                 : "the connection failed (" + httplib::to_string(err) + ")";
                result.failure = error(errc::protocol, "stream ended before done:true: " + why + " after " +
                                                          std::to_string(result.lines) + " lines and " +
                                                          std::to_string(result.bytes_received) + " bytes");
            }
        }
        return result;
    }

    Endpoint endpoint_;
    ClientOptions options_;
    httplib::Client http_;
    std::unique_ptr<detail::SocketStream> socket_stream_ = detail::make_socket_stream(endpoint_, options_.kernel_timestamps);  ///< streams, where usable
    simdjson::ondemand::parser parser_;
    std::string line_buffer_;
};

}  // namespace llmbench
