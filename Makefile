# Two commands do all the set-up: `make study` and `make test` create .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch. Without TORCH_INDEX, torch itself is taken only from pip's local
# find-links (this project's machines keep the CPU wheel on disk), never from an index that
# would serve a multi-GB CUDA build; its small dependencies then come from the index as usual.
# Elsewhere pass TORCH_INDEX=https://download.pytorch.org/whl/cpu, or install torch into .venv.
TORCH_SPEC ?= torch==2.13.0
# --no-compile: Python compiles what is imported on first import instead of pip compiling every module
# of torch at install (19.6 → 5.4 s for the CPU torch wheel alone)
PIP_INSTALL = pip install -q --no-compile
TORCH_INDEX ?=
STAMP := $(VENV)/.installed
ifeq ($(TORCH_INDEX),)
INSTALL_TORCH = $(BIN)/python -m $(PIP_INSTALL) --no-index --no-deps "$(TORCH_SPEC)" || { \
	echo "no local wheel for $(TORCH_SPEC): rerun with TORCH_INDEX=https://download.pytorch.org/whl/cpu" \
	     "or install torch into $(VENV) yourself" >&2; exit 1; }; \
	$(BIN)/python -m $(PIP_INSTALL) "$(TORCH_SPEC)"
else
INSTALL_TORCH = $(BIN)/python -m $(PIP_INSTALL) "$(TORCH_SPEC)" --index-url $(TORCH_INDEX)
endif

# The zoo's tests need torchvision, and no torchvision build imports beside the CPU torch wheel:
# they run in their own venv with the pair that does (a CUDA build of torch, about 5.5 GB; this
# project's machines keep both wheels on disk, elsewhere pip downloads them).
ZOO_VENV ?= .venv-zoo
ZOO_TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
ZOO_STAMP := $(ZOO_VENV)/.installed

# The cards we measure on carry Triton 3.6 (beside torch 2.11): the suite compiles every kernel
# launch with it too (tests/ops/test_compiled.py), from a venv that holds only that Triton (the
# compile worker, idgi_fast/ops/gpu_compile.py, needs nothing else).
CARD_TRITON_VENV ?= .venv-triton36
CARD_TRITON_SPEC ?= triton==3.6.0
CARD_TRITON_STAMP := $(CARD_TRITON_VENV)/.installed

.PHONY: study demo lint test test-core test-zoo test-portability bench train-toy device-bundle clean native \
	wheel-check

# The package, editable, against .venv's torch (no build isolation: pip's isolated build has no torch).
# Its native CPU ops compile in the next rule rather than inside pip's temporary folder, so that their
# objects stay in build/ for incremental rebuilds and for the wheel's build.
$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m $(PIP_INSTALL) --upgrade pip "setuptools>=77"
	$(BIN)/python -c "import torch" 2>/dev/null || { $(INSTALL_TORCH); }
	IDGI_FAST_NATIVE=0 $(BIN)/python -m $(PIP_INSTALL) --no-build-isolation -e '.[dev,pair,xrai,schedules]'
	$(BIN)/python -c "import torch, sys; sys.exit('a CUDA torch was installed; reinstall the CPU build' \
		if torch.version.cuda and not torch.cuda.is_available() else 0)"
	touch $@

