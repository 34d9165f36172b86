"""One path from a table to a finished run: features → training → analysis.

Both the CLI's ``train`` command and the dashboard's Train page call
:func:`build_run`, so a run made in one is the same object as a run made in the
other.
"""
from __future__ import annotations

import json
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from product_repr import __version__, compute
from product_repr.compute import WorkGate, give_memory_back
from product_repr.errors import ConfigError, SchemaError
from product_repr.features.rowfile import RowFile
from product_repr.features.space import FeatureSpace
from product_repr.learners import DEFAULT as DEFAULT_LEARNER  # chosen by measurement: docs/QUALITY.md
from product_repr.data.fingerprint import column_sha256, product_ids, table_sha256  # noqa: F401 (pipeline API)
from product_repr.data.leakage import named_twins
from product_repr.data.schema import Schema

Stage = Callable[[str], None]
#: on_map(frame with product_id, x, y; {"kind": "draft" | "final", "note": str})
MapCallback = Callable[[pd.DataFrame, dict], None]


class Pace:
    """A job's way through a shared :class:`WorkGate` (no gate: every call is a no-op).

    ``hold()`` holds the CPU for one stage; ``progress(callback, rows)`` wraps a training progress
    callable so that, at each check, the job's remaining work is updated and the CPU handed to a smaller
    waiting job.
    """

    def __init__(self, gate: WorkGate | None, owner: str, work: float = 0.0) -> None:
        self.gate = gate
        self.ticket = gate.ticket(owner, work) if gate is not None else None
        self.waited = 0.0  # seconds spent in pause points, handing the CPU to other jobs

    @property
    def work(self) -> float:
        return self.ticket.work if self.ticket is not None else 0.0

    @work.setter
    def work(self, value: float) -> None:
        if self.ticket is not None:
            self.ticket.work = float(value)

    def position(self) -> int:
        """Jobs ahead of this one at the gate (0 while it runs or without a gate)."""
        return self.gate.position(self.ticket) if self.gate is not None else 0

    @contextmanager
    def hold(self):
        if self.gate is None or self.ticket.holding:
            yield
            return
        with self.gate.turn(self.ticket):
            yield

    @contextmanager
    def leaving(self):
        """The job's whole life at the gate: at its end the job gives up its claim on a next turn
        (:meth:`~product_repr.compute.WorkGate.leave`), so a waiting job need not wait out the hand-over."""
        try:
            yield
        finally:
            if self.gate is not None:
                self.gate.leave(self.ticket)

    def progress(self, callback, rows: int, batch: int):
        if self.gate is None:
            return callback

        def paced(report):
            stop = callback(report) if callback is not None else None
            if not stop:
                remaining = max(0, report.steps - report.step)
                t0 = time.perf_counter()
                self.gate.pause_point(self.ticket, work=rows + remaining * batch)
                self.waited += time.perf_counter() - t0
            return stop

        return paced

#: FeatureSpace settings a caller may pass to build_run (the CLI's --feature KEY=VALUE).
FEATURE_SETTINGS = frozenset({"max_levels", "text_dim", "text_weight", "text_encoder"})



def make_config(learner: str, config: Any = None, **overrides: Any):
    """A validated config for ``learner`` from None, a dict or a config object, plus overrides."""
    from product_repr import learners

    cls = learners.get(learner)
    if config is None:
        values: dict[str, Any] = {}
    elif isinstance(config, Mapping):
        values = dict(config)
    elif isinstance(config, cls.Config):
        values = asdict(config)
    else:
        raise ConfigError(
            f"config for learner {learner!r} must be a dict or {cls.Config.__name__}, got {type(config).__name__}"
        )
    values.update({k: v for k, v in overrides.items() if v is not None})
    return cls.Config.from_dict(values)


def excluded_columns(schema: Schema, exclude: Iterable[str], label: str | None) -> list[str]:
    """The columns kept out of the learner's input: the user's list plus the label."""
    out = list(dict.fromkeys(exclude))
    if label is not None and label not in out:
        out.append(label)
    unknown = [c for c in out if c not in schema.names()]
    if unknown:
        raise SchemaError(
            f"cannot exclude {', '.join(map(repr, unknown))}: no such column; columns are {', '.join(schema.names())}"
        )
    return out


