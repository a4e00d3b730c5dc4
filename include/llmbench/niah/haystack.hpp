// llmbench/niah/haystack.hpp - needle-in-a-haystack prompts: filler text, needles at a depth,
// the question, and scoring by exact value match.
//
// RULER-style needles ("One of the special magic numbers for <key> is: <value>.") with random
// values, so no model can know the answer without reading the text; scored by substring
// match, no judge model (see ../shared/docs/evals.md §5).
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "llmbench/detail/text.hpp"
#include "llmbench/core/error.hpp"
#include "llmbench/eval/text_file.hpp"
#include "llmbench/run/synthetic_prompt.hpp"

namespace llmbench::niah {

/// Filler text as words (punctuation stays attached, so sentence ends can be found).
struct Haystack {
    std::string name;  ///< the file, or "generated"
    std::vector<std::string> words;
};

namespace detail {
inline std::vector<std::string> split_words(std::string_view text) {
    std::vector<std::string> words;
    std::string cur;
    for (char c : text) {
        if (std::isspace(static_cast<unsigned char>(c))) {
            if (!cur.empty()) words.push_back(std::move(cur));
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) words.push_back(std::move(cur));
    return words;
}
inline bool ends_sentence(const std::string& word) {
    if (word.empty()) return false;
    std::size_t i = word.size();
    while (i > 0 && (word[i - 1] == '"' || word[i - 1] == '\'' || word[i - 1] == ')')) --i;
    return i > 0 && (word[i - 1] == '.' || word[i - 1] == '!' || word[i - 1] == '?');
}
}  // namespace detail

/// A text file as a haystack (plain, .gz or .bz2). Project Gutenberg's licence header and
/// footer are cut off when their markers are there. Fewer than 1,000 words is an error.
inline Haystack haystack_from_file(const std::string& path) {
    std::string text = eval::read_text_file(path);
    if (const auto start = text.find("*** START OF"); start != std::string::npos) {
        const auto line_end = text.find('\n', start);
        text.erase(0, line_end == std::string::npos ? text.size() : line_end + 1);
    }
    if (const auto end = text.find("*** END OF"); end != std::string::npos) text.resize(end);
    Haystack h{path, detail::split_words(text)};
    if (h.words.size() < 1000)
        throw error(errc::usage, "haystack '" + path + "' has " + std::to_string(h.words.size()) +
                                     " words; at least 1000 are needed (a text file: a book, essays, ...)");
    return h;
}

/// Filler written by this project (synthetic_text), `words` long, from `seed`.
inline Haystack generated_haystack(std::size_t words, std::uint64_t seed) {
    std::string text = synthetic_text(words, seed);
    text.resize(text.rfind("\n\n"));  // without the closing request
    return Haystack{"generated", detail::split_words(text)};
}

enum class NeedleKind { number, word, multi_value };

inline const char* to_string(NeedleKind k) {
    switch (k) {
        case NeedleKind::number: return "number";
        case NeedleKind::word: return "word";
        case NeedleKind::multi_value: return "multi_value";
    }
    return "";
}

inline NeedleKind parse_needle_kind(const std::string& s) {
    for (NeedleKind k : {NeedleKind::number, NeedleKind::word, NeedleKind::multi_value})
        if (s == to_string(k)) return k;
    throw error(errc::usage, "unknown needle kind '" + s + "' (number, word, multi_value)");
}

/// The facts hidden in the haystack: one key, one or more values.
struct Needle {
    NeedleKind kind = NeedleKind::number;
    std::string key;
    std::vector<std::string> values;

