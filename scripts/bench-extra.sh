#!/usr/bin/env bash
# Agent benchmarks (called by scripts/bench.sh): catch-up and score per traffic
# shape against mawk, longest commit, state size, RSS; idle CPU; flood RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${BENCH_LINES:-2000000}
go run ./internal/benchagent -bin "${BIN:-bin/sharkfin}" -log ".cache/bench/combined-$lines.log" \
  -shapes "busy=.cache/bench/busy.log,day=.cache/bench/day.log" -idle "${BENCH_IDLE:-60s}"
