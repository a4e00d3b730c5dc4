// libFuzzer target: what users hand llmbench: a prompts file, a results file (the reports'
// reader), an OLLAMA_HOST value and an OpenAI-compatible server's base URL. Bad input must be
// an llmbench::error, never a crash.
#include <llmbench/core/endpoint.hpp>
#include <llmbench/core/error.hpp>
#include <llmbench/client/openai_client.hpp>
#include <llmbench/run/prompts.hpp>
#include <llmbench/report/results.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_targets.hpp"

int fuzz::inputs(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        (void)llmbench::parse_prompts(text, "fuzz.jsonl");
    } catch (const llmbench::error&) {
    }
    try {
        (void)llmbench::parse_result_set({{"fuzz.jsonl", text}});
    } catch (const llmbench::error&) {
    }
    try {
        (void)llmbench::parse_ollama_host(text.substr(0, 256));
    } catch (const llmbench::error&) {
    }
    try {
        const llmbench::OpenAIClient client(text.substr(0, 256));  // parses the URL; connects only on a request
        (void)client.endpoint().url();
    } catch (const llmbench::error&) {
    }
    return 0;
}
