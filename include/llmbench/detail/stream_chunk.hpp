// llmbench/detail/stream_chunk.hpp - one streamed chunk's text into the result and its timing
// into the timer: the one place both clients decide what a token is.
#pragma once

#include <string_view>

#include "llmbench/core/request.hpp"
#include "llmbench/core/response.hpp"
#include "llmbench/core/stream_timer.hpp"

namespace llmbench::detail {

/// Appends a chunk's reasoning and answer text to `result` and marks each non-empty part on
/// `timer` at `arrival`. Thinking first: a chunk that carries both thought before it answered.
/// Returns the chunk's event (not done), its text where `result` holds it, not where the
/// parser did: a callback that waits lets the thread's other streams parse meanwhile.
inline StreamEvent record_chunk(std::string_view text, std::string_view thinking, StreamTimer::time_point arrival, StreamResult& result,
                                StreamTimer& timer) {
    if (!thinking.empty()) {
        timer.mark_thinking(arrival);
        result.thinking.append(thinking.data(), thinking.size());
    }
    if (!text.empty()) {
        timer.mark_content(arrival);
        result.text.append(text.data(), text.size());
    }
    return StreamEvent{arrival, std::string_view(result.text).substr(result.text.size() - text.size()),
                       std::string_view(result.thinking).substr(result.thinking.size() - thinking.size()), false};
}

}  // namespace llmbench::detail
