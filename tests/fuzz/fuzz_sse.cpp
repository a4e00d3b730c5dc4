// libFuzzer target: server-sent events, line by line, as the OpenAI client reads them.
#include <llmbench/client/sse.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_targets.hpp"

int fuzz::sse(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    llmbench::SseParser parser;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto nl = text.find('\n', start);
        const auto line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
        if (auto e = parser.feed_line(line)) (void)e->done_marker();
        if (nl == std::string_view::npos) break;
        start = nl + 1;
    }
    (void)parser.flush();
    return 0;
}
