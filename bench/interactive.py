"""Train click → first map → finished run, with the previous defaults and the current ones, in one process.

The same ``pipeline.build_run`` call the Train page makes (draft maps on, a ``WorkGate`` as in the server),
after the warm-up the server does at start-up (UMAP's numba JIT, both sentence models loaded). For every
workload it runs

- ``before``: the settings the product had before the speed work — 100 epochs of 256 rows at a constant
  learning rate of 1e-3, float32 everywhere (sentence encoder included), no draft map, no encoding disk
  cache. The code paths are today's (one fused encoder pass per batch, 20 validation checks), so this
  slightly flatters "before";
- ``first``: the current defaults on a table whose texts this machine has never encoded (an empty disk
  cache);
- ``again``: the current defaults once more, as a second session or a later training would (the disk
  cache holds the texts).

and prints seconds to the first map (a draft of the input features when one is drawn, else the run's own
map), seconds to the finished run (metrics included), and the ratio before / first.

    python3 bench/interactive.py [--workloads demo2k demo10k long1k demo50k] [--skip-before demo50k]

Workloads: the demo catalog at 2,000 / 10,000 / 50,000 rows (label ``category``, ``subcategory``
excluded), and ``long1k``: 1,000 demo rows whose descriptions are five descriptions of the same
subcategory joined (~500 characters each). Run it alone on the machine: two trainings at once on 2 cores
slow each other several times.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from product_repr import compute, pipeline

from product_repr.data import demo

from product_repr.analysis import projection

from product_repr.features import sentence  # noqa: E402
from product_repr.data.schema import infer_schema  # noqa: E402

BEFORE = {"steps": 100_000, "epochs": 100, "batch_size": 256, "learning_rate": 1e-3, "schedule": "constant",
          "precision": "float32"}
WORKLOADS = {"demo2k": 2_000, "demo10k": 10_000, "demo50k": 50_000, "long1k": 1_000}


def long_descriptions(rows: int = 1_000, seed: int = 0) -> pd.DataFrame:
    """Demo rows whose description is five descriptions of random rows of the same subcategory."""
    table = demo.make_catalog(rows=rows, seed=seed).table.copy()
    rng = np.random.default_rng(seed)
    groups = table.groupby("subcategory")["description"].apply(list).to_dict()
    table["description"] = [" ".join(rng.choice(groups[s], size=5)) for s in table["subcategory"]]
    return table


def table_for(workload: str) -> pd.DataFrame:
    if workload == "long1k":
        return long_descriptions()
    return demo.make_catalog(rows=WORKLOADS[workload], seed=0).table


def one_click(table: pd.DataFrame, *, config: dict, draft: bool) -> dict:
    """Time one Train click: seconds to the first map, to the finished run, and the stage timings."""
    gate = compute.WorkGate()
    seen: dict = {}
    start = time.perf_counter()

    def on_map(frame, info) -> None:
        seen.setdefault("first_map_s", time.perf_counter() - start)
        seen.setdefault("first_kind", info["kind"])
        if info["kind"] == "final":
            seen["final_map_s"] = time.perf_counter() - start

    run = pipeline.build_run(table, infer_schema(table), config=config, exclude=["subcategory"], label="category",
                             on_map=on_map, draft=draft, gate=gate, owner="bench")
    finished = time.perf_counter() - start
    knn = run.metrics.get("knn_precision@10", {}).get("model")
    return {**seen, "finished_s": finished, "timings": run.info["timings"], "knn": knn,
            "steps": int(run.history["step"].iloc[-1])}


def measure(workload: str, *, before: bool) -> dict:
    table = table_for(workload)
    out = {}
    if before:
        os.environ["PRODUCT_REPR_BF16"] = "0"
        os.environ["PRODUCT_REPR_CACHE"] = "off"
        sentence._cache.clear()
        out["before"] = one_click(table, config=BEFORE, draft=False)
    os.environ.pop("PRODUCT_REPR_BF16", None)
    os.environ["PRODUCT_REPR_CACHE"] = tempfile.mkdtemp(prefix="bench_cache_")  # never encoded here
    sentence._cache.clear()
    out["first"] = one_click(table, config={}, draft=True)
    sentence._cache.clear()  # a new session or process: only the disk cache remains
    out["again"] = one_click(table, config={}, draft=True)
    return out


def fmt(entry: dict | None, key: str) -> str:
    return "—" if not entry or key not in entry else f"{entry[key]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--skip-before", nargs="*", default=["demo50k"], choices=list(WORKLOADS),
                        help="workloads measured without the slow 'before' settings")
    args = parser.parse_args()
    threads = compute.use_cpu_threads()
    t0 = time.perf_counter()
    projection.warm_up()
    sentence.warm_up(sentence.DEFAULT_MODEL)
    sentence.warm_up(sentence.FAST_MODEL)
    print(f"warm-up (paid at server start): {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    results = {}
    for w in args.workloads:
        results[w] = measure(w, before=w not in args.skip_before)
        print(f"{w}: {results[w]}", file=sys.stderr)

    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
          f"{threads}, bf16 native: {compute.bf16_native()}\n")
    print("| workload | before: finished s | now, first time: first map s (kind) | finished s | "
          "now, texts cached: first map s | finished s | before / now (first time) | kNN@10 before / now |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for w, r in results.items():
        b, f, a = r.get("before"), r["first"], r["again"]
        ratio = f"{b['finished_s'] / f['finished_s']:.1f}x" if b else "—"
        knn = f"{b['knn']:.3f} / {f['knn']:.3f}" if b and b["knn"] is not None else f"— / {f['knn']:.3f}"
        print(f"| {w} | {fmt(b, 'finished_s')} | {fmt(f, 'first_map_s')} ({f.get('first_kind')}) | "
              f"{fmt(f, 'finished_s')} | {fmt(a, 'first_map_s')} ({a.get('first_kind')}) | {fmt(a, 'finished_s')} | "
              f"{ratio} | {knn} |")
    print("\nStage seconds (now, first time / texts cached):\n")
    stages = ["draft_map_s", "features_s", "train_s", "neighbours_s", "projection_s", "reconstruction_s",
              "evaluation_s"]
    print("| workload | " + " | ".join(s.removesuffix("_s") for s in stages) + " | steps |")
    print("| --- | " + " | ".join("---" for _ in stages) + " | --- |")
    for w, r in results.items():
        cells = [f"{r['first']['timings'].get(s, 0):.1f} / {r['again']['timings'].get(s, 0):.1f}" for s in stages]
        print(f"| {w} | " + " | ".join(cells) + f" | {r['first']['steps']} |")


if __name__ == "__main__":
    main()
