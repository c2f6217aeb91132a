#!/bin/sh
# The package version, from git describe: a tag vX.Y.Z gives X.Y.Z, N commits
# after it X.Y.Z+N.gSHA; with no tag, 0.0.0+N.gSHA (N = commits in history,
# so later builds sort higher); +dirty when the tree has changes. Versions
# start with a digit and use only characters deb and rpm both accept.
set -eu
cd "$(dirname "$0")/.."
if d=$(git describe --tags --match 'v[0-9]*' --long --dirty 2>/dev/null); then
  # v1.2.3-4-gabcdef0[-dirty]
  echo "$d" | sed -E 's/^v//; s/-0-g[0-9a-f]+//; s/-([0-9]+)-g([0-9a-f]+)/+\1.g\2/; s/-dirty$/.dirty/; s/^([^+]*)\.dirty$/\1+dirty/'
elif sha=$(git rev-parse --short=7 HEAD 2>/dev/null); then
  n=$(git rev-list --count HEAD)
  dirty=""
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then dirty=".dirty"; fi
  echo "0.0.0+$n.g$sha$dirty"
else
  echo "0.0.0+unknown"
fi
