// llmbench/detail/stall_guard.hpp - enforces first-byte and idle-gap timeouts on one request.
//
// cpp-httplib has a single read timeout, but a cold load may keep a server silent for
// minutes before its first byte while a stalled stream should fail in seconds. A helper
// thread watches the time of the last read and stops the client when a deadline passes.
#pragma once

#include <atomic>
#include <chrono>
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <limits>
#include <utility>

namespace llmbench::detail {

template <class Stoppable>
class StallGuard {
public:
    using clock = std::chrono::steady_clock;
    enum class fired_by { none, first_byte, idle };

    StallGuard(Stoppable& target, double first_byte_s, double idle_s)
        : target_(target),
          start_(clock::now()),
          first_byte_(std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(first_byte_s))),
          idle_(std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(idle_s))),
          thread_([this] { watch(); }) {}

    StallGuard(const StallGuard&) = delete;
    StallGuard& operator=(const StallGuard&) = delete;
    ~StallGuard() { finish(); }

    /// Bytes arrived now. Called on the hot path: one relaxed atomic store.
    void touch() noexcept { last_.store(clock::now().time_since_epoch().count(), std::memory_order_relaxed); }

    /// Stops watching; returns which deadline, if any, stopped the request.
    fired_by finish() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            done_ = true;
        }
        cv_.notify_one();
        if (thread_.joinable()) thread_.join();
        return fired_;
    }

private:
    void watch() {
        std::unique_lock<std::mutex> lock(mutex_);
        while (!done_) {
            const auto last = last_.load(std::memory_order_relaxed);
            const bool any = last != no_bytes;
            const auto deadline = any ? clock::time_point(clock::duration(last)) + idle_ : start_ + first_byte_;
            if (clock::now() >= deadline) {
                fired_ = any ? fired_by::idle : fired_by::first_byte;
                target_.stop();
                return;
            }
            // touch() does not notify (it is on the hot path), so wake up at least every
            // idle/4 to see new reads: a stall is caught between idle and 1.25 x idle.
            cv_.wait_until(lock, std::min(deadline, clock::now() + idle_ / 4));
        }
    }

    static constexpr clock::rep no_bytes = std::numeric_limits<clock::rep>::min();

    Stoppable& target_;
    clock::time_point start_;
    clock::duration first_byte_, idle_;
    std::atomic<clock::rep> last_{no_bytes};
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    fired_by fired_ = fired_by::none;
    std::thread thread_;  // last: starts after every other member is ready
};

}  // namespace llmbench::detail
