// llmbench/run/load.hpp - throughput under load: many streams at once, or requests at a rate.
//
// Closed loop: `concurrency` workers, each sending its next request as soon as the last one
// ends. Open loop: requests arrive on a schedule (Poisson at `request_rate`, or gamma-spaced
// with shape `burstiness`); at most `concurrency` are in flight (0: no cap), and the time a
// request waits for a free worker counts in its latency, as vLLM's benchmark does. Each
// worker has its own client (clients are not thread-safe).
//
// Where every client reads its own sockets (plain http on Linux), the workers are fibers of an
// event loop on a few threads (detail/fiber_loop.hpp), so thousands of streams cost neither a
// thread nor a stack each; elsewhere (https, cpp-httplib) each worker is a thread. Either way
// each request is one measure() call: the records are the same.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "llmbench/client/backend.hpp"
#include "llmbench/core/json.hpp"
#include "llmbench/detail/fiber_loop.hpp"
#include "llmbench/measure/measure.hpp"
#include "llmbench/version.hpp"
#include "llmbench/core/statistics.hpp"
#include "llmbench/core/stream_timer.hpp"

namespace llmbench {

struct LoadSpec {
    int concurrency = 1;                  ///< closed loop: streams; open loop: the cap (0: none)
    std::optional<double> request_rate;   ///< requests/s: open loop
    double burstiness = 1.0;              ///< gamma shape of the gaps: 1 = Poisson, < 1 burstier
    std::size_t requests = 100;
    /// Instead of `requests`: closed loop, send until this many seconds have passed (those in
    /// flight then finish); open loop, rate × duration requests.
    std::optional<double> duration_s;
    std::uint64_t seed = 0;
    std::optional<double> slo_ttft_s, slo_tpot_s;  ///< for goodput
    std::size_t level = 0;                 ///< this run's place in a sweep (written to every line)
    /// Warm-up requests per stream, sent first at the run's own concurrency (so every server slot
    /// is warm) as a closed loop; measured like the rest and left out of the result.
    int warmup = 0;
    StopSignal stop;                       ///< when it is requested, no further request is sent
    /// Event-loop threads (0: one per hardware thread); never more than there are workers.
    int loop_threads = 0;
    /// A thread per worker even where the event loop could drive them (to compare the two).
    bool thread_per_stream = false;
};

/// One request under load: its record, placed on the run's timeline. Times in seconds from the
/// start of the run (client clock).
struct LoadRequest {
    RunRecord run;           ///< as measure() recorded it: ok, error, server counts, every gap
    double scheduled_s = 0;  ///< when it was due (open loop) or handed to a worker (closed loop)
    double sent_s = 0;
    double end_s = 0;
    std::optional<double> ttft_s;  ///< from scheduled_s: waiting for a worker counts
    double e2e_s = 0;              ///< from scheduled_s
    std::optional<double> tpot_s;  ///< (e2e - ttft) / (output tokens - 1)
    bool meets_slo = false;

    bool ok() const noexcept { return run.ok(); }
    /// Waiting for a free worker (open loop with a cap): sent - scheduled.
    double queue_wait_s() const noexcept { return sent_s - scheduled_s; }
    /// The server's count, else the content chunks received.
    std::int64_t output_tokens() const { return run.server.eval_count.value_or(static_cast<std::int64_t>(run.client.content_chunks)); }
    /// The server's count; unknown (null, never 0) when it sent none.
    std::optional<std::int64_t> prompt_tokens() const { return run.server.prompt_eval_count; }
};

struct LoadResult {
    std::vector<LoadRequest> requests;  ///< in schedule order; those never sent (stopped) are left out
    std::chrono::steady_clock::time_point started_at;  ///< time zero of every `_s` field
    bool interrupted = false;                          ///< `stop` ended the run early
    double duration_s = 0;  ///< first scheduled to last end
    int peak_concurrency = 0;
    std::map<std::string, std::size_t> failures_by_kind;
    std::string driver;       ///< "event_loop" or "threads": what waited for the streams
    int driver_threads = 0;   ///< threads that drove the streams
    std::optional<std::string> poller;  ///< what the event loop waited with, "epoll" or "kqueue"; none for threads

