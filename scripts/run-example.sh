#!/usr/bin/env bash
# make run: the agent in the foreground on the bundled sample logs with the
# bundled models; scored events as JSON lines on stdout, logs on stderr.
# Ctrl-C stops it cleanly (it commits and exits 0).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-bin/sharkfin}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A copy of examples/ with a fresh state file, so every run shows events.
cp -r examples/logs examples/models "$tmp/"
sed "s#STATE_DIR#$tmp#" examples/run.yaml > "$tmp/run.yaml"
"$bin" check -c "$tmp/run.yaml" >&2
echo "sharkfin: following the sample logs; events follow as windows close (Ctrl-C to stop)" >&2
"$bin" run -c "$tmp/run.yaml"
