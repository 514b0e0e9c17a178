# Two entry points for a fresh machine:
#   make demo  - install (CPU) and inpaint examples/images with examples/masks into demo-output/
#   make test  - install (CPU + dev tools) and run ruff, mypy and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# constraints/cpu.txt pins torch's version; GPU users install their own torch first. PyPI's torch is the
# CUDA build on Linux x86-64: for the CPU build, `make demo PIP_EXTRA="--extra-index-url
# https://download.pytorch.org/whl/cpu"` (this project's CI machines have it on local disk already).
PIP_EXTRA ?=
PIP := $(BIN)/pip install --disable-pip-version-check -q -c constraints/cpu.txt $(PIP_EXTRA)

.PHONY: venv install install-dev demo test lint typecheck pytest cpp clean train-demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(PIP) -e '.[cpu,torch]'

install-dev: $(BIN)/python
	$(PIP) -e '.[cpu,torch,dev]'

demo: install
	$(BIN)/edgeinpaint run --weights demo --input examples/images --mask examples/masks --output demo-output
	@echo "inpainted images are in demo-output/ (the CLI is .venv/bin/edgeinpaint; '. .venv/bin/activate' puts it on PATH)"

# A few training iterations from a fresh clone: real photos from Debian's wallpaper packages into
# data/demo/{train,heldout} (the folders configs/demo.toml names), then the edge stage.
train-demo: install
	@[ -d data/demo/train ] || scripts/get-photos.sh --split data/demo
	$(BIN)/edgeinpaint train --stage edge -c configs/demo.toml --iterations 5 --output runs/demo-edge

lint:
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest -q

test: install-dev lint typecheck pytest

# The C++ host (needs cmake, libopencv-dev, nlohmann-json3-dev, libssl-dev; .ci/run installs them).
cpp:
	cmake -S hosts/cpp -B hosts/cpp/build $$(command -v ninja >/dev/null && echo -G Ninja)
	cmake --build hosts/cpp/build -j 2

clean:
	rm -rf $(VENV) demo-output build hosts/cpp/build .pytest_cache .mypy_cache .ruff_cache
