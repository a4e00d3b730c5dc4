#include <llmbench/run/synthetic_prompt.hpp>

#include <doctest/doctest.h>

namespace {
std::size_t words_before_question(const std::string& text) {
    const auto body = text.substr(0, text.find("\n\n"));
    std::size_t n = body.empty() ? 0 : 1;
    for (char c : body) n += c == ' ';
    return n;
}
}  // namespace

TEST_CASE("synthetic text: exact word count, reproducible, different for every seed") {
    for (std::size_t words : {std::size_t{1}, std::size_t{7}, std::size_t{150}, std::size_t{3000}}) {
        CAPTURE(words);
        const auto a = llmbench::synthetic_text(words, 42);
        CHECK(words_before_question(a) == words);
        CHECK(a == llmbench::synthetic_text(words, 42));
        CHECK(a.find("\n\nSummarise the text above.") != std::string::npos);
    }
    const auto x = llmbench::synthetic_text(200, 1), y = llmbench::synthetic_text(200, 2);
    CHECK(x != y);
    CHECK(x.substr(0, 40) != y.substr(0, 40));
}
