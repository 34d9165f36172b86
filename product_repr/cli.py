"""Command line: ``product-repr`` (or ``python -m product_repr``) demo | train | evaluate | export | dashboard.

Every command prints errors caused by the data or settings as one line on
stderr and exits with status 2; no traceback for a user's mistake. ``--help``
of every command shows its defaults, read from the learners' configs, and
examples that run as written.
"""
from __future__ import annotations

import argparse
import inspect
import json
import shlex
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Sequence

from product_repr import library
from product_repr.errors import ConfigError, ProductReprError


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
    from product_repr import distributed, pipeline
    from product_repr.runs import check_free, save_run
    from product_repr.data.schema import infer_schema
    from product_repr.data.tables import read_table

    if distributed.launched():
        return _train_distributed(args)
    df = read_table(args.data, max_rows=args.max_rows)
    if not args.quiet:
        for note in df.attrs.get("notes", []):
            print(f"note: {note}", file=sys.stderr)
    schema = infer_schema(df)
    roles = _parse_roles(args.role)
    if roles:
        schema = schema.with_roles(roles)
    config = pipeline.make_config(args.learner, _train_overrides(args))
    name = args.name or (Path(args.out).name if args.out else None)
    if name is not None:  # the run's folder is known: refuse an occupied one before training, not after
        check_free(Path(args.out) if args.out else Path("runs") / name, overwrite=args.overwrite)
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
            keep_twins=args.keep_twins,
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
    save_run(run, out, overwrite=args.overwrite)
    _print_summary(run, out, args.learner, t0)
    return 0


def _print_summary(run, out: Path, learner: str, t0: float, **extra) -> None:
    """The JSON summary ``train`` prints for a saved run (``extra`` keys after the learner)."""
    print(json.dumps({
        "run": str(out),
        "learner": learner,
        **extra,
        "text_encoder": run.info.get("features", {}).get("text_encoder_used"),
        "rows": int(run.info["data"]["rows"]),
        "embedding_dim": int(run.embeddings.shape[1]),
        "steps_trained": int(run.history["step"].iloc[-1]) if len(run.history) else 0,
        "seconds": round(time.perf_counter() - t0, 2),
        "metrics": run.metrics,
    }, indent=2, default=float))


def _train_overrides(args) -> dict:
    overrides = _parse_set(args.set)
    for key, value in (("embedding_dim", args.dim), ("steps", args.steps), ("epochs", args.epochs),
                       ("seed", args.seed)):
        if value is not None:
            overrides[key] = value
    return overrides


def _train_distributed(args) -> int:
    """``train`` as one of the processes ``torchrun`` started: rank 0 writes the run and prints its summary."""
    from product_repr import distributed
    from product_repr.learners.group import world
    from product_repr.runs import check_free, save_run

    t0 = time.perf_counter()
    name = args.name or (Path(args.out).name if args.out else None)
    with distributed.process_group(args.device):
        rank, size = world()
        quiet = args.quiet or rank != 0
        bar = None if quiet else ProgressBar()

        def stage(message: str) -> None:
            if not quiet:
                print(f"· {message}", file=sys.stderr)

        def check() -> None:
            if name is not None:
                check_free(Path(args.out) if args.out else Path("runs") / name, overwrite=args.overwrite)

        try:
            run = distributed.train_table(
                args.data, learner=args.learner, config=_train_overrides(args), exclude=args.exclude,
                label=args.label, keep_twins=args.keep_twins, roles=_parse_roles(args.role),
                features=_parse_set(args.feature), max_rows=args.max_rows, device=args.device, name=name,
                progress=bar, on_stage=stage, check=check)
        finally:
            if bar is not None:
                bar.close()
        if run is not None:
            out = Path(args.out) if args.out else Path("runs") / run.name
            save_run(run, out, overwrite=args.overwrite)
            _print_summary(run, out, args.learner, t0, processes=size)
        # every process leaves the group together, once rank 0 has written the run: a process that destroyed
        # its group and exited while rank 0 still worked was aborted by the C++ runtime ("terminate called
        # without an active exception") in about 1 start in 4, and torchrun then ended rank 0 too
        distributed.leave_together()
    return 0