    std::size_t succeeded() const {
        return static_cast<std::size_t>(std::count_if(requests.begin(), requests.end(), [](const LoadRequest& r) { return r.ok(); }));
    }
    // Rates are unknown (null, never 0) when nothing was timed: no duration, or a count missing.
    std::optional<double> request_throughput() const { return per_second(static_cast<double>(succeeded())); }
    std::optional<double> output_token_throughput() const {
        double n = 0;
        for (const auto& r : requests) n += r.ok() ? static_cast<double>(r.output_tokens()) : 0;
        return per_second(n);
    }
    /// Prompt and output tokens of successful requests per second; unknown when a successful
    /// request's prompt count is (a server that does not report it).
    std::optional<double> total_token_throughput() const {
        double n = 0;
        for (const auto& r : requests) {
            if (!r.ok()) continue;
            if (!r.prompt_tokens()) return std::nullopt;
            n += static_cast<double>(r.output_tokens() + *r.prompt_tokens());
        }
        return per_second(n);
    }
    /// Successful requests per second that met every SLO given.
    std::optional<double> goodput() const {
        const auto n = std::count_if(requests.begin(), requests.end(), [](const LoadRequest& r) { return r.ok() && r.meets_slo; });
        return per_second(static_cast<double>(n));
    }
    /// Requests sent per second over the sending window (open loop: compare with the rate asked);
    /// unknown with fewer than two requests or all sent at once.
    std::optional<double> achieved_send_rate() const {
        if (requests.size() < 2) return std::nullopt;
        double first = requests.front().sent_s, last = first;
        for (const auto& r : requests) {
            first = std::min(first, r.sent_s);
            last = std::max(last, r.sent_s);
        }
        if (!(last > first)) return std::nullopt;
        return static_cast<double>(requests.size() - 1) / (last - first);
    }
    /// Inter-token latency over every gap of every successful request, as vLLM's ITL.
    Stats itl_stats() const {
        std::vector<double> v;
        for (const auto& r : requests)
            if (r.ok()) v.insert(v.end(), r.run.client.gaps_s.begin(), r.run.client.gaps_s.end());
        return compute_stats(std::move(v));
    }
    Stats stats(const std::function<std::optional<double>(const LoadRequest&)>& metric) const {
        std::vector<double> v;
        for (const auto& r : requests)
            if (r.ok())
                if (auto x = metric(r)) v.push_back(*x);
        return compute_stats(std::move(v));
    }

private:
    std::optional<double> per_second(double n) const { return duration_s > 0 ? std::optional<double>(n / duration_s) : std::nullopt; }
};

/// Arrival times (s) for `n` requests at `rate`/s, gamma-distributed gaps of shape
/// `burstiness` (exponential at 1), from `seed`: the same schedule on every platform.
inline std::vector<double> arrival_schedule(std::size_t n, double rate, double burstiness, std::uint64_t seed) {
    std::vector<double> at;
    std::mt19937_64 rng(seed);
    const auto uniform = [&rng] { return (static_cast<double>(rng() >> 11) + 0.5) / 9007199254740992.0; };
    const auto normal = [&] { return std::sqrt(-2 * std::log(uniform())) * std::cos(6.283185307179586 * uniform()); };
    // Marsaglia-Tsang gamma sampler (shape >= 1; boosted for shape < 1), mean 1.
    const auto gamma = [&](double shape) {
        const double boost = shape < 1 ? std::pow(uniform(), 1.0 / shape) : 1.0;
        const double k = shape < 1 ? shape + 1 : shape, d = k - 1.0 / 3, c = 1 / std::sqrt(9 * d);
        for (;;) {
            double x = normal(), v = 1 + c * x;
            if (v <= 0) continue;
            v = v * v * v;
            if (std::log(uniform()) < 0.5 * x * x + d - d * v + d * std::log(v)) return boost * d * v / shape;
        }
    };
    double t = 0;
    for (std::size_t i = 0; i < n; ++i) {
        at.push_back(t);
        t += gamma(burstiness) / rate;
    }
    return at;
}

/// Runs the load. `make_backend` gives each worker its own backend; request i is
/// `request_for(i)`, and `on_request` (if set) sees each outcome as it ends, from the worker's
/// thread, one at a time.
inline LoadResult run_load(const std::function<std::unique_ptr<Backend>()>& make_backend,
                           const std::function<GenerateRequest(std::size_t)>& request_for, const LoadSpec& spec,
                           const std::function<void(std::size_t, const LoadRequest&)>& on_request = {}) {
    using clock = std::chrono::steady_clock;
    const bool open_loop = spec.request_rate.has_value();
    if (open_loop && *spec.request_rate <= 0) throw error(errc::usage, "request rate must be above 0");
    if (!open_loop && spec.concurrency < 1) throw error(errc::usage, "concurrency must be at least 1");
    if (spec.duration_s && *spec.duration_s <= 0) throw error(errc::usage, "duration must be above 0 s");
    if (spec.warmup < 0) throw error(errc::usage, "warm-up must not be negative");
    if (spec.warmup > 0 && !spec.stop.requested()) {
        LoadSpec w = spec;
        w.request_rate.reset();
        w.duration_s.reset();
        w.concurrency = spec.concurrency > 0 ? spec.concurrency : 1;
        w.requests = static_cast<std::size_t>(w.concurrency) * static_cast<std::size_t>(spec.warmup);
        w.warmup = 0;
        run_load(make_backend, request_for, w);
    }
    const bool until_time = spec.duration_s && !open_loop;
    const std::size_t n = !spec.duration_s ? spec.requests
                          : open_loop      ? static_cast<std::size_t>(std::ceil(*spec.request_rate * *spec.duration_s))
                                           : std::numeric_limits<std::size_t>::max();
    const std::vector<double> schedule = open_loop ? arrival_schedule(n, *spec.request_rate, spec.burstiness, spec.seed) : std::vector<double>();
    if (spec.loop_threads < 0) throw error(errc::usage, "event-loop threads must not be negative");
    // Every worker's client is made before time zero: making one (under a sanitizer, or probing
    // a server) is not part of the load, and in a closed loop with a duration it used to eat it.
    std::vector<std::unique_ptr<Backend>> backends;
    backends.push_back(make_backend());
    const bool event_loop = LLMBENCH_HAS_FIBER_LOOP && !spec.thread_per_stream && backends.front()->waits_in_event_loop();
    // Open loop without a cap: a worker per request in flight, bounded by what the driver holds.
    const std::size_t max_workers = event_loop ? 4096 : 512;
    const std::size_t workers = open_loop ? (spec.concurrency > 0 ? static_cast<std::size_t>(spec.concurrency) : std::max<std::size_t>(1, std::min(n, max_workers)))
                                          : static_cast<std::size_t>(spec.concurrency);
    while (backends.size() < workers) backends.push_back(make_backend());
    LoadResult result;
    // Slots grow as requests are claimed; a deque keeps earlier slots in place meanwhile.
    std::deque<LoadRequest> slots;
    std::deque<char> issued;
    std::atomic<std::size_t> next{0};
    std::atomic<int> in_flight{0}, peak{0};
    std::atomic<bool> stopped_early{false};
    std::mutex mutex;
    const auto start = clock::now();
    result.started_at = start;
    const auto since = [&](clock::time_point t) { return std::chrono::duration<double>(t - start).count(); };
    const auto claim = [&](std::size_t i) -> LoadRequest& {
        std::lock_guard<std::mutex> lock(mutex);
        if (slots.size() <= i) {
            slots.resize(i + 1);
            issued.resize(i + 1, 0);
        }
        issued[i] = 1;
        return slots[i];
    };

    const auto worker = [&](Backend& backend) {
        const auto stopped = [&] {
            if (spec.stop.requested()) stopped_early = true;
            return stopped_early.load();
        };
        for (std::size_t i = next++; i < n; i = next++) {
            const auto due = open_loop ? start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(schedule[i])) : start;
            while (open_loop && clock::now() < due && !stopped())  // wakes to notice `stop`
                detail::sleep_until(std::min(due, clock::now() + std::chrono::milliseconds(50)));
            const double now_s = since(clock::now());  // one reading: the deadline check and the schedule agree
            if (stopped() || (until_time && now_s >= *spec.duration_s)) break;
            LoadRequest& out = claim(i);
            out.scheduled_s = open_loop ? schedule[i] : now_s;
            const GenerateRequest r = request_for(i);
            const int now = ++in_flight;
            for (int p = peak; now > p && !peak.compare_exchange_weak(p, now);) {
            }
            RunLabel label;
            label.prompt_id = std::to_string(i);
            out.run = measure(backend, r, label);
            --in_flight;
            out.end_s = since(*out.run.client.ended_at);
            out.sent_s = out.run.client.sent_at ? since(*out.run.client.sent_at) : out.scheduled_s;
            out.e2e_s = out.end_s - out.scheduled_s;
            if (out.run.client.first_token_at) out.ttft_s = since(*out.run.client.first_token_at) - out.scheduled_s;
            if (out.ttft_s && out.output_tokens() > 1) out.tpot_s = (out.e2e_s - *out.ttft_s) / static_cast<double>(out.output_tokens() - 1);
            out.meets_slo = out.ok() && (!spec.slo_ttft_s || (out.ttft_s && *out.ttft_s <= *spec.slo_ttft_s)) &&
                            (!spec.slo_tpot_s || (out.tpot_s && *out.tpot_s <= *spec.slo_tpot_s));
            std::lock_guard<std::mutex> lock(mutex);
            if (!out.ok()) ++result.failures_by_kind[to_string(*out.run.outcome.error_kind)];
            if (on_request) on_request(i, out);
        }
    };
    // A worker's client goes when it is done: its kept-alive connection would hold a server
    // thread (cpp-httplib's pool, a slot elsewhere) that later requests wait for.
    const auto drive = [&](std::size_t w) {
        worker(*backends[w]);
        backends[w].reset();
    };
    std::vector<std::thread> pool;
#if LLMBENCH_HAS_FIBER_LOOP
    std::vector<std::unique_ptr<detail::FiberLoop>> loops;
    if (event_loop) {
        const auto cores = static_cast<std::size_t>(std::max(1u, std::thread::hardware_concurrency()));
        loops.resize(std::min(workers, spec.loop_threads > 0 ? static_cast<std::size_t>(spec.loop_threads) : cores));
        for (auto& loop : loops) loop = std::make_unique<detail::FiberLoop>();
        for (std::size_t w = 0; w < workers; ++w) loops[w % loops.size()]->spawn([&drive, w] { drive(w); });
        for (auto& loop : loops) pool.emplace_back([l = loop.get()] { l->run(); });
    }
#endif
    if (pool.empty())
        for (std::size_t w = 0; w < workers; ++w) pool.emplace_back(drive, w);
    for (auto& t : pool) t.join();
    result.driver = event_loop ? "event_loop" : "threads";
    result.driver_threads = static_cast<int>(pool.size());
#if LLMBENCH_HAS_FIBER_LOOP
    if (event_loop) result.poller = detail::Poller::name();
#endif
    for (std::size_t i = 0; i < slots.size(); ++i)
        if (issued[i]) result.requests.push_back(std::move(slots[i]));
    result.interrupted = stopped_early;
    double first = 0, last = 0;
    for (const auto& r : result.requests) last = std::max(last, r.end_s);
    if (!result.requests.empty()) first = std::min_element(result.requests.begin(), result.requests.end(), [](const auto& a, const auto& b) {
                                               return a.scheduled_s < b.scheduled_s;
                                           })->scheduled_s;
    result.duration_s = last - first;
    result.peak_concurrency = peak;
    return result;
}