@dataclass(frozen=True)
class InputPlan:
    """What a run is trained on, decided before any work: the learner's validated ``config``, the columns
    kept out of the input (``dropped``: the user's, the label and, unless kept, its named ``twins``) and the
    FeatureSpace settings (``features``)."""

    learner: str
    config: Any
    dropped: list
    twins: list
    keep_twins: bool
    label: str | None
    features: dict


def plan_inputs(df: pd.DataFrame, schema: Schema, *, learner: str, config: Any = None, exclude: Iterable[str] = (),
                label: str | None = None, keep_twins: bool = False, features: Mapping[str, Any] | None = None,
                stage: Stage | None = None) -> InputPlan:
    """Check the settings of :func:`build_run` against ``df`` and decide its input columns (see there).
    Raises ProductReprError subclasses naming what is wrong."""
    stage = stage or (lambda message: None)
    if label is not None and label not in df.columns:
        raise SchemaError(f"label column {label!r} is not in the table; columns are {', '.join(map(str, df.columns))}")
    cfg = make_config(learner, config)
    dropped = excluded_columns(schema, exclude, label)
    twins = [t for t in named_twins(df, label, schema=schema) if t in schema and t not in dropped]
    if twins and not keep_twins:
        stage(f"Excluding {', '.join(twins)} from the input: named after the label {label!r} and pinning it "
              f"down, {'it' if len(twins) == 1 else 'they'} would give the answer away")
        dropped += twins
    feature_settings = dict(features or {})
    unknown = set(feature_settings) - FEATURE_SETTINGS
    if unknown:
        raise ConfigError(
            f"unknown feature setting(s) {', '.join(sorted(unknown))}; choose from {', '.join(sorted(FEATURE_SETTINGS))}"
        )
    return InputPlan(learner, cfg, dropped, twins, keep_twins, label, feature_settings)


def assemble_run(df: pd.DataFrame, schema: Schema, plan: InputPlan, *, model, feature_space: FeatureSpace,
                 embeddings: np.ndarray, timings: dict, name: str | None = None, source: str | None = None):
    """The :class:`~product_repr.runs.Run` of a trained ``model`` on ``df`` (no analysis yet), with its run.json
    record."""
    from product_repr.runs import Run

    created = datetime.now(timezone.utc)
    run_name = name or f"{plan.learner}-{created.strftime('%Y%m%d-%H%M%S')}"
    keep_twins, twins = plan.keep_twins, plan.twins
    info = {
        "version": __version__,
        "created": created.isoformat(timespec="seconds"),
        "learner": plan.learner,
        "config": asdict(plan.config),
        "features": {**plan.features, "text_encoder_used": feature_space.text_encoder_},
        "data": {
            "source": source or df.attrs.get("source"),
            "sha256": table_sha256(df),
            "rows": int(len(df)),
            "capped": bool(df.attrs.get("capped", False)),  # read with max_rows: the first `rows` rows of source
            "fit_rows": int(min(len(df), FIT_ROWS)),  # the rows the feature space learned its encodings from
            "columns": [str(c) for c in df.columns],
            "excluded": plan.dropped,
            "twins_excluded": [] if keep_twins else twins,
            "twins_kept": twins if keep_twins else [],
            "label": plan.label,
            "columns_sha256": column_sha256(df),
        },
        "timings": timings,
    }
    return Run(
        name=run_name,
        learner=model,
        feature_space=feature_space,
        schema=schema,
        product_ids=product_ids(df, schema),
        embeddings=embeddings,
        history=pd.DataFrame(model.history_),
        info=info,
        projection=None,
        neighbours=None,
        reconstruction=None,
        metrics={},
    )


