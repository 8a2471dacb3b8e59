# mlops — build, test and demo targets. Every target is idempotent and works
# on a fresh Debian machine (`make setup` installs what is missing).
#
#   make demo   run the main job on the bundled Fashion-MNIST model
#   make test   set up, build, and run every test (what CI runs)

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO        ?= go
PKG       := github.com/mlops-dev/mlops
DEPS      := $(CURDIR)/.deps
TOOLS     := $(DEPS)/bin
GORELEASER := $(TOOLS)/goreleaser
GOLANGCI_LINT := $(TOOLS)/golangci-lint
BIN       := bin/mlops
DEMO_MODEL ?= testdata/fmnist/mlp.onnx
TEST_TIMEOUT ?= 25m

# onnxruntime_go dlopens the library through cgo.
export CGO_ENABLED := 1
export PATH := $(TOOLS):$(PATH)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
LDFLAGS := -s -w \
	-X $(PKG)/internal/buildinfo.version=$(VERSION) \
	-X $(PKG)/internal/buildinfo.commit=$(COMMIT) \
	-X $(PKG)/internal/buildinfo.date=$(DATE)

# Packages whose benchmarks `make bench` runs; add yours with
# BENCH_PKGS += ./internal/yourpkg/...
BENCH_PKGS := ./internal/onnx/...
BENCH_PKGS += ./internal/optimize/...
BENCH_PKGS += ./internal/deploy/...
BENCH_PKGS += ./internal/registry/... # 1 GiB push/pull vs boto3 on MinIO
BENCH_PKGS += ./internal/bench/...    # quantize/prune/convert on 2 and 8 GB models; GPT-2-size 4-bit
BENCH_PKGS += ./internal/retrain/backend/... # training step vs PyTorch 1.13
BENCH_PKGS += ./internal/tune/... # sampler and journal overhead; quality vs Optuna below
BENCH_TIME ?= 1x

.PHONY: setup services build test bench lint check demo generate clean

## setup: Debian packages (as root), ONNX Runtime 1.30.0, Go modules, pinned tools
setup:
	scripts/setup-debian.sh
	scripts/setup-ort.sh
	$(GO) mod download
	scripts/install-tools.sh protoc-gen-go

## build: bin/mlops with version metadata (cgo on)
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mlops
	@echo "built $(BIN) ($(VERSION))"

## services: what only the tests need, built/installed into .deps before go test: the pinned
## storage emulators the registry tests start (MinIO, fake-gcs-server, Azurite), the IMG.LY
## float16/int8 model pair from npm (.cache/imgly) and goreleaser for `goreleaser check`. Their first build is slow; it does not count against go test's timeout
## and `make demo` does not wait for it.
services:
	scripts/services/install.sh
	scripts/setup-imgly.sh
	scripts/install-tools.sh goreleaser

## test: everything CI checks; prints go test's per-package summary
test: setup services build
	@mkdir -p .cache
	@set +e; \
	MLOPS_REQUIRE_ORT=1 MLOPS_REQUIRE_CORPUS=1 MLOPS_REQUIRE_IMGLY=1 MLOPS_REQUIRE_OPTUNA=1 $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./... 2>&1 | tee .cache/test.log; \
	rc=$${PIPESTATUS[0]}; \
	echo "== go test summary: $$(grep -cE '^ok ' .cache/test.log) packages ok, $$(grep -cE '^FAIL[[:space:]]' .cache/test.log) failed, $$(grep -cE '^\?' .cache/test.log) without tests"; \
	grep -E '^(FAIL|--- FAIL)' .cache/test.log || true; \
	exit $$rc
	@echo "== conformance over Debian's ONNX backend corpus:"
	@MLOPS_REQUIRE_ORT=1 $(GO) test -count=1 -v -run '^TestConformance' ./internal/onnx ./internal/runtime 2>&1 | grep -E 'ONNX backend corpus:|^(FAIL|--- FAIL)' | sed 's/^ *conformance_test.go:[0-9]*: /   /'
	$(GORELEASER) check

## bench: run benchmarks and write .cache/bench-report.txt
bench: setup
	@mkdir -p .cache
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCH_TIME) -timeout 60m $(BENCH_PKGS) 2>&1 | tee .cache/bench-report.txt
	/usr/bin/python3 testdata/metrics/bench.py 2>&1 | tee -a .cache/bench-report.txt
	/usr/bin/python3 internal/tune/quality/compare.py 2>&1 | tee -a .cache/bench-report.txt
	$(GO) test -count=1 -run TestASHARetrainAcceptance -v -timeout 60m ./internal/cli/tune 2>&1 | tee -a .cache/bench-report.txt
	$(MAKE) build
	/usr/bin/python3 scripts/retrain/bench.py 2>&1 | tee -a .cache/bench-report.txt
	@echo "report: .cache/bench-report.txt"

## lint: gofmt must list nothing; go vet and golangci-lint (.golangci.yml:
## staticcheck, errcheck, revive, misspell, ...) must pass
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' ':!:third_party')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@scripts/install-tools.sh golangci-lint >/dev/null
	$(GOLANGCI_LINT) run ./...

## check: the fast inner loop while editing: lint, then the short tests
## (`go test -short`: no corpus sweeps, emulators or long measurements)
check: lint
	$(GO) test -short -count=1 ./...

## demo: the main job on the bundled model: inspect → convert → quantize → eval → push → serve
demo: setup build
	scripts/demo.sh

## generate: regenerate committed generated code (needs protoc, protoc-gen-go)
generate:
	@command -v protoc >/dev/null || { echo "generate: protoc missing: run make setup (as root) or apt-get install protobuf-compiler"; exit 1; }
	@test -x $(TOOLS)/protoc-gen-go || scripts/install-tools.sh protoc-gen-go
	$(GO) generate ./...

clean:
	rm -rf bin dist .cache
