// libFuzzer target: the parsers fed bytes directly, with no socket in between (fuzz_streams
// serves each input over loopback and manages tens of thousands of runs a minute; this one,
// millions). The first byte picks the parser: Ollama's NDJSON stream lines (the rest of the
// input, line by line, as one stream), the Prometheus text parser, or nvidia-smi's CSV.
// Anything but a typed result (or an llmbench::error) is a finding.
#include <llmbench/client/ollama_client.hpp>
#include <llmbench/host/memory_sampler.hpp>
#include <llmbench/host/server_metrics.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch ((data[0] & 0x7f) % 3) {  // the top bit: whether the request asked for log-probabilities
        case 0: {
            llmbench::detail::OllamaLineParser parser;
            parser.expect_logprobs((data[0] & 0x80) != 0);
            llmbench::StreamResult result;
            llmbench::StreamTimer timer;
            timer.mark_sent(timer.now());
            std::size_t start = 0;
            while (start < text.size()) {
                const auto nl = text.find('\n', start);
                const auto line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
                if (!parser.feed(line, start, timer.now(), result, timer, {})) break;
                if (nl == std::string_view::npos) break;
                start = nl + 1;
            }
            (void)result.server.prompt_eval_count;
            break;
        }
        case 1: (void)llmbench::parse_prometheus(text); break;
        case 2: (void)llmbench::parse_nvidia_smi(text); break;
    }
    return 0;
}
