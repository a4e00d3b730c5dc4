#!/usr/bin/env bash
# Builds ollama-bench (Release) and runs the reference benchmark against Ollama.
# Without a reachable Ollama it says so and runs the same flow against the built-in mock.
# Then it builds the README's other programs (bench-matrix, llmbench-report, llmbench-compare,
# eval-suite, niah) into build/release/examples, so the next sections work as written;
# LLMBENCH_BENCH_ONLY=1 skips that.
# Extra arguments go to ollama-bench (e.g. --model llama3.1:8b-instruct-q8_0 --output run.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs="$(nproc 2>/dev/null || echo 2)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs" --target ollama-bench >/dev/null

bench=build/release/examples/ollama-bench
args=(--model llama3.1:8b --prompts examples/prompts.jsonl --runs 5 --temperature 0 --num_predict 256)
set +e
"$bench" "${args[@]}" "$@"
rc=$?
if [ $rc -eq 3 ]; then  # 3: no server answered
  echo >&2
  echo "bench.sh: no Ollama answered, so here is the same benchmark against the built-in mock server." >&2
  echo "bench.sh: its numbers describe the mock, not a model. Start Ollama (ollama serve; ollama pull llama3.1:8b) and run again." >&2
  "$bench" --demo "${args[@]}" "$@"
  rc=$?
fi
set -e
if [ "${LLMBENCH_BENCH_ONLY:-0}" != 1 ]; then
  echo >&2
  echo "bench.sh: building the other programs the README uses next (a few minutes; LLMBENCH_BENCH_ONLY=1 skips this)..." >&2
  cmake --build --preset release -j "$jobs" --target bench-matrix llmbench-report llmbench-compare eval-suite niah >/dev/null
  echo "bench.sh: ready in build/release/examples: ollama-bench bench-matrix llmbench-report llmbench-compare eval-suite niah" >&2
fi
exit $rc
