"""Files of a run for the Runs page: downloads built on demand, and run directories found on the server.

No Streamlit here, so every function is testable on its own. Nothing is ever unpickled: runs are read with
``product_repr.runs.load_run`` (JSON, safetensors, npz, parquet), and only from the server's runs folder.
"""
from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

RUNS_ENV = "PRODUCT_REPR_RUNS"


def runs_folder() -> Path:
    """The server folder holding run directories: ``$PRODUCT_REPR_RUNS``, else ``./runs``."""
    return Path(os.environ.get(RUNS_ENV) or "runs").expanduser()


def list_run_dirs(folder: str | Path, *, depth: int = 2) -> list[Path]:
    """Run directories (folders holding ``run.json``) under ``folder``, up to ``depth`` levels; newest first."""
    root = Path(folder)
    if not root.is_dir():
        return []
    found = []
    level = [root]
    for _ in range(depth):
        nxt = []
        for d in level:
            try:
                children = [c for c in d.iterdir() if c.is_dir() and not c.name.startswith(".")]
            except OSError:
                continue
            for c in children:
                (found if (c / "run.json").is_file() else nxt).append(c)
        level = nxt
    return sorted(found, key=lambda p: (p / "run.json").stat().st_mtime, reverse=True)


def safe_name(name: str) -> str:
    """A file-system-safe version of a run name: letters, digits, ``-``, ``_`` and ``.``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return cleaned or "run"


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


def embeddings_csv(run: Any) -> bytes:
    """``product_id, e0 .. e{d-1}`` as UTF-8 CSV."""
    from product_repr.runs import embeddings_frame

    return embeddings_frame(run.product_ids, np.asarray(run.embeddings)).to_csv(index=False).encode("utf-8")


def embeddings_parquet(run: Any) -> bytes:
    """``product_id, e0 .. e{d-1}`` as Parquet."""
    from product_repr.runs import embeddings_frame

    buffer = io.BytesIO()
    embeddings_frame(run.product_ids, np.asarray(run.embeddings)).to_parquet(buffer, index=False)
    return buffer.getvalue()


def run_zip(run: Any) -> bytes:
    """The whole run directory (``save_run``) as a zip, ready for ``load_run`` / the CLI after unzipping."""
    from product_repr.runs import save_run

    with tempfile.TemporaryDirectory() as tmp:
        directory = save_run(run, Path(tmp) / safe_name(run.name))
        return zip_directory(directory)


def projector_zip(run: Any, metadata: Any = None) -> bytes:
    """TensorBoard Embedding Projector files (vectors + metadata TSV) for ``run``, zipped.

    ``metadata``: an optional DataFrame with ``product_id`` and columns to show beside each point.
    """
    from product_repr import export

    if metadata is None and run.reconstruction is not None:
        metadata = run.reconstruction[["product_id", "error"]]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{safe_name(run.name)}-projector"
        export.export_projector(out, run.product_ids, np.asarray(run.embeddings), metadata)
        return zip_directory(out)