# The native CPU ops (csrc/), compiled ahead of time into idgi_fast/_native.so (setup.py): ninja
# recompiles only what changed. Without a compiler the install goes on and the ops build just in
# time, or the torch path runs (`idgi-fast info` says which).
NATIVE_LIB := idgi_fast/_native.so
$(NATIVE_LIB): $(STAMP) setup.py $(wildcard csrc/*.cpp csrc/*.h)
	$(BIN)/python setup.py -q build_ext --inplace

# the same on purpose, from scratch (after a compiler or torch change, which ninja does not see)
native: $(STAMP)
	rm -rf build/temp.*
	$(BIN)/python setup.py -q build_ext --inplace

# the embedded study: SceneNet, 64 held-out scenes, all six methods at 8 and 32 steps, every metric;
# re-running resumes (a finished study only re-writes the report)
study: $(NATIVE_LIB)
	$(BIN)/idgi-fast run --db idgi_study/study.sqlite
	$(BIN)/idgi-fast report idgi_study/study.sqlite

demo: $(NATIVE_LIB)
	$(BIN)/idgi-fast demo

# the house rules as tools: lint and format (pyproject.toml [tool.ruff]; .clang-format for csrc/) and
# the layers contract ([tool.importlinter]); part of `make test`, so CI runs them
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/clang-format --dry-run --Werror csrc/*.cpp csrc/*.h
	$(BIN)/lint-imports

$(ZOO_STAMP): pyproject.toml Makefile
	test -x $(ZOO_VENV)/bin/python || $(PYTHON) -m venv $(ZOO_VENV)
	$(ZOO_VENV)/bin/python -m $(PIP_INSTALL) --upgrade pip
	$(ZOO_VENV)/bin/python -m $(PIP_INSTALL) $(ZOO_TORCH_SPEC)
	$(ZOO_VENV)/bin/python -m $(PIP_INSTALL) -e '.[zoo,timm,dev]'
	$(ZOO_VENV)/bin/python -c "import torchvision.models"
	touch $@

$(CARD_TRITON_STAMP): Makefile
	test -x $(CARD_TRITON_VENV)/bin/python || $(PYTHON) -m venv $(CARD_TRITON_VENV)
	$(CARD_TRITON_VENV)/bin/python -m $(PIP_INSTALL) --no-deps "$(CARD_TRITON_SPEC)"
	touch $@

# everything: lint, the suite in .venv, the zoo's tests (marker `zoo`) in .venv-zoo, and the wheel
test: test-core test-zoo wheel-check

test-core: lint $(NATIVE_LIB) $(CARD_TRITON_STAMP)
	IDGI_CARD_TRITON_PYTHON=$(CARD_TRITON_VENV)/bin/python $(BIN)/python -m pytest tests -m "not zoo"

test-zoo: $(ZOO_STAMP)
	$(ZOO_VENV)/bin/python -m pytest tests -m zoo

# the suite under other thread counts and CPU kernels (ATen's dispatch emulating an older CPU): results
# that hold only for one BLAS/conv choice fail here. Four runs of both suites, about 30 minutes on 2
# cores, so not part of `make test`; run it before changing a tolerance or an exact comparison.
PORTABILITY = OMP_NUM_THREADS=1 OMP_NUM_THREADS=2 ATEN_CPU_CAPABILITY=default ATEN_CPU_CAPABILITY=avx2
test-portability: $(NATIVE_LIB) $(ZOO_STAMP)
	@failed=""; for setting in $(PORTABILITY); do \
		echo "== $$setting"; \
		env $$setting $(BIN)/python -m pytest tests -m "not zoo" -q -p no:cacheprovider \
			|| failed="$$failed $$setting"; \
		env $$setting $(ZOO_VENV)/bin/python -m pytest tests -m zoo -q -p no:cacheprovider \
			|| failed="$$failed $$setting(zoo)"; \
	done; test -z "$$failed" || { echo "failed under:$$failed" >&2; exit 1; }

# the wheel and the sdist built, the wheel installed offline into a new venv, `idgi-fast demo` run
# there with nothing built after the install (tests/install/check_wheel.py)
wheel-check: $(NATIVE_LIB)
	$(BIN)/python tests/install/check_wheel.py

bench: $(NATIVE_LIB)
	$(BIN)/python -m pytest bench

train-toy: $(STAMP)
	$(BIN)/idgi-fast train-toy

# the pure-Python packages a lent GPU lacks (its own torch and triton stay), copied into the ignored
# .whl/ that the device tool carries: PYTHONPATH=.:.whl python3 -m bench.gpu.check ...
DEVICE_PACKAGES = pytorch_msssim pytest _pytest pluggy iniconfig packaging py.py
device-bundle: $(STAMP)
	rm -rf .whl && mkdir -p .whl
	cd $(VENV)/lib/python3*/site-packages && cp -r $(DEVICE_PACKAGES) $(CURDIR)/.whl/

clean:
	rm -rf $(VENV) $(ZOO_VENV) $(CARD_TRITON_VENV) build *.egg-info idgi_fast/_native.so idgi_fast/_native.json