/// The same request every time, with seed + i so the replies differ.
inline LoadResult run_load(const std::function<std::unique_ptr<Backend>()>& make_backend, const GenerateRequest& request,
                           const LoadSpec& spec) {
    return run_load(
        make_backend,
        [&](std::size_t i) {
            GenerateRequest r = request;
            r.options.seed = static_cast<int>((spec.seed + i) % 2147483647);
            return r;
        },
        spec);
}

/// One request's outcome as a `"type":"load_request"` line.
inline std::string load_request_json(std::size_t index, const LoadRequest& r, std::size_t level = 0) {
    JsonWriter w;
    w.begin_object().kv("type", "load_request").kv("schema_version", schema_version).kv("level", level).kv("index", index).kv("ok", r.ok());
    w.key("error_kind");
    if (r.run.outcome.error_kind) w.value(to_string(*r.run.outcome.error_kind));
    else w.null();
    w.kv("scheduled_s", r.scheduled_s).kv("sent_s", r.sent_s).kv("end_s", r.end_s).kv("ttft_s", r.ttft_s).kv("tpot_s", r.tpot_s);
    w.kv("e2e_s", r.e2e_s).kv("output_tokens", r.output_tokens()).kv("prompt_tokens", r.prompt_tokens()).kv("meets_slo", r.meets_slo);
    w.kv("itl_max_s", r.run.client.itl_max_s);
    return w.end_object().take();
}