def build_run(
    df: pd.DataFrame,
    schema: Schema,
    *,
    learner: str = DEFAULT_LEARNER,
    config: Any = None,
    exclude: Iterable[str] = (),
    label: str | None = None,
    keep_twins: bool = False,
    progress=None,
    on_stage: Stage | None = None,
    on_map: MapCallback | None = None,
    draft: bool = False,
    gate: WorkGate | None = None,
    owner: str = "",
    device: str = "auto",
    name: str | None = None,
    source: str | None = None,
    analysis: bool = True,
    k: int = 10,
    features: Mapping[str, Any] | None = None,
    on_snapshot: Callable[[Any], None] | None = None,
):
    """Train ``learner`` on ``df`` and return a finished :class:`~product_repr.runs.Run`.

    The label column (if any) and ``exclude`` are never encoded, nor, unless ``keep_twins``, the label's
    named twins (``data.leakage.named_twins``: columns named after the label that pin it down, such as a
    subcategory): those are excluded automatically, named in an ``on_stage`` message and recorded in run.json
    (``data.excluded``, ``data.twins_excluded``; twins kept by ``keep_twins`` in ``data.twins_kept``). Pass
    ``keep_twins=True`` when ``exclude`` is a list the user has already decided on. ``features`` are
    FeatureSpace settings (``max_levels``, ``text_dim``, ``text_weight``, ``text_encoder``). With
    ``analysis`` the run also holds its 2D projection, top-``k`` neighbours,
    reconstruction errors (learners with a decoder) and metrics.

    ``on_map(frame, info)`` is called with a map (columns product_id, x, y) as soon as one exists: the
    run's own map before the metrics are computed (``info["kind"] == "final"``), and, with ``draft`` when
    the run is expected to take more than :data:`DRAFT_AFTER_S` seconds to its map, first a draft map of
    the input features with fast static text vectors (``"draft"``). ``gate`` passes every heavy stage
    through a shared :class:`~product_repr.compute.WorkGate` under ``owner``'s name (the dashboard's
    server); training gives the CPU back at each of its checks when a smaller job waits. ``on_snapshot(replay)``
    is called with an ``analysis.snapshots.Replay`` each time it gains a layout of a sample of the products'
    embeddings (before training and at every check): the map forming, for watching a model learn.

    Raises ProductReprError subclasses for bad data or settings.
    """
    from product_repr import learners
    from product_repr.learners.training import planned_steps

    stage = on_stage or (lambda message: None)
    plan = plan_inputs(df, schema, learner=learner, config=config, exclude=exclude, label=label,
                       keep_twins=keep_twins, features=features, stage=stage)
    cfg, dropped, feature_settings = plan.config, plan.dropped, plan.features
    feature_space = FeatureSpace(schema, exclude=dropped, **feature_settings)
    timings: dict[str, float] = {}
    n = len(df)
    fit_rows = train_rows(n)  # the rows the learner is fitted on
    fit_n = len(fit_rows)
    steps = planned_steps(max(1, fit_n - int(round(fit_n * cfg.val_fraction))), cfg)

    batch = min(cfg.batch_size, n)
    pace = Pace(gate, owner or name or learner, work=n + steps * batch)  # rows x steps: smaller goes first
    with pace.leaving():  # done with the gate, win or fail: no claim on the CPU left behind
        drafted = False
        if draft and on_map is not None and (n > DRAFT_FIRST_ROWS or _encoding_seconds(df, feature_space) > DRAFT_ENCODING_S):
            # the sentence encoder (or, on a big table, the features alone) will take a while: a draft of a
            # sample with fast static text vectors first
            with pace.hold():
                stage("Drawing a draft map of the input features")
                t0 = time.perf_counter()
                space = FeatureSpace(schema, exclude=dropped, **{**feature_settings, "text_encoder": _fast_text(),
                                                                 "text_dim": DRAFT_TEXT_DIM})
                rows = draft_rows(n)
                on_map(*draft_map(space.fit_transform(df.iloc[rows]), product_ids(df, schema)[rows],
                                  fast_text=_fast_text(), of=n))
                timings["draft_map_s"] = time.perf_counter() - t0
                drafted = True

        # X of a big table goes to a temporary file, read back a chunk at a time, removed with the run built
        files = tempfile.TemporaryDirectory(prefix="product_repr-features-") if n > FILE_ROWS else nullcontext()
        with files as folder:
            t0 = time.perf_counter()
            _pre_encode(df, feature_space, pace, stage)
            with pace.hold():
                stage("Encoding features")
                X = _encode(df, feature_space, folder, stage)
                timings["features_s"] = time.perf_counter() - t0
                if (draft and on_map is not None and not drafted
                        and estimated_training_seconds(steps, batch, X.shape[1]) > DRAFT_AFTER_S):
                    stage("Drawing a draft map of the input features")
                    t0 = time.perf_counter()
                    on_map(*draft_map(X, product_ids(df, schema), fast_text=None))  # n <= DRAFT_FIRST_ROWS here
                    timings["draft_map_s"] = time.perf_counter() - t0

            stage(f"Training {learner}")
            t0, waited = time.perf_counter(), pace.waited
            with pace.hold():
                if len(fit_rows) < n:
                    stage(f"Training on a random {len(fit_rows):,} of the {n:,} rows, then encoding every row")
                # a sample of a big table's rows is read through a view of its file, batch by batch
                X_fit = X if len(fit_rows) == n else X.view(fit_rows) if isinstance(X, RowFile) else X[fit_rows]
                watch = {}
                if on_snapshot is not None:
                    from product_repr.analysis.snapshots import Replay, sample_rows

                    shown = sample_rows(len(fit_rows))  # rows of X_fit
                    replay = Replay(rows=fit_rows[shown], steps=steps)

                    def snapshot(step: int, Z: np.ndarray) -> None:
                        replay.add(step, Z)
                        on_snapshot(replay)

                    watch = {"snapshot": snapshot, "snapshot_rows": shown}
                model = learners.get(learner)(cfg).fit(X_fit, spans=feature_space.spans,
                                                       progress=pace.progress(progress, len(fit_rows), batch),
                                                       device=device, **watch)
                del X_fit
                if n > FILE_ROWS:
                    give_memory_back()
                timings["train_s"] = time.perf_counter() - t0
                taken = model.history_[-1]["step"] if model.history_ else 0
                time_training(taken, batch, X.shape[1], timings["train_s"] - (pace.waited - waited))
                if len(fit_rows) < n:
                    timings["train_rows"] = int(len(fit_rows))
                Z = model.encode(X)

            run = assemble_run(df, schema, plan, model=model, feature_space=feature_space, embeddings=Z,
                               timings=timings, name=name, source=source)
            if analysis:
                pace.work = n
                analyse(run, df, X, label=label, k=k, on_stage=stage, on_map=on_map, pace=pace)
            return run


