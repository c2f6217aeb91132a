#!/usr/bin/env bash
# Rebuilds the bundled example models from the bundled sample data
# (examples/logs/). Deterministic: the same data and seed give the same model.
# The committed models were built by an earlier release and are kept so that
# earlier agents load them too (the packages' upgrade and downgrade tests,
# mixed fleets): this release's train gives a model with severity
# calibration, a web std floor of 1 and, from logs, a path vocabulary, which
# earlier agents refuse. The pipeline's golden tests pin their scores.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-bin/sharkfin}
$bin train --format combined --k auto --seed 1 --name web --version example-1 \
  -o examples/models/web.json examples/logs/web-train.log.gz
$bin train --format bind --timezone UTC --k auto --seed 1 --name dns --version example-1 \
  -o examples/models/dns.json examples/logs/dns-train.log.gz
# The web model's clusters over its training windows, shown in the README.
$bin model plot examples/models/web.json --data examples/logs/web-train.log.gz --format combined \
  -o examples/models/web-clusters.png
