"""Benchmark: UMAP on our exact faiss kNN graph against umap-learn's own default search.

    python bench/umap_knn.py [--rows 20000] [--dim 32] [--clusters 40]

Same embeddings for both: ``rows`` x ``dim`` demo-like data (Gaussian clusters
of varying size and spread, L2 scale varying per product). Both fits are
seeded (random_state=0), cosine, n_neighbors=15, min_dist=0.1, umap-learn's
default epochs. numba compilation is paid beforehand for both paths, so the
times are steady-state. Reports wall time, trustworthiness of the map (k=10,
5,000-row sample, cosine in the embedding), kNN precision of the map against
the cluster labels, and the recall of umap-learn's approximate NN-descent graph
against the exact one. Prints a Markdown table for docs/ANALYSIS.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np

from product_repr.analysis import evaluation, neighbours, projection  # noqa: E402

warnings.filterwarnings("ignore")


def demo_like(rows: int, dim: int, clusters: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    sizes = rng.dirichlet(np.full(clusters, 2.0))
    labels = rng.choice(clusters, size=rows, p=sizes)
    spread = rng.uniform(0.2, 0.6, size=clusters)
    Z = centres[labels] + rng.normal(size=(rows, dim)) * spread[labels, None]
    Z *= rng.lognormal(0.0, 0.3, size=(rows, 1))  # norms vary; cosine ignores them
    return Z.astype(np.float32), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--clusters", type=int, default=40)
    args = parser.parse_args()
    import umap

    Z, labels = demo_like(args.rows, args.dim, args.clusters)
    warm, _ = demo_like(4096, args.dim, args.clusters, seed=1)
    t0 = time.perf_counter()
    projection.project(warm, seed=0, n_epochs=10)
    umap.UMAP(metric="cosine", random_state=0, n_epochs=10).fit(warm)
    compile_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    knn = neighbours.umap_knn(Z, 15)
    knn_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = projection.project(Z, seed=0, knn=knn).coords
    ours_s = time.perf_counter() - t0 + knn_s

    t0 = time.perf_counter()
    reducer = umap.UMAP(n_neighbors=15, min_dist=0.1, metric="cosine", random_state=0)
    theirs = reducer.fit_transform(Z)
    theirs_s = time.perf_counter() - t0
    approx = getattr(reducer, "_knn_indices", None)
    recall = None
    if approx is not None:
        recall = np.mean([len(set(a) & set(b)) / 15 for a, b in zip(approx[:, :15], knn[0])])

    lab = labels.astype(str)
    rows = [
        ("exact kNN (faiss) -> precomputed_knn", ours_s, ours),
        ("umap-learn default (NN-descent)", theirs_s, theirs),
    ]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
          f"umap-learn {umap.__version__}, numpy {np.__version__}; load average {os.getloadavg()[0]:.1f}")
    print(f"data: {args.rows:,} x {args.dim}, {args.clusters} clusters; numba compile paid first: {compile_s:.0f} s")
    print()
    print("| graph | wall time | trustworthiness@10 | map kNN precision@10 vs clusters |")
    print("| --- | --- | --- | --- |")
    for name, seconds, coords in rows:
        trust = evaluation.trustworthiness(Z, coords, k=10, sample=5000, seed=0)
        prec = evaluation.knn_precision(coords, lab, k=10)
        print(f"| {name} | {seconds:.1f} s | {trust:.4f} | {prec:.4f} |")
    print(f"\nexact kNN graph alone: {knn_s:.2f} s; NN-descent recall@15 against the exact graph: "
          f"{'n/a' if recall is None else f'{recall:.4f}'}")


if __name__ == "__main__":
    main()
