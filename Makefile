# Everything a fresh clone needs is installed by these targets themselves.
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
TOOLS   := .tools
AZURITE := $(TOOLS)/node_modules/.bin/azurite
CHECKOV := $(TOOLS)/checkov/bin/checkov

.PHONY: all venv azurite checkov test test-fast check fuzz infra-check demo serve bench chaos clean \
	openapi

all: test

# The Python worker's code (requirements-worker.txt) says Python >= 3.13 but runs here: it is
# installed without its metadata's checks, and its RPC messages are extracted from another wheel
# (tools/worker_protos.py). devhost drives the app through it.
# Development code lives under dev/ (never deployed); a .pth makes its packages (devhost, azsim,
# demo, bench, chaos, tools, ...) importable in the venv, as src/ layouts are.
$(STAMP): requirements.txt requirements-dev.txt requirements-infra.txt requirements-worker.txt \
		pyproject.toml dev/tools/worker_protos.py
	$(PY) -m venv $(VENV)
	$(VPY) -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], \
		"diskrestore-dev.pth").write_text(str(pathlib.Path("dev").resolve()) + "\n")'
	$(VPY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt \
		-r requirements-infra.txt
	$(VPY) -m pip install -q --disable-pip-version-check --no-deps --ignore-requires-python \
		-r requirements-worker.txt
	$(VPY) -m tools.worker_protos
	touch $@

venv: $(STAMP)

$(AZURITE): dev/tools/azurite-version
	mkdir -p $(TOOLS)
	npm install --silent --no-audit --no-fund --prefix $(TOOLS) "azurite@$$(cat dev/tools/azurite-version)"
	touch $@

azurite: $(AZURITE)

# checkov pins packaging<24 (pytest needs >=24): it gets a venv of its own.
$(CHECKOV): dev/tools/infra/checkov-requirements.txt
	$(PY) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install -q --disable-pip-version-check \
		-r dev/tools/infra/checkov-requirements.txt
	touch $@

checkov: $(CHECKOV)

# triggers/openapi.json, built from the request schemas the app validates with and
# triggers/openapi.base.json (the rest, hand-written); tests/api fails while it is stale.
openapi: $(STAMP)
	$(VPY) -m tools.openapi_document

# The gate, first: a lint or type error fails in seconds, before the end-to-end tier's minutes.
test: check $(AZURITE) $(CHECKOV)
	CHECKOV_BIN=$(abspath $(CHECKOV)) AZURITE_BIN=$(abspath $(AZURITE)) $(VPY) -m pytest -q

# The quick loop: the pure tests (domain, settings, layout and architecture rules, the OpenAPI
# document, the offline infrastructure checks but checkov) and every runbook branch in process
# (tests/fast on dev/harness: the real orchestrators and activities against in-memory Azure, on
# an instant clock). No Azurite, azsim or host; under a minute. `make test` runs these too.
FAST_TESTS := tests/domain tests/fast tests/test_architecture.py tests/test_layout.py \
	tests/test_settings.py tests/test_storage_resolution.py tests/api/test_openapi.py \
	tests/infra/test_infra_parse.py tests/infra/test_infra_types.py \
	tests/infra/test_infra_layout.py tests/infra/test_infra_role_assignments.py \
	tests/infra/test_infra_app_settings.py
test-fast: $(STAMP)
	$(VPY) -m pytest -q $(FAST_TESTS)

# The gate: ruff (the rule set in pyproject.toml, every ignore explained there), mypy (strict on
# domain/, orchestrations/, gateway/ and settings.py), and the fast tier under branch coverage of
# the app's code, reported (.coverage-report.txt holds the per-file table; the floor in
# pyproject.toml [tool.coverage.report] fail_under keeps it from sliding).
check: $(STAMP)
	$(VPY) -m ruff check .
	$(VPY) -m mypy
	$(VPY) -m coverage run -m pytest -q -p no:cacheprovider $(FAST_TESTS)
	$(VPY) -m coverage report > .coverage-report.txt || { cat .coverage-report.txt; exit 1; }
	@awk '/^TOTAL/ {print "branch coverage of the app by the fast tier: " $$NF}' .coverage-report.txt

# The fuzzers (tests/fuzz) at full strength: FUZZ_EXAMPLES cases per entry point (schemathesis:
# a twentieth of that per operation), randomized; make test runs them derandomized, 150 each. Two
# lanes in parallel (the app runs in each test's process; schemathesis in a process of its own,
# after the recovery fuzzers); logs and per-entry-point counts and seconds in .fuzz/, printed at
# the end.
FUZZ_EXAMPLES ?= 10000
FUZZ_LANE_A := tests/fuzz/test_fuzz_restores.py tests/fuzz/test_fuzz_drills.py \
	tests/fuzz/test_fuzz_queue.py
FUZZ_LANE_B := tests/fuzz/test_fuzz_recovery.py tests/fuzz/test_found.py
fuzz: $(STAMP) $(AZURITE)
	@rm -rf .fuzz; mkdir -p .fuzz; start=$$(date +%s); \
	export FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) AZURITE_BIN=$(abspath $(AZURITE)); \
	FUZZ_REPORT=.fuzz/a.json $(VPY) -m pytest -q -p no:warnings $(FUZZ_LANE_A) >.fuzz/a.log 2>&1 & \
	lane=$$!; \
	FUZZ_REPORT=.fuzz/b.json $(VPY) -m pytest -q -p no:warnings $(FUZZ_LANE_B) >.fuzz/b.log 2>&1; \
	b=$$?; \
	FUZZ_REPORT=.fuzz/c.json $(VPY) -m pytest -q -p no:warnings tests/fuzz/test_schemathesis.py \
		>.fuzz/c.log 2>&1; \
	c=$$?; wait $$lane; a=$$?; \
	cat .fuzz/a.log .fuzz/b.log .fuzz/c.log; echo "make fuzz: $$(( $$(date +%s) - start )) s wall"; \
	exit $$(( a || b || c ))

infra-check: $(STAMP) $(CHECKOV)
	CHECKOV_BIN=$(abspath $(CHECKOV)) $(VPY) -m tools.infra

demo: $(STAMP) $(AZURITE)
	AZURITE_BIN=$(abspath $(AZURITE)) $(VPY) -m demo

# The demo environment left running for the diskrestore CLI (docs/cli.md), until Ctrl-C.
serve: $(STAMP) $(AZURITE)
	AZURITE_BIN=$(abspath $(AZURITE)) $(VPY) -m demo --serve

bench: $(STAMP) $(AZURITE)
	AZURITE_BIN=$(abspath $(AZURITE)) $(VPY) -m bench

# Randomized restores on zonal VMs into one shared target group, under injected Azure faults
# (ARM's and Azure Backup's transient answers) and devhost SIGKILLs (dev/chaos/, docs/chaos.md);
# the JSON summary on stdout, the success rate and failures grouped on stderr, results under
# .chaos/. CHAOS_SEED replays a plan; CHAOS_ARGS passes more (e.g. --runs-per-env 25).
CHAOS_RUNS ?= 300
CHAOS_SEED ?= 1
CHAOS_ARGS ?=
chaos: $(STAMP) $(AZURITE)
	@AZURITE_BIN=$(abspath $(AZURITE)) $(VPY) -m chaos --runs $(CHAOS_RUNS) --seed $(CHAOS_SEED) \
		--quiet $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .devhost .chaos .fuzz
