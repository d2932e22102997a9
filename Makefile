# paysig: `make run` starts the server on the demo config, `make test` runs
# every test. Everything the targets need is installed by the targets:
# Python packages into .venv, Go tools (pinned below) into .tools/bin.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
TOOLS := $(CURDIR)/.tools/bin
STAMPS := $(CURDIR)/.tools/stamps

# Pinned tool versions.
GRPC_VERSION := 1.85.1
GRPCURL_VERSION := v1.9.3
PROTOC_GEN_GO_VERSION := v1.36.11
PROTOC_GEN_GO_GRPC_VERSION := v1.6.1
BUF_VERSION := v1.75.0
GHZ_VERSION := v0.120.0

PROTO := proto/paysig/v1/signer.proto
GO_MODULE := github.com/paysig/paysig/clients/go
GEN_PY_OUT ?= clients/python
GEN_CASES ?= tests/conformance/cases.json
GEN_SPEC_H ?= server/paysig/server/_fastsign_spec.h
GEN_GO_OUT ?= clients/go
CONFIG ?= examples/paysig.toml
LISTEN ?= 127.0.0.1:50051

CPP_BUILD := build/cpp
CPP_ASAN_BUILD := build/cpp-asan
CPP_DEB_PACKAGES := libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libgtest-dev libssl-dev \
  cmake ninja-build g++
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

GRPCURL := $(TOOLS)/grpcurl
BUF := $(TOOLS)/buf
PROTOC_GEN_GO := $(TOOLS)/protoc-gen-go
PROTOC_GEN_GO_GRPC := $(TOOLS)/protoc-gen-go-grpc

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

# ---- set-up ---------------------------------------------------------------

$(VENV)/.installed: pyproject.toml setup.py server/paysig/server/_fastsign.c server/paysig/server/_sysio.c server/paysig/server/_fastsign_spec.h clients/python/pyproject.toml \
  | $(STAMPS)/build-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ./clients/python -e '.[dev]'
	touch $@

.PHONY: venv
venv: $(VENV)/.installed ## Create .venv with the server, client and test dependencies.

# go install a pinned tool: $(call go-tool,binary,package,version)
define go-tool
$(STAMPS)/$(1)-$(3):
	@mkdir -p $(STAMPS) $(TOOLS)
	GOBIN=$(TOOLS) go install $(2)@$(3)
	@rm -f $(STAMPS)/$(1)-*
	@touch $$@
$(TOOLS)/$(1): $(STAMPS)/$(1)-$(3)
endef
$(eval $(call go-tool,grpcurl,github.com/fullstorydev/grpcurl/cmd/grpcurl,$(GRPCURL_VERSION)))
$(eval $(call go-tool,buf,github.com/bufbuild/buf/cmd/buf,$(BUF_VERSION)))
$(eval $(call go-tool,ghz,github.com/bojand/ghz/cmd/ghz,$(GHZ_VERSION)))
$(eval $(call go-tool,protoc-gen-go,google.golang.org/protobuf/cmd/protoc-gen-go,$(PROTOC_GEN_GO_VERSION)))
$(eval $(call go-tool,protoc-gen-go-grpc,google.golang.org/grpc/cmd/protoc-gen-go-grpc,$(PROTOC_GEN_GO_GRPC_VERSION)))

# What the server's C extension builds with (OpenSSL's libcrypto headers, a C
# compiler; Debian packages), installed when missing.
BUILD_DEB_PACKAGES := libssl-dev gcc
$(STAMPS)/build-deps:
	@mkdir -p $(STAMPS)
	@if ! dpkg -s $(BUILD_DEB_PACKAGES) >/dev/null 2>&1; then \
	  echo "installing $(BUILD_DEB_PACKAGES)"; \
	  $(SUDO) apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive \
	    $(SUDO) apt-get -o DPkg::Lock::Timeout=600 install -y -qq $(BUILD_DEB_PACKAGES) >/dev/null; \
	fi
	@touch $@

# System gRPC/protobuf for the C++ client (Debian packages), installed when missing.
$(STAMPS)/cpp-deps:
	@mkdir -p $(STAMPS)
	@if ! dpkg -s $(CPP_DEB_PACKAGES) >/dev/null 2>&1; then \
	  echo "installing $(CPP_DEB_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(CPP_DEB_PACKAGES) >/dev/null; \
	fi
	@touch $@

