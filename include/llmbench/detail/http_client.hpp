// llmbench/detail/http_client.hpp - the HTTP plumbing both clients share: the cpp-httplib
// client and its timeouts, paths under the base URL, the User-Agent and any Authorization,
// non-streamed calls that throw, streamed POSTs, and the one ladder that turns what the
// transport saw into a failure. OllamaClient and OpenAIClient add only their protocol.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <httplib.h>
#include <simdjson.h>

#include "llmbench/detail/http_errors.hpp"
#include "llmbench/detail/json_parse.hpp"
#include "llmbench/detail/stall_guard.hpp"
#include "llmbench/detail/streaming_post.hpp"
#include "llmbench/core/endpoint.hpp"
#include "llmbench/core/error.hpp"
#include "llmbench/client/framing.hpp"
#include "llmbench/core/stream_timer.hpp"
#include "llmbench/version.hpp"

namespace llmbench {

/// What every client takes: deadlines, the longest stream line, and how streams are read.
struct ClientOptions {
    Timeouts timeouts;
    std::size_t max_line_bytes = LineFramer::default_max_line_bytes;
    /// Plain-http streams on Linux and macOS are read by llmbench's own socket reader, which
    /// stamps every token with the kernel's receive time, so a busy client does not delay
    /// what it measures (detail/http_stream.hpp). false: cpp-httplib reads them, stamped when
    /// each read returns (as for https, always).
    bool kernel_timestamps = true;
};

namespace detail {

/// How a client's errors name its server and say what to do.
struct ServerWording {
    std::string name;          ///< "Ollama", "the server"
    std::string connect_hint;  ///< after "cannot reach ... :"
    std::string pull_command;  ///< for a 404 about a model: "ollama pull" (the model is appended); "" for none
};

class HttpClient {
public:
    const Endpoint& endpoint() const noexcept { return endpoint_; }
    const ClientOptions& options() const noexcept { return options_; }
    /// Streams are read by llmbench's socket reader (plain http with kernel_timestamps), which
    /// can wait in run_load's event loop; false when cpp-httplib reads them.
    bool socket_reader() const noexcept { return socket_stream_ != nullptr; }

protected:
    HttpClient(Endpoint endpoint, const ClientOptions& options, ServerWording wording, std::string authorization = {})
        : endpoint_(std::move(endpoint)), options_(options), wording_(std::move(wording)), authorization_(std::move(authorization)),
          http_(make_http(endpoint_)), socket_stream_(make_socket_stream(endpoint_, options_.kernel_timestamps)) {
        const auto& t = options_.timeouts;
        http_.set_connection_timeout(to_duration(t.connect_s));
        // The stall guard enforces first-byte and idle deadlines; httplib's own read
        // timeout is only a backstop behind them.
        http_.set_read_timeout(to_duration(std::max(t.first_byte_s, t.idle_s) + 5.0));
        http_.set_write_timeout(to_duration(std::max(t.connect_s, 30.0)));
        http_.set_keep_alive(true);
        http_.set_tcp_nodelay(true);
    }

    /// The path under the endpoint's base path ("/api/generate", "/ollama/api/generate").
    std::string path(std::string_view api_path) const {
        return endpoint_.base_path.empty() ? std::string(api_path) : "/" + endpoint_.base_path + std::string(api_path);
    }

    /// Sent with every request: the User-Agent, and Authorization when there is a key.
    httplib::Headers headers() const {
        httplib::Headers h{{"User-Agent", std::string("llmbench/") + version_string}};
        if (!authorization_.empty()) h.emplace("Authorization", authorization_);  // never logged
        return h;
    }
    bool has_authorization() const noexcept { return !authorization_.empty(); }

    /// A non-streamed GET; returns the body of a 200 response or throws.
    std::string get(std::string_view api_path, const std::string& model = {}) {
        return checked(http_.Get(path(api_path), headers()), api_path, model);
    }
    /// A non-streamed POST of JSON; as get().
    std::string post(std::string_view api_path, const std::string& body, const std::string& model = {}) {
        return checked(http_.Post(path(api_path), headers(), body, "application/json"), api_path, model);
    }
    /// The status of a GET, 0 when nothing answered (health checks).
    int status_of(std::string_view api_path) {
        auto res = http_.Get(path(api_path), headers());
        return res ? res->status : 0;
    }