def _encode(df: pd.DataFrame, feature_space: FeatureSpace, folder: str | None, stage: Stage):
    """Fit ``feature_space`` (on a seeded random :data:`FIT_ROWS` of a bigger table) and encode every row of
    ``df``: X in memory, or with a ``folder``, X written there a chunk at a time as a
    :class:`~product_repr.features.rowfile.RowFile`."""
    n = len(df)
    if folder is None and n <= FIT_ROWS:
        return feature_space.fit_transform(df)  # encodes each text column once, not twice
    if n > FIT_ROWS:  # a big table: the encodings are learned from a sample, then every row is encoded
        stage(f"Fitting the features on a random {FIT_ROWS:,} of the {n:,} rows")
        feature_space.fit(df.iloc[draft_rows(n, FIT_ROWS)])
    else:  # into a file: the texts' sentence vectors are then read from the disk cache, not made again
        feature_space.fit(df)
    if folder is None:
        return feature_space.transform(df)
    from pathlib import Path

    from product_repr.features import sentence

    with sentence.passing_through():  # each chunk's text vectors are used once
        return RowFile.write(Path(folder) / "X.npy", n, feature_space.transform_chunks(df),
                             progress=tenths(lambda done: stage(f"Encoding features: {done:,} of {n:,} rows"), n))


def tenths(report: Callable[[int], None], total: int) -> Callable[[int], None]:
    """``progress(done)`` calling ``report(done)`` each time ``done`` passes another tenth of ``total``."""
    shown = [0]

    def progress(done: int, *_) -> None:
        tenth = 10 * int(done) // max(1, int(total))
        if tenth > shown[0]:
            shown[0] = tenth
            report(int(done))

    return progress


def _duplicate_progress(stage: Stage) -> Callable[[int], None]:
    """``duplicates.pairs``'s ``progress(step, done, total)`` as a stage message at each tenth of each step."""
    steps: dict[str, Callable[[int], None]] = {}
    says = {"search": "Looking for duplicates: {done:,} of {total:,} products searched",
            "score": "Looking for duplicates: {done:,} of {total:,} candidate pairs scored"}

    def progress(step: str, done: int, total: int) -> None:
        if step not in steps:
            steps[step] = tenths(lambda d: stage(says[step].format(done=d, total=total)), total)
        steps[step](done)

    return progress


