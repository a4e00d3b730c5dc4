// llmbench/eval/extract.hpp - the answer inside a model's reply.
//
// Multiple choice: a letter, found the way simple-evals and Meta's llama3 tasks find it (see
// ../shared/docs/evals.md §2): an "Answer: X" line or "the best answer is X", the last match
// (chain-of-thought replies mention several letters on the way), else a reply that is only a
// letter. GSM8K: lm-evaluation-harness's strict ("#### N" / "The answer is N") and flexible
// (last number) extraction. Unparsable is nullopt: scored wrong, and counted separately.
#pragma once

#include <cctype>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace llmbench::eval {

namespace detail {

/// Markdown and LaTeX wrappers removed, as simple-evals normalises before matching.
inline std::string normalise_reply(std::string s) {
    for (const char* wrapper : {"**", "__", "\\boxed{", "\\text{", "\\textbf{", "\\mathrm{", "$"}) {
        const std::string w = wrapper;
        for (auto at = s.find(w); at != std::string::npos; at = s.find(w, at)) s.erase(at, w.size());
    }
    return s;
}

inline std::optional<std::string> last_match(const std::string& text, const std::regex& pattern, std::size_t group = 1) {
    std::optional<std::string> found;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern); it != std::sregex_iterator(); ++it)
        if ((*it)[group].matched) found = (*it)[group].str();
    return found;
}

inline std::optional<std::string> first_match(const std::string& text, const std::regex& pattern, std::size_t group = 1) {
    std::smatch m;
    if (std::regex_search(text, m, pattern) && m[group].matched) return m[group].str();
    return std::nullopt;
}

/// "-1,234.50" -> "-1234.50"; "$18." -> "18": the harness's clean-up before exact match.
inline std::string normalise_number(std::string s) {
    std::string out;
    for (char c : s)
        if (c != ',' && c != '$') out += c;
    while (!out.empty() && (out.back() == '.' || out.back() == ' ')) out.pop_back();
    while (!out.empty() && out.front() == ' ') out.erase(0, 1);
    return out;
}

}  // namespace detail

namespace detail {

/// extract_choice's patterns for the options A up to the `choices`th letter. Built once for
/// every count: a std::regex costs far more to compile than to run (it was most of an item's
/// client CPU in eval-throughput).
struct ChoicePatterns {
    std::vector<std::regex> stated;  ///< answer lines and stated answers, strongest form first
    std::regex bare;                 ///< a bare letter at the very start of the reply
};

inline const ChoicePatterns& choice_patterns(std::size_t choices) {
    static const std::vector<ChoicePatterns> all = [] {
        std::vector<ChoicePatterns> v;
        for (char last = 'A'; last <= 'Z'; ++last) {
            const std::string letters = std::string("[A-") + last + "]";
            ChoicePatterns p;
            p.stated = {std::regex("answer\\s*(?:is)?\\s*:\\s*\\(?(" + letters + ")\\)?(?![A-Za-z])", std::regex::icase),
                        std::regex("best answer is\\s*:?\\s*\\(?(" + letters + ")\\)?(?![A-Za-z])", std::regex::icase),
                        std::regex("(?:the )?(?:correct )?answer is\\s*(?:option\\s*)?\\(?(" + letters + ")\\)?(?![A-Za-z])", std::regex::icase)};
            // Upper case only, so the article "a" is never read as option A.
            p.bare = std::regex("^\\s*\\(?(" + letters + ")(?:[.):]|\\s*$|\\s)");
            v.push_back(std::move(p));
        }
        return v;
    }();
    return all.at(choices - 1);
}

}  // namespace detail

/// The chosen option's index (0 = A), or nullopt when the reply names none of the
/// `choices` letters.
inline std::optional<std::size_t> extract_choice(const std::string& reply, std::size_t choices) {
    if (choices == 0 || choices > 26) return std::nullopt;
    const auto& patterns = detail::choice_patterns(choices);
    const std::string text = detail::normalise_reply(reply);
    // In each form, the last occurrence.
    for (const auto& pattern : patterns.stated)
        if (auto m = detail::last_match(text, pattern)) {
            const char c = static_cast<char>(std::toupper(static_cast<unsigned char>((*m)[0])));
            return static_cast<std::size_t>(c - 'A');
        }
    // A bare letter: "B", "(B)", "B.", "B) text".
    if (auto m = detail::first_match(text, patterns.bare)) return static_cast<std::size_t>((*m)[0] - 'A');
    return std::nullopt;
}

/// GSM8K strict extraction: the number after "#### ", or after "The answer is" / "The final
/// answer is" (first match, as the harness), cleaned of commas, "$" and a final period.
inline std::optional<std::string> extract_number_strict(const std::string& reply) {
    static const std::regex hashes("#### (\\-?[0-9\\.\\,]+)");
    static const std::regex stated("[Tt]he (?:final )?answer is \\$?(\\-?[0-9\\.\\,]*[0-9])");
    if (auto m = detail::first_match(reply, hashes)) return detail::normalise_number(*m);
    if (auto m = detail::first_match(reply, stated)) return detail::normalise_number(*m);
    return std::nullopt;
}

/// GSM8K flexible extraction: the last number in the reply (`(-?[$0-9.,]{2,})|(-?[0-9]+)`).
inline std::optional<std::string> extract_number_flexible(const std::string& reply) {
    static const std::regex number("(-?[$0-9.,]{2,})|(-?[0-9]+)");
    std::optional<std::string> found;
    for (auto it = std::sregex_iterator(reply.begin(), reply.end(), number); it != std::sregex_iterator(); ++it) {
        const std::string n = detail::normalise_number((*it)[0].str());
        if (n.find_first_of("0123456789") != std::string::npos) found = n;
    }
    return found;
}

/// Whether an extracted number is the gold answer: exact text after the same clean-up, as
/// the harness's exact_match (so "18.00" is not "18").
inline bool same_number(const std::optional<std::string>& extracted, const std::string& gold) {
    return extracted && detail::normalise_number(*extracted) == detail::normalise_number(gold);
}

/// The code in a reply: the first fenced block (```python or ```), else the whole reply.
inline std::string extract_code(const std::string& reply) {
    const auto open = reply.find("```");
    if (open == std::string::npos) return reply;
    const auto line_end = reply.find('\n', open);
    if (line_end == std::string::npos) return reply;
    const auto close = reply.find("```", line_end + 1);
    return reply.substr(line_end + 1, close == std::string::npos ? std::string::npos : close - line_end - 1);
}

}  // namespace llmbench::eval
