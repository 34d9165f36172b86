"""The folder of saved runs on this machine: where it is, what is in it, saving into it without ever
overwriting another run, and the command line that evaluates a saved run.

The dashboard's Runs page and the CLI share it. Nothing is ever unpickled: runs are read with
:func:`product_repr.runs.load_run` (JSON, safetensors, npz, parquet).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pandas as pd

from product_repr.data.fingerprint import table_sha256
from product_repr.runs import save_run

#: the environment variable naming the runs folder (default ``./runs``)
RUNS_ENV = "PRODUCT_REPR_RUNS"
#: where a dashboard save puts the table a run was trained on, inside the run directory (named in run.json)
TABLE_FILE = "table.parquet"
MAX_NAME = 100  # characters of a run folder's name (file systems allow 255 bytes)


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
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:MAX_NAME].strip("-.")
    return cleaned or "run"


def saved_table(directory: str | Path, run: Any) -> Any:
    """The table a dashboard save put beside ``run`` in ``directory`` (:data:`TABLE_FILE`), else None."""
    from product_repr.runs import table_path

    path = table_path(directory, run.info)
    if path is None:
        return None
    table = pd.read_parquet(path)
    return table if len(table) == len(run.product_ids) else None


def free_folder(folder: str | Path, name: str) -> Path:
    """``folder/name``, or ``folder/name-2``, ``-3``… : the first that holds no run yet."""
    base = safe_name(name)
    path, n = Path(folder) / base, 2
    while path.exists() and (path / "run.json").exists():
        path, n = Path(folder) / f"{base}-{n}", n + 1
    return path


def _on_disk(source: str | None) -> bool:
    """Whether run.json's data source is a file here: the CLI records absolute paths, the dashboard the name of
    an upload (or the demo), which is no file on the server."""
    return bool(source) and Path(source).is_absolute() and Path(source).is_file()


def evaluate_hint(path: str | Path) -> str:
    """How to evaluate the saved run directory ``path`` from the command line, as its run.json allows: the exact
    command when the run records its label and its table is at hand, else what to add to it."""
    info = json.loads((Path(path) / "run.json").read_text(encoding="utf-8"))
    data = info.get("data") or {}
    command = f"python -m product_repr evaluate {shlex.quote(str(Path(path).resolve()))}"
    from product_repr.runs import table_path

    has_table = table_path(path, info) is not None or _on_disk(data.get("source"))
    has_label = bool(data.get("label") or (info.get("metrics") or {}).get("label"))
    if has_table and has_label:
        return f"`{command}` works on it."
    missing = ([] if has_table else ["--data FILE"]) + ([] if has_label else ["--label COLUMN"])
    why = ([] if has_table else ["FILE the table it was trained on"]) + (
        [] if has_label else ["COLUMN the label to score it against (it was trained without one)"])
    return f"`{command} {' '.join(missing)}` evaluates it, with {' and '.join(why)}."


def save_into(run: Any, folder: str | Path, name: str, *, table: Any = None) -> Path:
    """Save ``run`` into a free folder under ``folder`` (:func:`free_folder`; never over another run).

    ``table``: the catalog rows the run was trained on; when its content is the run's (same sha256 as run.json)
    and run.json's source is not a file on this server (an upload, the demo), it is saved beside the run as
    :data:`TABLE_FILE`, so ``evaluate`` works on the directory without ``--data``. Returns the directory.
    Raises RunError (product_repr.errors) when saving fails.
    """
    path = free_folder(folder, name)
    data = dict((run.info or {}).get("data") or {})
    keep_table = (isinstance(table, pd.DataFrame) and not _on_disk(data.get("source"))
                  and data.get("sha256") == table_sha256(table))
    if keep_table:
        run = dataclasses.replace(run, info={**run.info, "data": {**data, "table_file": TABLE_FILE}})
    save_run(run, path)
    if keep_table:
        table.to_parquet(path / TABLE_FILE, index=False)
    return path


#: the most bytes an uploaded run zip may unpack to (its files are read into memory once checked)
MAX_ZIP_BYTES = 2_000_000_000


def run_file_names() -> frozenset[str]:
    """The file names a run directory may hold (``runs.save_run``, a dashboard save's table): what a run zip
    may contain; anything else in a zip is left unread."""
    from product_repr.runs import MARKS_FILE, OPTIONAL_FRAMES

    return frozenset({"run.json", "model.safetensors", "features.json", "features.npz", "history.csv",
                      "embeddings.parquet", MARKS_FILE, TABLE_FILE, *(f"{f}.parquet" for f in OPTIONAL_FRAMES)})


def open_run_zip(data: bytes, *, name: str = "the zip") -> tuple[Any, Any]:
    """A run from a zip of its directory (the Runs page's "Run directory (zip)" download): ``(run, table)``,
    ``table`` the rows it was trained on when the zip holds them (else None).

    Only the run's own file names are read, each from the one folder that holds ``run.json``, and each is
    written under a fresh temporary folder by its bare name, so no path inside the zip can reach outside it.
    The files then pass every check of ``runs.load_run``; nothing is unpickled. Raises RunError for a file that
    is not a zip, a zip without exactly one run, or one that would unpack to more than :data:`MAX_ZIP_BYTES`.
    """
    import io
    import tempfile
    import zipfile

    from product_repr.errors import RunError
    from product_repr.runs import load_run

    way_out = "upload the zip the Runs page's \"Run directory (zip)\" button downloads"
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as err:
        raise RunError(f"{name} is not a zip archive ({err}); {way_out}") from err
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        runs = [m for m in members if m.filename.replace("\\", "/").rsplit("/", 1)[-1] == "run.json"]
        if len(runs) != 1:
            raise RunError(f"{name} holds {'no run' if not runs else f'{len(runs)} runs'} (a run is a folder with a "
                           f"run.json); {way_out}, one run per zip")
        folder = runs[0].filename.replace("\\", "/").rpartition("/")[0]
        allowed = run_file_names()
        picked = {}
        for m in members:
            path = m.filename.replace("\\", "/")
            parent, _, base = path.rpartition("/")
            if parent == folder and base in allowed:
                picked[base] = m
        size = sum(m.file_size for m in picked.values())
        if size > MAX_ZIP_BYTES:
            raise RunError(f"{name} would unpack to {size / 1e6:,.0f} MB, more than the {MAX_ZIP_BYTES / 1e6:,.0f} MB "
                           "a run may take here; open it with the command line instead")
        with tempfile.TemporaryDirectory(prefix="run-zip-") as tmp:
            for base, member in picked.items():
                try:
                    (Path(tmp) / base).write_bytes(archive.read(member))
                except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
                    raise RunError(f"{name}: {member.filename} is damaged ({err}); download the run again") from err
            run = load_run(tmp)
            return run, saved_table(tmp, run)
