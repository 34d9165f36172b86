"""A training run in a background thread that a page can watch, and stop while keeping what was learned.

Why a thread: a Streamlit button click reruns the script, which would abort a training loop running inside
it and lose the weights. Here the thread owns the training; the page only polls the job's progress (its
st.* calls let Streamlit interrupt the *polling*, never the training). The Stop button sets ``stop``; the
progress callback returns True at the next validation check, the training loop restores the best weights
so far, and the pipeline finishes the analysis, so a stopped run is a complete run.

Heavy work goes through the server's one :data:`product_repr.compute.SERVER_GATE`: one job holds the CPU at
a time and the smallest waiting job goes next (``position`` says how many jobs are ahead). While it trains,
``map`` holds the newest map the pipeline published: a draft of the input features first (when the run is
expected to take a while), then the run's own map before its metrics are computed.

A job whose browser session has gone (the tab closed) for :data:`ABANDON_AFTER_S` seconds stops at its next
check or stage and gives the CPU back: nobody is left to see its run. ``alive`` says whether that session is
still connected (the Train page passes Streamlit's own view of it); a brief disconnect that Streamlit resumes
does not stop the job.

No Streamlit here: the thread touches only this object, so it never needs a ScriptRunContext.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

import pandas as pd

from product_repr.compute import SERVER_GATE, WorkGate
from product_repr.errors import ProductReprError

log = logging.getLogger("product_repr.app")

#: seconds a job's session must stay gone before the job is stopped (a reconnect within it resumes the session);
#: ``$PRODUCT_REPR_ABANDON_S`` sets another value for the server process
ABANDON_AFTER_S = float(os.environ.get("PRODUCT_REPR_ABANDON_S") or 30.0)


class Abandoned(Exception):
    """Raised in the training thread when the job's session has gone: unwinds build_run, freeing the gate."""


@dataclass
class TrainingJob:
    """One ``pipeline.build_run`` call on a snapshot of the catalog, run by :meth:`start` in a thread.

    After the thread ends exactly one of ``run`` and ``error`` is set. ``reports`` grows by one
    ``training.TrainingReport`` per check; ``stage`` names the current step.
    """

    name: str
    learner: str
    config: Any
    table: pd.DataFrame
    schema: Any
    exclude: list[str]
    label: str | None
    source: str | None = None
    features: dict = field(default_factory=dict)  # FeatureSpace settings, e.g. {"text_encoder": "tfidf"}
    reports: list = field(default_factory=list)
    stage: str = "Waiting to start"
    stop: threading.Event = field(default_factory=threading.Event)
    run: Any = None
    error: str | None = None
    stopped: bool = False
    collected: bool = False
    started: float = 0.0
    finished: float | None = None
    thread: threading.Thread | None = None
    gate: WorkGate | None = SERVER_GATE
    owner: str = ""  # who the job is at the gate (a session-unique name)
    map: pd.DataFrame | None = None  # newest map published while the job runs
    map_info: dict = field(default_factory=dict)  # {"kind": "draft" | "final", "note": ...}
    map_seconds: dict = field(default_factory=dict)  # kind -> seconds from start to that map
    replay: Any = None  # analysis.snapshots.Replay: the map forming, a layout per training check
    alive: Callable[[], bool] | None = None  # whether the session that started the job is still connected
    abandoned: bool = False
    gone_since: float | None = None

    # -- called from the training thread --------------------------------------------------------------
    def _check_alive(self) -> None:
        """Raise :class:`Abandoned` once the job's session has been gone for ABANDON_AFTER_S seconds."""
        if self.alive is None:
            return
        if self.alive():
            self.gone_since = None
            return
        now = time.monotonic()
        self.gone_since = self.gone_since if self.gone_since is not None else now
        if now - self.gone_since >= ABANDON_AFTER_S:
            self.abandoned = True
            raise Abandoned(self.name)

    def _progress(self, report) -> bool:
        self.reports.append(report)
        self._check_alive()
        if self.stop.is_set():
            self.stopped = True
            return True
        return False

    def _on_stage(self, message: str) -> None:
        self._check_alive()
        self.stage = message

    def _on_snapshot(self, replay) -> None:
        self.replay = replay

    def _on_map(self, frame: pd.DataFrame, info: dict) -> None:
        self.map, self.map_info = frame, dict(info)
        self.map_seconds.setdefault(info.get("kind", "final"), self.seconds)

    def execute(self) -> None:
        """Train and analyse synchronously (the thread's body; tests may call it directly)."""
        from product_repr.pipeline import build_run

        self.started = self.started or time.perf_counter()
        try:
            self.run = build_run(
                self.table, self.schema, learner=self.learner, config=self.config, exclude=self.exclude,
                label=self.label, keep_twins=True,  # the Data page pre-filled exclude with them; the user decided
                progress=self._progress, on_stage=self._on_stage, on_map=self._on_map,
                draft=True, gate=self.gate, owner=self.owner or self.name, name=self.name,
                source=self.source, features=self.features, on_snapshot=self._on_snapshot,
            )
            self.stage = "Stopped early — kept the best weights so far" if self.stopped else "Done"
        except Abandoned:
            log.warning("training %s stopped: its browser session closed %.0f s ago", self.name, ABANDON_AFTER_S)
            self.error = "Stopped: the browser tab that started this training was closed."
            self.stage = "Stopped (session closed)"
            self.table = self.table.iloc[:0]  # nothing left to show it to: let go of the catalog copy
        except ProductReprError as err:
            self.error = str(err)
            self.stage = "Failed"
        except Exception:  # noqa: BLE001 - shown as a generic message; details go to the log
            log.exception("training %s (%s) failed", self.name, self.learner)
            self.error = "Training failed unexpectedly (details in the server log)."
            self.stage = "Failed"
        finally:
            self.finished = time.perf_counter()

    # -- called from the page -------------------------------------------------------------------------
    def start(self) -> "TrainingJob":
        """Start :meth:`execute` in a daemon thread and return self."""
        self.started = time.perf_counter()
        self.stage = "Starting"
        self.thread = threading.Thread(target=self.execute, name=f"train-{self.name}", daemon=True)
        self.thread.start()
        return self

    @property
    def position(self) -> int:
        """How many jobs hold or wait for the CPU before this one (0 while it runs or when it is not there)."""
        if self.gate is None:
            return 0
        me = self.owner or self.name
        for i, (owner, holding) in enumerate(self.gate.queue()):
            if owner == me:
                return 0 if holding else i
        return 0

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    @property
    def done(self) -> bool:
        return self.finished is not None

    @property
    def seconds(self) -> float:
        end = self.finished if self.finished is not None else time.perf_counter()
        return max(0.0, end - self.started) if self.started else 0.0

    def history(self) -> pd.DataFrame:
        """Losses per check so far: step, train, validation and one column per task (multi-task)."""
        rows = []
        for r in list(self.reports):  # copy: the thread may append meanwhile
            row = {"step": r.step, "train": r.train_loss}
            if r.val_loss is not None:
                row["validation"] = r.val_loss
            for task, value in (r.task_losses or {}).items():
                row[f"task: {task}"] = value
            rows.append(row)
        return pd.DataFrame(rows)
