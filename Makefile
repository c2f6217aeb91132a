# sharkfin — see README.md. Every target works on a fresh Debian 12 with Go.
GO        ?= go
BIN       := bin/sharkfin
VERSION   ?= $(shell packaging/version.sh 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
PKGS      := ./...
FUZZTIME  ?= 60s
export CGO_ENABLED ?= 0

.PHONY: all build test run bench fmt lint fuzz package package-test clean models

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/sharkfin

# The agent in the foreground on the bundled sample logs with the bundled
# model; scored events as JSON lines on stdout. Ctrl-C stops it.
run: build
	./scripts/run-example.sh $(BIN)

test:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) test -count=1 -timeout 20m $(PKGS)

bench: build
	./scripts/bench.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

lint:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

# Every fuzz target for FUZZTIME each; crashers land in testdata/fuzz.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

# Rebuild the bundled example model from the bundled data (see README).
models: build
	./scripts/train-examples.sh $(BIN)

# dist/sharkfin_<version>_amd64.deb and dist/sharkfin-<version>-1.x86_64.rpm,
# built with nfpm (a go tool dependency); version from git describe
# (packaging/version.sh). make test installs them into a scratch root
# (packaging/*_test.go); make package-test runs only those tests.
package:
	./packaging/build.sh

package-test:
	$(GO) test -count=1 -v ./packaging/

clean:
	rm -rf bin dist
