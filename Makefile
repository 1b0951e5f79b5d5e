# Two commands do all the set-up: `make demo` and `make test` create .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch. On this kind of machine pip finds it on local disk; elsewhere pass
# TORCH_INDEX=https://download.pytorch.org/whl/cpu so that pip never fetches a CUDA build.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
STAMP := $(VENV)/.installed

.PHONY: demo test bench train-toy clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || \
		$(BIN)/python -m pip install -q "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -c "import torch, sys; sys.exit('a CUDA build of torch was installed; reinstall the CPU build' if torch.version.cuda and not torch.cuda.is_available() else 0)"
	touch $@

demo: $(STAMP)
	$(BIN)/idgi-fast demo

test: $(STAMP)
	$(BIN)/python -m pytest tests

bench: $(STAMP)
	$(BIN)/python -m pytest bench

train-toy: $(STAMP)
	$(BIN)/idgi-fast train-toy

clean:
	rm -rf $(VENV) build *.egg-info
