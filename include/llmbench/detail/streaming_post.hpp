// llmbench/detail/streaming_post.hpp - one streamed POST, timed as bytes arrive, cut into lines.
//
// What every streaming client shares: the client clock stamped before any parsing, the
// first-byte and idle-gap watchdog, error bodies kept aside, and lines handed out whole.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <httplib.h>

#include "llmbench/detail/http_stream.hpp"
#include "llmbench/detail/post_outcome.hpp"
#include "llmbench/detail/stall_guard.hpp"
#include "llmbench/core/endpoint.hpp"
#include "llmbench/client/framing.hpp"
#include "llmbench/core/stream_timer.hpp"

namespace llmbench::detail {

#if LLMBENCH_HAS_HTTP_STREAM
using SocketStream = HttpStream;
#else
struct SocketStream {};  // none on this platform: cpp-httplib reads every stream
#endif

/// The socket reader for `endpoint`, where it can be used (plain http on POSIX) and is wanted.
inline std::unique_ptr<SocketStream> make_socket_stream([[maybe_unused]] const Endpoint& endpoint, [[maybe_unused]] bool wanted) {
#if LLMBENCH_HAS_HTTP_STREAM
    if (wanted && endpoint.scheme == "http") return std::make_unique<HttpStream>(endpoint);
#endif
    return nullptr;
}

/// Sends `request` and feeds each line of a 200 response to on_line(line, offset, arrival),
/// which returns false to stop. Counts received bytes into `bytes_received`. With a
/// `socket_stream` (plain http on POSIX) the request goes through it, stamped with the
/// kernel's receive times; otherwise through cpp-httplib, stamped when each read returns.
template <class OnLine>
PostOutcome streaming_post(httplib::Client& http, SocketStream* socket_stream, httplib::Request request, StreamTimer& timer,
                           const Timeouts& timeouts, LineFramer& framer, std::uint64_t& bytes_received, OnLine&& on_line) {
#if LLMBENCH_HAS_HTTP_STREAM
    if (socket_stream != nullptr) {
        HttpStream::Headers headers(request.headers.begin(), request.headers.end());
        return socket_stream->post(request.path, headers, request.body, timer, timeouts, framer, bytes_received, on_line);
    }
#endif
    PostOutcome out;
    StallGuard<httplib::Client> guard(http, timeouts.first_byte_s, timeouts.idle_s);
    request.response_handler = [&](const httplib::Response& response) {
        timer.mark_first_byte(timer.now());
        guard.touch();
        out.status = response.status;
        return true;
    };
    request.content_receiver = [&](const char* data, std::size_t size, std::uint64_t, std::uint64_t) {
        const auto arrival = timer.now();  // before any parsing
        guard.touch();
        bytes_received += size;
        if (out.status != 200) {
            if (out.error_body.size() < 65536) out.error_body.append(data, std::min<std::size_t>(size, 65536));
            return true;
        }
        return framer.feed(data, size, [&](std::string_view line, std::uint64_t offset) { return on_line(line, offset, arrival); });
    };
    httplib::Response response;
    timer.mark_sent(timer.now());
    http.send(request, response, out.error);
    out.end = timer.now();
    out.fired = guard.finish();
    return out;
}

}  // namespace llmbench::detail