/// The run's `"type":"load_summary"` line: the spec, throughputs and latency statistics.
inline std::string load_summary_json(const LoadResult& result, const LoadSpec& spec) {
    JsonWriter w;
    w.begin_object().kv("type", "load_summary").kv("schema_version", schema_version).kv("level", spec.level);
    w.kv("mode", spec.request_rate ? "open_loop" : "closed_loop").kv("concurrency", spec.concurrency).kv("request_rate", spec.request_rate);
    w.kv("burstiness", spec.burstiness).kv("requests", result.requests.size()).kv("succeeded", result.succeeded());
    w.kv("duration_s", result.duration_s).kv("request_throughput", result.request_throughput());
    w.kv("output_token_throughput", result.output_token_throughput()).kv("total_token_throughput", result.total_token_throughput());
    w.kv("goodput", result.goodput()).kv("duration_asked_s", spec.duration_s);
    w.kv("slo_ttft_s", spec.slo_ttft_s).kv("slo_tpot_s", spec.slo_tpot_s).kv("peak_concurrency", result.peak_concurrency);
    w.kv("achieved_send_rate", result.achieved_send_rate()).kv("interrupted", result.interrupted);
    w.kv("driver", result.driver).kv("driver_threads", result.driver_threads).kv("poller", result.poller);
    w.key("failures_by_kind").begin_object();
    for (const auto& [kind, n] : result.failures_by_kind) w.kv(kind, n);
    w.end_object();
    const auto put = [&](const char* name, const Stats& s) {
        w.key(name).begin_object().kv("n", s.n);
        for (const auto& [field, v] : {std::pair<const char*, double>{"mean", s.mean}, {"p50", s.p50}, {"p90", s.p90}, {"p95", s.p95}, {"p99", s.p99}})
            if (std::isnan(v)) w.key(field).null();
            else w.kv(field, v);
        w.end_object();
    };
    put("ttft_s", result.stats([](const LoadRequest& r) { return r.ttft_s; }));
    put("tpot_s", result.stats([](const LoadRequest& r) { return r.tpot_s; }));
    put("itl_s", result.itl_stats());
    put("e2e_s", result.stats([](const LoadRequest& r) { return std::optional<double>(r.e2e_s); }));
    return w.end_object().take();
}

}  // namespace llmbench
