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

``export_run_projector`` is what the CLI's ``export --format projector`` and the
dashboard's projector download both call: the same run gives the same files.
"""
from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from product_repr.errors import ConfigError

if TYPE_CHECKING:
    from product_repr.runs import Run

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
        path.write_bytes(csv_bytes(frame, float_format="%.7g"))
    else:
        frame.to_parquet(path, index=False)
    return [path]


def recorded_label(run: "Run") -> str | None:
    """The label column ``run`` was evaluated against, as run.json records it (None: trained without one)."""
    return ((run.info or {}).get("data") or {}).get("label") or (run.metrics or {}).get("label")


def projector_metadata(run: "Run", table: pd.DataFrame | None = None, *, label: str | None = None,
                       colour: str | None = None) -> pd.DataFrame | None:
    """The columns shown beside each point in the projector: ``product_id``, the title column, the label, the
    colour column (each when ``table`` has it) and the reconstruction ``error`` (learners with a decoder).

    ``table``: the run's catalog rows in the order of ``run.product_ids`` (None, or a table of ids only: ids and
    errors only). ``label``: default :func:`recorded_label`. Returns None when there is nothing beside the ids.
    Raises ConfigError when ``table`` has another number of rows than the run has products.
    """
    from product_repr.data.titles import title_column

    ids = [str(i) for i in run.product_ids]
    table = pd.DataFrame(index=pd.RangeIndex(len(ids))) if table is None else table.reset_index(drop=True)
    if len(table) != len(ids):
        raise ConfigError(f"the table has {len(table)} rows for the run's {len(ids)} products; "
                          "pass the table the run was trained on, in the run's order")
    meta = pd.DataFrame({"product_id": ids})
    label = label if label is not None else recorded_label(run)
    for col in dict.fromkeys([title_column(table, run.schema), label, colour]):
        if col and col in table.columns and col != "product_id":
            meta[col] = table[col].astype("string").to_numpy()
    if run.reconstruction is not None and "error" in run.reconstruction:
        meta["error"] = run.reconstruction["error"].to_numpy()
    return meta if meta.shape[1] > 1 else None


def export_run_projector(directory: str | Path, run: "Run", table: pd.DataFrame | None = None, *,
                         label: str | None = None, colour: str | None = None) -> list[Path]:
    """:func:`export_projector` of ``run`` with its :func:`projector_metadata`. Returns the three paths."""
    metadata = projector_metadata(run, table, label=label, colour=colour)
    return export_projector(directory, run.product_ids, np.asarray(run.embeddings), metadata)


# ---------------------------------------------------------------------------------------------
# downloads: the same files as bytes, for the dashboard
# ---------------------------------------------------------------------------------------------


def zip_directory(directory: str | Path, *, prefix: str | None = None) -> bytes:
    """The files under ``directory`` as a zip archive (paths inside start with ``prefix/``)."""
    root = Path(directory)
    prefix = prefix if prefix is not None else root.name
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, str(Path(prefix) / path.relative_to(root)))
    return buffer.getvalue()


#: a spreadsheet runs a cell that starts with one of these as a formula (CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _defused(value):
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell and column name that a spreadsheet would run as a formula (starting
    with = + - @, a tab or a carriage return) prefixed with ``'``, which shows the text as typed. Numbers are
    left alone (a negative price stays a number)."""
    out = frame.copy()
    out.columns = [_defused(str(c)) for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(_defused)
    return out


def csv_bytes(frame: pd.DataFrame, **options) -> bytes:
    """``frame`` as UTF-8 CSV for people (a download, a ``--out`` file): :func:`spreadsheet_safe` first."""
    return spreadsheet_safe(frame).to_csv(index=False, **options).encode("utf-8")


def embeddings_csv(run: "Run") -> bytes:
    """``product_id, e0 .. e{d-1}`` as UTF-8 CSV (spreadsheet-safe ids)."""
    return csv_bytes(embeddings_frame(run.product_ids, np.asarray(run.embeddings)))


def embeddings_parquet(run: "Run") -> bytes:
    """``product_id, e0 .. e{d-1}`` as Parquet."""
    buffer = io.BytesIO()
    embeddings_frame(run.product_ids, np.asarray(run.embeddings)).to_parquet(buffer, index=False)
    return buffer.getvalue()


def run_zip(run: "Run") -> bytes:
    """The whole run directory (``save_run``) as a zip, ready for ``load_run`` / the CLI after unzipping."""
    from product_repr.library import safe_name
    from product_repr.runs import save_run

    with tempfile.TemporaryDirectory() as tmp:
        directory = save_run(run, Path(tmp) / safe_name(run.name))
        return zip_directory(directory)


def projector_zip(run: "Run", table: pd.DataFrame | None = None, *, label: str | None = None, colour: str | None = None) -> bytes:
    """TensorBoard Embedding Projector files (vectors + metadata TSV) for ``run``, zipped.

    The files of ``product_repr.export_run_projector``, the same as the CLI's ``export --format projector``:
    ``table`` (the run's catalog rows in its order), ``label`` and ``colour`` choose the metadata columns.
    """
    from product_repr.library import safe_name

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{safe_name(run.name)}-projector"
        export_run_projector(out, run, table, label=label, colour=colour)
        return zip_directory(out)
