"""Benchmark: the all-products neighbour search above EXACT_ROWS (faiss IVF with a measured recall) against
the exact search it replaces.

    python bench/approximate_neighbours.py [--rows 100000 300000 1000000] [--dim 32] [--clusters-per 100]

Clustered synthetic embeddings (a centre per ``clusters-per`` rows, unit noise at half the centres' spread),
like a learned embedding's. For each size: the seconds of ``neighbours.search_all(Z, 10, exact=False)`` with
the recall it measured on its own sample, the true recall@10 over 2,000 other rows against the exact search,
and the exact search's seconds (measured on those 2,000 queries against every row, scaled to all rows).
Prints a markdown table for docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from product_repr.analysis import neighbours  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--clusters-per", type=int, default=100)
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; k = 10")
    print()
    print("| rows | approximate: seconds | lists / probed | recall it measured | true recall@10 (2,000 rows) "
          "| exact: seconds (scaled) | exact / approximate |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n in args.rows:
        rng = np.random.default_rng(0)
        centres = rng.normal(size=(max(2, n // args.clusters_per), args.dim)).astype(np.float32)
        Z = (centres[rng.integers(0, len(centres), size=n)] + 0.5 * rng.normal(size=(n, args.dim))).astype(np.float32)
        t0 = time.perf_counter()
        ids, _, info = neighbours.search_all(Z, 10, exact=False, seed=1)
        approx = time.perf_counter() - t0
        probe = np.sort(np.random.default_rng(2).choice(n, size=2_000, replace=False))
        Zn = neighbours.normalise(Z)
        t0 = time.perf_counter()
        truth, sims = neighbours._search(Zn, Zn[probe], 11)
        exact = (time.perf_counter() - t0) * n / len(probe)
        truth, _ = neighbours._drop_self(probe, truth, sims, 10)
        recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(ids[probe], truth)])
        print(f"| {n:,} | {approx:.1f} | {info['nlist']:,} / {info['nprobe']} | {info['recall']:.3f} | {recall:.3f} "
              f"| {exact:.0f} | {exact / approx:.0f}× |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
