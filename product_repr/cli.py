"""Command line: ``python -m product_repr demo|train|evaluate|export``.

Every command prints errors caused by the data or settings as one line on
stderr and exits with status 2; no traceback for a user's mistake.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

from product_repr.errors import ProductReprError


def _parse_set(values: Sequence[str]) -> dict:
    """``--set width=512 --set swap_rate=0.2`` → {"width": 512, "swap_rate": 0.2}."""
    out = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ProductReprError(f"--set {item!r} is not KEY=VALUE (e.g. --set width=512)")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def _parse_roles(values: Sequence[str]) -> dict:
    out = {}
    for item in values:
        column, sep, role = item.rpartition("=")
        if not sep or not column:
            raise ProductReprError(f"--role {item!r} is not COLUMN=ROLE (e.g. --role brand=categorical)")
        out[column] = role
    return out


class ProgressBar:
    """A one-line text progress bar on stderr; the CLI's ``progress`` callable."""

    def __init__(self, stream=sys.stderr, width: int = 30):
        self.stream = stream
        self.width = width
        self.interactive = stream.isatty()

    def __call__(self, report) -> None:
        done = report.step / max(report.steps, 1)
        filled = int(round(done * self.width))
        val = "" if report.val_loss is None else f" val {report.val_loss:.4f}"
        line = (
            f"step {report.step:>6}/{report.steps} [{'#' * filled}{'.' * (self.width - filled)}] "
            f"epoch {report.epoch:.1f} train {report.train_loss:.4f}{val} {report.elapsed:.1f}s elapsed"
        )
        if self.interactive:
            self.stream.write("\r" + line)
        else:  # one line per validation check (20 per run)
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()


def cmd_demo(args) -> int:
    from product_repr.data import demo

    csv_path, truth_path = demo.write_catalog(args.out, rows=args.rows, seed=args.seed)
    print(f"wrote {csv_path} ({args.rows} products) and {truth_path}")
    return 0


def cmd_train(args) -> int:
    from product_repr import pipeline
    from product_repr.runs import save_run
    from product_repr.data.schema import infer_schema
    from product_repr.data.tables import read_table

    df = read_table(args.data, max_rows=args.max_rows)
    if not args.quiet:
        for note in df.attrs.get("notes", []):
            print(f"note: {note}", file=sys.stderr)
    schema = infer_schema(df)
    roles = _parse_roles(args.role)
    if roles:
        schema = schema.with_roles(roles)
    overrides = _parse_set(args.set)
    for key, value in (("embedding_dim", args.dim), ("steps", args.steps), ("epochs", args.epochs),
                       ("seed", args.seed)):
        if value is not None:
            overrides[key] = value
    config = pipeline.make_config(args.learner, overrides)
    name = args.name or (Path(args.out).name if args.out else None)
    bar = None if args.quiet else ProgressBar()

    def stage(message: str) -> None:
        if not args.quiet:
            print(f"· {message}", file=sys.stderr)

    t0 = time.perf_counter()
    try:
        run = pipeline.build_run(
            df,
            schema,
            learner=args.learner,
            config=config,
            exclude=args.exclude,
            label=args.label,
            progress=bar,
            on_stage=stage,
            device=args.device,
            name=name,
            source=str(Path(args.data).resolve()),
            features=_parse_set(args.feature),
        )
    finally:
        if bar is not None:
            bar.close()
    out = Path(args.out) if args.out else Path("runs") / run.name
    save_run(run, out)
    summary = {
        "run": str(out),
        "learner": args.learner,
        "text_encoder": run.info.get("features", {}).get("text_encoder_used"),
        "rows": int(len(df)),
        "embedding_dim": int(run.embeddings.shape[1]),
        "steps_trained": int(run.history["step"].iloc[-1]) if len(run.history) else 0,
        "seconds": round(time.perf_counter() - t0, 2),
        "metrics": run.metrics,
    }
    print(json.dumps(summary, indent=2, default=float))
    return 0


