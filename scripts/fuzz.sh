#!/usr/bin/env bash
# Runs llmbench's libFuzzer targets (tests/fuzz) for SECONDS each (default 60), in the asan
# preset's build (clang, ASan + UBSan), from seed corpora of recorded server responses and
# test data (tests/fuzz/make_seeds.py). Fails on any finding; prints each target's executions.
# The README's test command runs the same targets for 10 s each. Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
scripts/install-deps.sh --with-clang
cmake --preset asan -DLLMBENCH_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build --preset asan -j "$(nproc 2>/dev/null || echo 2)"
status=0
ctest --preset asan -L fuzz -j 1 || status=$?
log=build/asan/Testing/Temporary/LastTest.log
awk '/^[0-9]+\/[0-9]+ Test: fuzz_/ { name = $3 } /stat::number_of_executed_units/ { print name ": " $2 " executions in '"$seconds"' s" }' "$log"
exit $status