.PHONY: cpp-deps
cpp-deps: $(STAMPS)/cpp-deps ## Install the C++ build dependencies (apt) when missing.

.PHONY: tools
tools: $(GRPCURL) $(BUF) $(PROTOC_GEN_GO) $(PROTOC_GEN_GO_GRPC) ## Install the pinned Go tools into .tools/bin.

# ---- code generation --------------------------------------------------------

.PHONY: generate
generate: venv $(PROTOC_GEN_GO) $(PROTOC_GEN_GO_GRPC) ## Regenerate the committed stubs and conformance cases.
	@mkdir -p $(GEN_PY_OUT) $(GEN_GO_OUT)
	$(PY) -m grpc_tools.protoc -Iproto --python_out=$(GEN_PY_OUT) --pyi_out=$(GEN_PY_OUT) \
	  --grpc_python_out=$(GEN_PY_OUT) $(PROTO)
	$(PY) -m grpc_tools.protoc -Iproto \
	  --plugin=protoc-gen-go=$(PROTOC_GEN_GO) --go_out=$(GEN_GO_OUT) --go_opt=module=$(GO_MODULE) \
	  --plugin=protoc-gen-go-grpc=$(PROTOC_GEN_GO_GRPC) --go-grpc_out=$(GEN_GO_OUT) --go-grpc_opt=module=$(GO_MODULE) \
	  $(PROTO)
	$(PY) tests/conformance/generate.py $(GEN_CASES)
	$(PY) -m paysig.server.order_spec_gen $(GEN_SPEC_H)

.PHONY: checkgenerate
checkgenerate: venv $(PROTOC_GEN_GO) $(PROTOC_GEN_GO_GRPC) ## Fail if the committed generated code is stale.
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(MAKE) generate GEN_PY_OUT=$$tmp/py GEN_GO_OUT=$$tmp/go GEN_CASES=$$tmp/cases.json \
	  GEN_SPEC_H=$$tmp/_fastsign_spec.h >/dev/null; \
	stale=0; \
	for f in $$(cd $$tmp/py && find . -type f); do \
	  cmp -s "$$tmp/py/$$f" "clients/python/$$f" || { echo "stale: clients/python/$${f#./}"; stale=1; }; \
	done; \
	for f in $$(cd $$tmp/go && find . -type f); do \
	  cmp -s "$$tmp/go/$$f" "clients/go/$$f" || { echo "stale: clients/go/$${f#./}"; stale=1; }; \
	done; \
	cmp -s $$tmp/cases.json tests/conformance/cases.json || { echo "stale: tests/conformance/cases.json"; stale=1; }; \
	cmp -s $$tmp/_fastsign_spec.h server/paysig/server/_fastsign_spec.h || \
	  { echo "stale: server/paysig/server/_fastsign_spec.h"; stale=1; }; \
	[ $$stale = 0 ] || { echo "generated code is stale: run 'make generate' and commit"; exit 1; }; \
	echo "generated code is up to date"

# ---- checks -----------------------------------------------------------------

.PHONY: lint
lint: $(BUF) ## buf lint (STANDARD + COMMENTS) on proto/; gofmt and go vet on clients/go and bench/.
	cd proto && $(BUF) lint
	@unformatted=$$(cd clients/go && gofmt -l .); \
	[ -z "$$unformatted" ] || { echo "gofmt needed: $$unformatted"; exit 1; }
	cd clients/go && go vet ./...
	@unformatted=$$(cd bench && gofmt -l .); \
	[ -z "$$unformatted" ] || { echo "gofmt needed in bench/: $$unformatted"; exit 1; }
	cd bench && GOWORK=off go vet ./...

.PHONY: test
test: venv tools checkgenerate lint test-cpp test-python test-go fuzz-quick ## Run every test (what CI runs).

FUZZ_SECONDS ?= 300

.PHONY: fuzz-quick
fuzz-quick: venv ## 10 s of coverage-guided fuzzing of validation, signData, request bytes and push parsing (part of make test).
	$(PY) fuzz/fuzz_signing.py -max_total_time=10 -print_final_stats=1 2>&1 | tail -4

