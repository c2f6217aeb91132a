#!/bin/sh
# make package: the .deb and .rpm under dist/, built with nfpm (a go tool
# dependency in go.mod, nothing downloaded but Go modules).
#   SHARKFIN_VERSION  the package version (default: packaging/version.sh)
#   BIN               a sharkfin binary to package instead of building one
#   OUT               output directory (default dist)
set -eu
cd "$(dirname "$0")/.."
version=${SHARKFIN_VERSION:-$(packaging/version.sh)}
out=${OUT:-dist}
stage=dist/stage
GO=${GO:-go}
mkdir -p dist "$out"
exec 9>dist/.build.lock # one build at a time uses dist/stage
flock 9
rm -rf "$stage"
mkdir -p "$stage/doc"
if [ -n "${BIN:-}" ]; then
	cp "$BIN" "$stage/sharkfin"
else
	CGO_ENABLED=0 $GO build -trimpath -ldflags "-s -w -X main.version=$version" -o "$stage/sharkfin" ./cmd/sharkfin
fi
# Man pages and completions come from the commands themselves (hidden
# `sharkfin docs`), so they never drift from --help. An older BIN without
# it borrows them from this tree.
docs=$stage/sharkfin
"$docs" docs --man "$stage/man" --completions "$stage/completions" >/dev/null 2>&1 || {
	CGO_ENABLED=0 $GO build -o "$stage/docs-helper" ./cmd/sharkfin
	"$stage/docs-helper" docs --man "$stage/man" --completions "$stage/completions" >/dev/null
}
gzip -9n "$stage"/man/*.1
# Debian's changelog and copyright (lintian wants both).
date=$(git log -1 --format=%aD 2>/dev/null || date -R)
{
	printf 'sharkfin (%s-1) unstable; urgency=medium\n\n' "$version"
	printf '  * Built from git %s.\n' "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	printf '  * See https://github.com/socx/sharkfin for the history.\n\n'
	printf ' -- sharkfin team <sharkfin@example.org>  %s\n' "$date"
} | gzip -9n > "$stage/doc/changelog.gz"
cat > "$stage/doc/copyright" <<'COPY'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: sharkfin
Source: https://github.com/socx/sharkfin

Files: *
Copyright: 2026 the sharkfin authors
License: proprietary
 No licence has been granted yet: all rights reserved by the authors.
 The Go modules compiled into /usr/bin/sharkfin keep their own licences
 (BSD-3-Clause, MIT, Apache-2.0; `go version -m /usr/bin/sharkfin` lists them).
COPY
for fmt in deb rpm; do
	SHARKFIN_VERSION=$version $GO tool nfpm package -f packaging/nfpm.yaml -p "$fmt" -t "$out/" >/dev/null
done
ls "$out"/sharkfin*"$version"* 2>/dev/null || ls "$out"
