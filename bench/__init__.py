"""Benchmarks: each module runs on its own, ``python3 -m bench.<name>`` from the repository root."""
