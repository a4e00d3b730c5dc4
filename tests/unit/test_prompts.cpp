#include <llmbench/run/prompts.hpp>

#include <doctest/doctest.h>

using llmbench::parse_prompts;

namespace {
std::string error_of(const std::string& content) {
    try {
        parse_prompts(content, "p.jsonl");
    } catch (const llmbench::error& e) {
        CHECK(e.code() == llmbench::errc::usage);
        return e.what();
    }
    return "";
}
}  // namespace

TEST_CASE("prompts: ids, defaults, blank lines, BOM and CRLF") {
    const auto p = parse_prompts("\xEF\xBB\xBF{\"prompt\":\"a\"}\r\n\n  \n{\"id\":7,\"prompt\":\"b\",\"system\":\"s\",\"num_predict\":12}\n",
                                 "p.jsonl");
    REQUIRE(p.size() == 2);
    CHECK(p[0].id == "prompt-1");
    CHECK(p[0].text == "a");
    CHECK(p[1].id == "7");
    CHECK(p[1].system == "s");
    CHECK(p[1].num_predict == 12);
}

TEST_CASE("a bad prompts line names file, line and field") {
    CHECK(error_of("{\"prompt\":\"a\"}\n{\"text\":\"b\"}\n") == "p.jsonl:2: missing required field \"prompt\"");
    CHECK(error_of("{\"prompt\":5}\n") == "p.jsonl:1: field \"prompt\" must be a string");
    CHECK(error_of("{\"prompt\":\"a\",\"num_predict\":\"many\"}\n").find("p.jsonl:1: field \"num_predict\"") == 0);
    CHECK(error_of("\n\n{\"prompt\":\"a\"\n").find("p.jsonl:3: invalid JSON") == 0);
    CHECK(error_of("[1,2]\n") == "p.jsonl:1: expected a JSON object");
    CHECK(error_of("{\"id\":\"x\",\"prompt\":\"a\"}\n{\"id\":\"x\",\"prompt\":\"b\"}\n") ==
          "p.jsonl:2: duplicate id \"x\" (first on line 1)");
    CHECK(error_of("\n\n") == "p.jsonl: no prompts (expected one JSON object per line)");
    CHECK(error_of("{\"prompt\":\"\"}") == "p.jsonl:1: field \"prompt\" is empty");
}
