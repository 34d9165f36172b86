"""Epochs per second of every learner at 10k and 50k rows (default settings, CPU or GPU).

Synthetic features shaped like a real catalog's: two 128-dim text blocks, a 40-level categorical, a 12-level
categorical and four numeric columns (value + missing flag): p = 320, 8 spans. Each learner trains for a few
epochs with early stopping off; the figure is epochs / training seconds (the first epoch included).

    python3 bench/training_speed.py [--rows 10000 50000] [--epochs 3] [--device auto]

Prints a markdown table.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from product_repr import learners  # noqa: E402
from product_repr.features.space import Span  # noqa: E402
from product_repr.data.schema import Role  # noqa: E402


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, list[Span]]:
    rng = np.random.default_rng(seed)
    blocks, spans, p = [], [], 0

    def add(name, role, block, loss):
        nonlocal p
        blocks.append(block.astype(np.float32))
        spans.append(Span(name, role, p, p + block.shape[1], loss))
        p += block.shape[1]

    group = rng.integers(0, 40, n)
    add("title", Role.TEXT, rng.normal(size=(40, 128))[group] + rng.normal(0, 0.5, (n, 128)), "mse")
    add("description", Role.TEXT, rng.normal(size=(40, 128))[group] + rng.normal(0, 0.5, (n, 128)), "mse")
    add("brand", Role.CATEGORICAL, np.eye(40)[group], "ce")
    add("colour", Role.CATEGORICAL, np.eye(12)[rng.integers(0, 12, n)], "ce")
    for name in ("price", "weight", "rating", "reviews"):
        add(name, Role.NUMERIC, np.column_stack([rng.normal(size=n), rng.random(n) < 0.05]), "mse")
    return np.hstack(blocks), spans


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else ("cpu" if args.device == "auto" else args.device)
    where = torch.cuda.get_device_name(0) if device == "cuda" else f"{platform.processor() or 'CPU'}, {os.cpu_count()} cores"
    print(f"device: {device} ({where}); torch {torch.__version__}; {torch.get_num_threads()} threads; "
          f"{args.epochs} epochs per cell, default settings (width 256, depth 2, d 32, batch 256)\n")
    names = sorted(learners.REGISTRY)
    print("| rows | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for n in args.rows:
        X, spans = synthetic(n)
        cells = []
        for name in names:
            cls = learners.get(name)
            model = cls(cls.Config(epochs=args.epochs, patience=args.epochs + 1))
            t0 = time.perf_counter()
            model.fit(X, spans=spans, device=device)
            dt = time.perf_counter() - t0
            cells.append(f"{len(model.history_) / dt:.2f} ep/s ({dt / len(model.history_):.2f} s/ep)")
        print(f"| {n:,} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
