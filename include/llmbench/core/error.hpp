// llmbench/core/error.hpp - the one exception type, with a code that says what went wrong.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace llmbench {

enum class errc {
    connect,          ///< nothing listening, DNS failure, connection reset before a response
    timeout,          ///< connect, first-byte or idle-gap timeout
    http_status,      ///< the server answered with a non-2xx status
    model_not_found,  ///< HTTP 404 for a model: it has not been pulled
    protocol,         ///< the stream broke the protocol: bad JSON, EOF before done, line too long
    server,           ///< the server reported an error inside a 200 stream
    context_overflow, ///< the prompt does not fit the context, and the server refused it (no silent cut)
    io,               ///< a local file could not be read or written
    usage,            ///< bad arguments or input given by the caller
    cancelled,        ///< the caller stopped the request
};

inline const char* to_string(errc code) noexcept {
    switch (code) {
        case errc::connect: return "connect";
        case errc::timeout: return "timeout";
        case errc::http_status: return "http_status";
        case errc::model_not_found: return "model_not_found";
        case errc::protocol: return "protocol";
        case errc::server: return "server";
        case errc::context_overflow: return "context_overflow";
        case errc::io: return "io";
        case errc::usage: return "usage";
        case errc::cancelled: return "cancelled";
    }
    return "unknown";
}

/// The code that to_string(code) names, or nullopt for a name this version does not know.
inline std::optional<errc> errc_from_string(std::string_view name) noexcept {
    for (errc c : {errc::connect, errc::timeout, errc::http_status, errc::model_not_found, errc::protocol, errc::server, errc::context_overflow, errc::io,
                   errc::usage, errc::cancelled})
        if (name == to_string(c)) return c;
    return std::nullopt;
}

/// Thrown for misuse and for failed metadata calls; carried (not thrown) by failed
/// measurements, which are results too.
class error : public std::runtime_error {
public:
    error(errc code, const std::string& message, int http_status = 0)
        : std::runtime_error(message), code_(code), http_status_(http_status) {}

    errc code() const noexcept { return code_; }
    /// The HTTP status the server sent, or 0 when there was none.
    int http_status() const noexcept { return http_status_; }

private:
    errc code_;
    int http_status_;
};

}  // namespace llmbench
