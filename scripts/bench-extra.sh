#!/usr/bin/env bash
# Agent benchmarks (called by scripts/bench.sh): catch-up and score per traffic
# shape against mawk, longest commit, state size, RSS; idle CPU; flood RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${BENCH_LINES:-2000000}
go run ./internal/benchagent -bin "${BIN:-bin/sharkfin}" -log ".cache/bench/combined-$lines.log" \
  -shapes "busy=.cache/bench/busy.log,day=.cache/bench/day.log" -idle "${BENCH_IDLE:-60s}"
# A forward proxy (Squid, per-client and per-domain counting, a domain event
# per uncategorized destination and window) caught up with the enrichment
# lookups off, and on with every WHOIS and TLS target black-holed.
go run ./internal/benchagent -bin "${BIN:-bin/sharkfin}" -proxy -runs "${BENCH_PROXY_RUNS:-5}"
