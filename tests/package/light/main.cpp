// The smallest llmbench consumer: statistics over three numbers, and the version it was built
// against. Proves the include path, the compile flags and the link line, whichever way
// llmbench was brought in (installed, add_subdirectory, FetchContent, pkg-config).
#include <llmbench/core/statistics.hpp>
#include <llmbench/version.hpp>

#include <cstdio>

int main() {
    const llmbench::Stats s = llmbench::compute_stats({1.0, 2.0, 3.0});
    std::printf("llmbench %s: p50 of 1, 2, 3 is %g\n", llmbench::version_string, s.p50);
    return s.p50 == 2.0 ? 0 : 1;
}