def _find_table(run_dir: str, run, data: str | None):
    """``(table, where)``: the table ``run`` was trained on as read from ``data``, else from the table saved in
    the run directory (run.json's ``data.table_file``), else from its recorded source; None when none is here."""
    import pandas as pd

    from product_repr.data.tables import read_table
    from product_repr.runs import table_path

    recorded = run.info.get("data") or {}
    source = recorded.get("source")
    saved = table_path(run_dir, run.info)
    if data is None and saved is not None:
        return pd.read_parquet(saved), str(saved)  # written by the dashboard from the very frame it trained on
    path = data or (source if source and Path(source).is_file() else None)
    if path is None:
        return None
    same_file = source is not None and Path(path).resolve() == Path(source).resolve()
    capped = recorded.get("capped") and same_file  # trained on the first `rows` rows (--max-rows)
    return read_table(path, max_rows=int(recorded["rows"]) if capped else None), str(path)


def _run_table(run_dir: str, run, table, where: str, *, allow_other: bool):
    """``table``'s rows in the order of ``run.product_ids`` (``runs.align``). Refuses (ProductReprError) a
    table that is not the run's (its content hash differs from run.json's) unless ``allow_other``; then the
    products are matched by id, and a note on stderr says how the table differs."""
    from product_repr import pipeline
    from product_repr.runs import align

    recorded = run.info.get("data") or {}
    want, got = recorded.get("sha256"), pipeline.table_sha256(table)
    if want and got != want and not allow_other:
        raise ProductReprError(
            f"{where} is not the table run {run_dir} was trained on ({recorded.get('source')}, "
            f"{recorded.get('rows')} rows): its content hash {got[:12]} differs from the run's {want[:12]}; "
            "pass the run's table with --data FILE, or add --allow-other-data to use this one"
        )
    aligned = align(run, table, name=where, sha256=got)
    if aligned.note:
        print(f"note: {aligned.note}", file=sys.stderr)
    return aligned.rows


def _label_leaks(run, table, label: str) -> list[str]:
    """Columns of the learner's input that restate ``label``: the label itself, or its named twins."""
    from product_repr.data.leakage import named_twins

    inputs = set(map(str, run.feature_space.columns))
    return [c for c in dict.fromkeys([label, *named_twins(table, label, schema=run.schema)]) if c in inputs]


def _leak_message(label: str, leaks: Sequence[str]) -> str:
    """What leaked (the label itself, its twins) and the training options that keep it out."""
    said, fix = [], []
    if label in leaks:
        said.append(f"the label {label!r} itself was in the learner's input")
        fix.append(f"--label {shlex.quote(label)}")
    twins = [c for c in leaks if c != label]
    if twins:
        one = len(twins) == 1
        said.append(f"{', '.join(map(repr, twins))} restate{'s' if one else ''} the label {label!r} and "
                    f"{'was' if one else 'were'} in the learner's input")
        fix[:0] = [f"--exclude {shlex.quote(c)}" for c in twins]
    return f"{' and '.join(said)}, so these metrics flatter the run; train it again with {' '.join(fix)}"


def cmd_evaluate(args) -> int:
    from product_repr import pipeline
    from product_repr.analysis import evaluation
    from product_repr.runs import load_run

    run = load_run(args.run)
    recorded = run.info.get("data") or {}
    label = args.label or recorded.get("label") or run.metrics.get("label")
    if not label:
        raise ProductReprError(f"run {args.run} was trained without a label; name the column to score it "
                               "against with --label COL")
    found = _find_table(args.run, run, args.data)
    if found is None:
        raise ProductReprError(
            f"the run's table {recorded.get('source')!r} is not here; pass the table it was trained on with --data FILE"
        )
    table, where = found
    if label not in table.columns:
        raise ProductReprError(
            f"label column {label!r} is not in {where}; columns are {', '.join(map(str, table.columns))}"
        )
    df = _run_table(args.run, run, table, where, allow_other=args.allow_other_data)
    leaks = _label_leaks(run, df, label)
    if leaks:
        print(f"warning: {_leak_message(label, leaks)}", file=sys.stderr)
    X = run.feature_space.transform(df)
    labels = pipeline.label_values(df, label)
    coords = None
    if run.projection is not None:
        coords = run.projection[[c for c in ("x", "y", "z") if c in run.projection.columns]].to_numpy()
    metrics = evaluation.evaluate(run.embeddings, X, labels, coords=coords, k=args.k,
                                  practitioner=pipeline.practitioner_spaces(X, run.feature_space))
    metrics["label"] = label
    metrics["data"] = where
    if leaks:
        metrics["label_leaks"] = leaks
    print(json.dumps(metrics, indent=2, default=float))
    return 0


