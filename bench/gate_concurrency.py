"""Three users training at once through the server's CPU gate, in one process, without a browser.

Each size trains a demo catalog (seed 1, 2, 3, ...; ``category`` excluded, no label) through
``pipeline.build_run`` as the Train page calls it (draft map on, one shared ``WorkGate``), first each alone in
a fresh process with an empty encoding cache, then all together (started 0.3 s apart, smallest first) in
another. It prints each job's finished time alone and together with their ratio (budget: together ≤ 2× alone)
and the turns the jobs took at the gate while the smaller ones ran: who held the CPU, for how long, after
waiting how long, and at which stage. ``bench/browser_speed.py --scenarios concurrent`` measures the same in a
real browser, where the browser and the page reruns share the cores too.

    python3 bench/gate_concurrency.py [--sizes 515 999 53940] [--biggest-alone] [--until-small-done]

``--until-small-done`` stops the together run when every job but the biggest has finished (the biggest
then has no figure); without ``--biggest-alone`` the biggest is not timed alone (minutes the first time).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path


def _one(sizes: list[int], until_small_done: bool) -> dict:
    """Run ``sizes`` together (or one alone) in this process; the figures as a JSON-safe dict."""
    from product_repr import compute, pipeline
    from product_repr.data.demo import make_catalog
    from product_repr.data.schema import infer_schema
    from product_repr.features import sentence

    compute.use_cpu_threads()
    gate = compute.WorkGate()
    turns: list[tuple] = []
    stages: dict[str, str] = {}
    acquire, release = gate.acquire, gate.release

    def timed_acquire(ticket, *, timeout=None):
        asked = time.perf_counter()
        acquire(ticket, timeout=timeout)
        ticket.bench = (time.perf_counter(), time.perf_counter() - asked)

    def timed_release(ticket):
        if getattr(ticket, "bench", None):
            got, waited = ticket.bench
            turns.append((ticket.owner, got - start, time.perf_counter() - got, waited, stages.get(ticket.owner, "")))
            ticket.bench = None
        release(ticket)

    gate.acquire, gate.release = timed_acquire, timed_release
    import numpy as np
    import umap

    umap.UMAP(n_epochs=10).fit(np.random.default_rng(0).random((300, 8)))  # the server warms numba at start
    sentence.warm_up()
    tables = {n: make_catalog(n, seed=i + 1).table for i, n in enumerate(sizes)}
    finished: dict[int, float] = {}
    small_done = threading.Event()

    def job(n: int) -> None:
        t0 = time.perf_counter()
        df = tables[n]
        pipeline.build_run(df, infer_schema(df), exclude=["category"], draft=True, gate=gate, owner=f"{n} rows",
                           on_map=lambda frame, info: None, keep_twins=True,
                           on_stage=lambda message: stages.__setitem__(f"{n} rows", message))
        finished[n] = time.perf_counter() - t0
        if all(m in finished for m in sizes[:-1]):
            small_done.set()

    start = time.perf_counter()
    threads = []
    for n in sizes:
        threads.append(threading.Thread(target=job, args=(n,), daemon=True))
        threads[-1].start()
        time.sleep(0.3)
    if until_small_done and len(sizes) > 1:
        small_done.wait()
    else:
        for t in threads:
            t.join()
    waited = defaultdict(float)
    for owner, _, _, wait, _ in turns:
        waited[owner] += wait
    return {"finished": finished, "turns": turns, "waited": dict(waited)}


def _in_fresh_process(sizes: list[int], until_small_done: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as cache:
        env = {**os.environ, "PRODUCT_REPR_CACHE": cache}
        cmd = [sys.executable, __file__, "--child", *map(str, sizes)] + (["--until-small-done"] if until_small_done else [])
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["finished"] = {int(k): v for k, v in result["finished"].items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[515, 999, 53_940])
    parser.add_argument("--biggest-alone", action="store_true", help="also time the biggest job alone")
    parser.add_argument("--until-small-done", action="store_true",
                        help="stop the together run when all but the biggest job have finished")
    parser.add_argument("--child", nargs="+", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_one(args.child, args.until_small_done)))
        return
    sizes = sorted(args.sizes)
    alone = {}
    for n in sizes if args.biggest_alone else sizes[:-1]:
        alone[n] = _in_fresh_process([n], False)["finished"][n]
        print(f"{n:,} rows alone: {alone[n]:.1f} s", flush=True)
    together = _in_fresh_process(sizes, args.until_small_done)
    print("\n| rows | alone | together | ratio (budget ≤ 2) | waited at the gate |\n| --- | --- | --- | --- | --- |")
    for n in sizes:
        a, t = alone.get(n), together["finished"].get(n)
        ratio = f"{t / a:.2f}" if a and t else "—"
        print(f"| {n:,} | {f'{a:.1f} s' if a else '—'} | {f'{t:.1f} s' if t else '—'} | {ratio} "
              f"| {together['waited'].get(f'{n} rows', 0.0):.1f} s |")
    last = max((together["finished"].get(n, 0.0) for n in sizes[:-1]), default=0.0) + 0.3 * len(sizes)
    print("\nTurns at the gate while the smaller jobs ran (seconds from the first job's start):\n")
    for owner, at, held, wait, stage in together["turns"]:
        if at <= last:
            print(f"- {at:6.1f}: {owner} held the CPU {held:.1f} s after waiting {wait:.1f} s ({stage})")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
