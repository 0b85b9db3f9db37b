# The two commands of the README:
#   make demo   set up a virtual environment and run the demo on the bundled sample
#   make test   set up everything the tests need (chromium, postgresql included) and run the whole suite
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: demo test setup system-deps lint pytest clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: without it, sentence-transformers pulls a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/nextwatch demo --host $(HOST) --port $(PORT)

# Debian packages the browser and PostgreSQL tests drive (root only; skipped where already present).
system-deps:
	@if ! command -v chromium >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium postgresql >/dev/null; \
	  else echo "not root: chromium/postgresql tests will skip unless installed"; fi; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

pytest: $(STAMP)
	$(PY) -m pytest -q

test: system-deps lint pytest

clean:
	rm -rf $(VENV) var build *.egg-info