def train_rows(n: int) -> np.ndarray:
    """The rows a learner is fitted on: all ``n``, or a seeded random :data:`TRAIN_ROWS` of them in table
    order (a step sees ``batch_size`` rows; 1,000 steps of 512 see about 2.5 passes of 200,000 rows)."""
    return draft_rows(n, TRAIN_ROWS)


#: above this many rows the encoded features X are written to a temporary file and read back a chunk at a
#: time (``features.rowfile``): a million rows of 2,095 columns are 8.4 GB
FILE_ROWS = 50_000
#: a learner is fitted on at most this many rows of a bigger table (a seeded sample), then every row encoded
TRAIN_ROWS = 200_000
#: quality metrics of a bigger table are measured on a seeded random sample of this many products
EVAL_ROWS = 50_000
#: the feature space is fitted on at most this many rows (a seeded random sample of a bigger table; its
#: medians, levels, TF-IDF vocabulary and SVD need no more), then encodes every row
FIT_ROWS = 200_000
#: a run expected to take longer than this to its map first shows a draft map (build_run's ``draft``)
DRAFT_AFTER_S = 4.0
#: ... and when the sentence encoder alone is expected to take longer than this, the draft comes before it
DRAFT_ENCODING_S = 2.0
#: training seconds per row and input column of a step on 2 CPU cores (bf16; measured 25 ms for a step of 512
#: rows over 1,000 columns, docs/BENCHMARKS.md) ...
ROW_COLUMN_S = 5e-8
#: ... and how much longer it takes on a CPU without native bfloat16 (float32: 58 ms for that step)
FLOAT32_SLOWER = 2.3
#: a fit of at least this many rows × steps is timed to correct the estimate (see time_training)
CALIBRATE_ROW_STEPS = 10_000
#: this process's measured training time over the formula's (absent until a fit has been timed)
_training_pace: dict[str, float] = {}
_training_lock = threading.Lock()


def estimated_training_seconds(steps: int, batch: int, columns: int) -> float:
    """A rough training time on two CPU cores, for deciding whether to draw a draft map: the formula, times
    what this process has measured against it (:func:`time_training`)."""
    return _formula_seconds(steps, batch, columns) * _training_pace.get("ratio", 1.0)


def _formula_seconds(steps: int, batch: int, columns: int) -> float:
    seconds = steps * batch * columns * ROW_COLUMN_S
    return seconds if compute.bf16_native() else seconds * FLOAT32_SLOWER


def time_training(steps: int, batch: int, columns: int, seconds: float) -> None:
    """Fold one timed fit (``steps`` taken of ``batch`` rows over ``columns``) into the estimate's correction:
    the formula comes from one machine, and another one, or a GPU, or cores shared with other work, may be
    several times faster or slower."""
    if steps * batch < CALIBRATE_ROW_STEPS or seconds <= 0:
        return
    ratio = seconds / _formula_seconds(steps, batch, columns)
    with _training_lock:
        before = _training_pace.get("ratio")
        _training_pace["ratio"] = ratio if before is None else 0.5 * before + 0.5 * ratio


def _fast_text() -> str:
    from product_repr.features import sentence

    return sentence.FAST_MODEL if sentence.FAST_MODEL in sentence.available() else "tfidf"


def _sentence_texts(df: pd.DataFrame, feature_space: FeatureSpace) -> tuple[list[str], str | None]:
    """The texts of ``df``'s text columns and the transformer model that will encode them (None: no such
    model, e.g. TF-IDF only or the static model, which needs no care)."""
    from product_repr.features import sentence
    from product_repr.features.space import resolve_text_encoder
    from product_repr.data.schema import Role
    from product_repr.features.text import clean_texts

    columns = [c for c, role, _ in feature_space._plan() if role == Role.TEXT]
    if not columns:
        return [], None
    model = resolve_text_encoder(feature_space.text_encoder_choice)
    if model == "tfidf" or sentence.model_info(model).kind == "static":
        return [], None
    return [t for c in columns for t in clean_texts(df[c])], model


