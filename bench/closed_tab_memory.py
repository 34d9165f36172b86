"""Memory a closed browser tab gives back to the dashboard's server (a real Chromium against ``streamlit run``).

1. The server starts and warms up; its resident memory (RSS, from /proc) is the baseline.
2. Tab A uploads a demo catalog of ``--rows`` products, trains the default learner (``--steps``) to the end
   and stays on the Map page; RSS then.
3. Tab A closes. The server lets go of its state once Streamlit would no longer resume the session
   (``--release`` seconds here; Streamlit's ``server.disconnectedSessionTTL`` + 10 s by default); RSS after.
4. Tab B uploads the same catalog, starts a longer training and closes while it trains: the training stops
   (``PRODUCT_REPR_ABANDON_S``) and the state is let go; RSS after.

Prints the RSS at each point, what the server's log said it let go, and how much RSS came back.

    python3 bench/closed_tab_memory.py [--rows 10000] [--steps 200] [--release 10]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/lib/chromium/chromium"
RELEASED = re.compile(r"released the state of a closed browser session \(\w+…\): about (\d+\.\d) MB")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_log(log: Path, pattern: str | re.Pattern, timeout_s: float, count: int = 1) -> list:
    deadline = time.monotonic() + timeout_s
    while True:
        text = log.read_text(errors="replace")
        found = (re.findall(pattern, text) if isinstance(pattern, re.Pattern)
                 else [pattern] * text.count(pattern))
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{pattern!r} not in the server log after {timeout_s} s:\n{text[-2000:]}")
        time.sleep(0.5)


def idle(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=600_000)
    page.wait_for_timeout(300)


def go(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    page.get_by_role("heading", name=title).first.wait_for()
    idle(page)


def upload_and_train(browser, url: str, csv: Path, name: str, steps: int, *, wait: bool):
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    page = context.new_page()
    page.set_default_timeout(600_000)
    page.goto(url)
    page.get_by_role("heading", name="Data").first.wait_for()
    idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(csv))
    page.get_by_role("heading", name=csv.name).first.wait_for()
    idle(page)
    go(page, "Train")
    page.get_by_role("spinbutton", name="steps").fill(str(steps))
    page.get_by_role("textbox", name="Run name").fill(name)
    page.keyboard.press("Tab")
    idle(page)
    page.get_by_role("button", name="Train", exact=True).click()
    if wait:
        page.get_by_text("See it on the Map").wait_for()
        go(page, "Map")
    else:
        page.get_by_role("heading", name=f"Run {name}").first.wait_for()
        page.wait_for_timeout(15_000)  # well into its training
    return context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--release", type=int, default=10, help="seconds before a closed tab's state is let go")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from product_repr.data import demo

    folder = Path(tempfile.mkdtemp(prefix="closed-tab-"))
    csv, _ = demo.write_catalog(folder / "shop.csv", rows=args.rows, seed=5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = folder / "server.log"
    env = dict(os.environ, PRODUCT_REPR_ABANDON_S="2", PRODUCT_REPR_RELEASE_S=str(args.release))
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
             "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.disconnectedSessionTTL", str(max(1, args.release - 1))],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    figures: list[tuple[str, float, str]] = []
    try:
        for _ in range(180):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            first = browser.new_context()
            page = first.new_page()
            page.goto(url)  # the first session starts the warm-up; it encodes the built-in demo's texts
            wait_log(log, "umap warm-up finished", 300)
            wait_log(log, "demo catalog texts encoded", 600)
            first.close()
            wait_log(log, RELEASED, 120)
            time.sleep(2)
            figures.append(("server warm, no session", rss_mb(server.pid), ""))

            a = upload_and_train(browser, url, csv, "tab-a", args.steps, wait=True)
            figures.append((f"tab A: {args.rows:,} products and a finished run", rss_mb(server.pid), ""))
            a.close()
            freed = wait_log(log, RELEASED, 120 + args.release, count=2)[-1]
            time.sleep(2)
            figures.append(("tab A closed, its state let go", rss_mb(server.pid), f"{freed} MB"))

            b = upload_and_train(browser, url, csv, "tab-b", 10 * args.steps, wait=False)
            figures.append(("tab B: the same catalog, training", rss_mb(server.pid), ""))
            b.close()
            wait_log(log, "training tab-b stopped: its browser session closed", 300)
            freed = wait_log(log, RELEASED, 120 + args.release, count=3)[-1]
            time.sleep(2)
            figures.append(("tab B closed mid-training, stopped, let go", rss_mb(server.pid), f"{freed} MB"))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"demo catalog {args.rows:,} rows, {args.steps} steps; RSS of the server process in MB\n")
    print("| moment | server RSS (MB) | the server's log: let go |")
    print("| --- | --- | --- |")
    for moment, rss, freed in figures:
        print(f"| {moment} | {rss:,.0f} | {freed} |")
    base, peak, after_a, during_b, after_b = (f[1] for f in figures)
    print(f"\nTab A: +{peak - base:,.0f} MB while open, {peak - after_a:,.0f} MB given back after it closed "
          f"({(peak - after_a) / max(peak - base, 1e-9):.0%}); tab B: {during_b - after_b:,.0f} MB given back.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