def cmd_export(args) -> int:
    from product_repr import export
    from product_repr.runs import load_run

    run = load_run(args.run)
    out = Path(args.out)
    if args.format == "projector":
        found = _find_table(args.run, run, args.data)
        table = None
        if found is None:
            print(f"note: the run's table {(run.info.get('data') or {}).get('source')!r} is not here, so metadata.tsv "
                  "holds product ids (and reconstruction errors) only; pass --data FILE for titles and labels",
                  file=sys.stderr)
        else:
            table = _run_table(args.run, run, *found, allow_other=args.allow_other_data)
        paths = export.export_run_projector(out, run, table)
    else:
        paths = export.export_table(out, run.product_ids, run.embeddings, fmt=args.format)
    for path in paths:
        print(path)
    return 0


def _catalog_rows(args, run, *, required: bool):
    """The run's catalog rows in its product order (index = product id) and where they were read, from
    ``--data`` or the run's recorded table; (None, None) when none is here and not ``required``."""
    found = _find_table(args.run, run, args.data)
    if found is None:
        if required:
            raise ProductReprError(f"the run's table {(run.info.get('data') or {}).get('source')!r} is not here; "
                                   "pass the table it was trained on with --data FILE")
        return None, None
    rows = _run_table(args.run, run, *found, allow_other=args.allow_other_data)
    return rows.set_axis([str(p) for p in run.product_ids], axis=0), found[1]


def _emit(frame, out: str | None, what: str) -> None:
    """``frame`` to ``out`` (CSV, or Parquet by its suffix) or, without ``out``, as a text table on stdout."""
    from product_repr import export

    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False) if path.suffix == ".parquet" else path.write_bytes(export.csv_bytes(frame))
        print(f"wrote {path} ({len(frame)} {what})", file=sys.stderr)
    elif len(frame):
        print(frame.to_string(index=False, max_colwidth=90))


def _truth(path: str | None) -> dict | None:
    if path is None:
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ProductReprError(f"cannot read the planted truth {path}: {err}; pass the FILE.truth.json that "
                               "`demo` wrote beside the catalog") from err


def cmd_anomalies(args) -> int:
    from product_repr import findings
    from product_repr.analysis import anomalies, neighbours
    from product_repr.runs import load_run

    run = load_run(args.run)
    rows, _ = _catalog_rows(args, run, required=True)
    X = run.feature_space.transform(rows)
    k = max(1, min(10, len(rows) - 1))
    near = neighbours.from_frame(run.neighbours, run.product_ids, k) or neighbours.all_neighbours(run.embeddings, k)
    scored = findings.anomaly_scores(run, X)
    frame = findings.odd_products(run, rows, X, top=args.top, neighbours=near[0], scored=scored)
    flagged = int(anomalies.flagged(scored, args.threshold).sum())
    print(f"{flagged} of {len(scored)} products are at least {args.threshold:g} typical spreads beyond the usual "
          f"(flagged); the top "
          f"{len(frame)} follow", file=sys.stderr)
    evidence = findings.planted_evidence(_truth(args.truth), scored, flag_at=args.threshold)
    if evidence:
        print(f"planted truth: {evidence['in_top']} of {evidence['anomalies']} planted anomalies in the top "
              f"{evidence['top']} ({findings.TOP_SHARE:.0%}), {evidence['flagged']} flagged", file=sys.stderr)
    _emit(frame.round({"score": 2, "spreads": 1}), args.out, "products")
    return 0