def _encoding_seconds(df: pd.DataFrame, feature_space: FeatureSpace) -> float:
    """Expected sentence-encoding time of ``df``'s text columns not in a cache (0 with TF-IDF only)."""
    from product_repr.features import sentence

    texts, model = _sentence_texts(df, feature_space)
    return sentence.estimate_seconds(texts, model) if model else 0.0


#: seconds of sentence encoding per turn at a shared CPU gate (by the encoder's estimate): between turns a
#: smaller waiting job gets the CPU, so it waits at most about this long for a big catalog's encoding
ENCODE_TURN_S = 1.5
#: most texts encoded per turn
ENCODE_CHUNK = 2_000


def _pre_encode(df: pd.DataFrame, feature_space: FeatureSpace, pace: "Pace", stage: Stage) -> int:
    """With a gate and a disk cache: encode the texts not yet cached chunk by chunk, each chunk one turn at the
    gate, so a big catalog's encoding never holds the CPU for minutes; the feature space then reads them from
    the cache. Returns the number of texts encoded."""
    from product_repr.features import sentence

    if pace.gate is None or sentence.cache_dir() is None:
        return 0
    texts, model = _sentence_texts(df, feature_space)
    todo = sentence.uncached(texts, model) if model else []
    done = np.concatenate([[0.0], np.cumsum(sentence.text_seconds(todo, model))]) if todo else np.zeros(1)
    lo = 0
    while lo < len(todo):  # a turn: the texts that fit in ENCODE_TURN_S (fewer when they are long)
        fit = int(np.searchsorted(done, done[lo] + ENCODE_TURN_S, side="right")) - 1 - lo
        hi = lo + min(max(fit, min(64, ENCODE_CHUNK)), ENCODE_CHUNK)
        with pace.hold():
            stage(f"Encoding texts ({lo:,} of {len(todo):,})")
            sentence.encode(todo[lo:hi], model)
        lo = hi
    return len(todo)


def draft_rows(n: int, limit: int | None = None) -> np.ndarray:
    """The rows a draft map of ``n`` products shows: all of them up to ``limit`` (default
    :data:`DRAFT_ROWS`), else a seeded random sample of ``limit`` rows in table order."""
    limit = DRAFT_ROWS if limit is None else limit
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=limit, replace=False))


def draft_map(X: np.ndarray, ids: np.ndarray, *, fast_text: str | None, dims: int = 32,
              of: int | None = None) -> tuple[pd.DataFrame, dict]:
    """A fast first map of the products by their input features ``X``: ``(frame, info)`` for ``on_map``.

    X is reduced by PCA to ``dims`` and laid out by UMAP with :data:`DRAFT_UMAP_EPOCHS` epochs. ``fast_text``
    names the text encoding X was made with when it is not the run's own (a static model, or "tfidf").
    ``of``: how many products the table has when ``X`` holds a sample of them (:func:`draft_rows`); the
    note then says so.
    """
    from product_repr.analysis import evaluation, projection

    reduced = evaluation.pca_baseline(X, min(dims, X.shape[1])) if X.shape[1] > dims else X
    proj = projection.project(reduced, method="umap", dims=2, seed=None, n_epochs=DRAFT_UMAP_EPOCHS)
    frame = pd.DataFrame({"product_id": ids, "x": proj.coords[:, 0], "y": proj.coords[:, 1]})
    texts = {None: "", "tfidf": " (TF-IDF for texts)"}.get(fast_text, " (fast static vectors for texts)")
    which = "the products" if of is None or of <= len(X) else f"a random {len(X):,} of the {of:,} products"
    return frame, {"kind": "draft", "rows": int(len(X)),
                   "note": f"Draft: {which} by their input features{texts}, PCA and a quick UMAP. The learned "
                           "map of every product replaces it when training ends."}


DRAFT_UMAP_EPOCHS = 100
#: a draft map shows at most this many products (a random sample of larger tables): the first map of a
#: 50,000-row catalog in seconds, not the half minute a draft of every row takes (docs/BENCHMARKS.md)
DRAFT_ROWS = 10_000
#: above this many products the draft comes before the run's features are encoded, even when every text is
#: cached: encoding them then takes ~0.35 s per 1,000 products on 2 float32 cores (3.5 s at 10,000, which
#: put the first map at 6.2 s after the features; drawn first, 4 s)
DRAFT_FIRST_ROWS = 5_000
DRAFT_TEXT_DIM = 32  # the draft's TF-IDF part: a small SVD is enough beside the static sentence vectors


