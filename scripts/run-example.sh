#!/usr/bin/env bash
# make run: sharkfin on the bundled sample logs with the bundled models,
# scored events as JSON lines on stdout, a summary on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-bin/sharkfin}
if [ -f examples/run.yaml ] && "$bin" check -c examples/run.yaml >/dev/null 2>&1; then
  # The agent in the foreground; Ctrl-C stops it cleanly.
  state=$(mktemp -d)
  trap 'rm -rf "$state"' EXIT
  SHARKFIN_STATE_DIR="$state" exec "$bin" run -c examples/run.yaml
fi
"$bin" score --format combined --model examples/models/web.json examples/logs/web-access.log examples/logs/apache-elastic.log
"$bin" score --format bind --timezone UTC --model examples/models/dns.json examples/logs/dns-queries.log
