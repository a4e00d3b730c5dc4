// llmbench/core/response.hpp - what one streamed request produced, as the backend saw it.
// Backend-neutral: the Ollama client fills it today, an OpenAI-style client later.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "llmbench/core/error.hpp"

namespace llmbench {

/// The server's own account of a request (Ollama's final-chunk fields; the clients map other
/// servers' onto them). Durations are nanoseconds. A missing field is std::nullopt
/// ("unknown"), never zero.
struct ServerTimings {
    std::optional<std::int64_t> total_duration_ns;
    std::optional<std::int64_t> load_duration_ns;
    /// The prompt's tokens as the server counts them: Ollama's field as sent (since 0.30 it
    /// includes tokens reused from the cache); llama.cpp's usage.prompt_tokens (= prompt_n + cache_n).
    std::optional<std::int64_t> prompt_eval_count;
    /// Covers only the tokens evaluated by this request, never the cached ones.
    std::optional<std::int64_t> prompt_eval_duration_ns;
    std::optional<std::int64_t> eval_count;
    std::optional<std::int64_t> eval_duration_ns;
    /// Prompt tokens reused from the KV cache, when the server says (Ollama's
    /// prompt_eval_cached_count, llama.cpp's cache_n, OpenAI's cached_tokens).
    std::optional<std::int64_t> prompt_cached_tokens;
    /// Prompt tokens this request evaluated, when the server says or its counts give it
    /// (llama.cpp's prompt_n; Ollama's prompt_eval_count - prompt_eval_cached_count).
    std::optional<std::int64_t> prompt_evaluated_tokens;
    /// Generated tokens spent thinking, where the server counts them apart (OpenAI's
    /// completion_tokens_details.reasoning_tokens); eval_count includes them.
    std::optional<std::int64_t> thinking_tokens;

    /// Fills the part of the prompt split a server left out from the two it gave: the
    /// whole (prompt_eval_count) and one of cached or evaluated. Both clients end with it.
    void complete_prompt_split() {
        if (!prompt_eval_count) return;
        if (!prompt_evaluated_tokens && prompt_cached_tokens && *prompt_eval_count >= *prompt_cached_tokens)
            prompt_evaluated_tokens = *prompt_eval_count - *prompt_cached_tokens;
        if (!prompt_cached_tokens && prompt_evaluated_tokens && *prompt_eval_count >= *prompt_evaluated_tokens)
            prompt_cached_tokens = *prompt_eval_count - *prompt_evaluated_tokens;
    }
};

/// A token and its log-probability (natural log) as the server reported them; a null
/// logprob (a token the server deems impossible) reads as -infinity.
struct TokenLogprob {
    std::string token;
    double logprob = 0;
    std::optional<std::int64_t> id;  ///< its vocabulary id, where the server sends it (llama.cpp)
};

/// One generated token's log-probability and the most likely tokens at its place, most
/// likely first, as many as the request asked for (RequestControls::logprobs).
struct TokenLogprobs {
    TokenLogprob sampled;
    std::vector<TokenLogprob> top;
};

/// The outcome of one streamed request. A failed request is still a result: `failure`
/// says why, and everything received before it is kept.
struct StreamResult {
    std::optional<error> failure;
    std::string text;         ///< all answer text received, concatenated (never the thinking)
    std::string thinking;     ///< all reasoning ("thinking") text received, concatenated
    std::string done_reason;  ///< "stop", "length", ... ; empty when absent
    /// Every generated token's log-probability, in order (thinking tokens included), when the
    /// request asked for them and the server sent them; empty otherwise.
    std::vector<TokenLogprobs> logprobs;
    bool done = false;        ///< a final chunk (done:true) arrived
    ServerTimings server;
    int http_status = 0;  ///< 0 when no response arrived
    std::uint64_t bytes_received = 0;
    std::uint64_t lines = 0;  ///< NDJSON lines (or SSE events) parsed
    bool token_counts_estimated = false;  ///< no usage from the server: eval_count counts content chunks

    bool ok() const noexcept { return !failure.has_value(); }
};

/// The server's count of a request's prompt: prompt_eval_count of a reply, or of a refusal as
/// longer than the context (which says it); 0 when the server did not say. For sizing prompts.
inline std::int64_t counted_prompt_tokens(const StreamResult& r) {
    const bool counted = r.ok() || r.failure->code() == errc::context_overflow;
    return counted && r.server.prompt_eval_count ? *r.server.prompt_eval_count : 0;
}

}  // namespace llmbench
