"""A run directory: everything one trained representation needs, saved without pickle.

```
<dir>/run.json                  format, name, created, learner + config + input width + spans, schema,
                                data info, metrics, timings (whatever the pipeline put in ``info``)
<dir>/model.safetensors         the learner's weights
<dir>/features.json + .npz      the fitted FeatureSpace
<dir>/history.csv               step, epoch, train_loss, val_loss, seconds, lr[, <task>_loss] (one row per check)
<dir>/embeddings.parquet        product_id, e0 .. e{d-1}
<dir>/projection.parquet        product_id, x, y[, z]                     (when computed)
<dir>/neighbours.parquet        product_id, rank, neighbour_id, similarity (when computed)
<dir>/reconstruction.parquet    product_id, error, one column per source column (when computed)
```

``load_run`` needs nothing but the directory: JSON, safetensors, npz (``allow_pickle=False``) and parquet.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from product_repr.errors import ProductReprError, RunError
from product_repr.export import embeddings_frame  # noqa: F401 (the layout of embeddings.parquet; also used by callers of runs)

RUN_FORMAT = 1
OPTIONAL_FRAMES = ("projection", "neighbours", "reconstruction", "anomalies", "duplicates")
MARKS_FILE = "marks.csv"


@dataclass
class Run:
    """One trained representation of one table, with its analyses."""

    name: str
    learner: Any  # a fitted product_repr.learners.Learner
    feature_space: Any  # a fitted product_repr.features.space.FeatureSpace
    schema: Any  # product_repr.data.schema.Schema
    product_ids: np.ndarray  # (n,) str
    embeddings: np.ndarray  # float32 (n, d)
    history: pd.DataFrame
    info: dict = field(default_factory=dict)
    projection: pd.DataFrame | None = None
    neighbours: pd.DataFrame | None = None
    reconstruction: pd.DataFrame | None = None
    metrics: dict = field(default_factory=dict)
    anomalies: pd.DataFrame | None = None  # product_id, score, per-column surprise (analysis.anomalies)
    duplicates: pd.DataFrame | None = None  # candidate pairs from duplicates.FLOOR up (analysis.duplicates)
    marks: pd.DataFrame | None = None  # a person's marks (findings.marks_frame), marks.csv


def frame_bytes(frame: pd.DataFrame | None) -> int:
    """Bytes a DataFrame holds (pandas' deep memory usage: strings included); 0 for None."""
    return 0 if frame is None else int(frame.memory_usage(deep=True, index=True).sum())


def memory_parts(run: Run) -> dict[str, int]:
    """Bytes each part of ``run`` holds in memory: embeddings and ids, map, neighbours, errors and anomaly
    scores, duplicate pairs, model weights, feature space (its arrays plus its state's text). What a dashboard
    session keeps per run; caches shared by the process (the sentence model, the encoding cache) are not here."""
    model = getattr(run.learner, "model_", None)
    weights = 0
    if model is not None:
        weights = sum(t.numel() * t.element_size() for t in model.state_dict().values() if hasattr(t, "numel"))
    features = 0
    if run.feature_space is not None:
        state, arrays = run.feature_space.to_dict()
        features = sum(np.asarray(a).nbytes for a in arrays.values()) + len(repr(state))
    ids = np.asarray(run.product_ids)
    return {
        "embeddings": int(np.asarray(run.embeddings).nbytes) + int(sum(len(str(p)) + 49 for p in ids)),
        "map": frame_bytes(run.projection),
        "neighbours": frame_bytes(run.neighbours),
        "errors and anomaly scores": frame_bytes(run.reconstruction) + frame_bytes(run.anomalies),
        "duplicate pairs": frame_bytes(run.duplicates),
        "model weights": int(weights),
        "feature space": int(features),
    }


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays, tuples, Paths and enums made JSON-safe; NaN/inf become None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value.value if hasattr(value, "value") and not isinstance(value, bool) else value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "value"):  # Enum
        return jsonable(value.value)
    return str(value)


def check_free(directory: str | Path, *, overwrite: bool = False) -> Path:
    """``directory`` as a Path if a run may be saved there: it holds no run yet (no ``run.json``), or ``overwrite``.

    Raises RunError naming the folder and the way out when it already holds a run, or is a file.
    """
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise RunError(f"{d} is a file, not a folder; save the run into another folder")
    if not overwrite and (d / "run.json").exists():
        raise RunError(f"{d} already holds a run; save into another folder (command line: --out DIR or "
                       "--name NAME) or replace it (--overwrite)")
    return d


