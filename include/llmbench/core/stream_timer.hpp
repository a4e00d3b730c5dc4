// llmbench/core/stream_timer.hpp - client-side timing of one streamed request.
//
// The client stamps each event with the moment its bytes arrived, before any parsing;
// StreamTimer only stores the marks and derives durations from them.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "llmbench/core/statistics.hpp"

namespace llmbench {

class StreamTimer {
public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;
    using clock_fn = std::function<time_point()>;

    StreamTimer() = default;
    /// A timer that reads time from `now` (tests drive a fake clock through this).
    explicit StreamTimer(clock_fn now) : now_(std::move(now)) {}

    time_point now() const { return now_ ? now_() : clock::now(); }
    /// Called once per request, just after its first token is marked (the memory sampler reads
    /// the energy counters there, splitting prefill from decode). Kept across requests.
    void on_first_token(std::function<void()> f) { on_first_token_ = std::move(f); }
    /// False when a test drives the timer with its own clock (times from elsewhere do not apply).
    bool uses_steady_clock() const noexcept { return !now_; }

    /// Forgets all marks so the timer can measure another request.
    void reset() {
        sent_.reset();
        connected_.reset();
        first_byte_.reset();
        first_token_.reset();
        last_token_.reset();
        first_content_.reset();
        last_content_.reset();
        done_.reset();
        content_chunks_ = thinking_chunks_ = 0;
        gaps_s_.clear();
    }

    /// The request is about to be sent: before the connection is made when there is none to
    /// reuse (as vLLM's and AIPerf's clocks start: a user's first request pays for it too).
    void mark_sent(time_point t) {
        reset();
        sent_ = t;
    }
    /// The connection is ready for the request: made, or (at the moment of mark_sent) reused.
    void mark_connected(time_point t) { connected_ = t; }
    /// The response headers (the first bytes of the response) arrived.
    void mark_first_byte(time_point t) {
        if (!first_byte_) first_byte_ = t;
    }
    /// A chunk arrived whose answer text is non-empty. Role-only, empty and keep-alive chunks
    /// are not content and must not be marked: they would fake an early first token.
    void mark_content(time_point t) {
        mark_token(t);
        if (!first_content_) first_content_ = t;
        last_content_ = t;
        ++content_chunks_;
    }
    /// A chunk arrived whose reasoning ("thinking") text is non-empty.
    void mark_thinking(time_point t) {
        mark_token(t);
        ++thinking_chunks_;
    }
    /// The stream ended (successfully or not).
    void mark_done(time_point t) { done_ = t; }

    std::optional<time_point> sent_at() const { return sent_; }
    /// The first chunk of generated text of either kind, thinking or answer.
    std::optional<time_point> first_token_at() const { return first_token_; }
    std::optional<time_point> first_content_at() const { return first_content_; }
    std::optional<time_point> last_content_at() const { return last_content_; }

    /// Request sent -> first chunk of generated text, thinking included (time to first token).
    std::optional<double> ttft_s() const { return between(sent_, first_token_); }
    /// Request sent -> first chunk of answer text (time to first answer token); equals ttft_s()
    /// unless the model thought first.
    std::optional<double> ttfa_s() const { return between(sent_, first_content_); }
    /// Request sent -> connection ready: 0 on a kept-alive connection; unknown when the
    /// transport does not say (cpp-httplib's).
    std::optional<double> connect_s() const { return between(sent_, connected_); }
    /// Request sent -> response headers.
    std::optional<double> first_byte_s() const { return between(sent_, first_byte_); }
    /// Request sent -> end of stream (end-to-end latency).
    std::optional<double> wall_s() const { return between(sent_, done_); }
    /// First -> last chunk of generated text, thinking included.
    std::optional<double> decode_window_s() const { return between(first_token_, last_token_); }
    /// First -> last chunk of answer text.
    std::optional<double> answer_window_s() const { return between(first_content_, last_content_); }
    /// Chunks of answer text.
    std::size_t content_chunks() const { return content_chunks_; }
    std::size_t thinking_chunks() const { return thinking_chunks_; }
    /// Gaps between consecutive chunks of generated text of either kind (inter-chunk latency), in seconds.
    const std::vector<double>& gaps_s() const { return gaps_s_; }
    /// n, mean, p50, p95, max, ... of gaps_s() (empty Stats when fewer than two chunks).
    Stats gap_stats() const { return compute_stats(gaps_s_); }
    /// Chunks per second after the first: (chunks - 1) / decode window, thinking included.
    /// Chunks are usually, but not always, single tokens.
    std::optional<double> chunks_per_s() const {
        auto window = decode_window_s();
        const std::size_t chunks = content_chunks_ + thinking_chunks_;
        if (!window || *window <= 0 || chunks < 2) return std::nullopt;
        return static_cast<double>(chunks - 1) / *window;
    }

private:
    void mark_token(time_point t) {
        const bool first = !last_token_;
        if (!first) gaps_s_.push_back(seconds(*last_token_, t));
        else first_token_ = t;
        last_token_ = t;
        if (first && on_first_token_) on_first_token_();
    }
    static double seconds(time_point a, time_point b) { return std::chrono::duration<double>(b - a).count(); }
    static std::optional<double> between(const std::optional<time_point>& a, const std::optional<time_point>& b) {
        if (!a || !b) return std::nullopt;
        return seconds(*a, *b);
    }

    clock_fn now_;
    std::function<void()> on_first_token_;
    std::optional<time_point> sent_, connected_, first_byte_, first_token_, last_token_, first_content_, last_content_, done_;
    std::size_t content_chunks_ = 0, thinking_chunks_ = 0;
    std::vector<double> gaps_s_;
};

}  // namespace llmbench
