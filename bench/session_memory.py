"""Memory one dashboard session holds: its catalog and one finished run, at several catalog sizes.

A session keeps, in ``st.session_state``, the catalog it loaded (a DataFrame) and each run it trained: the
model's weights, the feature space's state and the run's frames (embeddings, map, neighbours, reconstruction
errors, anomaly scores, duplicate pairs). This builds the default run on the demo catalog as the Train page
does and adds up the bytes of each part (pandas' deep memory usage, numpy ``nbytes``, torch parameter bytes).
Caches shared by the process (the sentence model, the encoding cache) are not a session's and are left out.

    python3 bench/session_memory.py [--rows 2000 10000]
"""
from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from product_repr import pipeline  # noqa: E402
from product_repr.data import demo  # noqa: E402
from product_repr.data.schema import infer_schema  # noqa: E402
from product_repr.runs import frame_bytes, memory_parts  # noqa: E402

MB = 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2000, 10000])
    args = parser.parse_args(argv)
    rows_out = []
    for rows in args.rows:
        table = demo.make_catalog(rows=rows, seed=0).table
        run = pipeline.build_run(table, infer_schema(table), exclude=["subcategory"], label="category")
        parts = memory_parts(run)
        catalog = frame_bytes(table)
        total = catalog + sum(parts.values())
        rows_out.append({"catalog rows": f"{rows:,}", "catalog": f"{catalog / MB:.1f}",
                         **{k: f"{v / MB:.1f}" for k, v in parts.items()}, "session total": f"{total / MB:.1f}"})
        print(f"{rows}: {total / MB:.1f} MB", file=sys.stderr, flush=True)
    print(f"Machine: {platform.machine()}, Python {platform.python_version()}; megabytes (10^6 bytes)\n")
    frame = pd.DataFrame(rows_out)
    print("| " + " | ".join(frame.columns) + " |")
    print("| " + " | ".join("---" for _ in frame.columns) + " |")
    for _, row in frame.iterrows():
        print("| " + " | ".join(str(v) for v in row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
