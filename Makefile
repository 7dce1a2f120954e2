# Everything a fresh clone needs is installed by these targets themselves.
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
TOOLS   := .tools
AZURITE := $(TOOLS)/node_modules/.bin/azurite

.PHONY: all venv azurite test demo bench clean

all: test

$(STAMP): requirements.txt requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(STAMP)

$(AZURITE): tools/azurite-version
	mkdir -p $(TOOLS)
	npm install --silent --no-audit --no-fund --prefix $(TOOLS) "azurite@$$(cat tools/azurite-version)"
	touch $@

azurite: $(AZURITE)

test: $(STAMP) $(AZURITE)
	AZURITE_BIN=$(abspath $(AZURITE)) $(VPY) -m pytest -q

demo: $(STAMP) $(AZURITE)
	AZURITE_BIN=$(abspath $(AZURITE)) $(VPY) -m demo

bench: $(STAMP) $(AZURITE)
	AZURITE_BIN=$(abspath $(AZURITE)) $(VPY) -m bench

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .devhost
