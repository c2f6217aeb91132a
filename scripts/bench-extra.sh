#!/usr/bin/env bash
# Agent benchmarks (called by scripts/bench.sh): catch-up, commits, idle CPU, RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${BENCH_LINES:-2000000}
go run ./internal/benchagent -bin "${BIN:-bin/sharkfin}" -log ".cache/bench/combined-$lines.log" -idle "${BENCH_IDLE:-60s}"
