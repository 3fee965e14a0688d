# Two commands: `make demo` runs the whole flow, `make test` runs lint, types and tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
WARMSTAMP := $(VENV)/.warm
# every module holding numba kernels, or constants they bake in (simulate/_arrays.py)
KERNELS := $(shell grep -rl "from numba import" src/forestock --include=*.py) \
           src/forestock/simulate/_arrays.py

.PHONY: demo test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(DEVSTAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $(DEVSTAMP)

# numba kernels compiled ahead into their on-disk cache (again when a kernel file changes), so
# the demo does not spend its first minutes compiling
$(WARMSTAMP): $(STAMP) $(KERNELS)
	$(BIN)/forestock warm
	touch $(WARMSTAMP)

demo: $(WARMSTAMP)
	$(BIN)/forestock demo

lint: $(DEVSTAMP)
	$(BIN)/ruff check src tests $(wildcard benchmarks)
	$(BIN)/mypy

# the dashboard's browser test drives Debian's chromium (never a browser download of its own):
# installed with apt where absent and allowed (root), else that test skips and says why
.PHONY: browser
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-microhei \
	    >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-microhei \
	    >/dev/null 2>&1; }; } || echo "chromium not installed: the browser test will skip"; }

test: lint browser
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) forestock-ws
