// llmbench/run/synthetic_prompt.hpp - deterministic filler text of a chosen length.
//
// Prompts for length sweeps: English-like sentences drawn from a word list written for
// this project, reproducible from a seed, different for every seed so that no two runs
// share a prefix (and so no prompt cache can serve them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace llmbench {

namespace detail {
/// splitmix64: small, fast, and identical on every platform.
inline std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
}  // namespace detail

/// `words` words of text from `seed`, ending with a request that makes the model answer.
/// The same (words, seed) always gives the same text.
inline std::string synthetic_text(std::size_t words, std::uint64_t seed) {
    static const char* const subjects[] = {"the engineer", "a small committee", "the old harbour", "every student",
                                           "the river", "our neighbour", "the orchestra", "a careful reader",
                                           "the northern valley", "the printing press", "a quiet village",
                                           "the research team", "the lighthouse keeper", "a travelling merchant",
                                           "the city council", "the garden"};
    static const char* const verbs[] = {"described", "measured", "remembered", "questioned", "rebuilt", "painted",
                                        "carried", "followed", "studied", "welcomed", "ignored", "discovered",
                                        "explained", "protected", "replaced", "shared"};
    static const char* const objects[] = {"the morning light", "a forgotten map", "several wooden boats",
                                          "the long winter", "an unusual letter", "the market prices",
                                          "a set of brass instruments", "the annual report", "the stone bridge",
                                          "a difficult question", "the railway timetable", "seven green bottles",
                                          "the weather records", "a borrowed bicycle", "the evening news",
                                          "an ancient recipe"};
    static const char* const tails[] = {"before the rain began", "with great patience", "for the third time",
                                        "without telling anyone", "after a long discussion", "near the old mill",
                                        "during the festival", "in the spring of that year", "as the bells rang",
                                        "while the tide was low", "under a grey sky", "at the edge of the forest"};
    auto pick = [&seed](const char* const* list, std::size_t n) { return list[detail::splitmix64(seed) % n]; };
    std::string out;
    std::size_t count = 0;
    auto add = [&](const char* phrase) {
        for (const char* p = phrase; *p != '\0'; ++p)
            if (*p == ' ') ++count;
        ++count;
        out += phrase;
    };
    std::uint64_t state = seed;
    while (count < words) {
        if (!out.empty()) out += ' ';
        const std::size_t before = out.size();
        add(pick(subjects, sizeof subjects / sizeof *subjects));
        out += ' ';
        add(pick(verbs, sizeof verbs / sizeof *verbs));
        out += ' ';
        add(pick(objects, sizeof objects / sizeof *objects));
        if (detail::splitmix64(state) % 2 == 0) {
            out += ' ';
            add(pick(tails, sizeof tails / sizeof *tails));
        }
        out += '.';
        out[before] = static_cast<char>(out[before] - 'a' + 'A');  // capitalise the sentence
    }
    // Trim to exactly `words` words, then ask for an answer.
    std::size_t seen = 0, cut = out.size();
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] == ' ' && ++seen == words) {
            cut = i;
            break;
        }
    }
    out.resize(cut);
    if (!out.empty() && out.back() != '.') out += '.';
    return out + "\n\nSummarise the text above.";
}

}  // namespace llmbench
