"""Click Train to map, in a real browser: how long a person waits on a warm ``streamlit run app.py`` server.

Starts one server on 127.0.0.1 (with its normal background warm-up: numba's JIT for UMAP, the sentence
encoders, the demo catalog's texts put in the encoding cache), opens one session so the warm-up starts, waits
``--warm-s`` seconds, then drives Debian's Chromium with Playwright. Each measurement is a fresh browser context
(a new session) that uploads a CSV on the Data page, opens Train from the sidebar and clicks Train:

- ``t_first_map``: seconds from the click until the first map (``stPlotlyChart``) is on the Train page, and
  whether it was a draft (its caption starts with "Draft"); a run that ends before a live map is drawn
  counts its finish as its first map;
- ``t_finished``: seconds until the "See it on the Map" link of the finished run is shown.

Scenarios: ``single`` (demo catalogs of ``--rows`` rows, seed 0), ``long`` (1,000 demo rows whose
descriptions are each 5 descriptions of the same subcategory, ~500 characters) and ``concurrent`` (three
users with ``--concurrent-rows`` rows, seeds 1, 2, 3: each alone, one after another, then all three clicking
Train within a second; budget: each together <= 2x alone, none starved). The together runs use catalogs of the
same sizes with seeds shifted by ``--together-seed-offset`` (default 10), so they pay for encoding new texts
as the alone runs did instead of hitting the encoding cache; 0 reuses the very same files.

The server gets an empty encoding disk cache of its own (``PRODUCT_REPR_CACHE``; ``--user-cache`` keeps the
usual one), so every uploaded catalog is new to it, as on a fresh install, and reruns measure the same thing.
After ``--warm-s`` it also waits (at most 5 more minutes) until the warm-up's last step, the demo texts in
that cache, is done.

    python3 bench/browser_speed.py [--scenarios single long concurrent] [--rows 2000 10000] [--warm-s 60]
                                   [--port 0] [--steps N] [--concurrent-rows 515 999 53940]

Needs Chromium at /usr/lib/chromium/chromium and the playwright package (never ``playwright install``).
Prints a markdown table per scenario and the machine. Every wait is bounded (``--train-timeout`` per run).
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
from product_repr.data import demo  # noqa: E402

CHROMIUM = "/usr/lib/chromium/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
START_S = 120  # server start-up
STEP_S = 600  # any one UI step (an upload of 54k rows is read and profiled on the Data page)
POLL_S = 0.1
WARM_ROWS = 2000  # the demo catalog the server's warm-up encodes (pages/_catalogs.demo_rows() without the override)
QUEUE = re.compile(r"waiting for the CPU: (\d+) jobs? ahead")

# One look at a Train page: the first live map and its caption, the finished run's link, the queue, errors.
PROBE = """() => {
    const chart = document.querySelector('[data-testid="stPlotlyChart"]');
    let caption = null;
    if (chart) {
        const box = chart.closest('[data-testid="stElementContainer"]');
        const prev = box && box.previousElementSibling;
        const cap = prev && prev.querySelector('[data-testid="stCaptionContainer"]');
        caption = cap ? cap.innerText : '';
    }
    const finished = [...document.querySelectorAll('a')].some(a => a.offsetParent !== null
        && a.innerText.includes('See it on the Map')
        && a.closest('[data-stale="true"]') === null);
    const captions = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')].map(c => c.innerText);
    const errors = [...document.querySelectorAll('[data-testid="stAlertContentError"], [data-testid="stException"]')]
        .map(e => e.innerText);
    return {chart: chart !== null, caption, finished, captions, errors};
}"""


@dataclass
class Run:
    """One click on Train and what the person saw after it (seconds from the click)."""

    label: str
    rows: int
    t_first_map: float | None = None
    draft: bool | None = None  # None: no live map was drawn before the run finished
    t_finished: float | None = None
    most_ahead: int = 0  # the most jobs ahead in the "waiting for the CPU" caption
    error: str | None = None


# --- the server ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log_path: Path) -> subprocess.Popen:
    """``streamlit run app.py`` as a real server: no demo-size override, warm-up on. Waits until healthy."""
    env = {k: v for k, v in os.environ.items() if k not in ("PRODUCT_REPR_DEMO_ROWS", "PRODUCT_REPR_NO_WARMUP")}
    # (PRODUCT_REPR_CACHE, when main set it, is inherited: the server and this script see the same cache)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_S
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return proc
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_server(proc)
            raise SystemExit(f"streamlit did not start (exit {proc.poll()}); log:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.5)


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def warm_up_done() -> bool | None:
    """Whether the server's warm-up has put the demo catalog's texts (its last step) in the encoding disk
    cache, as app.py's ``_encode_demo_texts`` does; None when no sentence encoder is installed."""
    from product_repr.features import sentence
    from product_repr.data.schema import infer_schema
    from product_repr.features.text import clean_texts

    if sentence.DEFAULT_MODEL not in sentence.available():
        return None
    table = demo.make_catalog(rows=WARM_ROWS, seed=0).table
    return not sentence.uncached(t for c in infer_schema(table).names("text") for t in clean_texts(table[c]))