.PHONY: fuzz
fuzz: venv ## Coverage-guided fuzzing for FUZZ_SECONDS (default 300), corpus in build/fuzz-corpus.
	@mkdir -p build/fuzz-corpus
	$(PY) fuzz/fuzz_signing.py build/fuzz-corpus -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1

.PHONY: test-python
test-python: venv $(GRPCURL) cpp-deps ## Python tests (server, Python client, conformance, matrix, grpcurl).
	PAYSIG_GRPCURL=$(GRPCURL) $(PY) -m pytest -q

.PHONY: test-go
test-go: venv ## Go client tests against a real server started on a free port.
	cd clients/go && PAYSIG_PYTHON=$(PY) go test -count=1 ./...

.PHONY: build-cpp
build-cpp: cpp-deps ## Build the C++ client, its tests and programs (warnings are errors).
	cmake -S clients/cpp -B $(CPP_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_COMPILE_WARNING_AS_ERROR=ON \
	  -DPAYSIG_PYTHON=$(PY) >/dev/null
	cmake --build $(CPP_BUILD)

.PHONY: test-cpp
test-cpp: venv build-cpp ## C++ tests against a real server, plain and with ASan/UBSan.
	cd $(CPP_BUILD) && ctest --output-on-failure
	cmake -S clients/cpp/examples/consumer -B build/consumer-subdir -G Ninja \
	  -DPAYSIG_SOURCE_DIR=$(CURDIR)/clients/cpp >/dev/null && cmake --build build/consumer-subdir
	cmake --install $(CPP_BUILD) --prefix build/cpp-install >/dev/null
	cmake -S clients/cpp/examples/consumer -B build/consumer-installed -G Ninja \
	  -DCMAKE_PREFIX_PATH=$(CURDIR)/build/cpp-install >/dev/null && cmake --build build/consumer-installed
	cmake -S clients/cpp -B $(CPP_ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_COMPILE_WARNING_AS_ERROR=ON \
	  -DCMAKE_CXX_FLAGS="$(SANITIZE)" -DCMAKE_EXE_LINKER_FLAGS="$(SANITIZE)" -DPAYSIG_BUILD_EXAMPLES=OFF \
	  -DPAYSIG_PYTHON=$(PY) >/dev/null
	cmake --build $(CPP_ASAN_BUILD)
	cd $(CPP_ASAN_BUILD) && ctest --output-on-failure

# ---- benchmarks -------------------------------------------------------------

$(VENV)/.bench: $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -e ./clients/python -e '.[dev,bench]'
	touch $@

$(STAMPS)/h2load:
	@mkdir -p $(STAMPS)
	@command -v h2load >/dev/null || { $(SUDO) apt-get -o DPkg::Lock::Timeout=600 update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=600 install -y -qq nghttp2-client >/dev/null; }
	@touch $@

# The grpc-go peer and floor of the benchmark (bench/peer, module bench/go.mod, versions pinned there).
BENCH_PEER := $(TOOLS)/paysig-bench-peer
$(BENCH_PEER): bench/go.mod bench/go.sum bench/peer/main.go $(wildcard clients/go/paysig/v1/*.go)
	@mkdir -p $(TOOLS)
	cd bench && GOWORK=off go build -o $@ ./peer

.PHONY: bench
bench: $(VENV)/.bench $(TOOLS)/ghz $(STAMPS)/h2load $(BENCH_PEER) ## Server CPU per call vs the sync grpcio floor and a grpc-go peer (BENCH_SECONDS=5, BENCH_PAIRS=3).
	$(PY) bench/run.py --ghz $(TOOLS)/ghz

.PHONY: soak
soak: $(VENV)/.bench $(STAMPS)/h2load ## 1,000,000 SignOrder calls (h2load); worker RSS must not grow.
	$(PY) bench/run.py --soak $(or $(CALLS),1000000)

# ---- running ----------------------------------------------------------------

.PHONY: run
run: venv ## Start the server on the demo config (CONFIG=..., LISTEN=host:port).
	$(PY) -m paysig serve --config $(CONFIG) --listen $(LISTEN)

.PHONY: clean
clean: ## Remove .venv, .tools and build output.
	rm -rf $(VENV) $(CURDIR)/.tools build server/paysig/server/_*.so
