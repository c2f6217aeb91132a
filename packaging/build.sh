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
case "$(realpath -m "${BIN:-/}")" in "$(realpath -m "$stage")"/*)
	echo "build.sh: BIN=$BIN is inside $stage, which is rebuilt: copy it elsewhere" >&2; exit 2 ;;
esac
rm -rf "$stage"
mkdir -p "$stage/doc"
# The packaged binary is linux/amd64 (nfpm.yaml says amd64) whatever the
# build machine; man pages and completions come from a build for this
# machine, from the commands themselves (hidden `sharkfin docs`), so they
# never drift from --help.
if [ -n "${BIN:-}" ]; then
	cp "$BIN" "$stage/sharkfin"
else
	GOOS=linux GOARCH=amd64 CGO_ENABLED=0 $GO build -trimpath -ldflags "-s -w -X main.version=$version" -o "$stage/sharkfin" ./cmd/sharkfin
fi
CGO_ENABLED=0 $GO build -o "$stage/docs-helper" ./cmd/sharkfin
# Reproducible man pages: dated by the commit, not the build.
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s) \
	"$stage/docs-helper" docs --man "$stage/man" --completions "$stage/completions" >/dev/null
rm -f "$stage"/man/sharkfin-completion-powershell.1 # no PowerShell on these systems
gzip -9n "$stage"/man/*.1
# The changelog (nfpm writes Debian's changelog.Debian.gz and the rpm's
# %changelog from it) and Debian's copyright file.
date=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
cat > "$stage/changelog.yaml" <<CHG
- semver: "$version-1"
  date: "$date"
  packager: "sharkfin team <sharkfin@example.org>"
  deb:
    urgency: medium
    distributions: [unstable]
  changes:
    - note: "Built from git $(git rev-parse --short HEAD 2>/dev/null || echo unknown); the history is in the project's repository."
CHG
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
# The documentation, in the deb as plain files and in the rpm as %doc.
cp packaging/nfpm.yaml "$stage/nfpm.yaml"
doc() { # src dst
	for p in deb rpm; do
		printf '  - {src: %s, dst: %s, packager: %s, file_info: {mode: 0644}%s}\n' "$1" "$2" "$p" \
			"$([ "$p" = rpm ] && echo ', type: doc')" >> "$stage/nfpm.yaml"
	done
}
for m in "$stage"/man/*.1.gz; do doc "$m" "/usr/share/man/man1/$(basename "$m")"; done
doc README.md /usr/share/doc/sharkfin/README.md
doc docs/operating.md /usr/share/doc/sharkfin/operating.md
doc "$stage/doc/copyright" /usr/share/doc/sharkfin/copyright
doc examples/sharkfin.yaml /usr/share/doc/sharkfin/examples/sharkfin.yaml
doc examples/fluentd/fluent.conf /usr/share/doc/sharkfin/examples/fluent.conf
doc docs/grafana-dashboard.json /usr/share/doc/sharkfin/examples/grafana-dashboard.json
for fmt in deb rpm; do
	SHARKFIN_VERSION=$version $GO tool nfpm package -f "$stage/nfpm.yaml" -p "$fmt" -t "$out/" >/dev/null
done
ls "$out"/sharkfin*"$version"* 2>/dev/null || ls "$out"