def wait_for_warm_up(warm_s: float) -> str:
    start = time.monotonic()
    time.sleep(warm_s)
    while (done := warm_up_done()) is False and time.monotonic() - start < warm_s + 300:
        time.sleep(5)
    state = {None: "no sentence encoder", True: "done", False: "NOT done (timed out)"}[done]
    return f"warm-up {state} after {time.monotonic() - start:.0f} s"


# --- catalogs -----------------------------------------------------------------------------------------------
def demo_csv(folder: Path, rows: int, seed: int) -> Path:
    path, _ = demo.write_catalog(folder / f"demo-{rows}-s{seed}.csv", rows=rows, seed=seed)
    return path


def long_csv(folder: Path, rows: int = 1000, seed: int = 0, parts: int = 5) -> Path:
    """The demo catalog with each description replaced by ``parts`` descriptions of its subcategory."""
    df = pd.read_csv(demo_csv(folder, rows, seed))
    rng = np.random.default_rng(seed)
    old = df["description"].to_numpy()
    new = old.copy()
    for idx in df.groupby("subcategory").indices.values():
        texts = [t for t in old[idx] if isinstance(t, str)]  # the demo leaves some descriptions empty
        picks = rng.choice(len(texts), size=(len(idx), parts))
        new[idx] = [" ".join(texts[j] for j in row) for row in picks]
    df["description"] = new
    path = folder / f"long-{rows}-s{seed}.csv"
    df.to_csv(path, index=False)
    return path


