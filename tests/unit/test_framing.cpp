#include <llmbench/client/framing.hpp>

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "../test_util.hpp"

using llmbench::LineFramer;

namespace {
std::vector<std::string> frame_in_two(const std::string& stream, std::size_t split, std::vector<std::uint64_t>* offsets = nullptr) {
    LineFramer framer;
    std::vector<std::string> lines;
    auto collect = [&](std::string_view line, std::uint64_t offset) {
        lines.emplace_back(line);
        if (offsets) offsets->push_back(offset);
        return true;
    };
    REQUIRE(framer.feed(stream.data(), split, collect));
    REQUIRE(framer.feed(stream.data() + split, stream.size() - split, collect));
    CHECK(framer.pending().empty());
    CHECK(framer.bytes_consumed() == stream.size());
    return lines;
}
}  // namespace

TEST_CASE("a recorded Ollama stream frames identically at every split point") {
    const std::string body = test_util::read_capture("ollama_generate_stream.txt").body;
    REQUIRE(body.size() > 1000);
    std::vector<std::uint64_t> offsets;
    const auto reference = frame_in_two(body, body.size(), &offsets);
    REQUIRE(reference.size() == 65);  // 64 tokens + the final line
    for (std::size_t i = 0; i < reference.size(); ++i)
        CHECK(body.compare(offsets[i], reference[i].size(), reference[i]) == 0);
    for (std::size_t split = 0; split <= body.size(); ++split) {
        const auto lines = frame_in_two(body, split);
        if (lines != reference) FAIL("split at byte " << split << " changed the lines");
    }
}

TEST_CASE("one byte per read, and many lines per read") {
    const std::string body = test_util::read_capture("ollama_chat_stream.txt").body;
    LineFramer framer;
    std::size_t count = 0;
    for (char c : body) framer.feed(&c, 1, [&](std::string_view, std::uint64_t) { return ++count, true; });
    const auto whole = frame_in_two(body, 0);
    CHECK(count == whole.size());
    CHECK(count == 65);
}

TEST_CASE("splits inside a multi-byte UTF-8 character keep the character whole") {
    const std::string stream = "{\"response\":\"\xE6\x97\xA5\xE6\x9C\xAC\"}\n{\"response\":\"\xF0\x9F\x98\x80\"}\n";
    const auto reference = frame_in_two(stream, 0);
    REQUIRE(reference.size() == 2);
    for (std::size_t split = 0; split <= stream.size(); ++split) CHECK(frame_in_two(stream, split) == reference);
    CHECK(reference[1] == "{\"response\":\"\xF0\x9F\x98\x80\"}");
}

TEST_CASE("CRLF endings are stripped and an unterminated tail stays pending") {
    LineFramer framer;
    std::vector<std::string> lines;
    const std::string data = "a\r\nb\nc";
    framer.feed(data.data(), data.size(), [&](std::string_view l, std::uint64_t) { return lines.emplace_back(l), true; });
    CHECK(lines == std::vector<std::string>{"a", "b"});
    CHECK(framer.pending() == "c");
    CHECK(framer.pending_offset() == 5);
}

TEST_CASE("lines of 16 MiB pass - a line over the limit is reported, not buffered forever") {
    std::string big(std::size_t{16} << 20, 'x');
    big += "\n";
    LineFramer framer;
    std::size_t seen = 0;
    for (std::size_t at = 0; at < big.size(); at += 65536)
        REQUIRE(framer.feed(big.data() + at, std::min<std::size_t>(65536, big.size() - at),
                            [&](std::string_view l, std::uint64_t) { return seen = l.size(), true; }));
    CHECK(seen == (std::size_t{16} << 20));

    LineFramer small(10);
    const std::string data = "0123456789ABC";
    CHECK_FALSE(small.feed(data.data(), data.size(), [](std::string_view, std::uint64_t) { return true; }));
    CHECK(small.overflowed());
}

TEST_CASE("the callback can stop the framer") {
    LineFramer framer;
    int calls = 0;
    const std::string data = "a\nb\nc\n";
    CHECK_FALSE(framer.feed(data.data(), data.size(), [&](std::string_view, std::uint64_t) { return ++calls < 2; }));
    CHECK(calls == 2);
}
