"""Open a big saved run in the dashboard, in a real browser: seconds to open it and to draw each page, and
the server's memory.

    python3 bench/big_run_browser.py RUN_DIR [--pages Map Neighbours Reconstruction Duplicates] [--port 0]

Starts ``streamlit run app.py`` with ``PRODUCT_REPR_RUNS`` set to RUN_DIR's parent, opens the Runs page in
Debian's Chromium (Playwright), picks RUN_DIR, clicks "Open run" and waits until the page is idle; then visits
each page from the sidebar and waits until it is idle (after the server's warm-up, which the first page
starts, is done) and, on the Map page, until the chart is drawn; there it also box-selects the middle of the
map and colours it by reconstruction error and by cluster, timing each. Prints a
markdown table: seconds per step and the server's resident memory after it (/proc), plus a screenshot of
each page under ``--shots``.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.browser_speed import (ARGS, CHROMIUM, free_port, idle, start_server, stop_server,  # noqa: E402
                                 wait_for_warm_up)


def rss_gib(pid: int) -> float:
    """Resident memory of the server process and its children, GiB."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 2**20


def _children(pid: int) -> list[int]:
    try:
        kids = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return kids + [g for k in kids for g in _children(k)]


def map_work(page, shots: Path, pid: int, timeout_s: float) -> list[tuple[str, float, float]]:
    """On the drawn Map page: box-select the middle of the map, then colour by each of COLOURS; seconds until
    the selection's table, or the recoloured chart, is shown."""
    rows = []
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    box = chart.locator(".nsewdrag").first.bounding_box()
    t0 = time.perf_counter()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.4)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6, steps=8)
    page.mouse.up()
    page.get_by_text("selected products").first.wait_for()
    idle(page, timeout_s)
    said = page.get_by_text("selected products").first.inner_text()
    rows.append((f"Map: box selection ({said.strip()[:60]})", time.perf_counter() - t0, rss_gib(pid)))
    page.screenshot(path=str(shots / "map-selection.png"), full_page=True)
    for colour in COLOURS:
        t0 = time.perf_counter()
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Colour by").first.click()
        page.get_by_role("option", name=colour, exact=True).click()
        page.wait_for_timeout(1000)  # the rerun starts: the page's elements go stale until it is drawn again
        page.wait_for_function(FRESH, timeout=timeout_s * 1000)
        if colour == "cluster":
            page.get_by_role("heading", name="Clusters").wait_for()  # the clusters' table under the map
        idle(page, timeout_s)
        rows.append((f"Map: colour by {colour}", time.perf_counter() - t0, rss_gib(pid)))
        page.screenshot(path=str(shots / f"map-{colour.replace(' ', '-')}.png"), full_page=True)
    return rows


#: nothing on the page is left over from before the rerun, and the script has finished
FRESH = """() => !document.querySelector('[data-testid="stStatusWidget"]')
    && !document.querySelector('[data-stale="true"]')"""
#: the Map page's colourings tried on the drawn map (those a run without its table has)
COLOURS = ("reconstruction error", "cluster")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--pages", nargs="+", default=["Map", "Neighbours", "Reconstruction", "Duplicates"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--shots", default=None, help="folder for the screenshots (default: a temporary one)")
    parser.add_argument("--timeout-s", type=float, default=900)
    parser.add_argument("--warm-s", type=float, default=60,
                        help="after the first page, wait this long (and for the demo texts) for the server's warm-up")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    run_dir = Path(args.run_dir).resolve()
    port = args.port or free_port()
    shots = Path(args.shots or tempfile.mkdtemp(prefix="big_run_shots-"))
    shots.mkdir(parents=True, exist_ok=True)
    os.environ["PRODUCT_REPR_RUNS"] = str(run_dir.parent)
    log = shots / "server.log"
    server = start_server(port, log)
    rows = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
            page.set_default_timeout(args.timeout_s * 1000)
            page.goto(f"http://127.0.0.1:{port}/runs")
            idle(page, args.timeout_s)
            # the first session starts the server's warm-up (UMAP's compilation, the sentence models): not timed
            print(wait_for_warm_up(args.warm_s), file=sys.stderr)
            rows.append(("Runs page, before opening", 0.0, rss_gib(server.pid)))
            box = page.get_by_test_id("stSelectbox").filter(has_text="Run directory")
            box.click()
            page.get_by_role("option", name=run_dir.name, exact=True).click()
            idle(page, args.timeout_s)
            t0 = time.perf_counter()
            page.get_by_role("button", name="Open run").click()
            # opened (the Runs page says so) or refused (an error box)
            page.locator('[data-testid="stAlert"]').filter(
                has_text=re.compile("now the active run|Could not|cannot|error", re.I)).first.wait_for()
            idle(page, args.timeout_s)
            said = page.locator('[data-testid="stAlert"]').first.inner_text()
            if "now the active run" not in said:
                raise SystemExit(f"the run did not open: {said}")
            rows.append((f"open {run_dir.name}", time.perf_counter() - t0, rss_gib(server.pid)))
            page.screenshot(path=str(shots / "runs.png"), full_page=True)
            for name in args.pages:
                t0 = time.perf_counter()
                page.get_by_test_id("stSidebarNav").get_by_role("link").filter(has_text=name).first.click()
                idle(page, args.timeout_s)
                if name == "Map":
                    page.locator('[data-testid="stPlotlyChart"]').first.wait_for()
                rows.append((f"{name} page", time.perf_counter() - t0, rss_gib(server.pid)))
                page.screenshot(path=str(shots / f"{name.lower()}.png"), full_page=True)
                if name == "Map":
                    rows += map_work(page, shots, server.pid, args.timeout_s)
                errors = page.get_by_test_id("stException").count()
                if errors:
                    rows.append((f"{name}: {errors} exception(s) shown", float("nan"), rss_gib(server.pid)))
            browser.close()
    finally:
        stop_server(server)
    print(f"run: {run_dir}; screenshots and server log: {shots}")
    print()
    print("| step | seconds | server memory after |")
    print("| --- | --- | --- |")
    for step, seconds, mem in rows:
        print(f"| {step} | {seconds:.1f} | {mem:.2f} GiB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
