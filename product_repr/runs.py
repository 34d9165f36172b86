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

RUN_FORMAT = 1
OPTIONAL_FRAMES = ("projection", "neighbours", "reconstruction")


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


def embeddings_frame(product_ids: np.ndarray, Z: np.ndarray) -> pd.DataFrame:
    """product_id, e0 .. e{d-1} (float32)."""
    frame = pd.DataFrame(np.asarray(Z, dtype=np.float32), columns=[f"e{j}" for j in range(Z.shape[1])])
    frame.insert(0, "product_id", pd.array([str(i) for i in product_ids], dtype="string"))
    return frame


def save_run(run: Run, directory: str | Path) -> Path:
    """Write ``run`` into ``directory`` (created; files of an older run there are replaced). Returns the path.

    Raises RunError if the run is inconsistent (embeddings and ids of different lengths).
    """
    from safetensors.torch import save_file

    d = Path(directory)
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
    frames = {}
    for what in OPTIONAL_FRAMES:
        path = d / f"{what}.parquet"
        frames[what] = _read(path, pd.read_parquet, what) if path.exists() else None

    try:
        schema = Schema.from_dict(info["schema"]) if info.get("schema") else feature_space.schema
    except (ProductReprError, KeyError, TypeError) as err:
        raise RunError(f"{d / 'run.json'} holds an invalid schema ({err}); save the run again") from err
    return Run(
        name=str(info.get("name", d.name)),
        learner=learner,
        feature_space=feature_space,
        schema=schema,
        product_ids=np.array([str(i) for i in emb["product_id"]], dtype=object),
        embeddings=emb[cols].to_numpy(dtype=np.float32),
        history=history,
        info=info,
        projection=frames["projection"],
        neighbours=frames["neighbours"],
        reconstruction=frames["reconstruction"],
        metrics=dict(info.get("metrics") or {}),
    )
