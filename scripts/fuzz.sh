#!/usr/bin/env bash
# Builds llmbench's libFuzzer targets (tests/fuzz) with clang, ASan and UBSan, and runs each for
# SECONDS (default 60) from a seed corpus of recorded server responses and test data. Fails on
# any finding; prints each target's executions. Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
probe() {
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
    clang++ -fsanitize=fuzzer -x c++ - -o /dev/null 2>/dev/null
}
if ! command -v clang++ >/dev/null || ! probe; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get install -y -q clang libfuzzer-14-dev >/dev/null
fi
build=build/fuzz
mkdir -p "$build"
deps=$(pkg-config --cflags --libs simdjson cpp-httplib)
flags="-std=c++17 -g -O1 -Iinclude -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -pthread"

# Seeds: every recorded response body (HTTP head cut off) and the test data files.
shared=${LLMBENCH_SHARED_DIR:-../shared}
seeds="$build/seeds"
rm -rf "$seeds" && mkdir -p "$seeds"
if [ -d "$shared/fixtures/real-servers" ]; then
  for f in "$shared"/fixtures/real-servers/*.txt; do
    python3 - "$f" "$seeds/$(basename "$f")" <<'PY'
import sys
raw = open(sys.argv[1], 'rb').read()
head = raw.find(b'\r\n\r\n')
open(sys.argv[2], 'wb').write(raw[head + 4:] if raw.startswith(b'HTTP/') and head >= 0 else raw)
PY
  done
fi
cp tests/data/*.jsonl examples/prompts.jsonl "$seeds"/

status=0
for target in framing sse inputs streams; do
  clang++ $flags "tests/fuzz/fuzz_$target.cpp" $deps -o "$build/fuzz_$target"
  corpus="$build/corpus_$target"
  mkdir -p "$corpus"
  log="$build/fuzz_$target.log"
  if "$build/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
       -artifact_prefix="$build/crash_${target}_" "$corpus" "$seeds" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz_$target: $runs executions in ${seconds} s, no finding"
  else
    echo "fuzz_$target: FINDING (see $log and $build/crash_${target}_*)"
    tail -30 "$log"
    status=1
  fi
done
exit $status
