"""Train click to map: the time of each stage of ``pipeline.build_run`` on the demo catalog.

The design's budget (2-core CPU, server warm): 10k products with the default learner and epochs on screen
within 5 s, 50k within 15 s. This measures the same call the Train page makes, stage by stage, after a
UMAP warm-up (the server pays numba's compilation at start-up).

    python3 bench/pipeline_speed.py [--rows 10000 50000] [--epochs N] [--learner NAME] [--text-encoder auto|tfidf]

The sentence encoder (when ``auto`` picks it) is loaded before timing, as the dashboard does at start-up; its
encoding of the catalog's texts is part of the features stage (the first training on a table pays it).

Prints a markdown table.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from product_repr import learners, pipeline
from product_repr.data import demo
from product_repr.analysis import projection  # noqa: E402
from product_repr.data.schema import infer_schema  # noqa: E402

STAGES = ["features_s", "train_s", "neighbours_s", "projection_s", "reconstruction_s", "evaluation_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--epochs", type=int, default=None, help="default: the learner's default")
    parser.add_argument("--steps", type=int, default=None, help="default: the learner's default")
    parser.add_argument("--learner", default=learners.DEFAULT)
    parser.add_argument("--text-encoder", default="auto", help="auto (sentence model when installed) or tfidf")
    args = parser.parse_args()
    from product_repr.features import sentence

    if args.text_encoder != "tfidf":
        sentence.warm_up()

    t0 = time.perf_counter()
    projection.warm_up()
    print(f"UMAP warm-up (paid at server start): {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    config = {k: v for k, v in (("epochs", args.epochs), ("steps", args.steps)) if v is not None}
    rows_out = []
    for n in args.rows:
        table = demo.make_catalog(rows=n, seed=0).table
        schema = infer_schema(table)
        start = time.perf_counter()
        run = pipeline.build_run(table, schema, learner=args.learner, config=config,
                                 exclude=["subcategory"], label="category",
                                 features={"text_encoder": args.text_encoder})
        total = time.perf_counter() - start
        timings = run.info["timings"]
        epochs = int(run.history["step"].iloc[-1])
        rows_out.append((n, epochs, [timings.get(s, 0.0) for s in STAGES], total))
        print(f"{n} rows done in {total:.1f} s", file=sys.stderr)

    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"learner {args.learner}, epochs {'default' if args.epochs is None else args.epochs}, "
          f"text encoder {run.info['features'].get('text_encoder_used')}\n")
    print("| rows | steps run | " + " | ".join(s.removesuffix('_s') for s in STAGES) + " | total s |")
    print("| --- | --- | " + " | ".join("---" for _ in STAGES) + " | --- |")
    for n, epochs, stage_s, total in rows_out:
        print(f"| {n:,} | {epochs} | " + " | ".join(f"{s:.1f}" for s in stage_s) + f" | {total:.1f} |")


if __name__ == "__main__":
    main()
