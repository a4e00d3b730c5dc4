#!/usr/bin/env bash
# Builds ollama-bench (Release) and runs the reference benchmark against Ollama.
# Without a reachable Ollama it says so and runs the same flow against the built-in mock.
# Extra arguments go to ollama-bench (e.g. --model llama3.1:8b-instruct-q8_0 --output run.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)" --target ollama-bench >/dev/null

bench=build/release/examples/ollama-bench
args=(--model llama3.1:8b --prompts examples/prompts.jsonl --runs 5 --temperature 0 --num_predict 256)
set +e
"$bench" "${args[@]}" "$@"
rc=$?
set -e
if [ $rc -eq 3 ]; then  # 3: no server answered
  echo >&2
  echo "bench.sh: no Ollama answered, so here is the same benchmark against the built-in mock server." >&2
  echo "bench.sh: its numbers describe the mock, not a model. Start Ollama (ollama serve; ollama pull llama3.1:8b) and run again." >&2
  exec "$bench" --demo "${args[@]}" "$@"
fi
exit $rc
