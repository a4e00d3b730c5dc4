#!/usr/bin/env bash
# Builds the test files that run threads with ThreadSanitizer (clang) and runs them: load
# generation, many streams at once, the socket reader, both clients and mocks, the memory
# sampler, the eval runner's workers. The README's test command runs this too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --with-clang
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "$(nproc 2>/dev/null || echo 2)"
ctest --preset tsan
