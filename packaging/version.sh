#!/bin/sh
# The package version, from git describe. Versions start with a digit, use
# only characters dpkg and rpm both accept, and a later commit sorts higher
# in both (dpkg --compare-versions, rpm's vercmp):
#   at tag vX.Y.Z                     X.Y.Z
#   N commits after it                X.Y.Z+N.gSHA
#   uncommitted changes               X.Y.Z+N.gSHA.dirty  (N may be 0)
#   a pre-release tag vX.Y.Z-rc1      X.Y.Z~rc1 (sorts before X.Y.Z)
#   no tag at all                     0.0.0+N.gSHA, N = commits in history
# A shallow clone or a tree without git cannot say: set SHARKFIN_VERSION.
set -eu
cd "$(dirname "$0")/.."
if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo "version.sh: not a git checkout: set SHARKFIN_VERSION" >&2
	exit 1
fi
if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
	echo "version.sh: a shallow clone cannot number its commits (git fetch --unshallow, or set SHARKFIN_VERSION)" >&2
	exit 1
fi
dirty=""
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then dirty=".dirty"; fi
if d=$(git describe --tags --match 'v[0-9]*' --long 2>/dev/null); then
	# vTAG-N-gSHA, where TAG may itself hold dashes (1.2.3-rc1)
	sha=${d##*-g}
	rest=${d%-g*}
	n=${rest##*-}
	tag=${rest%-*}
	tag=$(echo "${tag#v}" | tr '-' '~')
	if [ "$n" = 0 ] && [ -z "$dirty" ]; then
		echo "$tag"
	else
		echo "$tag+$n.g$sha$dirty"
	fi
else
	n=$(git rev-list --count HEAD)
	echo "0.0.0+$n.g$(git rev-parse --short=7 HEAD)$dirty"
fi
