# hpr — build, test, benchmark. `make help` lists the targets.
GO      ?= go
# The Podman bindings build statically only with these tags; the storage
# drivers and the docker-daemon transport are for local Podman, not for a
# client of its API, and excluding them keeps the binary under 25 MiB.
# nethttpomithttp2 leaves out net/http's HTTP/2, which hpr never speaks:
# engines answer HTTP/1.1 on their sockets (BENCHMARKS.md, measure 5).
# One list for the Makefile and the scripts: scripts/tags.
TAGS    := $(shell cat scripts/tags)
export TAGS
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
export CGO_ENABLED := 0

.PHONY: all build test unit integration vet bench soak demo engines clean help

all: build

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## static bin/hpr
	$(GO) build -trimpath -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o bin/hpr ./cmd/hpr

vet: ## go vet, gofmt
	$(GO) vet -tags "$(TAGS) integration" ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }

test: build ## engines checked (started first as root), unit tests, integration tests on every engine as the test user, fault tests as root
	scripts/test.sh

unit: ## unit tests only (no engines)
	scripts/test.sh unit

integration: build ## engines checked, then integration tests only (and the fault tests, as root)
	scripts/test.sh integration

bench: build ## benchmarks on the harness engines → BENCHMARKS.md
	scripts/bench.sh

soak: build ## as root: thousands of hpr runs on every engine, what they leave behind → SOAK.md (minutes; not in make test)
	scripts/soak.sh

engines: ## start the engine harness (as root)
	scripts/engines.sh up

demo: ## set up the engines if missing, build hpr, run examples/blog
	scripts/demo.sh

clean:
	rm -rf bin