def cmd_duplicates(args) -> int:
    from product_repr import findings
    from product_repr.data.titles import title_column
    from product_repr.runs import load_run

    run = load_run(args.run)
    rows, _ = _catalog_rows(args, run, required=False)
    X = run.feature_space.transform(rows) if rows is not None and findings.needs_features(run, args.threshold) else None
    candidates = findings.duplicate_candidates(run, X, threshold=args.threshold)
    title = title_column(rows, run.schema) if rows is not None else None
    columns = [c for c in (rows.columns if rows is not None else []) if c != run.schema.id_column]
    frame = findings.duplicate_list(candidates, args.threshold, rows, title=title, columns=columns)
    print(f"{len(frame)} pairs in {frame['group'].nunique() if len(frame) else 0} groups at similarity "
          f"{args.threshold:g} or more" + ("" if rows is not None else
                                           " (the run's table is not here: ids only; pass --data FILE for titles)"),
          file=sys.stderr)
    evidence = findings.planted_evidence(_truth(args.truth), pairs=frame)
    if evidence:
        print(f"planted truth: {evidence['pairs_found']} of {evidence['duplicate_pairs']} planted pairs listed, "
              f"{evidence['other_pairs']} other pairs", file=sys.stderr)
    _emit(frame.round({"similarity": 4, "embedding_similarity": 4}), args.out, "pairs")
    return 0


def cmd_clusters(args) -> int:
    from product_repr import findings
    from product_repr.runs import load_run

    run = load_run(args.run)
    rows, _ = _catalog_rows(args, run, required=False)
    labels, table = findings.run_clusters(run, rows, min_size=args.min_size)
    print(f"{int(labels.max()) + 1} clusters; {int((labels >= 0).sum())} of {len(labels)} products in one"
          + ("" if rows is not None else " (the run's table is not here: no names; pass --data FILE)"), file=sys.stderr)
    if args.assignment:
        _emit(findings.cluster_assignment(run, labels, table), args.assignment, "products")
    _emit(table.round({"share": 4}), args.out, "clusters")
    return 0


def cmd_embed(args) -> int:
    from product_repr import placing
    from product_repr.data.tables import read_table
    from product_repr.runs import load_run

    if args.ray is not None:
        return _embed_on_ray(args)
    run = load_run(args.run)
    new = read_table(args.table)
    placing.check_columns(run, new, name=args.table)  # before the run's table is read and encoded
    try:
        rows, _ = _catalog_rows(args, run, required=False)
    except ProductReprError as err:  # the run's table is only for catalog matches: go on without them
        print(f"note: no catalog matches: {err}", file=sys.stderr)
        rows = None
    run_X = run.feature_space.transform(rows) if rows is not None else None
    placed = placing.place(run, new, k=args.k, run_X=run_X, name=args.table)
    for note in placed.notes:
        print(f"note: {note}", file=sys.stderr)
    frame = placed.frame
    summary = f"{len(frame)} new products placed among the run's {len(run.product_ids):,}"
    if "already_in_catalog" in frame:
        summary += f"; {int(frame['already_in_catalog'].sum())} look already in the catalog"
    elif rows is None and args.data is None:
        summary += " (the run's table is not here: no catalog matches; pass --data FILE)"
    print(summary, file=sys.stderr)
    if args.out:
        _emit(placed.table(), args.out, "products")
    else:
        shown = [c for c in frame.columns if not c.startswith(("neighbour_", "similarity_"))]
        _emit(frame[shown].round(4), None, "products")
    return 0


def _embed_on_ray(args) -> int:
    from product_repr import raydata

    if not args.out:
        raise ConfigError("--ray writes a folder of Parquet files: give it with --out DIR")
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    t0 = time.perf_counter()
    rows = raydata.embed(args.run, args.table, args.out, k=args.k, workers=args.workers,
                         address=None if args.ray == "local" else args.ray)
    print(f"{rows:,} new products placed on Ray ({args.workers} actors) in {time.perf_counter() - t0:.1f} s: "
          f"{args.out}", file=sys.stderr)
    return 0


def app_path() -> Path | None:
    """The dashboard's ``app.py``: beside the ``product_repr`` folder in a checkout (an editable install)."""
    import product_repr

    app = Path(product_repr.__file__).resolve().parent.parent / "app.py"
    return app if app.is_file() else None


def _config_flags(config: Path) -> list[str]:
    """The checkout's ``.streamlit/config.toml`` as ``--section.key=value`` flags: Streamlit reads that file only
    from the current folder, and the dashboard serves the runs folder of the folder it is started in."""
    import tomllib

    if not config.is_file():
        return []
    flags = []
    for section, options in tomllib.loads(config.read_text(encoding="utf-8")).items():
        for key, value in options.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags.append(f"--{section}.{key}={text}")
    return flags


