"""The CPU as a shared resource: threads set once per process, and a gate that runs heavy work one job at
a time, smallest first.

Two trainings at once on a 2-core machine slow each other 5-10× (every torch call wants every core), so the
dashboard's server passes all heavy work (feature encoding, training, projection, evaluation) through one
:class:`WorkGate`. Policy:

- one job holds the CPU at a time; the others wait in a queue and can see their place in it;
- the waiting job with the least *remaining* work goes next (shortest job first), so a 500-row catalog is
  not stuck behind a 50,000-row one. A job gives the CPU back at every stage boundary and at every
  training check (20 per run), so a small job that arrives while a big one trains waits at most one
  chunk, not the whole run;
- a job that has waited longer than ``AGING_S`` seconds goes before any job that has not, so a big job is
  delayed by small ones but never starved;
- a job that gave the CPU back less than ``HANDOVER_S`` ago, and would go before the next in line, keeps its
  claim for that long: between two stages a small job spends a moment outside the gate (assembling its run,
  hashing its table), and without this a big job would take the CPU for a whole chunk of its own in that
  moment. A job that ends says so (:meth:`WorkGate.leave`) and keeps no claim.

The CLI runs one job per process and uses no gate. Nothing here imports torch until threads are set.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

AGING_S = 60.0  # a job that has waited this long goes first, whatever its size
HANDOVER_S = 0.5  # how long a job that gave the CPU back keeps first claim on it (see the module docstring)


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def use_cpu_threads(threads: int | None = None) -> int:
    """The process's thread policy: give torch ``threads`` intra-op threads (default: the CPUs this process
    may use) and keep the tokenizers library's own thread pool off; returns torch's thread count.

    Called once by each entry point (the CLI, the dashboard's app.py) before any heavy work, never by the
    library, so a caller's own setting is left alone. This is the one place product_repr writes an
    environment variable: ``TOKENIZERS_PARALLELISM=false`` (unless already set), which the Rust tokenizers
    of the sentence encoder read each time they tokenize. Their pool would compete with torch's threads for
    the same cores, and they warn when a process forks after using it.
    """
    import torch

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    want = max(1, int(threads or cpu_count()))
    if torch.get_num_threads() != want:
        torch.set_num_threads(want)
    return torch.get_num_threads()


def bf16_native() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX). There torch's bf16 autocast is
    ~2× faster for training and ~2.7× for the sentence encoder on two cores (docs/BENCHMARKS.md); elsewhere
    it would be slower. ``PRODUCT_REPR_BF16=0`` or ``=1`` overrides the detection."""
    forced = os.environ.get("PRODUCT_REPR_BF16")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def autocast(device_type: str, precision: str = "auto"):
    """A context for the forward pass: bf16 autocast where the hardware computes bf16 natively (a CUDA GPU
    or :func:`bf16_native`) and ``precision`` is ``"auto"``; else a no-op (float32)."""
    import contextlib

    import torch

    if precision == "auto" and (device_type == "cuda" or (device_type == "cpu" and bf16_native())):
        return torch.autocast(device_type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass
class Ticket:
    """One job's place at the gate: its owner (e.g. a session's run name) and its remaining work."""

    owner: str
    work: float  # estimated remaining work in arbitrary units (rows x steps); smaller goes first
    order: int = 0  # arrival order, breaks ties
    since: float = field(default_factory=time.monotonic)  # when it started waiting
    holding: bool = False


class WorkGate:
    """Lets ``slots`` jobs hold the CPU at once (1 by default); see the module docstring for the policy."""

    def __init__(self, slots: int = 1, aging_s: float = AGING_S, handover_s: float = HANDOVER_S) -> None:
        self.slots = int(slots)
        self.aging_s = float(aging_s)
        self.handover_s = float(handover_s)
        self._cond = threading.Condition()
        self._waiting: list[Ticket] = []
        self._holders: list[Ticket] = []
        self._returning: dict[int, tuple[Ticket, float]] = {}  # order -> (ticket, when it gave the CPU back)
        self._count = itertools.count()
        self.grants = 0  # turns granted so far (for tests and the curious)

    def _key(self, t: Ticket, now: float):
        return (0 if now - t.since >= self.aging_s else 1, t.work, t.order)

    def _fresh_key(self, t: Ticket, now: float):
        """``t``'s place if it started waiting now (no aging credit)."""
        return self._key(Ticket(t.owner, t.work, t.order, since=now), now)

    def _next(self) -> Ticket | None:
        if not self._waiting:
            return None
        now = time.monotonic()
        return min(self._waiting, key=lambda t: self._key(t, now))

    def _claim_until(self, ticket: Ticket, now: float) -> float | None:
        """When the last claim of a job that has just given the CPU back and goes before ``ticket`` runs out;
        None when there is none."""
        until = None
        for order, (other, since) in list(self._returning.items()):
            if now - since >= self.handover_s:
                del self._returning[order]
            elif other is not ticket and not other.holding and other not in self._waiting:
                if self._fresh_key(other, now) < self._key(ticket, now):
                    until = max(until or 0.0, since + self.handover_s)
        return until

    def ticket(self, owner: str, work: float) -> Ticket:
        """A new ticket (not yet waiting)."""
        return Ticket(owner=owner, work=float(work), order=next(self._count))

    def acquire(self, ticket: Ticket, *, timeout: float | None = None) -> None:
        """Wait until ``ticket`` is the next in line and a slot is free, then hold the CPU.

        Raises TimeoutError after ``timeout`` seconds without a turn.
        """
        with self._cond:
            ticket.since = time.monotonic()
            deadline = None if timeout is None else ticket.since + timeout
            self._waiting.append(ticket)
            try:
                while True:
                    now = time.monotonic()
                    wake = None  # None: until notified
                    if len(self._holders) < self.slots and self._next() is ticket:
                        wake = self._claim_until(ticket, now)
                        if wake is None:
                            break
                    if deadline is not None:
                        if now >= deadline:
                            self._cond.notify_all()
                            raise TimeoutError(f"waited {timeout} s for the CPU")
                        wake = deadline if wake is None else min(wake, deadline)
                    self._cond.wait(None if wake is None else max(wake - now, 0.001))
            finally:
                self._waiting.remove(ticket)
            self._returning.pop(ticket.order, None)
            self._holders.append(ticket)
            ticket.holding = True
            self.grants += 1

    def release(self, ticket: Ticket) -> None:
        """Give the CPU back (a no-op when ``ticket`` does not hold it)."""
        with self._cond:
            if ticket in self._holders:
                self._holders.remove(ticket)
                self._returning[ticket.order] = (ticket, time.monotonic())
            ticket.holding = False
            self._cond.notify_all()

    def leave(self, ticket: Ticket) -> None:
        """The job is over: it gives the CPU back if it holds it, and keeps no claim on a next turn."""
        with self._cond:
            if ticket in self._holders:
                self._holders.remove(ticket)
            ticket.holding = False
            self._returning.pop(ticket.order, None)
            self._cond.notify_all()

    @contextmanager
    def turn(self, ticket: Ticket, *, timeout: float | None = None) -> Iterator[Ticket]:
        """Hold the CPU for the block (see :meth:`acquire`)."""
        self.acquire(ticket, timeout=timeout)
        try:
            yield ticket
        finally:
            self.release(ticket)

    def pause_point(self, ticket: Ticket, work: float | None = None) -> bool:
        """Called by a job holding the CPU between chunks: update its remaining ``work`` and, when a waiting
        job goes before it, give the CPU to that job and wait for the next turn. Returns whether it yielded."""
        if work is not None:
            ticket.work = float(work)
        if not ticket.holding or not self.someone_waiting_before(ticket):
            return False
        self.release(ticket)
        self.acquire(ticket)
        return True

    def someone_waiting_before(self, ticket: Ticket) -> bool:
        """Whether a waiting job would go before ``ticket`` if it gave its turn back now."""
        with self._cond:
            nxt = self._next()
            if nxt is None:
                return False
            now = time.monotonic()
            return self._key(nxt, now) < self._fresh_key(ticket, now)

    def position(self, ticket: Ticket) -> int:
        """0 while holding the CPU; else how many jobs go before it (holders included)."""
        with self._cond:
            if ticket.holding:
                return 0
            if ticket not in self._waiting:
                return 0
            now = time.monotonic()
            mine = self._key(ticket, now)
            return len(self._holders) + sum(1 for t in self._waiting if self._key(t, now) < mine)

    def queue(self) -> list[tuple[str, bool]]:
        """(owner, holding) for every job at the gate, holders first, then the waiting ones in order."""
        with self._cond:
            now = time.monotonic()
            waiting = sorted(self._waiting, key=lambda t: self._key(t, now))
            return [(t.owner, True) for t in self._holders] + [(t.owner, False) for t in waiting]


#: the one gate of a server process (the dashboard); the CLI does not use it
SERVER_GATE = WorkGate()


def give_memory_back() -> None:
    """Collect garbage and ask glibc and pyarrow's memory pool to return free pages to the system (without
    glibc: collect only). Freed memory otherwise stays in the process: after a stage of a big run has made and
    dropped thousands of chunk-sized arrays, after a big Parquet file has been read (pyarrow's pool kept 0.45
    GiB of a 1,000,000-row table's reading), or after a closed browser session's state is emptied."""
    import ctypes
    import gc
    import sys

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
    if "pyarrow" in sys.modules:  # only where a table was read with it
        sys.modules["pyarrow"].default_memory_pool().release_unused()


def preload_libraries() -> None:
    """Import scikit-learn and umap-learn in the calling thread.

    Call it once, before starting threads that import them (the dashboard's warm-up thread and its pages'
    script threads): two threads importing scikit-learn at the same moment can see it half-initialised
    ("cannot import name ... from partially initialized module"). Takes ~3 s on a 2-core CPU.
    """
    import sklearn.decomposition  # noqa: F401
    import umap  # noqa: F401

