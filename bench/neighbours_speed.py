"""Benchmark: exact cosine neighbours, ours against faiss IndexFlatIP alone.

    python bench/neighbours_speed.py [--rows 50000] [--dim 32] [--query-rows 100000] [--repeats 3]

1. all-pairs top-10 at rows x dim: ``neighbours.all_neighbours`` (normalise,
   search k+1, drop self by id) against faiss ``IndexFlatIP`` add + search(k)
   on already-normalised vectors. Interleaved, best of ``repeats``; target ratio <= 1.2.
2. one product's top-10 at query-rows x dim: ``NeighbourIndex.query`` (built
   once) and ``query()`` on the raw array; median over 200 random products.
Prints a Markdown table for docs/ANALYSIS.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import time


import faiss
import numpy as np

from product_repr.analysis import neighbours  # noqa: E402


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--query-rows", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    Z = rng.normal(size=(args.rows, args.dim)).astype(np.float32)
    Zn = neighbours.normalise(Z)

    def faiss_alone():
        index = faiss.IndexFlatIP(args.dim)
        index.add(Zn)
        index.search(Zn, args.k)

    # interleaved, best of `repeats` each: on a shared machine the load drifts between blocks of runs
    ours, ref = float("inf"), float("inf")
    for _ in range(args.repeats):
        ours = min(ours, best_of(lambda: neighbours.all_neighbours(Z, args.k), 1))
        ref = min(ref, best_of(faiss_alone, 1))

    Zq = rng.normal(size=(args.query_rows, args.dim)).astype(np.float32)
    t0 = time.perf_counter()
    index = neighbours.NeighbourIndex(Zq)
    build = time.perf_counter() - t0
    picks = rng.integers(0, args.query_rows, size=200)
    lat = []
    for i in picks:
        t0 = time.perf_counter()
        index.query(int(i), args.k)
        lat.append(time.perf_counter() - t0)
    raw = []
    for i in picks[:20]:
        t0 = time.perf_counter()
        neighbours.query(Zq, int(i), args.k)
        raw.append(time.perf_counter() - t0)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
          f"faiss {faiss.__version__} ({faiss.omp_get_max_threads()} threads), numpy {np.__version__}")
    print()
    print("| measurement | value |")
    print("| --- | --- |")
    print(f"| all-pairs top-{args.k}, {args.rows:,} x {args.dim}: ours | {ours:.2f} s |")
    print(f"| same, faiss IndexFlatIP alone (pre-normalised, search k={args.k}) | {ref:.2f} s |")
    print(f"| ratio ours / faiss (target <= 1.2) | {ours / ref:.2f}x |")
    print(f"| NeighbourIndex build, {args.query_rows:,} x {args.dim} | {build * 1000:.1f} ms |")
    print(f"| one-product query (prebuilt index), median / p95 of 200 | "
          f"{np.median(lat) * 1000:.2f} / {np.percentile(lat, 95) * 1000:.2f} ms |")
    print(f"| one-product query() on the raw array (normalises each call), median of 20 | "
          f"{np.median(raw) * 1000:.2f} ms |")


if __name__ == "__main__":
    main()
