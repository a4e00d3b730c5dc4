// libFuzzer target: the parsers fed bytes directly, with no socket in between (fuzz_streams
// serves each input over loopback and manages tens of thousands of runs a minute; this one,
// millions). The first byte picks the parser: Ollama's NDJSON stream lines (the rest of the
// input, line by line, as one stream), the Prometheus text parser, nvidia-smi's CSV, an
// OpenAI-style or llama.cpp native SSE stream (line by line), Ollama's metadata bodies
// (/api/show, /api/ps, /api/tags, /api/version), the OpenAI-style ones (/v1/models, /props)
// or powermetrics' plist samples (NUL-separated, each fed to the integrator).
// Anything but a typed result (or an llmbench::error) is a finding.
#include <llmbench/client/ollama_client.hpp>
#include <llmbench/client/openai_client.hpp>
#include <llmbench/host/memory_sampler.hpp>
#include <llmbench/host/powermetrics.hpp>
#include <llmbench/host/server_metrics.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_targets.hpp"

namespace {

/// Hands `text` to on_line(line, offset) line by line, until it returns false.
template <class OnLine>
void each_line(std::string_view text, OnLine&& on_line) {
    std::size_t start = 0;
    while (start < text.size()) {
        const auto nl = text.find('\n', start);
        const auto line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
        if (!on_line(line, start) || nl == std::string_view::npos) return;
        start = nl + 1;
    }
}

/// Runs `parse`; an llmbench::error (a malformed body named so) is an answer, not a finding.
template <class Parse>
void answer(Parse&& parse) {
    try {
        (void)parse();
    } catch (const llmbench::error&) {
    }
}

}  // namespace

int fuzz::parsers(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    const bool logprobs = (data[0] & 0x80) != 0;  // the top bit: whether the request asked for log-probabilities
    llmbench::StreamResult result;
    llmbench::StreamTimer timer;
    timer.mark_sent(timer.now());
    switch ((data[0] & 0x7f) % 8) {
        case 0: {
            llmbench::detail::OllamaLineParser parser;
            parser.expect_logprobs(logprobs);
            each_line(text, [&](std::string_view line, std::size_t offset) { return parser.feed(line, offset, timer.now(), result, timer, {}); });
            break;
        }
        case 1: (void)llmbench::parse_prometheus(text); break;
        case 2: (void)llmbench::parse_nvidia_smi(text); break;
        case 3:
        case 4: {
            using Flavour = llmbench::detail::OpenAIEventParser::Flavour;
            llmbench::detail::OpenAIEventParser parser;
            parser.begin((data[0] & 0x7f) % 8 == 3 ? Flavour::openai : Flavour::llamacpp_native, logprobs);
            bool going = true;
            each_line(text, [&](std::string_view line, std::size_t) { return going = parser.feed_line(line, timer.now(), result, timer); });
            if (going) parser.end_of_bytes({}, timer.now(), result, timer);
            (void)parser.unfinished(result);
            parser.settle(result, timer);
            break;
        }
        case 5: {
            const std::string source = "http://fuzz";
            answer([&] { return llmbench::detail::parse_show(text, source); });
            answer([&] { return llmbench::detail::parse_running(text, source); });
            answer([&] { return llmbench::detail::parse_tags(text, source); });
            answer([&] { return llmbench::detail::parse_version(text, source); });
            break;
        }
        case 6: {
            const std::string source = "http://fuzz";
            answer([&] { return llmbench::detail::parse_served_models(text, source); });
            answer([&] { return llmbench::detail::parse_props(text, source); });
            break;
        }
        case 7: {
            llmbench::PowermetricsIntegrator integrator;
            const auto at = llmbench::PowermetricsIntegrator::clock::now();
            std::size_t begin = 0;
            while (begin < text.size()) {
                const auto end = text.find('\0', begin);
                answer([&] {
                    integrator.add(llmbench::parse_powermetrics_sample(text.substr(begin, end == std::string_view::npos ? end : end - begin)), at);
                    return 0;
                });
                if (end == std::string_view::npos) break;
                begin = end + 1;
            }
            (void)integrator.read(at);
            break;
        }
    }
    (void)result.server.prompt_eval_count;
    return 0;
}
