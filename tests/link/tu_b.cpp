#include "every_header.hpp"

#include <iostream>

std::string summary_from_tu_a();

int main() {
    llmbench::MetricsAccumulator acc;
    const bool same = summary_from_tu_a() == acc.summary().to_json();
    std::cout << (same ? "two translation units agree\n" : "mismatch\n");
    return same ? 0 : 1;
}
