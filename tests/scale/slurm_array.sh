#!/usr/bin/env bash
# docs/scale/bench-array.sbatch run as Slurm would run a job array's tasks, with the array
# variables set by hand (no Slurm here): 4 tasks against ollama-bench's built-in mock, then
# llmbench-report merges the 4 files. Also an array numbered 1-4 (shifted to shards 0-3), and
# a task started outside an array, which must refuse.
#   slurm_array.sh SCRIPT OLLAMA_BENCH REPORT PROMPTS WORK
set -euo pipefail
script=$1 bench=$2 report=$3 prompts=$4 work=$5
rm -rf "$work" && mkdir -p "$work"
fail() { echo "slurm_array: $*" >&2; exit 1; }
for first in 0 1; do
  out="$work/from-$first"
  for task in $(seq "$first" $((first + 3))); do
    SLURM_ARRAY_TASK_ID=$task SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=$first OLLAMA_BENCH=$bench \
      LLMBENCH_PROMPTS=$prompts LLMBENCH_RESULTS=$out LLMBENCH_RUNS=1 LLMBENCH_NUM_PREDICT=4 bash "$script" --demo --warmup 0 \
      || fail "task $task of the array from $first failed"
  done
  for i in 0 1 2 3; do
    grep -q "\"shard\":{\"index\":$i,\"count\":4}" "$out/shard-$i.jsonl" || fail "$out/shard-$i.jsonl is not shard $i/4"
  done
  "$report" --format markdown "$out"/shard-*.jsonl > "$work/report-$first.md" || fail "llmbench-report could not merge the shards from $first"
  grep -q "3 more shards" "$work/report-$first.md" || fail "the report of the array from $first does not show one merged run"
done
if env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT bash "$script" --demo 2> "$work/outside.err"; then fail "a task outside an array ran"; fi
grep -q "run as a job array" "$work/outside.err" || fail "a task outside an array did not say why it refused"
echo "slurm_array: 2 arrays of 4 tasks merged; a task outside an array refused"
