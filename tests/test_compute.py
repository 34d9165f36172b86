"""The CPU gate: one job at a time, the smallest waiting job next, big jobs never starved; bf16 detection."""
from __future__ import annotations

import threading
import time

import pytest

from product_repr import compute
from product_repr.compute import WorkGate


def _wait_until(predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def test_one_holder_and_the_smallest_waiting_job_goes_next():
    gate = WorkGate()
    order: list[str] = []
    big = gate.ticket("big", 1000)
    gate.acquire(big)
    threads = []
    for owner, work in (("medium", 500), ("small", 10), ("tiny", 1)):
        t = gate.ticket(owner, work)

        def job(t=t):
            with gate.turn(t):
                order.append(t.owner)

        threads.append(threading.Thread(target=job))
        threads[-1].start()
    _wait_until(lambda: len(gate.queue()) == 4)
    assert gate.queue()[0] == ("big", True), "the holder is listed first"
    assert [o for o, _ in gate.queue()[1:]] == ["tiny", "small", "medium"], "waiting jobs in smallest-first order"
    assert order == [], "nobody runs while the big job holds the CPU"
    gate.release(big)
    for t in threads:
        t.join(5)
    assert order == ["tiny", "small", "medium"]
    assert gate.grants == 4


def test_pause_point_hands_the_cpu_to_a_smaller_job_and_back():
    gate = WorkGate()
    big = gate.ticket("big", 1000)
    gate.acquire(big)
    assert gate.pause_point(big, work=900) is False, "nobody waits: keep the CPU"
    ran = threading.Event()
    small = gate.ticket("small", 5)

    def job():
        with gate.turn(small):
            ran.set()

    worker = threading.Thread(target=job)
    worker.start()
    _wait_until(lambda: gate.position(small) == 1)
    assert gate.pause_point(big, work=800) is True, "a smaller job waits: give it the CPU"
    assert ran.is_set() and big.holding and big.work == 800
    worker.join(5)
    gate.release(big)
    assert gate.queue() == []


def test_a_bigger_waiting_job_does_not_preempt():
    gate = WorkGate()
    small = gate.ticket("small", 5)
    gate.acquire(small)
    big = gate.ticket("big", 1000)
    worker = threading.Thread(target=gate.acquire, args=(big,))
    worker.start()
    _wait_until(lambda: gate.position(big) == 1)
    assert gate.pause_point(small) is False
    gate.release(small)
    worker.join(5)
    assert big.holding
    gate.release(big)


def test_aging_lets_a_long_waiting_big_job_go_first():
    gate = WorkGate(aging_s=0.05)
    holder = gate.ticket("holder", 1)
    gate.acquire(holder)
    order: list[str] = []
    big = gate.ticket("big", 10_000)

    def run(t):
        with gate.turn(t):
            order.append(t.owner)

    first = threading.Thread(target=run, args=(big,))
    first.start()
    _wait_until(lambda: gate.position(big) == 1)
    time.sleep(0.1)  # the big job has now waited longer than aging_s
    small = gate.ticket("small", 1)
    second = threading.Thread(target=run, args=(small,))
    second.start()
    _wait_until(lambda: len(gate.queue()) == 3)
    gate.release(holder)
    first.join(5)
    second.join(5)
    assert order == ["big", "small"], "a job that waited past aging_s is not starved by smaller ones"


def _waiter(gate: WorkGate, ticket, got: list) -> threading.Thread:
    def job():
        gate.acquire(ticket)
        got.append((ticket.owner, time.monotonic()))

    worker = threading.Thread(target=job)
    worker.start()
    _wait_until(lambda: ticket in gate._waiting)
    return worker


def _one_holds_one_waits(gate: WorkGate, holder: tuple[str, int], waiter: tuple[str, int]):
    """``holder`` (owner, work) holds the CPU and ``waiter`` waits: (holder's ticket, turns got, waiter thread)."""
    held = gate.ticket(*holder)
    gate.acquire(held)
    got: list = []
    return held, got, _waiter(gate, gate.ticket(*waiter), got)


def test_a_small_job_between_two_stages_keeps_its_claim_on_the_cpu():
    gate = WorkGate(handover_s=5.0)
    small, got, worker = _one_holds_one_waits(gate, ("small", 5), ("big", 1000))
    gate.release(small)  # e.g. assembling its run outside the gate
    time.sleep(0.1)
    assert got == [], "the big job does not slip in while the small one is between stages"
    gate.acquire(small)  # the small job's next stage
    assert small.holding and got == []
    gate.leave(small)  # the small job is done: the big one goes at once
    worker.join(2)
    assert [owner for owner, _ in got] == ["big"]
    gate.release(gate._holders[0])


def test_the_claim_runs_out_and_an_aged_job_ignores_it():
    gate = WorkGate(handover_s=0.3)
    small, got, worker = _one_holds_one_waits(gate, ("small", 5), ("big", 1000))
    released = time.monotonic()
    gate.release(small)  # and never comes back
    worker.join(5)
    assert got and got[0][1] - released >= 0.25, "the big job waited out the claim, no longer"
    gate.release(gate._holders[0])

    aged = WorkGate(aging_s=0.05, handover_s=5.0)
    small, got, worker = _one_holds_one_waits(aged, ("small", 5), ("big", 1000))
    time.sleep(0.1)  # past aging_s: the big job goes before any fresh claim
    aged.release(small)
    worker.join(2)
    assert [owner for owner, _ in got] == ["big"]


def test_a_bigger_job_keeps_no_claim_against_a_smaller_one():
    gate = WorkGate(handover_s=5.0)
    big, got, worker = _one_holds_one_waits(gate, ("big", 1000), ("small", 5))
    gate.release(big)
    worker.join(2)
    assert [owner for owner, _ in got] == ["small"]
    gate.release(gate._holders[0])


def test_timeout_leaves_the_queue_clean():
    gate = WorkGate()
    holder = gate.ticket("holder", 1)
    gate.acquire(holder)
    with pytest.raises(TimeoutError, match="waited 0.05 s for the CPU"):
        gate.acquire(gate.ticket("late", 1), timeout=0.05)
    assert gate.queue() == [("holder", True)]
    gate.release(holder)


def test_bf16_detection_can_be_forced(monkeypatch):
    monkeypatch.setenv("PRODUCT_REPR_BF16", "0")
    assert compute.bf16_native() is False
    import contextlib

    assert isinstance(compute.autocast("cpu"), contextlib.nullcontext)
    monkeypatch.setenv("PRODUCT_REPR_BF16", "1")
    assert compute.bf16_native() is True
    assert not isinstance(compute.autocast("cpu"), contextlib.nullcontext)
    assert isinstance(compute.autocast("cpu", "float32"), contextlib.nullcontext), "float32 is never autocast"


def test_use_cpu_threads_sets_the_thread_policy_and_respects_the_users_choice(monkeypatch):
    import torch

    before = torch.get_num_threads()
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    try:
        assert compute.use_cpu_threads(1) == 1 == torch.get_num_threads()
        assert compute.os.environ["TOKENIZERS_PARALLELISM"] == "false", "the tokenizers' own pool is switched off"
        monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
        compute.use_cpu_threads(1)
        assert compute.os.environ["TOKENIZERS_PARALLELISM"] == "true", "a value the user set is kept"
    finally:
        torch.set_num_threads(before)


def _dotted(node) -> str:
    """``torch.random.manual_seed`` for the expression ``torch.random.manual_seed``; "" for anything else."""
    import ast

    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


def _global_side_effects(tree) -> list[tuple[int, str]]:
    """(line, what) for each global setting the module's code changes (see the test below)."""
    import ast

    seeding = {"torch.manual_seed", "torch.seed", "torch.random.manual_seed", "torch.random.seed",
               "torch.random.fork_rng", "torch.cuda.manual_seed", "torch.cuda.manual_seed_all",
               "np.random.seed", "numpy.random.seed", "random.seed"}
    found: list[tuple[int, str]] = []

    def visit(node, in_catch: bool) -> None:
        if isinstance(node, ast.With):
            in_catch = in_catch or any(_dotted(getattr(i.context_expr, "func", None)) == "warnings.catch_warnings"
                                       for i in node.items)
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name.endswith("set_num_threads"):
                found.append((node.lineno, "threads"))
            elif name in seeding:
                found.append((node.lineno, "seed"))
            elif name in ("os.putenv", "os.unsetenv") or (
                    name.startswith("os.environ.") and name.split(".")[-1] in ("setdefault", "update", "pop",
                                                                               "clear", "popitem")):
                found.append((node.lineno, "environ"))
            elif name in ("warnings.filterwarnings", "warnings.simplefilter") and not in_catch:
                found.append((node.lineno, "warnings"))
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)] \
            if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        if isinstance(node, ast.Delete):
            targets = node.targets
        if any(isinstance(t, ast.Subscript) and _dotted(t.value) == "os.environ" for t in targets):
            found.append((node.lineno, "environ"))
        for child in ast.iter_child_nodes(node):
            visit(child, in_catch)

    visit(tree, False)
    return found


def test_only_compute_sets_threads_or_writes_the_environment():
    """Threads and environment variables are set once, by the entry points (compute.use_cpu_threads); the
    library never seeds torch's global generator nor filters warnings outside a ``catch_warnings`` block."""
    import ast
    from pathlib import Path

    package = Path(compute.__file__).parent
    allowed = {("compute.py", "threads"), ("compute.py", "environ")}
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        for line, what in _global_side_effects(ast.parse(path.read_text(encoding="utf-8"))):
            if (rel, what) not in allowed:
                found.append(f"{rel}:{line}: {what}")
    assert not found, "global side effects outside compute.use_cpu_threads:\n" + "\n".join(found)
    demo = ast.parse("import os, torch, warnings\nos.environ['A'] = '1'\ntorch.manual_seed(0)\n"
                     "torch.set_num_threads(2)\nwarnings.simplefilter('ignore')\n"
                     "with warnings.catch_warnings():\n    warnings.simplefilter('ignore')\n"
                     "g = torch.Generator().manual_seed(0)\n")
    assert [w for _, w in _global_side_effects(demo)] == ["environ", "seed", "threads", "warnings"], \
        "the checker itself must see each kind of side effect"
