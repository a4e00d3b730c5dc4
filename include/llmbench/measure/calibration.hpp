// llmbench/measure/calibration.hpp - sizing text to a token count, by the server's own tokenizer.
//
// Prompt lengths mean something only in the model's tokens, which only the server can count
// (prompt_eval_count). Given a way to ask "how many tokens is the prompt made of N words?",
// two points give tokens per word and the fixed overhead, then Newton steps land within a
// tolerance (like Ollama's own bench).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>

namespace llmbench {

/// How a prompt was sized against the server's tokenizer.
struct Calibration {
    int target_tokens = 0;
    std::size_t words = 0;
    std::int64_t actual_tokens = 0;  ///< prompt_eval_count for the final word count
    int requests = 0;
    bool within_tolerance = false;
    /// More words stopped giving more tokens: the server cut the prompt (Ollama's default
    /// truncation), so no count it gave is the prompt's length. Never within tolerance.
    bool saturated = false;
};

/// Finds the word count whose prompt the server counts as `target` tokens, within
/// `tolerance` (a fraction of the target) or one word's worth, whichever is larger.
/// `count_tokens(words)` asks the server (0: unknown). At most `max_requests` requests.
/// The first guess assumes `tokens_per_word`: guess high where the prompt must stay inside a
/// context window, so the first counts are not cut short by truncation.
inline Calibration calibrate_words(int target, const std::function<std::int64_t(std::size_t)>& count_tokens, double tolerance = 0.02,
                                   int max_requests = 8, double tokens_per_word = 1.3) {
    Calibration c;
    c.target_tokens = target;
    const std::size_t w0 = std::max<std::size_t>(2, static_cast<std::size_t>(target / tokens_per_word));
    const std::size_t w1 = std::max<std::size_t>(1, w0 / 2);
    const std::int64_t c0 = count_tokens(w0), c1 = count_tokens(w1);
    c.requests = 2;
    const double per_word = (c0 > c1 && w0 > w1) ? static_cast<double>(c0 - c1) / static_cast<double>(w0 - w1) : 1.3;
    // Text moves in whole words, so a short target may not be reachable within the fraction.
    const double allowed = std::max(tolerance * target, per_word);
    const auto within = [&](std::int64_t count) { return std::fabs(static_cast<double>(count - target)) <= allowed + 0.5; };
    c.words = w0;
    c.actual_tokens = c0;
    // Twice the words for no more tokens: the count is capped, not converging.
    c.saturated = c0 > 0 && c1 > 0 && c0 <= c1;
    while (!c.saturated && !within(c.actual_tokens) && c.requests < max_requests && c.actual_tokens > 0) {
        const double step = static_cast<double>(target - c.actual_tokens) / per_word;
        const auto next = static_cast<std::size_t>(std::max(1.0, std::round(static_cast<double>(c.words) + step)));
        if (next == c.words) break;
        const std::size_t words_before = c.words;
        const std::int64_t count_before = c.actual_tokens;
        c.words = next;
        c.actual_tokens = count_tokens(c.words);
        ++c.requests;
        if (c.words > words_before && c.actual_tokens > 0 && c.actual_tokens <= count_before) c.saturated = true;
    }
    c.within_tolerance = !c.saturated && within(c.actual_tokens);
    return c;
}

}  // namespace llmbench
