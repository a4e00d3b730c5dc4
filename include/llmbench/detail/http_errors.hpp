// llmbench/detail/http_errors.hpp - the errors both clients give when a server cannot be
// reached, answers with a non-2xx status, or goes silent: one wording, naming the URL and limit.
#pragma once

#include <cstdio>
#include <cstdint>
#include <string>
#include <string_view>

#include <httplib.h>

#include "llmbench/detail/json_parse.hpp"
#include "llmbench/core/endpoint.hpp"
#include "llmbench/core/error.hpp"

namespace llmbench::detail {

inline std::string seconds_text(double seconds) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", seconds);
    return buf;
}

/// No response at all: a connect timeout, or a connection that failed. `server` names the kind
/// ("Ollama"), `hint` what to do about it.
inline error connect_error(const Endpoint& at, httplib::Error err, double connect_timeout_s, const std::string& server,
                           const std::string& hint) {
    if (err == httplib::Error::ConnectionTimeout)
        return error(errc::timeout, "connecting to " + at.url() + " timed out after " + seconds_text(connect_timeout_s));
    const std::string why = err == httplib::Error::Connection ? "connection refused or host unreachable" : "cpp-httplib: " + httplib::to_string(err);
    return error(errc::connect, "cannot reach " + server + " at " + at.url() + " (" + why + "): " + hint);
}

/// A non-2xx answer: errc::model_not_found for a 404 about `model` (with `pull_hint`, e.g.
/// ": pull it with `ollama pull M`"), else errc::http_status; the server's message is kept.
inline error status_error(const Endpoint& at, int status, std::string_view api_path, std::string_view body, const std::string& model,
                          const std::string& pull_hint) {
    const ErrorBody parsed = parse_error_body(body);
    const std::string& message = parsed.message;
    if (status == 400)
        if (const auto& overflow = parsed.overflow) {
            const auto n = [](const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : std::string("?"); };
            return error(errc::context_overflow, "the prompt (" + n(overflow->prompt_tokens) + " tokens) does not fit the context (" +
                                                     n(overflow->n_ctx) + " tokens) of " + at.url() +
                                                     " and the server refused to cut it: shorten the prompt, or raise the context (Ollama: num_ctx; llama-server: -c, "
                                                     "which it divides among its --parallel slots) (server said: " +
                                                     message + ")",
                         status);
        }
    if (status == 404 && !model.empty())
        return error(errc::model_not_found, "model '" + model + "' not found on " + at.url() + pull_hint + " (server said: " + message + ")",
                     status);
    return error(errc::http_status, "HTTP " + std::to_string(status) + " from " + at.url() + std::string(api_path) + ": " + message, status);
}

/// The first-byte deadline passed with no response.
inline error first_byte_timeout(const Endpoint& at, std::string_view api_path, double limit_s) {
    return error(errc::timeout, "no response from " + at.url() + std::string(api_path) + " within " + seconds_text(limit_s) +
                                    " (first-byte timeout; a cold model load can take minutes)");
}

/// The stream went silent for longer than the idle deadline, after `received` lines or events.
inline error idle_timeout(const Endpoint& at, double limit_s, std::uint64_t received, const char* unit) {
    return error(errc::timeout, "stream from " + at.url() + " stalled: no bytes for " + seconds_text(limit_s) + " after " +
                                    std::to_string(received) + " " + unit + " (idle timeout)");
}

}  // namespace llmbench::detail
