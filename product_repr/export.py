"""Embeddings out of product_repr: TensorBoard Embedding Projector files, CSV, Parquet.

``export_projector`` writes what the Embedding Projector loads (TensorBoard's
projector plugin, or https://projector.tensorflow.org with "Load"):

- ``tensors.tsv``: one product per line, its vector's values separated by tabs, no header;
- ``metadata.tsv``: a header line, then one line per product in the same order
  (``product_id`` first, then the metadata columns); tabs, newlines and
  backslashes inside values are written as ``\\t``, ``\\n``, ``\\r``, ``\\\\``;
- ``projector_config.pbtxt``: points TensorBoard at the two files.

The projector reads a single-column metadata file as having *no* header, so a
``row`` column is added when only the ids would be written.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from product_repr.errors import ConfigError

TENSOR_NAME = "product_embeddings"
FORMATS = ("csv", "parquet")


def _directory(directory: str | Path) -> Path:
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"output {str(path)!r} is a file; choose a folder (it is created if absent)")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check(product_ids: Sequence, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray([str(p) for p in product_ids], dtype=object)
    Z = np.asarray(embeddings, dtype=np.float32)
    if Z.ndim != 2 or len(Z) != len(ids):
        raise ConfigError(f"{len(ids)} product ids for embeddings of shape {Z.shape}; they must have the same rows")
    return ids, Z


def escape(value) -> str:
    """A metadata cell as one TSV field: missing -> "", tabs/newlines/backslashes escaped."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def unescape(field: str) -> str:
    """Inverse of :func:`escape` for one field."""
    out, i = [], 0
    table = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}
    while i < len(field):
        ch = field[i]
        if ch == "\\" and i + 1 < len(field) and field[i + 1] in table:
            out.append(table[field[i + 1]])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def export_projector(
    directory: str | Path, product_ids: Sequence, embeddings: np.ndarray, metadata: pd.DataFrame | None = None
) -> list[Path]:
    """Write ``tensors.tsv``, ``metadata.tsv`` and ``projector_config.pbtxt`` into ``directory``.

    ``embeddings`` float (n, d); ``product_ids`` (n,); ``metadata``: optional
    DataFrame with n rows in the same order (a ``product_id`` column in it is
    used as is, otherwise the ids are put first). Returns the three paths.
    Raises ConfigError when rows do not line up or ``directory`` is a file.
    """
    ids, Z = _check(product_ids, embeddings)
    out = _directory(directory)
    meta = pd.DataFrame(index=pd.RangeIndex(len(ids))) if metadata is None else metadata.reset_index(drop=True).copy()
    if len(meta) != len(ids):
        raise ConfigError(f"metadata has {len(meta)} rows for {len(ids)} products; pass one row per product, in order")
    meta.columns = [str(c) for c in meta.columns]
    if "product_id" in meta.columns:
        meta = meta[["product_id", *[c for c in meta.columns if c != "product_id"]]]
    else:
        meta.insert(0, "product_id", ids)
    if meta.shape[1] == 1:
        meta["row"] = np.arange(len(meta))

    tensors = out / "tensors.tsv"
    np.savetxt(tensors, np.nan_to_num(Z), fmt="%.7g", delimiter="\t")
    metadata_path = out / "metadata.tsv"
    with open(metadata_path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\t".join(escape(c) for c in meta.columns) + "\n")
        for row in meta.itertuples(index=False, name=None):
            fh.write("\t".join(escape(v) for v in row) + "\n")
    config = out / "projector_config.pbtxt"
    config.write_text(
        "embeddings {\n"
        f'  tensor_name: "{TENSOR_NAME}"\n'
        f'  tensor_path: "{tensors.name}"\n'
        f'  metadata_path: "{metadata_path.name}"\n'
        "}\n",
        encoding="utf-8",
    )
    return [tensors, metadata_path, config]


def embeddings_frame(product_ids: Sequence, embeddings: np.ndarray) -> pd.DataFrame:
    """DataFrame ``product_id, e0 .. e{d-1}`` (float32), the layout of ``embeddings.parquet``."""
    ids, Z = _check(product_ids, embeddings)
    frame = pd.DataFrame(Z, columns=[f"e{j}" for j in range(Z.shape[1])])
    frame.insert(0, "product_id", ids)
    return frame


def export_table(
    directory: str | Path,
    product_ids: Sequence,
    embeddings: np.ndarray,
    fmt: str = "csv",
    metadata: pd.DataFrame | None = None,
) -> list[Path]:
    """Write ``embeddings.csv`` or ``embeddings.parquet`` (product_id, e0 .. e{d-1}, then metadata columns).

    Returns ``[path]``. Raises ConfigError for an unknown ``fmt``, rows that do
    not line up, or a ``directory`` that is a file.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"export format {fmt!r} is unknown; choose one of {', '.join(FORMATS)} or 'projector'")
    frame = embeddings_frame(product_ids, embeddings)
    if metadata is not None:
        if len(metadata) != len(frame):
            raise ConfigError(f"metadata has {len(metadata)} rows for {len(frame)} products; pass one row per product")
        extra = metadata.reset_index(drop=True).drop(columns=["product_id"], errors="ignore")
        extra.columns = [c if c not in frame.columns else f"{c} (metadata)" for c in map(str, extra.columns)]
        frame = pd.concat([frame, extra], axis=1)
    out = _directory(directory)
    path = out / f"embeddings.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False, float_format="%.7g")
    else:
        frame.to_parquet(path, index=False)
    return [path]
