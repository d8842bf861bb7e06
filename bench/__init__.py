"""Benchmarks: `python -m bench` runs them all, prints a table and writes bench/results.json."""
