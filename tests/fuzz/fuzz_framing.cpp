// libFuzzer target: the NDJSON line framer and the chunked-transfer decoder, fed the input in
// pieces whose sizes come from the input itself (split points matter as much as bytes).
#include <llmbench/detail/http_stream.hpp>
#include <llmbench/client/framing.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_targets.hpp"

int fuzz::framing(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t step = 1 + data[0] % 64;
    const char* text = reinterpret_cast<const char*>(data + 1);
    const std::size_t n = size - 1;
    llmbench::LineFramer framer(4096);
    std::size_t total = 0;
    for (std::size_t at = 0; at < n; at += step) {
        if (!framer.feed(text + at, std::min(step, n - at), [&](std::string_view line, std::uint64_t offset) {
                total += line.size();
                return offset <= n;  // offsets stay inside the stream
            }))
            break;
    }
#if LLMBENCH_HAS_HTTP_STREAM
    llmbench::detail::ChunkedDecoder chunked;
    std::size_t decoded = 0;
    for (std::size_t at = 0; at < n; at += step) {
        const auto fed = chunked.feed(text + at, std::min(step, n - at), [&](const char*, std::size_t k) {
            decoded += k;
            return true;
        });
        if (fed.complete || decoded > n) break;
    }
#endif
    return 0;
}
