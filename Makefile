# Thin wrappers around dev.py, which needs only Python 3 (it finds or bootstraps uv).
PYTHON ?= python3

.PHONY: bench test check demo

bench:
	$(PYTHON) dev.py bench

test:
	$(PYTHON) dev.py test

check:
	$(PYTHON) dev.py check

demo:
	$(PYTHON) dev.py demo
