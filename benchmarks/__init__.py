"""Benchmarks: each prints JSON figures; `make bench` gathers them into benchmarks/results.json."""
