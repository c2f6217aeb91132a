#!/usr/bin/env bash
# make bench: the benchmark suite. Figures are reported as ratios against a
# baseline measured in the same run, since machines here are noisy.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
bin=${BIN:-bin/sharkfin}
cache=.cache/bench
mkdir -p "$cache"
lines=${BENCH_LINES:-2000000}
log="$cache/combined-$lines.log"
if [ ! -s "$log" ]; then
  echo "generating $log ..."
  go run ./internal/loggen/cmd/loggen -lines "$lines" -visitors 2000 -attackers 2 -seed 42 > "$log.tmp"
  mv "$log.tmp" "$log"
fi
# The high-cardinality shapes (internal/loggen): a busy site, 2M lines of
# 20,000 clients over 2 hours (~4.7 lines per IP-window), and a day of
# 200,000 lines from 100,000 clients (~2 lines each).
for shape in busy day; do
  if [ ! -s "$cache/$shape.log" ]; then
    echo "generating $cache/$shape.log ..."
    go run ./internal/loggen/cmd/loggen -kind "$shape" -seed 42 > "$cache/$shape.log.tmp"
    mv "$cache/$shape.log.tmp" "$cache/$shape.log"
  fi
done
n=$(wc -l < "$log")
model=examples/models/web.json
# A model as a site trains it (`sharkfin train` on its logs: a path
# vocabulary, so every line is looked up in it, and the rare-path rules and
# horizons run), from the first 400,000 lines; the bundled one has none.
# Trained by this build every run (2 s), so it is never stale.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
vmodel="$work/web-vocab.json"
head -n 400000 "$log" > "$work/train.log"
if ! "$bin" train --format combined --seed 1 -o "$vmodel" "$work/train.log" > /dev/null 2> "$work/train.err"; then
  cat "$work/train.err" >&2
  echo "bench: training the vocabulary model failed" >&2
  exit 1
fi

# best of 3 wall-clock seconds of a command (stdout discarded)
best() {
  local b=""
  for _ in 1 2 3; do
    local s e t
    s=$(date +%s.%N)
    "$@" > /dev/null 2> "$work/best.err" || { cat "$work/best.err" >&2; echo "bench: failed: $*" >&2; exit 1; }
    e=$(date +%s.%N)
    t=$(awk -v s="$s" -v e="$e" 'BEGIN{printf "%.4f", e-s}')
    if [ -z "$b" ] || awk -v t="$t" -v b="$b" 'BEGIN{exit !(t < b)}'; then b=$t; fi
  done
  echo "$b"
}

cat "$log" > /dev/null # warm the page cache
t_mawk=$(best mawk '{c[$1]++} END {for (k in c) n++; print n}' "$log")
t_sf=$(best "$bin" score --format combined --model "$model" "$log")
t_sf_anom=$(best "$bin" score --format combined --model "$model" --anomalies-only "$log")
t_sf_vocab=$(best "$bin" score --format combined --model "$vmodel" "$log")

rate() { awk -v n="$n" -v t="$1" 'BEGIN{printf "%.0f", n/t}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
printf '\n== end to end on %s lines (best of 3)\n' "$n"
printf '%-44s %10s %12s %10s\n' "command" "seconds" "lines/s" "vs mawk"
printf '%-44s %10.3f %12s %10s\n' "mawk '{c[\$1]++}' (baseline)" "$t_mawk" "$(rate "$t_mawk")" "1.00"
printf '%-44s %10.3f %12s %10s\n' "sharkfin score (all events)" "$t_sf" "$(rate "$t_sf")" "$(ratio "$t_mawk" "$t_sf")"
printf '%-44s %10.3f %12s %10s\n' "sharkfin score --anomalies-only" "$t_sf_anom" "$(rate "$t_sf_anom")" "$(ratio "$t_mawk" "$t_sf_anom")"
printf '%-44s %10.3f %12s %10s\n' "sharkfin score, a model with a vocabulary" "$t_sf_vocab" "$(rate "$t_sf_vocab")" "$(ratio "$t_mawk" "$t_sf_vocab")"
echo "(goal: sharkfin >= 2.00x mawk)"

printf '\n== Go benchmarks (ns/op, allocs/op)\n'
go test -run '^$' -bench . -benchmem -benchtime 1s \
  ./tailer/format/ ./detect/ ./agent/ ./event/ 2>&1 | grep -E '^(Benchmark|ok|FAIL|pkg:)' || true
go test -run '^$' -bench 'HistoryOrder' -benchmem -benchtime 1s ./state/ 2>&1 | grep -E '^(Benchmark|ok|FAIL|pkg:)' || true

printf '\n== training in bounded memory: 20,000,000 generated windows through the 1,000,000-row sample train keeps\n'
printf '(peak RSS of the training process; held-out inertia against full-batch training on a 1,000,000-row draw)\n'
go test -run '^$' -bench 'TrainSample' -benchtime 1x ./detect/ 2>&1 | grep -E '^(Benchmark|ok|FAIL)' || true
echo "(goal: peak RSS < 256 MiB, inertia within 2%)"

printf '\n== K-Means training quality: best of 10 k-means++ restarts, ours vs scikit-learn (Debian python3-sklearn)\n'
if /usr/bin/python3 -c 'import sklearn' 2>/dev/null; then
  SHARKFIN_SKLEARN=1 go test -count=1 -run 'TestFit_MatchesSklearn' -v ./detect/kmeans/ 2>&1 | grep -E 'ratio|inertia|PASS|FAIL' || true
else
  echo "skipped: apt-get install python3-sklearn"
fi

if [ -x scripts/bench-extra.sh ]; then
  scripts/bench-extra.sh
fi
