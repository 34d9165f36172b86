"""What a browser session holds in memory, in bytes: its catalog, its runs and an unfinished training job.

Not a page. The runs are measured by ``product_repr.runs.memory_parts``; a DataFrame held in several places
(a run's table is usually the catalog itself) is counted once. Used for the session's byte bound
(``pages/_state.MAX_SESSION_BYTES``), the Runs page's figure and the log line when a closed tab's state is
let go (``pages/_sessions.py``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from pages._state import JOB_KEY, STATE_KEY, AppState

if TYPE_CHECKING:
    from product_repr.runs import Run


def frames_bytes(frames) -> int:
    """Bytes of distinct DataFrames (a run's table is often the catalog itself: counted once)."""
    from product_repr.runs import frame_bytes

    seen: dict[int, pd.DataFrame] = {}
    for frame in frames:
        if frame is not None:
            seen[id(frame)] = frame
    return sum(frame_bytes(f) for f in seen.values())


def run_bytes(run: "Run") -> int:
    """Bytes ``run`` holds (``product_repr.runs.memory_parts``)."""
    from product_repr.runs import memory_parts

    return sum(memory_parts(run).values())


def session_bytes(app: AppState) -> int:
    """Bytes this session's catalog, runs and their tables hold (runs measured when added)."""
    sizes = sum(app.sizes.get(name) if name in app.sizes else run_bytes(run) for name, run in app.runs.items())
    return sizes + frames_bytes([app.catalog.df if app.catalog is not None else None, *app.tables.values()])


def state_bytes(session: Any) -> int:
    """Bytes a session's state holds: its :class:`AppState` and a training job's catalog copy and run (for the
    log line when a closed tab's state is let go)."""
    app = session[STATE_KEY] if STATE_KEY in session else None
    job = session[JOB_KEY] if JOB_KEY in session else None
    total = session_bytes(app) if isinstance(app, AppState) else 0
    if job is not None and not getattr(job, "collected", True):
        total += frames_bytes([getattr(job, "table", None)])
        total += run_bytes(job.run) if getattr(job, "run", None) is not None else 0
    return total