    /// POSTs `body` to `api_path` and hands each line of a 200 response, stamped on arrival, to
    /// on_line(line, offset, arrival), which returns false to stop.
    template <class OnLine>
    PostOutcome post_stream(std::string_view api_path, std::string body, const char* accept, StreamTimer& timer, LineFramer& framer,
                            std::uint64_t& bytes_received, OnLine&& on_line) {
        httplib::Request req;
        req.method = "POST";
        req.path = path(api_path);
        req.headers = headers();
        req.headers.emplace("Content-Type", "application/json");
        req.headers.emplace("Accept", accept);
        req.body = std::move(body);
        return streaming_post(http_, socket_stream_.get(), std::move(req), timer, options_.timeouts, framer, bytes_received,
                              std::forward<OnLine>(on_line));
    }

    /// The server's count of a prompt it refused as longer than its context (llama-server and
    /// Ollama 0.30+ say it): the record keeps it, and prompt sizing reads it. nullopt otherwise.
    static std::optional<std::int64_t> refused_prompt_tokens(const PostOutcome& post) {
        if (post.status != 400) return std::nullopt;
        const auto parsed = parse_error_body(post.error_body);
        return parsed.overflow ? parsed.overflow->prompt_tokens : std::nullopt;
    }

    /// What the transport says went wrong with a stream, in order: a first-byte or idle
    /// timeout, no connection, a non-200 status, a line too long. nullopt when the bytes
    /// arrived and the protocol decides. `received` counts lines (or events, the `unit`).
    std::optional<error> transport_failure(const PostOutcome& post, std::string_view api_path, const std::string& model,
                                           const LineFramer& framer, std::uint64_t received, const char* unit) const {
        using fired_by = StallGuard<httplib::Client>::fired_by;
        const auto& t = options_.timeouts;
        if (post.fired == fired_by::first_byte) return first_byte_timeout(endpoint_, api_path, t.first_byte_s);
        if (post.fired == fired_by::idle) return idle_timeout(endpoint_, t.idle_s, received, unit);
        if (post.status == 0) return connect_error(post.error);
        if (post.status != 200) return status_error(post.status, api_path, post.error_body, model);
        if (framer.overflowed())
            return error(errc::protocol, "stream line at byte offset " + std::to_string(framer.pending_offset()) + " is longer than " +
                                             std::to_string(framer.max_line_bytes()) + " bytes");
        return std::nullopt;
    }

    error connect_error(httplib::Error err) const {
        return detail::connect_error(endpoint_, err, options_.timeouts.connect_s, wording_.name, wording_.connect_hint);
    }
    error status_error(int status, std::string_view api_path, std::string_view body, const std::string& model) const {
        const std::string hint = wording_.pull_command.empty() || model.empty() ? std::string()
                                                                                : ": pull it with `" + wording_.pull_command + " " + model + "`";
        return detail::status_error(endpoint_, status, api_path, body, model, hint);
    }

private:
    static httplib::Client make_http(const Endpoint& endpoint) {
        try {
            return httplib::Client(endpoint.scheme + "://" + endpoint.authority());
        } catch (const std::invalid_argument&) {  // cpp-httplib built without OpenSSL rejects https
            throw error(errc::usage, "cannot use " + endpoint.url() + ": this cpp-httplib was built without " + endpoint.scheme + " support");
        }
    }
    static std::chrono::milliseconds to_duration(double seconds) {
        return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
    }
    std::string checked(httplib::Result res, std::string_view api_path, const std::string& model) const {
        if (!res) throw connect_error(res.error());
        if (res->status != 200) throw status_error(res->status, api_path, res->body, model);
        return std::move(res->body);
    }

    Endpoint endpoint_;
    ClientOptions options_;
    ServerWording wording_;
    std::string authorization_;
    httplib::Client http_;
    std::unique_ptr<SocketStream> socket_stream_;  ///< streams, where usable
};

}  // namespace detail
}  // namespace llmbench
