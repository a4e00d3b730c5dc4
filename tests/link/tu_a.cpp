// Two translation units include every header; a non-inline definition would fail to link.
#include <llmbench/llmbench.hpp>
#include <llmbench/testing/mock_ollama.hpp>

std::string summary_from_tu_a() {
    llmbench::MetricsAccumulator acc;
    return acc.summary().to_json();
}
