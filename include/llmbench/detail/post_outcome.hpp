// llmbench/detail/post_outcome.hpp - how one streamed POST ended, whichever transport read it.
#pragma once

#include <string>

#include <httplib.h>

#include "llmbench/detail/stall_guard.hpp"
#include "llmbench/core/stream_timer.hpp"

namespace llmbench::detail {

struct PostOutcome {
    int status = 0;  ///< 0: no response
    httplib::Error error = httplib::Error::Success;
    StallGuard<httplib::Client>::fired_by fired = StallGuard<httplib::Client>::fired_by::none;
    std::string error_body;  ///< the body of a non-200 response (first 64 KiB)
    StreamTimer::time_point end;
};

}  // namespace llmbench::detail
