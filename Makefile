# trail: the two commands that matter are `make run` and `make test`.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PACKAGES := libsqlite3-dev libzstd-dev sqlite3 zstd graphviz redis-server redis-tools
PYTHON ?= python3
SWIFT_FLAGS ?=

.PHONY: run test deps system-deps python-deps build release swift-test e2e bench bench-full clean

## run: install what is missing, build release, start traild on the embedded SQLite store
run: system-deps release
	@echo "starting traild (embedded SQLite); its ready line names the socket. Stop it with Ctrl-C."
	exec .build/release/traild

## test: install what is missing and run every test (Swift, Python end to end)
test: deps build swift-test e2e

deps: system-deps python-deps

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

python-deps:
	@$(PYTHON) -c "import pytest, jsonschema, mcp" 2>/dev/null || $(PYTHON) -m pip install -q -r tests/requirements.txt

build:
	swift build --build-tests $(SWIFT_FLAGS)

release:
	swift build -c release $(SWIFT_FLAGS)

swift-test:
	swift test --skip-build $(SWIFT_FLAGS)

e2e:
	TRAILD_BIN=$(CURDIR)/.build/debug/traild TRAILCTL_BIN=$(CURDIR)/.build/debug/trailctl \
	TRAIL_COMPACTOR_BIN=$(CURDIR)/.build/debug/trail-compactor TRAIL_MCP_BIN=$(CURDIR)/.build/debug/trail-mcp \
	TRAIL_BENCH_BIN=$(CURDIR)/.build/debug/trail-bench \
	$(PYTHON) -m pytest -q tests/e2e Clients/python/tests

## bench: traild beside Redis, raw SQLite and the disk, quick sizes (under 5 minutes): Benchmarks/results/latest.md
bench: system-deps release
	.build/release/trail-bench --quick --out Benchmarks/results

## bench-full: the same up to 1M notes (about 20 minutes)
bench-full: system-deps release
	.build/release/trail-bench --full --out Benchmarks/results/full

clean:
	rm -rf .build