    const char* noun() const { return kind == NeedleKind::word ? "word" : "number"; }
    std::string sentence(const std::string& value) const {
        return "One of the special magic " + std::string(noun()) + "s for " + key + " is: " + value + ".";
    }
    std::string question() const {
        if (kind == NeedleKind::multi_value)
            return "What are all the special magic numbers for " + key + " mentioned in the provided text? List every one of them.";
        return "What is the special magic " + std::string(noun()) + " for " + key + " mentioned in the provided text? Answer with the " +
               noun() + " only.";
    }
};

/// A needle from `seed`: a random adjective-noun key and random values (7-digit numbers, or
/// uncommon words); multi_value has three values for the one key.
inline Needle make_needle(NeedleKind kind, std::uint64_t seed) {
    static const char* const adjectives[] = {"amber", "brisk", "copper", "dusty", "eager", "faint", "gilded", "hollow",
                                             "icy", "jolly", "kindly", "lunar", "mellow", "nimble", "opal", "prickly"};
    static const char* const nouns[] = {"anchor", "badger", "canyon", "dagger", "engine", "falcon", "glacier", "harbour",
                                        "island", "juniper", "kettle", "lantern", "meadow", "nebula", "orchard", "pebble"};
    static const char* const words[] = {"quixotic", "zephyr", "obsidian", "marmalade", "labyrinth", "kaleidoscope", "juxtapose",
                                        "halcyon", "gossamer", "filigree", "ephemeral", "doppelganger", "cacophony", "bucolic",
                                        "anemone", "serendipity"};
    std::uint64_t state = seed;
    const auto pick = [&state](std::size_t n) { return static_cast<std::size_t>(llmbench::detail::splitmix64(state) % n); };
    Needle n;
    n.kind = kind;
    // One pick per statement: the operands of + are unsequenced, and GCC and clang picked them in
    // opposite orders, so the same seed gave different needles. (This order is GCC's.)
    const char* const noun = nouns[pick(16)];
    n.key = std::string(adjectives[pick(16)]) + "-" + noun;
    const std::size_t count = kind == NeedleKind::multi_value ? 3 : 1;
    while (n.values.size() < count) {
        std::string v = kind == NeedleKind::word ? std::string(words[pick(16)]) : std::to_string(1000000 + pick(9000000));
        if (std::find(n.values.begin(), n.values.end(), v) == n.values.end()) n.values.push_back(std::move(v));
    }
    return n;
}

/// A built prompt and where its needles went.
struct NiahPrompt {
    std::string text;
    std::vector<std::size_t> needle_words;  ///< word index in the haystack of each needle
    bool haystack_repeated = false;         ///< the source was shorter than asked and was repeated
};

/// The word index for `depth_percent`, moved back to the start of its sentence (0: the very
/// start, 100: after the last word).
inline std::size_t needle_position(const std::vector<std::string>& words, std::size_t count, int depth_percent) {
    if (depth_percent >= 100) return count;
    auto at = static_cast<std::size_t>(static_cast<double>(count) * std::max(depth_percent, 0) / 100.0 + 0.5);
    while (at > 0 && !detail::ends_sentence(words[(at - 1) % words.size()])) --at;
    return at;
}

/// The haystack's first `words` words (repeating the source if it is shorter), the needle at
/// `depth_percent` (multi_value: its values at depth, depth + 33 and depth + 66, wrapping), then
/// the question.
inline NiahPrompt build_prompt(const Haystack& haystack, std::size_t words, const Needle& needle, int depth_percent) {
    if (haystack.words.empty()) throw error(errc::usage, "empty haystack");
    NiahPrompt p;
    p.haystack_repeated = words > haystack.words.size();
    std::vector<std::pair<std::size_t, std::string>> inserts;
    for (std::size_t i = 0; i < needle.values.size(); ++i) {
        const int depth = needle.values.size() == 1 ? depth_percent : (depth_percent + 33 * static_cast<int>(i)) % 101;
        inserts.emplace_back(needle_position(haystack.words, words, depth), needle.sentence(needle.values[i]));
    }
    std::stable_sort(inserts.begin(), inserts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    const std::string noun = needle.noun();
    p.text = "Some special magic " + noun + "s are hidden within the following text. Make sure to memorize it. I will quiz you about the " +
             noun + "s afterwards.\n";
    std::size_t next = 0;
    for (std::size_t w = 0; w <= words; ++w) {
        while (next < inserts.size() && inserts[next].first == w) {
            p.needle_words.push_back(w);
            p.text += (p.text.back() == '\n' ? "" : " ") + inserts[next++].second;
        }
        if (w == words) break;
        p.text += (p.text.back() == '\n' ? "" : " ") + haystack.words[w % haystack.words.size()];
    }
    p.text += "\n" + needle.question();
    return p;
}

/// Which of the needle's values the reply contains (case-insensitive substring, as RULER's
/// string_match_all): exact when all are there, partial = the share found.
struct NeedleScore {
    std::size_t found = 0, expected = 0;
    bool exact() const { return expected > 0 && found == expected; }
    double partial() const { return expected ? static_cast<double>(found) / static_cast<double>(expected) : 0; }
};

inline NeedleScore score_reply(const std::string& reply, const Needle& needle) {
    const std::string lower = llmbench::detail::ascii_lower(reply);
    NeedleScore s;
    s.expected = needle.values.size();
    for (const auto& v : needle.values)
        if (lower.find(llmbench::detail::ascii_lower(v)) != std::string::npos) ++s.found;
    return s;
}

}  // namespace llmbench::niah
