// llmbench/detail/streaming_post.hpp - one streamed POST, timed as bytes arrive, cut into lines.
//
// What every streaming client shares: the client clock stamped before any parsing, the
// first-byte and idle-gap watchdog, error bodies kept aside, and lines handed out whole.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include <httplib.h>

#include "llmbench/detail/stall_guard.hpp"
#include "llmbench/endpoint.hpp"
#include "llmbench/framing.hpp"
#include "llmbench/stream_timer.hpp"

namespace llmbench::detail {

struct PostOutcome {
    int status = 0;  ///< 0: no response
    httplib::Error error = httplib::Error::Success;
    StallGuard<httplib::Client>::fired_by fired = StallGuard<httplib::Client>::fired_by::none;
    std::string error_body;  ///< the body of a non-200 response (first 64 KiB)
    StreamTimer::time_point end;
};

/// Sends `request` and feeds each line of a 200 response to on_line(line, offset, arrival),
/// which returns false to stop. Counts received bytes into `bytes_received`.
template <class OnLine>
PostOutcome streaming_post(httplib::Client& http, httplib::Request request, StreamTimer& timer, const Timeouts& timeouts,
                           LineFramer& framer, std::uint64_t& bytes_received, OnLine&& on_line) {
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
