// llmbench/client/server_watch.hpp - a server that goes away and comes back (Ollama restarting
// its runner, a user restarting `ollama serve` or llama-server) must not turn a benchmark into
// a column of failures.
//
// ServerWatch::wrap(backend) gives a Backend whose requests, when the connection is refused or
// the server answers 503 (llama-server loading its model after a restart, a full queue: in
// both, nothing was measured), wait for the server with backoff and are sent again, up to
// `wait_s`; only then does the request count as failed. A run cut in
// flight (reset, cut stream) stays failed: it was measured, and failed. After `give_up_after`
// requests in a row that waited in vain the watch gives up: it sets the runners' stop flag,
// so they stop after the current run as on Ctrl-C, keeping every record and the summary, and
// gave_up() says why (programs exit 3). Every runner sends through a Backend, so wrapping the
// factory covers Benchmark, the matrix, load, eval and NIAH alike.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "llmbench/client/backend.hpp"
#include "llmbench/detail/fiber_loop.hpp"  // sleep_until

namespace llmbench {

class ServerWatch {
public:
    using clock = std::chrono::steady_clock;

    /// `stop` is set when the watch gives up (and read, so that Ctrl-C ends a wait).
    explicit ServerWatch(std::atomic<bool>* stop = nullptr, double wait_s = 30, int give_up_after = 3)
        : stop_(stop), wait_s_(wait_s), give_up_after_(give_up_after) {}

    void set_wait_s(double s) { wait_s_ = s; }
    double wait_s() const { return wait_s_; }
    /// First pause between tries; it doubles up to max_backoff.
    std::chrono::milliseconds first_backoff{100}, max_backoff{1000};
    /// Told when a request starts waiting for the server (its URL) and when it came back or
    /// the wait ran out: for a program's progress line. Called from the requesting thread.
    std::function<void(const std::string& message)> on_event;

    bool gave_up() const { return gave_up_.load(); }
    std::string reason() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return reason_;
    }
    /// Requests that waited and then got through, and those that waited in vain.
    int recovered() const { return recovered_.load(); }
    int abandoned() const { return abandoned_.load(); }

    /// `backend`, with its refused requests waiting for the server (see the file comment).
    std::unique_ptr<Backend> wrap(std::unique_ptr<Backend> backend);

    /// Sends with `send` (one try, a fresh timer each time); while the server is unavailable
    /// (refused, or 503), waits and tries again, up to wait_s.
    template <class Send>
    StreamResult send_waiting(const std::string& url, StreamTimer& timer, Send&& send) {
        StreamResult result = send(timer);
        if (!unavailable(result) || wait_s_ <= 0 || stopped()) return note(result, false);
        const auto start = clock::now();
        const auto deadline = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(wait_s_));
        const char* what = result.failure->code() == errc::connect ? " refused the connection" : " is not ready (HTTP 503: loading a model?)";
        tell(url + what + ": waiting up to " + seconds(wait_s_) + " for the server to come back (--server-wait)");
        auto pause = first_backoff;
        while (clock::now() < deadline && !stopped()) {
            // In run_load's event loop this lets the loop's other streams go on meanwhile.
            detail::sleep_until(std::min<clock::time_point>(clock::now() + pause, deadline));
            pause = std::min(pause * 2, max_backoff);
            result = send(timer);
            if (!unavailable(result)) {
                tell(url + " is back after " + seconds(std::chrono::duration<double>(clock::now() - start).count()));
                return note(result, true);
            }
        }
        const std::string waited = seconds(wait_s_);
        result.failure = error(result.failure->code(), std::string(result.failure->what()) + " (the server did not come back within " + waited + ")",
                               result.failure->http_status());
        tell(url + " did not come back within " + waited);
        return note(result, false, url, waited);
    }

private:
    static bool unavailable(const StreamResult& r) {
        return r.failure && (r.failure->code() == errc::connect || (r.failure->code() == errc::http_status && r.failure->http_status() == 503));
    }
    static std::string seconds(double s) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f s", s);
        return buf;
    }
    bool stopped() const { return stop_ != nullptr && stop_->load(); }
    void tell(const std::string& message) const {
        if (on_event) on_event(message);
    }
    /// Counts the outcome: a request that got through ends a run of vain waits.
    StreamResult& note(StreamResult& r, bool after_wait, const std::string& url = "", const std::string& waited = "") {
        if (!unavailable(r)) {
            in_a_row_ = 0;
            if (after_wait) ++recovered_;
            return r;
        }
        if (waited.empty()) return r;  // unavailable with waiting off, or stopped: an ordinary failure
        ++abandoned_;
        if (++in_a_row_ >= give_up_after_ && !gave_up_.exchange(true)) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                reason_ = std::to_string(give_up_after_) + " requests in a row found " + url + " gone for " + waited +
                          " (--server-wait) each: stopped, every record made so far is kept";
            }
            if (stop_ != nullptr) stop_->store(true);
        }
        return r;
    }

    std::atomic<bool>* stop_;
    double wait_s_;
    int give_up_after_;
    std::atomic<int> in_a_row_{0}, recovered_{0}, abandoned_{0};
    std::atomic<bool> gave_up_{false};
    mutable std::mutex mutex_;
    std::string reason_;
};

namespace detail {

/// A Backend that sends through another, its generate and chat through ServerWatch.
class WatchedBackend : public Backend {
public:
    WatchedBackend(std::unique_ptr<Backend> inner, ServerWatch& watch) : inner_(std::move(inner)), watch_(watch) {
        set_label(inner_->label());
    }
    StreamResult generate(const GenerateRequest& request, StreamTimer& timer) override {
        return watch_.send_waiting(inner_->server_url(), timer, [&](StreamTimer& t) { return inner_->generate(request, t); });
    }
    StreamResult chat(const ChatRequest& request, StreamTimer& timer) override {
        return watch_.send_waiting(inner_->server_url(), timer, [&](StreamTimer& t) { return inner_->chat(request, t); });
    }
    StreamResult load(const std::string& model, const std::optional<std::string>& keep_alive, const Options& options) override {
        return inner_->load(model, keep_alive, options);
    }
    std::string kind() const override { return inner_->kind(); }
    std::string server_url() const override { return inner_->server_url(); }
    BackendCapabilities capabilities() const override { return inner_->capabilities(); }
    RunMetadata describe(const std::string& model) override { return inner_->describe(model); }
    std::optional<std::int64_t> context_length(const std::string& model) override { return inner_->context_length(model); }
    std::int64_t count_prompt_tokens(GenerateRequest request) override { return inner_->count_prompt_tokens(std::move(request)); }
    std::optional<RunningModel> loaded_model(const std::string& model) override { return inner_->loaded_model(model); }
    bool unload(const std::string& model) override { return inner_->unload(model); }
    bool waits_in_event_loop() const override { return inner_->waits_in_event_loop(); }

private:
    std::unique_ptr<Backend> inner_;
    ServerWatch& watch_;
};

}  // namespace detail

inline std::unique_ptr<Backend> ServerWatch::wrap(std::unique_ptr<Backend> backend) {
    return std::make_unique<detail::WatchedBackend>(std::move(backend), *this);
}

}  // namespace llmbench