def dashboard_command(app: Path, *, port: int | None = None, extra: Sequence[str] = ()) -> list[str]:
    """``python -m streamlit run app.py`` with the checkout's Streamlit settings, ``port`` and ``extra`` flags."""
    settings = _config_flags(app.parent / ".streamlit" / "config.toml")
    command = [sys.executable, "-m", "streamlit", "run", str(app), *settings]
    if port is not None:
        command.append(f"--server.port={port}")
    return command + [a for a in extra if a != "--"]


def cmd_dashboard(args) -> int:
    app = app_path()
    if app is None:
        import product_repr

        raise ProductReprError(
            f"the dashboard's app.py is not beside {Path(product_repr.__file__).resolve().parent}; it ships with a "
            "source checkout: install one with `pip install -e .` and run this again, or `streamlit run app.py` in it"
        )
    command = dashboard_command(app, port=args.port, extra=args.streamlit_args)
    print(f"· {shlex.join(command)}", file=sys.stderr)
    return subprocess.call(command)




class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows ``(default: …)`` where there is a default to show, and keeps the epilog's examples as written."""

    def _get_help_string(self, action):
        nothing = action.default is None or action.default is False or action.default == []
        if nothing or action.default is argparse.SUPPRESS or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _prog() -> str:
    return "product-repr" if Path(sys.argv[0]).name.startswith("product-repr") else "python -m product_repr"


def _learner_default(field: str) -> str:
    """The default of a config field as every registered learner has it ("1000", or per learner if they differ)."""
    from product_repr import learners

    values = {name: getattr(cls.Config(), field) for name, cls in sorted(learners.REGISTRY.items())}
    if len(set(values.values())) == 1:
        return str(next(iter(values.values())))
    return "the learner's: " + ", ".join(f"{name} {value}" for name, value in values.items())


def _feature_defaults() -> str:
    from product_repr.features import sentence
    from product_repr.features.space import AUTO, FeatureSpace

    params = inspect.signature(FeatureSpace).parameters
    shown = {"text_weight": params["text_weight"].default, "max_levels": params["max_levels"].default,
             "text_dim": "auto (from the rows)" if params["text_dim"].default is None else params["text_dim"].default,
             "text_encoder": f"{params['text_encoder'].default} ({sentence.DEFAULT_MODEL} when installed, else tfidf)"
             if params["text_encoder"].default == AUTO else params["text_encoder"].default}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


