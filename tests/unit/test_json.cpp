#include <llmbench/detail/json_parse.hpp>
#include <llmbench/core/json.hpp>

#include <cmath>
#include <limits>

#include <doctest/doctest.h>

using llmbench::JsonWriter;

TEST_CASE("JsonWriter places commas and escapes strings") {
    JsonWriter w;
    w.begin_object()
        .kv("a", 1)
        .kv("text", "quote\" backslash\\ newline\n tab\t ctrl\x01 é")
        .key("list")
        .begin_array()
        .value(true)
        .null()
        .value(2.5)
        .end_array()
        .key("empty")
        .begin_object()
        .end_object()
        .end_object();
    CHECK(w.str() ==
          R"({"a":1,"text":"quote\" backslash\\ newline\n tab\t ctrl\u0001 é","list":[true,null,2.5],"empty":{}})");
}

TEST_CASE("JsonWriter writes optionals and non-finite numbers as null") {
    JsonWriter w;
    w.begin_array()
        .value(std::optional<double>{})
        .value(std::optional<int>{7})
        .value(std::numeric_limits<double>::quiet_NaN())
        .value(std::numeric_limits<double>::infinity())
        .end_array();
    CHECK(w.str() == "[null,7,null,null]");
}

TEST_CASE("doubles round-trip through simdjson") {
    for (double x : {0.1, 1e-9, 123456.789, 3.0, -2.5e300}) {
        JsonWriter w;
        w.begin_object().kv("x", x).end_object();
        std::string storage;
        simdjson::ondemand::parser parser;
        auto doc = parser.iterate(llmbench::detail::padded(storage, w.str()));
        CHECK(double(doc["x"]) == x);
    }
}

TEST_CASE("error_message_from_body reads Ollama and OpenAI error shapes") {
    using llmbench::detail::error_message_from_body;
    CHECK(error_message_from_body(R"({"error":"model 'x' not found"})") == "model 'x' not found");
    CHECK(error_message_from_body(R"({"error":{"message":"nope","type":"api_error"}})") == "nope");
    CHECK(error_message_from_body("plain text\n") == "plain text");
}

TEST_CASE("numbers from a server or a file become whole numbers only when they fit") {
    using llmbench::detail::to_int64;
    CHECK(to_int64(42.0) == 42);
    CHECK(to_int64(-7.9) == -7);
    CHECK_FALSE(to_int64(3.43597e76).has_value());  // fuzz_inputs found this cast, undefined behaviour
    CHECK_FALSE(to_int64(-1e19).has_value());
    CHECK_FALSE(to_int64(std::nan("")).has_value());
    simdjson::dom::parser parser;
    const simdjson::dom::element doc = parser.parse(std::string(R"({"a":12,"b":1e300,"c":"x","d":2.0})"));
    CHECK(llmbench::detail::dom_int64(doc["a"]) == 12);
    CHECK_FALSE(llmbench::detail::dom_int64(doc["b"]).has_value());
    CHECK_FALSE(llmbench::detail::dom_int64(doc["c"]).has_value());
    CHECK_FALSE(llmbench::detail::dom_int64(doc["missing"]).has_value());
    CHECK(llmbench::detail::dom_int64(doc["d"]) == 2);
}

TEST_CASE("read_int rounds what fits and reads a number no int64 holds as unknown") {
    simdjson::ondemand::parser parser;
    std::string storage;
    const auto read = [&](const char* json) {
        std::optional<std::int64_t> out = 7;  // a stale value must not survive
        auto doc = parser.iterate(llmbench::detail::padded(storage, json));
        simdjson::ondemand::value v = doc["n"].value();
        REQUIRE(llmbench::detail::read_int(v, out) == simdjson::SUCCESS);
        return out;
    };
    CHECK(read(R"({"n":1500000000})") == 1500000000);
    CHECK(read(R"({"n":1.5e9})") == 1500000000);
    CHECK(read(R"({"n":2.5})") == 3);
    CHECK(read(R"({"n":-2.5})") == -3);
    CHECK_FALSE(read(R"({"n":null})").has_value());
    CHECK_FALSE(read(R"({"n":1e300})").has_value());  // was cast to int64_t: undefined behaviour
    CHECK_FALSE(read(R"({"n":-1e300})").has_value());
    CHECK_FALSE(read(R"({"n":18446744073709551615})").has_value());  // above INT64_MAX
    CHECK(read(R"({"n":9223372036854775807})") == 9223372036854775807);
}

TEST_CASE("bytes that are not UTF-8 are written as U+FFFD so every line parses - valid UTF-8 is kept") {
    const std::pair<std::string, std::string> cases[] = {
        {"ok \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "ok \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},  // é € 😀 as they are
        {"\xFF\xFE raw", "\xEF\xBF\xBD\xEF\xBF\xBD raw"},                                         // bytes no UTF-8 has
        {"cut \xE2\x82", "cut \xEF\xBF\xBD\xEF\xBF\xBD"},                                         // a character cut by a 2 KiB tail
        {"\x80 lone continuation", "\xEF\xBF\xBD lone continuation"},
        {"\xC0\xAF overlong", "\xEF\xBF\xBD\xEF\xBF\xBD overlong"},
        {"\xED\xA0\x80 surrogate", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD surrogate"},
        {"\xF4\x90\x80\x80 too high", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD too high"},
    };
    for (const auto& [raw, expected] : cases) {
        JsonWriter w;
        w.begin_object().kv("text", raw).end_object();
        INFO(w.str());
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        REQUIRE(parser.parse(w.str()).get(doc) == simdjson::SUCCESS);  // simdjson validates UTF-8
        std::string_view text;
        REQUIRE(doc["text"].get_string().get(text) == simdjson::SUCCESS);
        CHECK(text == expected);
    }
}