# --- the browser --------------------------------------------------------------------------------------------
def idle(page, timeout_s: float = STEP_S) -> None:
    """Wait until Streamlit has finished running the script (no "Running…" status widget)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_s * 1000)
    page.wait_for_timeout(300)


def new_session(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    page.set_default_timeout(STEP_S * 1000)
    page.goto(url)
    page.get_by_role("heading", name="Data").first.wait_for()
    idle(page)
    return page


def ready_to_train(browser, url: str, csv: Path, steps: int | None):
    """A new session that has uploaded ``csv`` on Data and stands on Train, idle, with Train enabled."""
    page = new_session(browser, url)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(csv))
    page.get_by_role("heading", name=csv.name).first.wait_for()
    idle(page)
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Train").first.click()
    page.get_by_role("heading", name="Train").first.wait_for()
    idle(page)
    if steps is not None:
        page.get_by_role("spinbutton", name="steps").fill(str(steps))
        page.keyboard.press("Tab")
        idle(page)
    return page


def measure(pages: list, runs: list[Run], timeout_s: float) -> None:
    """Click Train on every page (one right after another), then poll them all until each run ends."""
    button = '[data-testid="stBaseButton-primary"]'
    starts = []
    for page in pages:
        starts.append(time.monotonic())
        page.locator(button).filter(has_text="Train").first.click()
    pending = set(range(len(pages)))
    while pending:
        for i in sorted(pending):
            seen, run, now = pages[i].evaluate(PROBE), runs[i], time.monotonic() - starts[i]
            for caption in seen["captions"]:
                if match := QUEUE.search(caption):
                    run.most_ahead = max(run.most_ahead, int(match.group(1)))
            if seen["chart"] and run.t_first_map is None:
                run.t_first_map, run.draft = now, seen["caption"].strip().startswith("Draft")
            if seen["finished"] or seen["errors"] or now > timeout_s:
                run.t_finished = now if seen["finished"] else None
                run.error = None if seen["finished"] else (" | ".join(seen["errors"])[:300] or "timed out")
                if run.t_first_map is None and seen["finished"]:
                    run.t_first_map = now  # no live map before the end: the finished run is the first map
                pending.discard(i)
                pages[i].context.close()
        time.sleep(POLL_S)


def train_alone(browser, url: str, csv: Path, label: str, rows: int, args) -> Run:
    run = Run(label, rows)
    measure([ready_to_train(browser, url, csv, args.steps)], [run], args.train_timeout)
    print(f"  {label}: first map {fmt(run.t_first_map)} s, finished {fmt(run.t_finished)} s"
          + (f" ({run.error})" if run.error else ""), file=sys.stderr, flush=True)
    return run


# --- scenarios ----------------------------------------------------------------------------------------------
def single(browser, url: str, folder: Path, args) -> list[Run]:
    return [train_alone(browser, url, demo_csv(folder, n, 0), "demo seed 0", n, args) for n in args.rows]


def long(browser, url: str, folder: Path, args) -> list[Run]:
    return [train_alone(browser, url, long_csv(folder), "long descriptions (5 joined)", 1000, args)]


def concurrent(browser, url: str, folder: Path, args) -> list[tuple[Run, Run]]:
    sizes, offset = args.concurrent_rows, args.together_seed_offset
    alone = [train_alone(browser, url, demo_csv(folder, n, seed), f"user {seed} alone", n, args)
             for seed, n in enumerate(sizes, start=1)]
    csvs = [demo_csv(folder, n, seed + offset) for seed, n in enumerate(sizes, start=1)]
    pages = [ready_to_train(browser, url, csv, args.steps) for csv in csvs]
    together = [Run(f"user {seed} together", n) for seed, n in enumerate(sizes, start=1)]
    measure(pages, together, args.train_timeout)
    return list(zip(alone, together))


# --- output -------------------------------------------------------------------------------------------------
def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def table(title: str, runs: list[Run]) -> str:
    lines = [f"### {title}", "", "| catalog | rows | first map (s) | draft? | finished (s) | note |",
             "| --- | ---: | ---: | --- | ---: | --- |"]
    for r in runs:
        lines.append(f"| {r.label} | {r.rows:,} | {fmt(r.t_first_map)} | "
                     f"{'no live map' if r.draft is None else ('yes' if r.draft else 'no')} | {fmt(r.t_finished)} | "
                     f"{r.error or ''} |")
    return "\n".join(lines)


def concurrent_table(pairs: list[tuple[Run, Run]], offset: int) -> str:
    lines = ["### concurrent (three users click Train within a second; budget: together <= 2x alone)", "",
             "| user | rows | alone (s) | together (s) | ratio | together: first map (s) | most jobs ahead | note |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for seed, (a, t) in enumerate(pairs, start=1):
        ratio = f"{t.t_finished / a.t_finished:.2f}" if a.t_finished and t.t_finished else "—"
        note = "; ".join(e for e in (a.error and f"alone: {a.error}", t.error and f"together: {t.error}") if e)
        lines.append(f"| {seed} (seed {seed}, together seed {seed + offset}) | {a.rows:,} | {fmt(a.t_finished)} | "
                     f"{fmt(t.t_finished)} | {ratio} | {fmt(t.t_first_map)} | {t.most_ahead} | {note} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", choices=["single", "long", "concurrent"],
                        default=["single", "long", "concurrent"])
    parser.add_argument("--rows", type=int, nargs="+", default=[2000, 10_000], help="single: catalog sizes")
    parser.add_argument("--concurrent-rows", type=int, nargs=3, default=[515, 999, 53_940])
    parser.add_argument("--together-seed-offset", type=int, default=10,
                        help="seed shift of the together runs' catalogs (0: the alone runs' files)")
    parser.add_argument("--steps", type=int, default=None, help="typed into Train (default: the learner's)")
    parser.add_argument("--warm-s", type=float, default=60, help="wait for the server's warm-up")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--train-timeout", type=float, default=900, help="seconds per training")
    parser.add_argument("--user-cache", action="store_true", help="use the usual encoding disk cache")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="browser_speed-") as tmp:
        folder, log_path = Path(tmp), Path(tmp) / "server.log"
        if not args.user_cache:
            os.environ["PRODUCT_REPR_CACHE"] = str(folder / "cache")
        proc = start_server(port, log_path)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                new_session(browser, url).context.close()  # the first session starts the server's warm-up
                print(f"server up at {url}; warming up for {args.warm_s:.0f} s", file=sys.stderr, flush=True)
                warm = wait_for_warm_up(args.warm_s)
                print(warm, file=sys.stderr, flush=True)
                out = []
                for name in args.scenarios:
                    print(f"{name}:", file=sys.stderr, flush=True)
                    if name == "concurrent":
                        out.append(concurrent_table(concurrent(browser, url, folder, args), args.together_seed_offset))
                    else:
                        out.append(table(name, {"single": single, "long": long}[name](browser, url, folder, args)))
                browser.close()
        except BaseException:
            print(f"server log (tail):\n{log_path.read_text(errors='replace')[-3000:]}", file=sys.stderr)
            raise
        finally:
            stop_server(proc)
    steps = f", steps {args.steps}" if args.steps else ", the learner's default steps"
    print("\n\n".join(out))
    cache = "the usual encoding cache" if args.user_cache else "an empty encoding cache"
    print(f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; {warm}; "
          f"{cache}{steps}.")


if __name__ == "__main__":
    main()
