// libFuzzer's entry points for llmbench_fuzz: the environment variable LLMBENCH_FUZZ_TARGET
// picks the target (fuzz_targets.hpp) every input of this run goes to.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fuzz_targets.hpp"

namespace {
using Target = int (*)(const std::uint8_t*, std::size_t);
Target chosen = nullptr;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    struct Named {
        const char* name;
        Target target;
    };
    static const Named targets[] = {{"framing", fuzz::framing}, {"sse", fuzz::sse},         {"inputs", fuzz::inputs},
                                    {"streams", fuzz::streams}, {"parsers", fuzz::parsers}, {"datasets", fuzz::datasets}};
    const char* name = std::getenv("LLMBENCH_FUZZ_TARGET");
    for (const auto& t : targets)
        if (name != nullptr && std::strcmp(name, t.name) == 0) chosen = t.target;
    if (chosen == nullptr) {
        std::fprintf(stderr, "LLMBENCH_FUZZ_TARGET is %s%s%s; name one of: framing, sse, inputs, streams, parsers, datasets\n",
                     name ? "\"" : "", name ? name : "unset", name ? "\"" : "");
        std::exit(2);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { return chosen(data, size); }
