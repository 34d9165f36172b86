"""Benchmark: `product-repr train` on wide synthetic catalogs of growing size, seconds per stage and peak memory.

    python bench/scale.py [--rows 10000 100000] [--columns 50] [--text-encoder all-MiniLM-L6-v2-static]
                          [--steps N] [--keep DIR]

The table has ``--columns`` columns: an id, two text columns (a title of 4-7 words from a 5,000-word
vocabulary and a 10-20 word description), and the rest split between numeric columns (normal, log-normal
heavy-tailed, a few percent missing, a boolean-like 0/1) and categorical ones (3 to 200 levels, Zipf
frequencies). Each size is written as Parquet and trained by the CLI in a fresh process, with the label-free
defaults (analysis included); the process's own peak resident memory comes from ``os.wait4``, the stages from
the run's ``run.json``. Prints a markdown table for docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("features_s", "train_s", "neighbours_s", "projection_s", "reconstruction_s", "anomalies_s",
          "duplicates_s", "save_s")


def catalog(rows: int, columns: int, seed: int = 0) -> pd.DataFrame:
    """A synthetic product table: id, title, description, then numeric and categorical columns."""
    rng = np.random.default_rng(seed)
    vocabulary = np.array([f"w{i}" for i in range(5_000)])
    groups = rng.integers(0, 300, size=rows)  # products come in kinds; a kind shares words and values
    kind_words = rng.integers(0, len(vocabulary), size=(300, 12))

    def words(count_lo: int, count_hi: int) -> list[str]:
        count = rng.integers(count_lo, count_hi + 1, size=rows)
        own = kind_words[groups[:, None], rng.integers(0, 12, size=(rows, count_hi))]
        noise = rng.integers(0, len(vocabulary), size=(rows, count_hi))
        pick = np.where(rng.random((rows, count_hi)) < 0.7, own, noise)
        text = vocabulary[pick]
        return [" ".join(t[:c]) for t, c in zip(text, count)]

    data: dict[str, object] = {"product_id": [f"P{i:07d}" for i in range(rows)],
                               "title": words(4, 7), "description": words(10, 20)}
    rest = max(0, columns - 3)
    for j in range(rest):
        name = f"attr_{j:02d}"
        if j % 2 == 0:  # numeric
            centre = rng.normal(size=300)[groups]
            kind = (j // 2) % 4
            if kind == 0:
                v = centre + rng.normal(scale=0.5, size=rows)
            elif kind == 1:
                v = np.exp(centre + rng.normal(scale=0.8, size=rows)) * 100
            elif kind == 2:
                v = (rng.random(rows) < 0.2 + 0.6 * (centre > 0)).astype(float)
            else:
                v = np.round(centre * 10 + rng.normal(size=rows) * 3)
            v[rng.random(rows) < 0.03] = np.nan
            data[name] = v
        else:  # categorical
            levels = int(3 + (j * 37) % 198)
            base = rng.integers(0, levels, size=300)[groups]
            other = np.minimum(rng.zipf(1.6, size=rows) - 1, levels - 1)
            codes = np.where(rng.random(rows) < 0.8, base, other)
            data[name] = np.array([f"{name}_v{c}" for c in range(levels)], dtype=object)[codes]
    return pd.DataFrame(data)


def train(table: Path, out: Path, args) -> tuple[float, float, dict]:
    """(wall seconds, peak RSS GiB, run.json) of one CLI training in a fresh process."""
    cmd = [sys.executable, "-m", "product_repr", "train", str(table), "--out", str(out), "--quiet", "--overwrite",
           "--feature", f"text_encoder={args.text_encoder}"]
    if args.steps:
        cmd += ["--steps", str(args.steps)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"train failed on {table.name}: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 2**20, json.loads((out / "run.json").read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--text-encoder", default="all-MiniLM-L6-v2-static",
                        help="the texts' sentence model (the transformer costs ~2 ms a text on 2 cores)")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--keep", default=None, help="keep the tables and runs in this folder")
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; {args.columns} columns, texts by "
          f"{args.text_encoder}")
    print()
    print("| rows | wall | peak memory | " + " | ".join(s.removesuffix("_s") for s in STAGES) + " | X columns | neighbours |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in STAGES) + " | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for n in args.rows:
            table = folder / f"catalog_{n}.parquet"
            if not table.exists():
                catalog(n, args.columns).to_parquet(table, row_group_size=50_000)
            wall, peak, info = train(table, folder / f"run_{n}", args)
            timings = info.get("timings", {})
            width = json.loads((folder / f"run_{n}" / "features.json").read_text())["spans"][-1]["stop"]
            search = info.get("neighbours", {})
            how = search.get("method", "?") + (f", recall {search['recall']}" if "recall" in search else "")
            print(f"| {n:,} | {wall:.0f} s | {peak:.2f} GiB | "
                  + " | ".join(f"{timings.get(s, float('nan')):.1f}" for s in STAGES) + f" | {width:,} | {how} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