#: every example in the help texts (tests parse each one); ``{prog}`` is the command's own name
EXAMPLES = {
    None: [
        ("{prog} demo --out demo.csv", "a demo catalog of {rows:,} products (and demo.truth.json)"),
        ("{prog} train demo.csv --label category --out runs/demo",
         "train the default learner; score it against 'category' (subcategory, its twin, is left out)"),
        ("{prog} evaluate runs/demo", "metrics against the raw and PCA baselines (label and table from run.json)"),
        ("{prog} anomalies runs/demo", "the most unusual products and why"),
        ("{prog} duplicates runs/demo --out pairs.csv", "near-duplicate pairs and the columns that differ"),
        ("{prog} export runs/demo --format projector --out demo-projector", "files for the Embedding Projector"),
        ("{prog} dashboard", "the dashboard on http://localhost:8501; the Runs page opens runs/demo"),
    ],
    "demo": [
        ("{prog} demo --out demo.csv", "{rows:,} products"),
        ("{prog} demo --rows 500 --seed 3 --out data/small.csv", "a smaller one"),
    ],
    "train": [
        ("{prog} train demo.csv --label category --out runs/demo", ""),
        ("{prog} train demo.csv --label category --exclude price --max-rows 1000 --out runs/small", ""),
        ("{prog} train catalog.csv --learner contrastive --dim 64 --steps 2000 --name contrastive-64", ""),
        ("{prog} train catalog.parquet --set width=512 --feature text_encoder=tfidf --out runs/tfidf --overwrite", ""),
    ],
    "evaluate": [
        ("{prog} evaluate runs/demo", "the label and the table recorded in run.json"),
        ("{prog} evaluate runs/demo --label subcategory --k 20", "against another column"),
        ("{prog} evaluate runs/demo --data demo-copy.csv", "the table from another path"),
    ],
    "export": [
        ("{prog} export runs/demo --out demo-embeddings", "demo-embeddings/embeddings.csv"),
        ("{prog} export runs/demo --format projector --out demo-projector",
         "tensors.tsv, metadata.tsv (id, title, label, error) and projector_config.pbtxt"),
    ],
    "anomalies": [
        ("{prog} anomalies runs/demo", "the 20 most unusual products and why"),
        ("{prog} anomalies runs/demo --top 100 --out odd.csv --truth demo.truth.json", "with the demo's planted recall"),
    ],
    "duplicates": [
        ("{prog} duplicates runs/demo", "pairs from the default similarity up"),
        ("{prog} duplicates runs/demo --threshold 0.9 --out pairs.csv", "a looser list, as CSV"),
    ],
    "clusters": [
        ("{prog} clusters runs/demo", "the clusters of the run's map with their names"),
        ("{prog} clusters runs/demo --out clusters.csv --assignment products.csv", "both as CSV"),
    ],
    "embed": [
        ("{prog} embed runs/demo new.csv --out new.parquet", "embeddings, nearest run products, errors"),
        ("{prog} embed runs/demo new.csv --k 10", "a summary on screen, ten neighbours each"),
        ("{prog} embed runs/demo new.parquet --ray --workers 2 --out placed/", "batch by batch on a local Ray"),
    ],
    "dashboard": [
        ("{prog} dashboard", "serve on Streamlit's port, 8501"),
        ("{prog} dashboard --port 8600 --server.address 0.0.0.0", "any other `streamlit run` flag passes through"),
    ],
}


def _epilog(command: str | None, prog: str) -> str:
    from product_repr.data import demo

    rows = inspect.signature(demo.write_catalog).parameters["rows"].default
    lines = [f"  {cmd.format(prog=prog)}" + (f"\n      # {note.format(rows=rows)}" if note else "")
             for cmd, note in EXAMPLES[command]]
    title = "examples (the whole flow)" if command is None else "examples"
    return f"{title}:\n" + "\n".join(lines)


def _run_table_options(p: argparse.ArgumentParser, data_help: str = "the table (default: the one run.json records)") -> None:
    """``--data FILE`` and ``--allow-other-data``: where the run's catalog is, for the commands that read it."""
    p.add_argument("--data", default=None, metavar="FILE", help=data_help)
    p.add_argument("--allow-other-data", action="store_true",
                   help="use a table that is not the run's (its products matched by id)")