#: raw/PCA baseline figures per (table hash, feature settings, excluded columns, label, d, k): they do not
#: depend on the learner, so a second training on the same table skips them. A few entries, per process.
_BASELINES: "OrderedDict[tuple, dict]" = OrderedDict()
_BASELINES_KEPT = 8
_baselines_lock = threading.Lock()


def _baselines_for(run, label: str | None, k: int) -> dict:
    """The baseline cache entry of ``run``'s inputs (created empty; :func:`evaluation.evaluate` fills it)."""
    data = run.info.get("data", {})
    key = (data.get("sha256"), json.dumps(run.info.get("features", {}), sort_keys=True, default=str),
           tuple(data.get("excluded", ())), label, int(run.embeddings.shape[1]), int(k))
    with _baselines_lock:
        entry = _BASELINES.pop(key, None)
        entry = {} if entry is None else entry
        _BASELINES[key] = entry
        while len(_BASELINES) > _BASELINES_KEPT:
            _BASELINES.popitem(last=False)
        return entry


def practitioner_spaces(X: np.ndarray, feature_space) -> dict[str, np.ndarray]:
    """What a practitioner would use instead of learning, taken from ``X``: ``"sentence"``, the pretrained
    sentence model's vectors of every text column side by side, and ``"sentence_raw"``, those beside the
    other encoded columns (each block at total variance 1). Empty when no text column was encoded with a
    sentence model (TF-IDF only); ``"sentence_raw"`` only when there are other columns."""
    from product_repr.analysis import evaluation

    sentence, other = [], []
    for span in feature_space.spans:
        if getattr(span.role, "value", span.role) == "text":
            width = feature_space.text_encoder(span.name).sentence_width
            if width:
                sentence.append(X[:, span.stop - width:span.stop])
            continue
        other.append(X[:, span.start:span.stop])
    if not sentence:
        return {}
    spaces = {"sentence": np.hstack(sentence).astype(np.float32)}
    if other:
        spaces["sentence_raw"] = evaluation.side_by_side(spaces["sentence"], np.hstack(other))
    return spaces


def label_values(df: pd.DataFrame, label: str | None) -> np.ndarray | None:
    """The label column as strings with missing values as None, or None without a label."""
    if label is None:
        return None
    values = df[label].astype("string").str.strip()
    return np.array([None if pd.isna(v) or v == "" else str(v) for v in values], dtype=object)


