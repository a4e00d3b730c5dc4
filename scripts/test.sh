#!/usr/bin/env bash
# Builds and runs every test: a GCC build with warnings as errors (the tests, every header alone
# and all of them as C++20, two-TU link, the package consumers, the HTML report in headless
# Chromium); a clang ASan+UBSan build (the tests, and each libFuzzer target for 20 s); a clang
# ThreadSanitizer build of the tests that run threads.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --with-browser --with-clang

jobs=$(nproc 2>/dev/null || echo 2)
for preset in dev asan tsan; do
  echo "== $preset: configure, build, test" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --preset "$preset" -j "$jobs"
done