def cmd_evaluate(args) -> int:
    from product_repr import pipeline
    from product_repr.analysis import evaluation
    from product_repr.runs import load_run
    from product_repr.data.tables import read_table

    run = load_run(args.run)
    source = args.data or run.info.get("data", {}).get("source")
    if not source or not Path(source).exists():
        raise ProductReprError(
            f"the run's data file {source!r} is not available; pass the table with --data FILE"
        )
    df = read_table(source)
    if args.label not in df.columns:
        raise ProductReprError(
            f"label column {args.label!r} is not in {source}; columns are {', '.join(map(str, df.columns))}"
        )
    ids = pipeline.product_ids(df, run.schema)
    position = {pid: i for i, pid in enumerate(ids)}
    rows = [position.get(pid) for pid in run.product_ids]
    missing = sum(r is None for r in rows)
    if missing:
        raise ProductReprError(
            f"{missing} of the run's {len(rows)} products are not in {source}; pass the table the run was trained on"
        )
    df = df.iloc[rows].reset_index(drop=True)
    X = run.feature_space.transform(df)
    labels = pipeline.label_values(df, args.label)
    coords = None
    if run.projection is not None:
        coords = run.projection[[c for c in ("x", "y", "z") if c in run.projection.columns]].to_numpy()
    metrics = evaluation.evaluate(run.embeddings, X, labels, coords=coords, k=args.k)
    metrics["label"] = args.label
    print(json.dumps(metrics, indent=2, default=float))
    return 0


def cmd_export(args) -> int:
    from product_repr import export
    from product_repr.runs import load_run

    run = load_run(args.run)
    out = Path(args.out)
    if args.format == "projector":
        metadata = run.reconstruction[["product_id", "error"]] if run.reconstruction is not None else None
        paths = export.export_projector(out, run.product_ids, run.embeddings, metadata)
    else:
        paths = export.export_table(out, run.product_ids, run.embeddings, fmt=args.format)
    for path in paths if isinstance(paths, (list, tuple)) else [paths]:
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from product_repr import __version__

    parser = argparse.ArgumentParser(
        prog="python -m product_repr",
        description="Learn product embeddings from a catalog table, headless.",
    )
    parser.add_argument("--version", action="version", version=f"product_repr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="write the built-in demo catalog and its planted truth")
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="FILE.csv; FILE.truth.json is written beside it")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("train", help="train a learner on a table and write a run directory")
    p.add_argument("data", help="CSV/TSV/Parquet/JSON/JSONL/XLSX file (optionally .gz)")
    p.add_argument("--learner", default=None, help="autoencoder, denoising, contrastive or multitask")
    p.add_argument("--dim", type=int, default=None, help="embedding size")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps (default: the learner's, 1000)")
    p.add_argument("--epochs", type=int, default=None, help="most passes over the data (default 100)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--exclude", action="append", default=[], metavar="COL", help="keep COL out of the input (repeatable)")
    p.add_argument("--label", default=None, metavar="COL", help="evaluate against COL (it is excluded from the input)")
    p.add_argument("--role", action="append", default=[], metavar="COL=ROLE", help="override an inferred role")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any learner setting")
    p.add_argument("--feature", action="append", default=[], metavar="KEY=VALUE",
                   help="feature setting: text_weight, text_dim, max_levels or text_encoder (auto, tfidf or a sentence model such as all-MiniLM-L6-v2)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--max-rows", type=int, default=None)
    p.add_argument("--name", default=None)
    p.add_argument("--out", default=None, metavar="DIR", help="run directory (default runs/<name>)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="print a run's quality metrics against the raw and PCA baselines as JSON")
    p.add_argument("run", help="run directory")
    p.add_argument("--label", required=True, metavar="COL")
    p.add_argument("--data", default=None, help="the table (default: the one recorded in run.json)")
    p.add_argument("--k", type=int, default=10)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="export a run's embeddings")
    p.add_argument("run", help="run directory")
    p.add_argument("--format", choices=["csv", "parquet", "projector"], default="csv")
    p.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(func=cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from product_repr.compute import use_cpu_threads

    use_cpu_threads()  # once, at the entry point
    if getattr(args, "learner", "") is None:
        from product_repr.pipeline import DEFAULT_LEARNER

        args.learner = DEFAULT_LEARNER
    try:
        return args.func(args)
    except ProductReprError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