def analyse(
    run,
    df: pd.DataFrame,
    X: np.ndarray,
    *,
    label: str | None = None,
    k: int = 10,
    on_stage: Stage | None = None,
    projection_params: Mapping[str, Any] | None = None,
    on_map: MapCallback | None = None,
    pace: "Pace | None" = None,
) -> None:
    """Fill ``run``'s projection, neighbours, reconstruction and metrics in place.

    ``on_map(frame, {"kind": "final", ...})`` gets the map as soon as it exists, before reconstruction
    errors and metrics; ``pace`` holds the shared CPU gate around each stage (see :func:`build_run`).
    """
    from product_repr.analysis import anomalies, duplicates, evaluation, neighbours, projection, reconstruction

    pace = pace or Pace(None, "")
    timings = run.info.setdefault("timings", {})
    Z = run.embeddings
    n = len(Z)
    # a big table's stages make and drop thousands of chunk-sized arrays: hand the freed heap back between them
    say = on_stage or (lambda message: None)

    def stage(message: str) -> None:
        if n > FILE_ROWS:
            give_memory_back()
        say(message)

    def big(report: Callable[[int], None]) -> Callable[[int], None] | None:
        """On a big table, ``report`` at every tenth of the products; else nothing to follow."""
        return tenths(report, n) if n > FILE_ROWS else None

    with pace.hold():
        stage("Finding neighbours")
        t0 = time.perf_counter()
        k_eff = max(1, min(k, n - 1)) if n > 1 else 0
        if k_eff:
            ids, sims, search = neighbours.search_all(  # approximate, with its recall, on big tables
                Z, k_eff, progress=big(lambda done: stage(f"Finding neighbours: {done:,} of {n:,} products")))
            run.neighbours = neighbours.neighbours_frame(run.product_ids, ids, sims)
            run.info["neighbours"] = search
        timings["neighbours_s"] = time.perf_counter() - t0

        stage("Projecting to 2D")
        t0 = time.perf_counter()
        params = {"method": "umap", "dims": 2, "seed": None}
        params.update(projection_params or {})
        fitted = params.setdefault("sample_limit", projection.SAMPLE_LIMIT)
        if params["method"] == "umap" and n > fitted:
            stage(f"Projecting to 2D: UMAP fitted on a random {fitted:,} of the {n:,} products, "
                  "then the others placed beside their nearest")
            params["progress"] = tenths(
                lambda done: stage(f"Projecting to 2D: {done:,} of {n - fitted:,} other products placed"), n - fitted)
        proj = projection.project(Z, **params)
    coords = proj.coords
    frame = {"product_id": run.product_ids, "x": coords[:, 0], "y": coords[:, 1]}
    if coords.shape[1] > 2:
        frame["z"] = coords[:, 2]
    run.projection = pd.DataFrame(frame)
    run.info["projection"] = {"method": proj.method, "params": proj.params, "note": proj.note}
    timings["projection_s"] = time.perf_counter() - t0
    if on_map is not None:
        on_map(run.projection, {"kind": "final", "note": ""})

    if run.learner.has_decoder:
        stage("Scoring reconstruction errors")
        t0 = time.perf_counter()
        with pace.hold():
            scales = reconstruction.column_scales(X, run.feature_space.spans)
            errors = reconstruction.model_errors(
                X, run.learner.reconstruct, run.feature_space.spans, scales=scales,
                progress=big(lambda done: stage(f"Scoring reconstruction errors: {done:,} of {n:,} rows")))
        errors.insert(0, "product_id", run.product_ids)
        run.info["reconstruction"] = {"scales": scales}  # new products are scored on the same scale (embed)
        run.reconstruction = errors.reset_index(drop=True)
        timings["reconstruction_s"] = time.perf_counter() - t0

        stage("Scoring odd products (each column predicted from the others)")
        t0 = time.perf_counter()
        with pace.hold():
            scored = anomalies.anomaly_scores(
                run.learner.reconstruct, X, run.feature_space.spans,
                progress=big(lambda done: stage(f"Scoring odd products: {done:,} of {n:,} rows")))
        scored.insert(0, "product_id", run.product_ids)
        run.anomalies = scored.reset_index(drop=True)
        run.info["anomalies"] = {"flag_at": anomalies.FLAG_AT,
                                 "flagged": int(anomalies.flagged(scored, anomalies.FLAG_AT).sum())}
        timings["anomalies_s"] = time.perf_counter() - t0

    stage("Looking for duplicates")
    t0 = time.perf_counter()
    with pace.hold():
        run.duplicates = duplicates.pairs(X, run.feature_space.spans, run.product_ids, Z=Z,
                                          progress=_duplicate_progress(stage) if n > FILE_ROWS else None)
    run.info["duplicates"] = {"floor": duplicates.FLOOR, "threshold": duplicates.THRESHOLD,
                              "pairs": int((run.duplicates["similarity"] >= duplicates.THRESHOLD).sum())}
    timings["duplicates_s"] = time.perf_counter() - t0

    labels = label_values(df, label)
    if labels is not None:
        stage("Measuring quality against baselines")
        t0 = time.perf_counter()
        with pace.hold():
            rows = draft_rows(n, EVAL_ROWS)  # every product, or a seeded random EVAL_ROWS of a bigger table
            X_eval = X[rows] if len(rows) < n or isinstance(X, RowFile) else X
            run.metrics = evaluation.evaluate(Z[rows], X_eval, labels[rows], coords=coords[rows], k=k,
                                              baselines=_baselines_for(run, label, k),
                                              practitioner=practitioner_spaces(X_eval, run.feature_space))
            del X_eval
        if len(rows) < n:
            run.metrics["sample_rows"] = int(len(rows))
            run.metrics.setdefault("notes", []).append(
                f"measured on a random {len(rows):,} of the {n:,} products")
        run.metrics["label"] = label
        timings["evaluation_s"] = time.perf_counter() - t0
    run.info["metrics"] = run.metrics

