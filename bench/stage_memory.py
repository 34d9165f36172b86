"""Benchmark: peak resident memory and seconds of each stage of one run on the wide synthetic catalog.

    python bench/stage_memory.py --rows 100000 [--columns 50] [--text-encoder all-MiniLM-L6-v2-static]
                                 [--table PATH]

Builds the table of ``bench/scale.py`` (or reads ``--table``), then in this process calls
``pipeline.build_run`` as ``product-repr train`` does (default learner, analysis included, no label). At each
stage message it reads the process's peak resident memory since the previous message (``VmHWM`` of
/proc/self/status, reset through /proc/self/clear_refs, Linux only), so each line says how much memory that
stage needed and how much it left held. Prints one line per stage, then the run's stage times.
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def memory() -> dict[str, float]:
    """VmHWM (peak since the last reset) and VmRSS (now) of this process, GiB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) / 2**20
    return out


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # "5": reset the peak resident set size to the current one


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--text-encoder", default="all-MiniLM-L6-v2-static")
    parser.add_argument("--table", default=None, help="a Parquet file of bench/scale.py's table (made if absent)")
    parser.add_argument("--out", default=None, help="save the run here (e.g. to open it in the dashboard)")
    args = parser.parse_args(argv)


    from bench.scale import catalog
    from product_repr import pipeline
    from product_repr.data.schema import infer_schema
    from product_repr.data.tables import read_table

    table = Path(args.table) if args.table else None
    if table is not None and not table.exists():
        catalog(args.rows, args.columns).to_parquet(table, row_group_size=50_000)
        print(f"wrote {table}; run again to measure from a fresh process")
        return 0
    df = read_table(table) if table is not None else catalog(args.rows, args.columns)  # read as `train` reads
    gc.collect()
    print(f"{len(df):,} rows x {df.shape[1]} columns in memory: {memory()['VmRSS']:.2f} GiB resident")
    print()
    print("| stage | seconds | peak memory | held after |")
    print("| --- | --- | --- | --- |")
    last = {"stage": None, "t": time.perf_counter()}

    def stage(message: str) -> None:
        now, mem = time.perf_counter(), memory()
        if last["stage"] is not None:
            print(f"| {last['stage']} | {now - last['t']:.1f} | {mem['VmHWM']:.2f} GiB | {mem['VmRSS']:.2f} GiB |",
                  flush=True)
        reset_peak()
        last.update(stage=message, t=now)

    reset_peak()
    run = pipeline.build_run(df, infer_schema(df), features={"text_encoder": args.text_encoder}, on_stage=stage)
    stage("(end)")
    if args.out:
        from product_repr.runs import save_run

        t0 = time.perf_counter()
        save_run(run, args.out, overwrite=True)
        print(f"\nsaved {args.out} in {time.perf_counter() - t0:.1f} s; peak {memory()['VmHWM']:.2f} GiB")
    print()
    print("stage seconds (run.json):", {k: round(v, 1) for k, v in run.info["timings"].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