def build_parser() -> argparse.ArgumentParser:
    from product_repr import __version__, learners
    from product_repr.data import demo
    from product_repr.data.schema import Role

    prog = _prog()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Learn product embeddings from a catalog table, headless; explore them in the dashboard.",
        epilog=_epilog(None, prog) + f"\n\n{prog} COMMAND --help shows each command's options and defaults.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"product_repr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=textwrap.fill(description, 79),
                              epilog=_epilog(name, prog), formatter_class=_HelpFormatter)

    catalog = inspect.signature(demo.write_catalog).parameters
    p = command("demo", "write the built-in demo catalog and its planted truth",
                "Write a synthetic catalog with known structure (categories, near-duplicates, anomalies) as CSV, "
                "and its planted truth as FILE.truth.json beside it.")
    p.add_argument("--rows", type=int, default=catalog["rows"].default, help="products")
    p.add_argument("--seed", type=int, default=catalog["seed"].default, help="same seed, same catalog")
    p.add_argument("--out", required=True, metavar="FILE.csv", help="the catalog; FILE.truth.json is written beside it")
    p.set_defaults(func=cmd_demo)

    p = command("train", "train a learner on a table and write a run directory",
                "Train a self-supervised learner on a table and write a run directory: weights, feature state, "
                "embeddings, 2D map, neighbours, reconstruction errors and run.json. Prints a JSON summary.")
    p.add_argument("data", help="CSV/TSV/Parquet/JSON/JSONL/XLSX file (optionally .gz)")
    p.add_argument("--learner", default=learners.DEFAULT, metavar="NAME",
                   help=f"one of {', '.join(sorted(learners.REGISTRY))}")
    p.add_argument("--dim", type=int, default=None,
                   help=f"embedding size (default: {_learner_default('embedding_dim')})")
    p.add_argument("--steps", type=int, default=None,
                   help=f"optimiser steps (default: {_learner_default('steps')})")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"most passes over the data; a small table stops there before --steps "
                        f"(default: {_learner_default('epochs')})")
    p.add_argument("--seed", type=int, default=None,
                   help=f"seed of initialisation, shuffling and corruption (default: {_learner_default('seed')})")
    p.add_argument("--exclude", action="append", default=[], metavar="COL", help="keep COL out of the input (repeatable)")
    p.add_argument("--label", default=None, metavar="COL",
                   help="score the run against COL, recorded for evaluate; COL is kept out of the input, and so "
                        "are the columns named after it that pin it down (e.g. subcategory for category)")
    p.add_argument("--keep-twins", action="store_true",
                   help="keep the label's named twins in the input (default: excluded, as the stage note says)")
    p.add_argument("--role", action="append", default=[], metavar="COL=ROLE",
                   help=f"override an inferred role: {', '.join(r.value for r in Role)} (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any learner setting, e.g. width=512 (repeatable; the Train page lists them)")
    p.add_argument("--feature", action="append", default=[], metavar="KEY=VALUE",
                   help=f"feature setting (repeatable; defaults: {_feature_defaults()}); text_encoder is auto, "
                        "tfidf or a sentence model such as all-MiniLM-L6-v2")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where to train")
    p.add_argument("--max-rows", type=int, default=None, metavar="N", help="read only the first N rows (default: all)")
    p.add_argument("--name", default=None, help="run name (default: the --out folder's name, else LEARNER-UTCTIME)")
    p.add_argument("--out", default=None, metavar="DIR", help="run directory (default: runs/NAME)")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in DIR (default: refuse)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or notes on stderr")
    p.set_defaults(func=cmd_train)

    p = command("evaluate", "print a run's quality metrics against the raw and PCA baselines as JSON",
                "Score a run's embeddings against a label column: kNN precision, linear probe and more, each beside "
                "the raw features and PCA. The label and the table are the ones run.json records; the table must "
                "be the one the run was trained on (same content hash).")
    p.add_argument("run", help="run directory")
    p.add_argument("--label", default=None, metavar="COL", help="label column (default: the run's, from run.json)")
    p.add_argument("--data", default=None, metavar="FILE",
                   help="the table (default: the one run.json records, or the table saved in the run directory)")
    p.add_argument("--allow-other-data", action="store_true",
                   help="evaluate on a table that is not the run's (its products matched by id)")
    p.add_argument("--k", type=int, default=10, help="neighbours per product")
    p.set_defaults(func=cmd_evaluate)

    p = command("export", "export a run's embeddings",
                "Write a run's embeddings as CSV or Parquet (product_id, e0 .. e{d-1}), or as TensorBoard Embedding "
                "Projector files with the same metadata as the dashboard's projector download.")
    p.add_argument("run", help="run directory")
    p.add_argument("--format", choices=["csv", "parquet", "projector"], default="csv", help="what to write")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created)")
    p.add_argument("--data", default=None, metavar="FILE",
                   help="projector: the table for titles and labels (default: the one run.json records)")
    p.add_argument("--allow-other-data", action="store_true",
                   help="projector: take titles from a table that is not the run's (products matched by id)")
    p.set_defaults(func=cmd_export)

    from product_repr.analysis import anomalies, duplicates

    p = command("anomalies", "list a run's most unusual products and why",
                "Rank the run's products by anomaly score: each column predicted from the product's other columns, "
                "and the product scored by its rarest surprise (score 3 = 1 product in 1,000 is as surprising in "
                "that column). Each product comes with the "
                "columns that do not fit, the value it has, what similar products have and what the model "
                "expected. Needs the run's table (recorded in run.json, or --data).")
    p.add_argument("run", help="run directory")
    p.add_argument("--top", type=int, default=20, help="products listed")
    p.add_argument("--threshold", type=float, default=anomalies.FLAG_AT,
                   help="flag the products whose columns are, summed, at least this many typical spreads beyond "
                        "their usual surprise")
    p.add_argument("--out", default=None, metavar="FILE", help="write CSV (or .parquet) instead of printing")
    _run_table_options(p)
    p.add_argument("--truth", default=None, metavar="FILE.truth.json",
                   help="a demo catalog's planted truth: say how many planted anomalies the list finds")
    p.set_defaults(func=cmd_anomalies)

    p = command("duplicates", "list a run's near-duplicate pairs and the columns that differ",
                "List the pairs of products whose columns nearly all match (similarity 1 = identical), most similar "
                "first, grouped when they share a product, with both titles and the columns that differ when the "
                "run's table is here. The run keeps the pairs from similarity "
                f"{duplicates.FLOOR:g} up; a lower threshold searches again and needs the table.")
    p.add_argument("run", help="run directory")
    p.add_argument("--threshold", type=float, default=duplicates.THRESHOLD, help="least similarity listed")
    p.add_argument("--out", default=None, metavar="FILE", help="write CSV (or .parquet) instead of printing")
    _run_table_options(p)
    p.add_argument("--truth", default=None, metavar="FILE.truth.json",
                   help="a demo catalog's planted truth: say how many planted pairs the list finds")
    p.set_defaults(func=cmd_duplicates)

    p = command("clusters", "list a run's clusters, each named by what its products share",
                "Cluster the run's map (HDBSCAN of its 2D UMAP layout) and name each cluster by its most telling words "
                "(class-based TF-IDF of the text columns) and the values most of its products share, as the "
                "dashboard's Map page does. Names need the run's table (recorded in run.json, or --data).")
    p.add_argument("run", help="run directory")
    p.add_argument("--min-size", type=int, default=None, metavar="N",
                   help="smallest cluster (default: 0.5%% of the products, at least 10)")
    p.add_argument("--out", default=None, metavar="FILE", help="write the cluster table as CSV (or .parquet)")
    p.add_argument("--assignment", default=None, metavar="FILE",
                   help="also write each product's cluster (product_id, cluster, label)")
    _run_table_options(p)
    p.set_defaults(func=cmd_clusters)

    from product_repr import placing

    p = command("embed", "place new products in a saved run: embeddings, nearest products, errors",
                "Encode the products of a new table with a saved run's feature space and encoder (no training): "
                "each one's embedding, its nearest products among the run's, its reconstruction error on the run's "
                "scale with the share of the run's products that the model rebuilds better (a high percentile: unlike "
                "what the run was trained on), and, when the run's table is here, whether it is already in the "
                "catalog. The new table needs every column the run encodes; unseen category values are read as "
                "(other) and named.")
    p.add_argument("run", help="run directory")
    p.add_argument("table", help="the new products (CSV, TSV, Excel, Parquet, JSON)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write .parquet (or CSV) with the embedding as e0 .. e{d-1}; default: print a summary")
    p.add_argument("--k", type=int, default=placing.K, help="nearest run products listed per new product")
    _run_table_options(p, "the run's table, for catalog matches (default: the one run.json records)")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="place them with Ray Data, batch by batch in --workers actors, and write a folder of Parquet "
                        "files to --out; without ADDRESS on a local Ray, 'auto' joins this machine's cluster "
                        "(needs pip install 'product-repr[ray]'; TABLE Parquet or CSV with the run's id column; no "
                        "catalog matches)")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="with --ray: actors, one CPU each")
    p.set_defaults(func=cmd_embed)

    p = command("dashboard", "start the Streamlit dashboard (streamlit run app.py)",
                "Start the dashboard of this checkout with `python -m streamlit run app.py`. It serves the run "
                f"directories under ./runs of the current folder (or ${library.RUNS_ENV}) on its Runs page. Flags it does "
                "not know pass on to `streamlit run`.")
    p.add_argument("--port", type=int, default=None, help="port to serve on (default: Streamlit's, 8501)")
    p.set_defaults(func=cmd_dashboard)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "dashboard":
        args.streamlit_args = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from product_repr import distributed
    from product_repr.compute import use_cpu_threads

    # once, at the entry point; processes started together by torchrun share the cores
    use_cpu_threads(distributed.threads_per_process() if distributed.launched() else None)
    try:
        return args.func(args)
    except ProductReprError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
