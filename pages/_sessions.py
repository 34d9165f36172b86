"""The server's list of browser sessions, so that a closed tab's catalog, runs and training job are let go.

Not a page. Streamlit keeps a disconnected session (with its ``st.session_state``) for
``server.disconnectedSessionTTL`` seconds so that a reconnecting tab resumes it, and after that only drops its
own reference when another session disconnects. This module records each session's state once, and a
background thread (one per server process) empties the state of a session that has been gone longer than
Streamlit would resume it (:func:`release_after_s`), then hands the freed memory back to the system. The
server log says how much it let go.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from product_repr.compute import give_memory_back

log = logging.getLogger("product_repr.app")

SWEEP_EVERY_S = 5.0  # how often the background thread looks for closed sessions


def release_after_s() -> float:
    """Seconds a session must be gone before its state is let go: ``$PRODUCT_REPR_RELEASE_S``, else Streamlit's
    ``server.disconnectedSessionTTL`` plus a margin (a session Streamlit could still resume is never touched)."""
    value = os.environ.get("PRODUCT_REPR_RELEASE_S")
    if value:
        return float(value)
    try:
        from streamlit import config
        ttl = float(config.get_option("server.disconnectedSessionTTL") or 120)
    except Exception:  # noqa: BLE001 - an older or newer Streamlit without the option
        ttl = 120.0
    return ttl + 10.0


@dataclass
class _Entry:
    state: MutableMapping[str, Any]
    measure: Callable[[MutableMapping[str, Any]], int]
    gone_since: float | None = None


class Sessions:
    """Sessions by id: ``register`` a session's state mapping; ``sweep`` empties those gone for ``after_s``.

    ``is_active(session_id)`` says whether a session is connected; ``measure(state)`` estimates the bytes a
    state holds (for the log line and the figures in docs/RELIABILITY.md)."""

    def __init__(self, is_active: Callable[[str], bool], *, after_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.is_active = is_active
        self.after_s = release_after_s() if after_s is None else float(after_s)
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def register(self, session_id: str, state: MutableMapping[str, Any],
                 measure: Callable[[MutableMapping[str, Any]], int]) -> None:
        with self._lock:
            if session_id not in self._entries:
                self._entries[session_id] = _Entry(state, measure)

    def __len__(self) -> int:
        return len(self._entries)

    def sweep(self) -> list[tuple[str, int]]:
        """Empty the state of every session gone for ``after_s`` seconds and forget it; a session seen
        connected again starts its count over. Returns ``(session id, bytes let go)`` per session emptied."""
        now, done = self.clock(), []
        with self._lock:
            entries = list(self._entries.items())
        for session_id, entry in entries:
            if self.is_active(session_id):
                entry.gone_since = None
                continue
            if entry.gone_since is None:
                entry.gone_since = now
            if now - entry.gone_since < self.after_s:
                continue
            try:
                size = int(entry.measure(entry.state))
            except Exception:  # noqa: BLE001 - the figure is for the log; emptying matters more
                size = 0
            for key in list(_keys(entry.state)):
                try:
                    del entry.state[key]
                except KeyError:
                    pass
            with self._lock:
                self._entries.pop(session_id, None)
            done.append((session_id, size))
        return done


def _keys(state: Any):
    """The user keys of a mapping, or of Streamlit's SafeSessionState (whose own keys are widget internals)."""
    filtered = getattr(state, "filtered_state", None)
    return filtered.keys() if isinstance(filtered, dict) else state.keys()


_SERVER: Sessions | None = None
_SERVER_LOCK = threading.Lock()


def _sweep_forever(sessions: Sessions) -> None:
    while True:
        time.sleep(SWEEP_EVERY_S)
        try:
            released = sessions.sweep()
        except Exception:  # noqa: BLE001 - the sweeper must outlive one bad pass
            log.exception("sweeping closed sessions failed")
            continue
        if released:
            give_memory_back()
            for session_id, size in released:
                log.info("released the state of a closed browser session (%s…): about %.1f MB", session_id[:8],
                         size / 1e6)


def register_this_session(measure: Callable[[MutableMapping[str, Any]], int]) -> bool:
    """Record the running script's session with the server's :class:`Sessions` (started, with its sweeping
    thread, on first use). Returns False where no server runs (AppTest, bare mode)."""
    global _SERVER
    from pages._shell import server_session

    found = server_session()
    if found is None:
        return False
    runtime, ctx = found
    with _SERVER_LOCK:
        if _SERVER is None:
            _SERVER = Sessions(runtime.is_active_session)
            threading.Thread(target=_sweep_forever, args=(_SERVER,), name="session-sweeper", daemon=True).start()
    _SERVER.register(ctx.session_id, ctx.session_state, measure)
    return True
