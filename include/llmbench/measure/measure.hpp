// llmbench/measure/measure.hpp - the one measurement step every runner takes: send one request through
// a backend, time it, and make its record.
//
// Benchmark, MatrixRunner, run_load, EvalRunner and the NIAH sweep are schedules around
// measure(): they decide what to send next and add what they know to the record (a cell, a
// queue wait, an item's gold answer, a needle's depth). Sending, timestamps, parsing, the
// record, its flags, the roofline and the memory window happen here and nowhere else.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "llmbench/client/backend.hpp"
#include "llmbench/host/memory_sampler.hpp"
#include "llmbench/core/request.hpp"
#include "llmbench/host/roofline.hpp"
#include "llmbench/core/run_record.hpp"
#include "llmbench/core/stream_timer.hpp"

namespace llmbench {

/// One request: a prompt (Ollama's /api/generate, OpenAI's completions or a one-message chat)
/// or a conversation (chat).
using Request = std::variant<GenerateRequest, ChatRequest>;

inline const std::string& request_model(const Request& r) {
    return std::visit([](const auto& x) -> const std::string& { return x.model; }, r);
}
inline const Options& request_options(const Request& r) {
    return std::visit([](const auto& x) -> const Options& { return x.options; }, r);
}

/// What the runner knows about a run that the request does not say.
struct RunLabel {
    std::string prompt_id;
    int run_index = 0;
    /// Warm-up: measured and recorded like any run, left out of every statistic.
    bool warmup = false;
    int attempt = 0;  ///< 0, or 1..N for re-runs of a short reply
    std::optional<CellCoordinates> cell;
    std::optional<Shard> shard;  ///< set when the run is one of N shards (--shard I/N)
    std::optional<std::int64_t> prompt_tokens_target;  ///< synthetic prompts: the length asked for
};

/// What measure() does besides timing; everything optional.
struct MeasureHooks {
    MemorySampler* memory = nullptr;     ///< samples memory and power while the request runs
    const Roofline* roofline = nullptr;  ///< annotates a successful record
    /// The first recorded run of the same prompt, to compare prefill with (the cache flag).
    const RunRecord* first = nullptr;
};

/// Sends `request`, times it on the client clock as its bytes arrive, and returns its record,
/// flagged; a failed request is a failed record, never an exception.
inline RunRecord measure(Backend& backend, const Request& request, const RunLabel& label = {}, const MeasureHooks& hooks = {}) {
    StreamTimer timer;
    StreamResult result;
    const auto send = [&] {
        if (const auto* chat = std::get_if<ChatRequest>(&request)) result = backend.chat(*chat, timer);
        else result = backend.generate(std::get<GenerateRequest>(request), timer);
    };
    std::optional<RunMemory> memory;
    if (hooks.memory != nullptr) memory = hooks.memory->around(send, &timer);
    else send();
    const auto ended = StreamTimer::clock::now();
    RunRecord record = make_run_record(std::move(result), timer,
                                       RunIdentity{backend.label(), request_model(request), label.prompt_id, label.run_index,
                                                   label.warmup, request_options(request).num_predict, label.prompt_tokens_target});
    record.client.ended_at = ended;
    record.retry.attempt = label.attempt;
    record.cell = label.cell;
    record.shard = label.shard;
    record.memory = memory;
    flag_run(record, hooks.first);
    if (hooks.roofline != nullptr) hooks.roofline->annotate(record);
    return record;
}

/// When a runner stops: checked before each request, never during one, so every request sent
/// ends and is recorded. Made from a flag (Ctrl-C handlers set one) or a predicate.
class StopSignal {
public:
    StopSignal() = default;
    StopSignal(const std::atomic<bool>* flag) : flag_(flag) {}  // NOLINT: implicit, so stop_when(&flag) reads naturally
    template <class Predicate, class = std::enable_if_t<std::is_invocable_r_v<bool, Predicate&>>>
    StopSignal(Predicate predicate) : predicate_(std::move(predicate)) {}  // NOLINT: likewise

    bool requested() const { return (flag_ != nullptr && flag_->load()) || (predicate_ && predicate_()); }
    explicit operator bool() const noexcept { return flag_ != nullptr || static_cast<bool>(predicate_); }

private:
    const std::atomic<bool>* flag_ = nullptr;
    std::function<bool()> predicate_;
};

}  // namespace llmbench