def save_run(run: Run, directory: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``run`` into ``directory`` (created). Returns the path.

    A directory that already holds a run is refused unless ``overwrite``; then the older run's files are
    replaced. Raises RunError for that (see :func:`check_free`) and if the run is inconsistent (embeddings
    and ids of different lengths).
    """
    from safetensors.torch import save_file

    d = check_free(directory, overwrite=overwrite)
    Z = np.asarray(run.embeddings, dtype=np.float32)
    if Z.ndim != 2 or len(Z) != len(run.product_ids):
        raise RunError(f"run {run.name!r} has {len(run.product_ids)} product ids but embeddings of shape {Z.shape}")
    d.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    meta, tensors = run.learner.to_state()
    save_file(tensors, str(d / "model.safetensors"), metadata={"learner": meta["learner"], "format": str(RUN_FORMAT)})
    run.feature_space.save(d)
    run.history.to_csv(d / "history.csv", index=False)
    embeddings_frame(run.product_ids, Z).to_parquet(d / "embeddings.parquet", index=False)
    for what in OPTIONAL_FRAMES:
        frame, path = getattr(run, what), d / f"{what}.parquet"
        if frame is not None:
            frame.to_parquet(path, index=False)
        elif path.exists():
            path.unlink()  # a stale file from an older run in the same place would lie
    if run.marks is not None and len(run.marks):
        run.marks.to_csv(d / MARKS_FILE, index=False)
    elif (d / MARKS_FILE).exists():
        (d / MARKS_FILE).unlink()

    info = dict(run.info)
    info.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    info.setdefault("learner", meta["learner"])
    info.setdefault("config", meta["config"])
    info["timings"] = {**info.get("timings", {}), "save_s": time.perf_counter() - t0}
    info.update({
        "format": RUN_FORMAT,
        "name": run.name,
        "model": meta,  # learner name, config, input_dim, spans: enough to rebuild the modules
        "schema": run.schema.to_dict() if run.schema is not None else None,
        "rows": int(len(Z)),
        "embedding_dim": int(Z.shape[1]),
        "metrics": run.metrics,
    })
    (d / "run.json").write_text(json.dumps(jsonable(info), indent=2, allow_nan=False), encoding="utf-8")
    return d


def _read(path: Path, reader, what: str):
    if not path.exists():
        raise RunError(f"{path} is missing; the run directory is incomplete ({what}); save the run again")
    try:
        return reader(path)
    except Exception as err:  # any parse failure means a corrupt file; name it
        raise RunError(f"{path} is corrupt or unreadable ({type(err).__name__}: {err}); save the run again") from err


def _history_records(history: pd.DataFrame) -> list[dict]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in history.to_dict("records")]


def load_run(directory: str | Path) -> Run:
    """Read a run directory written by :func:`save_run`. Raises RunError naming the missing/corrupt file."""
    from safetensors.torch import load_file

    from product_repr import learners
    from product_repr.features.space import FeatureSpace
    from product_repr.data.schema import Schema

    d = Path(directory)
    if not d.is_dir():
        raise RunError(f"run directory {d} does not exist; train a run or pick another folder")
    info = _read(d / "run.json", lambda p: json.loads(p.read_text(encoding="utf-8")), "run description")
    if not isinstance(info, dict) or "model" not in info:
        raise RunError(f"{d / 'run.json'} has no 'model' section; it was not written by save_run")
    if info.get("format", 0) > RUN_FORMAT:
        raise RunError(f"{d / 'run.json'} has format {info['format']}, newer than this product_repr "
                       f"understands ({RUN_FORMAT}); upgrade product_repr")

    for name in ("features.json", "features.npz"):
        if not (d / name).exists():
            raise RunError(f"{d / name} is missing; the run directory is incomplete; save the run again")
    try:
        feature_space = FeatureSpace.load(d)
    except ProductReprError as err:
        raise RunError(f"{d / 'features.json'} / features.npz cannot be loaded: {err}") from err
    except Exception as err:  # a damaged npz/zip: name it rather than crash
        raise RunError(f"{d / 'features.json'} / features.npz is corrupt or unreadable ({type(err).__name__}: "
                       f"{err}); save the run again") from err

    history = _read(d / "history.csv", pd.read_csv, "training history")
    tensors = _read(d / "model.safetensors", lambda p: load_file(str(p)), "model weights")
    model = info["model"]
    try:
        cls = learners.get(model["learner"])
        learner = cls.from_state(model, tensors, history=_history_records(history))
    except (KeyError, TypeError) as err:
        raise RunError(f"{d / 'run.json'} has an incomplete 'model' section ({err!r}); save the run again") from err
    except ProductReprError as err:
        raise RunError(f"{d / 'model.safetensors'} does not match run.json: {err}") from err

    emb = _read(d / "embeddings.parquet", pd.read_parquet, "embeddings")
    cols = [f"e{j}" for j in range(int(info.get("embedding_dim", emb.shape[1] - 1)))]
    if "product_id" not in emb.columns or any(c not in emb.columns for c in cols):
        raise RunError(f"{d / 'embeddings.parquet'} lacks product_id or e0..e{len(cols) - 1}; save the run again")
    ids = np.array([str(i) for i in emb["product_id"]], dtype=object)
    embeddings = emb[cols].to_numpy(dtype=np.float32)
    _check_embeddings(d, embeddings, ids, learner, info)
    frames = {}
    for what in OPTIONAL_FRAMES:
        path = d / f"{what}.parquet"
        frames[what] = _read(path, pd.read_parquet, what) if path.exists() else None
        if frames[what] is not None:
            _check_frame(path, what, frames[what], ids)

    try:
        schema = Schema.from_dict(info["schema"]) if info.get("schema") else feature_space.schema
    except (ProductReprError, KeyError, TypeError) as err:
        raise RunError(f"{d / 'run.json'} holds an invalid schema ({err}); save the run again") from err
    return Run(
        name=str(info.get("name", d.name)),
        learner=learner,
        feature_space=feature_space,
        schema=schema,
        product_ids=ids,
        embeddings=embeddings,
        history=history,
        info=info,
        projection=frames["projection"],
        neighbours=frames["neighbours"],
        reconstruction=frames["reconstruction"],
        metrics=dict(info.get("metrics") or {}),
        anomalies=frames["anomalies"],
        duplicates=frames["duplicates"],
        marks=_read(d / MARKS_FILE, lambda p: pd.read_csv(p, dtype=str, keep_default_na=False), "marks")
        if (d / MARKS_FILE).exists() else None,
    )


#: per optional frame: its columns that name products, and whether it has one row per product in run order
_FRAME_IDS = {"projection": (("product_id",), True), "reconstruction": (("product_id",), True),
              "anomalies": (("product_id",), True), "neighbours": (("product_id", "neighbour_id"), False),
              "duplicates": (("product_a", "product_b"), False)}


def _check_embeddings(d: Path, Z: np.ndarray, ids: np.ndarray, learner, info: dict) -> None:
    """Refuse embeddings that a tampered or damaged run directory would pass on: another number of products
    than run.json records, non-finite values, repeated ids, or a width the model does not make."""
    path = d / "embeddings.parquet"
    rows = (info.get("data") or {}).get("rows")
    if isinstance(rows, int) and rows != len(Z):
        raise RunError(f"{path} has {len(Z):,} products but run.json records {rows:,}; save the run again")
    if not np.isfinite(Z).all():
        raise RunError(f"{path} holds {int((~np.isfinite(Z)).sum()):,} values that are not finite numbers; "
                       "save the run again")
    if len(set(ids)) != len(ids):
        raise RunError(f"{path} lists a product id twice; save the run again")
    dim = getattr(getattr(learner, "config", None), "embedding_dim", Z.shape[1])
    if Z.shape[1] != dim:
        raise RunError(f"{path} has {Z.shape[1]} dimensions but the model makes {dim}; save the run again")


def _check_frame(path: Path, what: str, frame: pd.DataFrame, ids: np.ndarray) -> None:
    """Refuse an optional frame that does not belong to the run's products (RunError naming the file)."""
    columns, one_per_product = _FRAME_IDS[what]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RunError(f"{path} lacks the column {missing[0]!r}; save the run again")
    if one_per_product:
        if len(frame) != len(ids) or not (frame["product_id"].astype(str).to_numpy() == ids).all():
            raise RunError(f"{path} does not list the run's {len(ids):,} products in their order ({len(frame):,} "
                           "rows); it belongs to another run. Save the run again")
    else:
        known = set(ids)
        for c in columns:
            stray = next((v for v in frame[c].astype(str) if v not in known), None)
            if stray is not None:
                raise RunError(f"{path} names product {stray[:40]!r}, which is not in the run; save the run again")
    numbers = frame.select_dtypes("number")
    if len(numbers.columns) and not np.isfinite(numbers.to_numpy(dtype=np.float64)).all():
        bad = next(c for c in numbers.columns if not np.isfinite(numbers[c].to_numpy(dtype=np.float64)).all())
        raise RunError(f"{path} holds values that are not finite numbers in {bad!r}; save the run again")


def table_path(directory: str | Path, info: dict) -> Path | None:
    """The table a dashboard save put in run directory ``directory`` (run.json's ``data.table_file``) when it
    is there: a plain file name inside the directory, never a path leading out of it (a crafted run.json)."""
    name = ((info or {}).get("data") or {}).get("table_file")
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        return None
    path = Path(directory) / name
    return path if path.is_file() else None


@dataclass(frozen=True)
class Alignment:
    """A catalog table lined up with a run: row i of ``rows`` is product i of ``run.product_ids``.

    ``exact``: the table is the one the run was made on (same content hash as run.json). Otherwise it is a
    different version of that catalog, and ``note`` says so in words (with the ``changed`` columns when
    run.json records per-column hashes): titles and attributes shown come from the loaded table.
    """

    rows: pd.DataFrame
    exact: bool
    note: str = ""
    changed: tuple[str, ...] = ()


def _catalog_words(name: str, rows: int | None, sha: str | None) -> str:
    facts = [f"{rows:,} rows" if rows is not None else None, f"sha256 {sha[:8]}…" if sha else None]
    facts_text = ", ".join(f for f in facts if f)
    return f"{name!r} ({facts_text})" if facts_text else repr(name)


def align(run: Run, df: pd.DataFrame, *, name: str = "the loaded catalog", sha256: str | None = None) -> Alignment:
    """The rows of ``df`` (the catalog named ``name``) in the order of ``run``'s products.

    Exact when ``df``'s content hash (``data.fingerprint.table_sha256``; pass ``sha256`` when already known) equals
    the one in run.json. Otherwise ``df`` must hold every product of the run (by the run's id column) and,
    when run.json records per-column hashes, at least one column besides the id must be unchanged for those
    products: then it is "a different version of the catalog" (``exact=False``, a ``note``). A table with
    extra products is accepted only with per-column hashes to check it against.

    Raises RunError naming both catalogs and the way out when ``df`` is another catalog: products missing,
    or the same ids on different products (two demo catalogs share ids like P00001).
    """
    from product_repr.data.fingerprint import column_sha256, product_ids, table_sha256

    data = (run.info or {}).get("data") or {}
    n = len(run.product_ids)
    recorded = data.get("sha256")
    theirs = _catalog_words(str(data.get("source") or "its training table"), data.get("rows"), recorded)
    ours = _catalog_words(name, len(df), sha256)
    if recorded and len(df) == n and (sha256 or table_sha256(df)) == recorded:
        return Alignment(rows=df.reset_index(drop=True), exact=True)
    way_out = f"load (or pass) the catalog run {run.name!r} was made on to see its products' titles and attributes"
    position = {pid: i for i, pid in enumerate(product_ids(df, run.schema))}
    missing = [str(p) for p in run.product_ids if str(p) not in position]
    if missing:
        raise RunError(f"run {run.name!r} was made on {theirs}, not on {ours}: {len(missing):,} of its {n:,} "
                       f"products (e.g. {missing[0]!r}) are not in it; {way_out}")
    rows = df.iloc[[position[str(p)] for p in run.product_ids]].reset_index(drop=True)
    extra = len(df) - n
    plural = "s" if extra != 1 else ""
    more = f", plus {extra:,} product{plural} the run does not have" if extra else ""
    hashes = data.get("columns_sha256") or {}
    if not hashes:
        if extra:
            raise RunError(f"run {run.name!r} was made on {theirs}, not on {ours}: that table has {extra:,} more "
                           f"product{plural}, and run.json records no column hashes to tell whether the run's products "
                           f"are the same; {way_out}")
        return Alignment(rows=rows, exact=False, note=(
            f"{ours} is not exactly the table run {run.name!r} was made on ({theirs}): the same {n:,} product ids, "
            "but other content (run.json records no column hashes to say which columns changed). Titles and "
            "attributes shown are the loaded catalog's."))
    now = column_sha256(rows)
    changed = tuple(c for c in hashes if now.get(c) != hashes[c])
    # constant and id-like columns (roles id, ignore) match between unrelated catalogs of the same ids
    learned = {c for c in hashes if c in run.schema and run.schema.role(c).value not in ("id", "ignore")}
    same = [c for c in hashes if c not in changed and c in learned]
    if not same:
        raise RunError(f"run {run.name!r} was made on {theirs}, not on {ours}: the product ids match, but none of "
                       f"the other columns of those products do, so it is another catalog with the same ids; "
                       f"{way_out}")
    what = f"{', '.join(changed)} changed" if changed else "no column of the run's products changed"
    return Alignment(rows=rows, exact=False, changed=changed, note=(
        f"{ours} is a different version of the catalog run {run.name!r} was made on ({theirs}): the same "
        f"{n:,} products{more}; {what}. Titles and attributes shown are the loaded catalog's."))
