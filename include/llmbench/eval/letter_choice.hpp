// llmbench/eval/letter_choice.hpp - a multiple-choice answer read from the log-probabilities of
// the one token generated after "Answer:", as lm-evaluation-harness scores MMLU: the option
// whose letter is most likely wins.
#pragma once

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llmbench/core/response.hpp"

namespace llmbench::eval {

/// The options' letters as the first generated token saw them.
struct LetterChoice {
    /// Per option (A, B, ...): the log of the summed probability of every alternative that
    /// spells its letter (" A", "A", " a", "a"); nullopt when none is among the top-k.
    std::vector<std::optional<double>> logprobs;
    /// Per option: its probability normalised over the options that were seen (0 for the
    /// others: below the k-th alternative, so small, but not known). Empty when none was seen.
    std::vector<double> probabilities;
    /// The most likely option; ties go to the earlier letter (numpy.argmax's rule, as the
    /// harness has it). nullopt: no option letter among the top-k (`no_letter_in_top_k`).
    std::optional<std::size_t> chosen;

    bool no_letter_in_top_k() const { return !chosen; }
    /// The chosen option's normalised probability: the item's confidence.
    std::optional<double> confidence() const { return chosen ? std::optional<double>(probabilities[*chosen]) : std::nullopt; }
};

namespace detail {
/// The option a token spells: one letter A.. (either case), with surrounding whitespace.
inline std::optional<std::size_t> option_of_token(std::string_view token, std::size_t option_count) {
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t' || token.front() == '\n')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n')) token.remove_suffix(1);
    if (token.size() != 1) return std::nullopt;
    const char c = token.front();
    const std::size_t i = c >= 'a' && c <= 'z' ? static_cast<std::size_t>(c - 'a') : c >= 'A' && c <= 'Z' ? static_cast<std::size_t>(c - 'A') : option_count;
    return i < option_count ? std::optional<std::size_t>(i) : std::nullopt;
}
}  // namespace detail

/// Reads the choice among `option_count` lettered options from the first generated token's
/// top alternatives (and the sampled token, should the server leave it out of them). Each
/// distinct token counts once.
inline LetterChoice letter_choice(const TokenLogprobs& first_token, std::size_t option_count) {
    LetterChoice c;
    c.logprobs.assign(option_count, std::nullopt);
    std::vector<std::string> seen;
    const auto add = [&](const TokenLogprob& t) {
        for (const auto& s : seen)
            if (s == t.token) return;
        seen.push_back(t.token);
        const auto option = detail::option_of_token(t.token, option_count);
        if (!option || !std::isfinite(t.logprob)) return;
        auto& lp = c.logprobs[*option];  // log(e^lp + e^t): summed in probability, kept in logs
        if (!lp) lp = t.logprob;
        else {
            const double hi = std::max(*lp, t.logprob), lo = std::min(*lp, t.logprob);
            lp = hi + std::log1p(std::exp(lo - hi));
        }
    };
    for (const auto& t : first_token.top) add(t);
    add(first_token.sampled);

    double best = 0;
    for (std::size_t i = 0; i < option_count; ++i)
        if (c.logprobs[i] && (!c.chosen || *c.logprobs[i] > best)) {
            c.chosen = i;
            best = *c.logprobs[i];
        }
    if (!c.chosen) return c;
    double total = 0;
    c.probabilities.assign(option_count, 0.0);
    for (std::size_t i = 0; i < option_count; ++i)
        if (c.logprobs[i]) total += c.probabilities[i] = std::exp(*c.logprobs[i] - best);  // relative to the best: no underflow
    for (auto& p : c.probabilities) p /= total;
    return c;
}

}  // namespace llmbench::eval
