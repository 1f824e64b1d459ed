# Developer commands (see CONTRIBUTING.md). `make` alone lists them.
# Every target runs in the current environment: install it first with `pip install -e ".[test]"`.

PYTHON ?= python
# The Python sources that ruff checks (the same list as .ci/run).
PY_SOURCES := python tests benches examples fuzz

.DEFAULT_GOAL := help
.PHONY: help dev check test bench docs wheel ci

help:
	@echo "make dev    fast optimized build (no LTO) into the editable install (scripts/dev-build)"
	@echo "make check  cargo fmt --check, cargo clippy, ruff check, ruff format --check, mypy --strict"
	@echo "make test   cargo test, then pytest"
	@echo "make bench  python -m ferronet bench, then pytest benches --benchmark-only"
	@echo "make docs   the documentation site into site/ (mkdocs build --strict; pip install -e \".[docs]\" first)"
	@echo "make wheel  the release wheel (LTO) into dist/"
	@echo "make ci     the whole CI script on this machine (.ci/run: installs packages, needs root or sudo)"
	@echo "variables:  PYTHON=$(PYTHON)"

dev:
	scripts/dev-build

check:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	$(PYTHON) -m ruff check $(PY_SOURCES)
	$(PYTHON) -m ruff format --check $(PY_SOURCES)
	$(PYTHON) -m mypy

test:
	cargo test
	$(PYTHON) -m pytest

bench:
	$(PYTHON) -m ferronet bench
	$(PYTHON) -m pytest benches --benchmark-only

# Warnings (a docstring parameter that is not in the signature, a broken link) are errors. The site is read from the
# sources (mkdocs.yml: paths), so it needs no build of the engine.
docs:
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict --site-dir site

wheel:
	$(PYTHON) -m maturin build --release --out dist

ci:
	.ci/run
