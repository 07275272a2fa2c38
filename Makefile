# The two commands of README.md: `make demo` (set up + the main job) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test lab book sync clean

# torch, torchvision and compressai are resolved together from the package index; the empty
# PIP_FIND_LINKS keeps a machine-wide CPU-only torch wheel (if any) from being mixed in.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	PIP_FIND_LINKS= $(PY) -m pip install --quiet -e ".[book,test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/codec-lib demo --force

test: $(STAMP)
	$(PY) -m pytest tests --nbval-lax chapters

lab: $(STAMP)
	$(VENV)/bin/jupyter lab chapters/

book: $(STAMP)
	$(PY) -m codec_lib.book --out _book

sync: $(STAMP)
	$(VENV)/bin/jupytext --sync chapters/[0-9]*.ipynb

clean:
	rm -rf demo .pytest_cache
