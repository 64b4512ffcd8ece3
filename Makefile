# Two commands on a fresh machine (Python >= 3.11 and npm on PATH):
#   make demo   # install, pull the default model, run the bundled photos end to end
#   make test   # install, pull the default model, lint, run the test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install model demo test lint bench ui chromium

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@# A venv made before packshot moved to onnxruntime-openvino has both; they share one module.
	if $(BIN)/pip show --quiet onnxruntime-openvino 2>/dev/null \
		&& $(BIN)/pip show --quiet onnxruntime 2>/dev/null; then \
		$(BIN)/pip uninstall --quiet -y onnxruntime \
		&& $(BIN)/pip install --quiet --force-reinstall --no-deps onnxruntime-openvino; fi
	touch $(STAMP)

install: $(STAMP)

model: $(STAMP)
	$(BIN)/packshot models pull isnet-imgly

demo: model
	$(BIN)/packshot demo

ui: model  # the Prefect UI on http://127.0.0.1:4200 with packshot's deployments and a worker
	$(BIN)/packshot ui

lint: $(STAMP)
	$(BIN)/ruff check flows tasks schemas deployments tests benchmarks

# The UI tests drive Debian's Chromium headless (Playwright downloads no browser here).
chromium:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

test: model lint chromium
	$(BIN)/python -m pytest

bench: model
	$(BIN)/python -m benchmarks.run
