#!/usr/bin/env bash
# Builds and runs every test, in three builds (CMakePresets.json says what each holds):
# dev (GCC, warnings as errors: tests, package consumers, the Kubernetes Job checks, the event
# loop's tests for aarch64 under qemu); asan (clang, ASan + UBSan: tests, the example programs
# end to end, the HTML report in headless Chromium, header checks, bench programs, the docs'
# programs, each fuzz target for 10 s); tsan (clang, ThreadSanitizer: the tests that run threads).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --with-browser --with-clang --with-npm-tools --with-cross

jobs=$(nproc 2>/dev/null || echo 2)
for preset in dev asan tsan; do
  echo "== $preset: configure, build, test" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$((jobs + 1))"  # one more than the cores: compiles also wait on disk
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --preset "$preset" -j "$((jobs * 2))"  # twice the cores: most tests wait on mock servers' delays
done
