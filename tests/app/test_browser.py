"""A real browser (Playwright + Debian's Chromium) against ``streamlit run app.py``.

The path a person takes, on the demo and then on the first rows of a real catalog: upload a CSV on Data,
train on Train, see the map, box-select products and get their table, open Neighbours, Reconstruction (mark a
product) and Duplicates, train a second learner and compare, colour the map by cluster and see why two
products are alike — with no Streamlit exception anywhere. Every page is screenshotted into ``artifacts/screenshots/`` (gitignored) as a test artefact.

Skips only when CI is unset and Chromium (or Playwright) is missing; in CI a missing browser fails.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/lib/chromium/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
ROWS = 200  # rows in the uploaded catalog
STEPS = "200"  # typed into the Train page: enough for a map, quick on a shared 2-core CPU
START_S = 90  # server start-up
TRAIN_S = 240  # training + analysis; the first UMAP fit compiles numba (~25 s) if the warm-up has not finished

ABANDON_S = 2  # the server stops a training this long after its tab closed (30 s by default)
RELEASE_S = 4  # and lets go of the closed tab's state this long after (Streamlit's session TTL + 10 s by default)
SERVER_LOG: dict = {}  # the server's log file, for what only the server can tell

pytestmark = pytest.mark.browser


def _require_browser():
    reason = None
    if not os.path.exists(CHROMIUM):
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (pip install -r requirements.txt)"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run in CI: {reason}")
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``streamlit run app.py`` on a free port; yields its base URL and kills it at teardown."""
    _require_browser()
    port = _free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = dict(os.environ, PRODUCT_REPR_DEMO_ROWS="200", PRODUCT_REPR_ABANDON_S=str(ABANDON_S),
               PRODUCT_REPR_RELEASE_S=str(RELEASE_S))
    SERVER_LOG["path"] = log_path
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.disconnectedSessionTTL", str(RELEASE_S - 1)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"streamlit did not start (exit {proc.poll()}); log:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


@pytest.fixture(scope="module")
def catalog_csv(tmp_path_factory) -> Path:
    from product_repr.data import demo

    path, _ = demo.write_catalog(tmp_path_factory.mktemp("upload") / "catalog.csv", rows=ROWS, seed=7)
    return path


@pytest.fixture(scope="module")
def browser(server):
    """One Chromium for the module (Playwright's sync API allows one running instance per thread)."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(server)
    yield pg
    context.close()


def idle(page, timeout_s: float = 60) -> None:
    """Wait until Streamlit has finished running the script (no "Running…" status widget)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_s * 1000)
    page.wait_for_timeout(300)


def no_exception(page, where: str) -> None:
    """No traceback element, and no error_boundary "Something went wrong" message, on the page."""
    shown = page.locator('[data-testid="stException"]')
    assert shown.count() == 0, f"{where}: Streamlit shows an exception: {shown.first.inner_text()[:2000]}"
    generic = page.locator('[data-testid="stAlert"]').filter(has_text="Something went wrong")
    assert generic.count() == 0, f"{where}: a page failed unexpectedly (see the server log): {generic.first.inner_text()}"


def shoot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def go(page, title: str) -> None:
    """Open a page through the sidebar navigation (a new URL would start a new session)."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    page.get_by_role("heading", name=title).first.wait_for()
    idle(page)


# the sidebar lists the run as trained (not "training <name>…" while it runs)
SIDEBAR_SHOWS = """name => {
    const bar = document.querySelector('[data-testid="stSidebar"]');
    if (!bar || bar.innerText.toLowerCase().includes('training ' + name.toLowerCase())) return false;
    return bar.innerText.includes(name) || [...bar.querySelectorAll('input')].some(i => i.value === name);
}"""


def train(page, run_name: str, learner_title: str | None = None) -> None:
    """Train a run called ``run_name`` on the Train page and wait until the sidebar lists it as active."""
    go(page, "Train")
    if learner_title:
        page.locator('[data-testid="stRadio"] label').filter(has_text=learner_title).first.click()
        idle(page)
    page.get_by_role("spinbutton", name="steps").fill(STEPS)
    page.get_by_role("textbox", name="Run name").fill(run_name)
    page.keyboard.press("Tab")
    idle(page)
    # by role: Streamlit may keep a hidden stale copy of the button in the DOM after a rerun
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function(SIDEBAR_SHOWS, arg=run_name, timeout=TRAIN_S * 1000)
    page.get_by_text("See it on the Map").wait_for()
    idle(page)


def box_select(chart, page, area: tuple[float, float, float, float] = (0.05, 0.05, 0.95, 0.95)) -> None:
    """Drag a box over ``area`` (left, top, right, bottom as shares) of a plotly chart's plotting area: a
    selection, not a zoom (the maps' drag mode is "select")."""
    box = chart.locator(".nsewdrag").first.bounding_box()
    assert box, "the chart has no drag layer to select on"
    left, top, right, bottom = area
    page.mouse.move(box["x"] + box["width"] * left, box["y"] + box["height"] * top)
    page.mouse.down()
    for share in (0.5, 1.0):
        page.mouse.move(box["x"] + box["width"] * (left + (right - left) * share),
                        box["y"] + box["height"] * (top + (bottom - top) * share), steps=8)
    page.mouse.up()


def test_upload_train_map_select_neighbours_reconstruction_compare(page, catalog_csv):
    try:
        flow(page, catalog_csv, products=ROWS, query="wireless earbuds")
    except BaseException:
        shoot(page, "failure")  # what the browser showed when it went wrong
        raise


REAL_ROWS = 300  # rows of a real catalog uploaded in the second flow


def test_every_view_on_an_uploaded_real_catalog(server, browser, tmp_path, shared_dataset):
    """The same path on the first rows of a real catalog (bigbasket's groceries, as a user would save them):
    its own columns, long descriptions, and whatever duplicates and clusters it really has. A new tab."""
    import pandas as pd

    source = shared_dataset("bigbasket_products") / "bigbasket_products.csv"
    path = tmp_path / "bigbasket_first_rows.csv"
    pd.read_csv(source, nrows=REAL_ROWS).to_csv(path, index=False)
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(server)
    try:
        flow(pg, path, products=REAL_ROWS, query="green tea", shots="real-")
    except BaseException:
        shoot(pg, "real-failure")
        raise
    finally:
        context.close()


def flow(page, catalog_csv: Path, *, products: int, query: str, shots: str = "") -> None:
    """Every view in turn on the uploaded ``catalog_csv`` (``products`` rows); ``query`` is typed into the
    searches by meaning; screenshots are named ``shots`` + the step."""
    # Data: upload the CSV and see it become the catalog
    page.get_by_role("heading", name="Data").first.wait_for()
    idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(catalog_csv))
    page.get_by_role("heading", name=catalog_csv.name).first.wait_for()
    idle(page)
    no_exception(page, "Data")
    shoot(page, shots + "1-data")

    # Train: the default learner, default settings
    train(page, "browser-default")
    no_exception(page, "Train")
    page.get_by_text("Watch it learn: replay the training").click()  # the map forming, replayed
    page.get_by_text(f"The embedding of {products} products after step").first.wait_for()
    idle(page)
    no_exception(page, "Train replay")
    shoot(page, shots + "2-train")

    # Map: the WebGL scatter, then a box selection lists the selected products
    go(page, "Map")
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.wait_for()
    page.locator(".js-plotly-plot .scattergl, .js-plotly-plot canvas").first.wait_for(state="attached")
    no_exception(page, "Map")
    shoot(page, shots + "3-map")
    box_select(chart, page)
    page.get_by_text("selected products").first.wait_for()
    idle(page)
    page.get_by_role("button", name="Download selection (CSV)").wait_for()
    page.get_by_text("The download adds each product's map position").wait_for()
    page.locator('[data-testid="stDataFrame"]').nth(2).wait_for()  # value counts, numeric statistics, the products
    no_exception(page, "Map selection")
    shoot(page, shots + "4-map-selection")
    page.get_by_role("textbox", name="Find on the map").fill(query)
    page.keyboard.press("Enter")
    page.get_by_text(f"products nearest in meaning to “{query}”").first.wait_for()
    idle(page)
    no_exception(page, "Map find")
    shoot(page, shots + "4b-map-find")

    # Neighbours: the default product's neighbours in both spaces
    go(page, "Neighbours")
    page.get_by_text("In the learned embedding", exact=True).wait_for()
    page.get_by_text("In the raw features", exact=True).wait_for()
    no_exception(page, "Neighbours")
    page.get_by_role("textbox", name="Describe a product").fill(query)
    page.keyboard.press("Enter")
    idle(page)
    page.get_by_text("Products are found by what the words mean").wait_for(state="detached")  # results instead
    no_exception(page, "Neighbours search by meaning")
    shoot(page, shots + "5-neighbours")

    # Reconstruction: histogram, unusual products, per-column errors
    go(page, "Reconstruction")
    page.get_by_role("heading", name="Most unusual products").wait_for()
    page.locator('[data-testid="stPlotlyChart"]').nth(1).wait_for()  # the score and error histograms
    no_exception(page, "Reconstruction")
    page.get_by_role("heading", name="Check a product").wait_for()
    page.locator('[data-testid="stRadio"] label').filter(has_text=re.compile("^anomaly$")).first.click()
    idle(page)
    page.get_by_text("Your marks on this run: 1 anomaly").wait_for()
    shoot(page, shots + "6-reconstruction")

    # Duplicates: the pairs listed, one side by side (a real catalog may have none at the default threshold)
    go(page, "Duplicates")
    listed = page.get_by_role("heading", name="Check a pair")
    listed.or_(page.get_by_text("No pair of products is at least")).first.wait_for()
    if listed.count():
        page.get_by_text("Products involved").first.wait_for()
        page.locator('[data-testid="stDataFrame"]').nth(1).wait_for()  # the pairs and the side-by-side tables
    elif products == ROWS:
        raise AssertionError("the demo's planted copies are not listed")
    no_exception(page, "Duplicates")
    shoot(page, shots + "6b-duplicates")

    # A second learner, then Compare
    train(page, "browser-contrastive", "Contrastive")
    go(page, "Compare")
    page.get_by_role("heading", name="Metrics").wait_for()
    page.locator('[data-testid="stPlotlyChart"]').nth(1).wait_for()
    no_exception(page, "Compare")
    # the left map's left half selected: those products starred on the right map
    box_select(page.locator('[data-testid="stPlotlyChart"]').first, page, (0.02, 0.02, 0.5, 0.98))
    page.get_by_text("products selected on the left map").first.wait_for()
    idle(page)
    no_exception(page, "Compare selection")
    shoot(page, shots + "7-compare")

    go(page, "Reconstruction")  # the contrastive run is active now: no decoder, an explanation instead
    page.get_by_text("no decoder").first.wait_for()
    no_exception(page, "Reconstruction (contrastive)")
    shoot(page, shots + "8-reconstruction-contrastive")

    # Map coloured by cluster: named clusters on the map and their table
    go(page, "Map")
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Colour by").first.click()
    page.get_by_role("option", name="cluster", exact=True).click()
    idle(page)
    page.get_by_role("heading", name="Clusters").wait_for()
    page.get_by_role("button", name="Download cluster assignment (CSV)").wait_for()
    no_exception(page, "Map clusters")
    shoot(page, shots + "9-map-clusters")

    # Neighbours: why a product and its first neighbour are alike
    go(page, "Neighbours")
    page.get_by_role("heading", name="Why are they alike?").wait_for()
    no_exception(page, "Neighbours pair")
    shoot(page, shots + "10-neighbours-alike")


SESSIONS = 5
SESSION_STEPS = "60"


def _session_catalog(folder: Path, i: int) -> Path:
    """Session i's own catalog: a demo catalog of its own size and seed; session 0's titles carry markup."""
    import pandas as pd

    from product_repr.data import demo

    path, _ = demo.write_catalog(folder / f"shop{i}.csv", rows=120 + 20 * i, seed=100 + i)
    if i == 0:
        table = pd.read_csv(path)
        table.loc[0, "title"] = "<script>alert('title')</script>"
        table.loc[1, "title"] = '<img src=x onerror="alert(1)">'
        table.to_csv(path, index=False)
    return path


def _healthy(url: str, seen: list, stop) -> None:
    while not stop.is_set():
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
                seen.append(response.read().strip() == b"ok")
        except OSError:
            seen.append(False)
        stop.wait(1.0)


def test_five_sessions_train_at_once_and_each_sees_only_its_own(server, browser, tmp_path):
    """Five browser sessions upload five catalogs and train at the same time: all finish, each sees only its own
    catalog and run, no page runs the markup in a title, and the server answers its health check throughout."""
    import threading

    health: list[bool] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_healthy, args=(server, health, stop), daemon=True)
    watcher.start()
    dialogs: list[str] = []
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1400}) for _ in range(SESSIONS)]
    pages = []
    try:
        for i, context in enumerate(contexts):
            pg = context.new_page()
            pg.set_default_timeout(60_000)
            pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            pg.goto(server)
            pg.get_by_role("heading", name="Data").first.wait_for()
            idle(pg)
            pg.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(_session_catalog(tmp_path, i)))
            pg.get_by_role("heading", name=f"shop{i}.csv").first.wait_for()
            idle(pg)
            go(pg, "Train")
            pg.get_by_role("spinbutton", name="steps").fill(SESSION_STEPS)
            pg.get_by_role("textbox", name="Run name").fill(f"tab{i}")
            pg.keyboard.press("Tab")
            idle(pg)
            pages.append(pg)
        for pg in pages:  # all five click Train within a few seconds of each other
            pg.get_by_role("button", name="Train", exact=True).click()
        for i, pg in enumerate(pages):
            pg.wait_for_function(SIDEBAR_SHOWS, arg=f"tab{i}", timeout=TRAIN_S * 1000)
            idle(pg)
            no_exception(pg, f"session {i} after training")
        for i, pg in enumerate(pages):
            go(pg, "Runs")
            pg.get_by_role("heading", name=f"Download run tab{i}").first.wait_for()
            bar = pg.locator('[data-testid="stSidebar"]').inner_text()
            assert f"shop{i}.csv" in bar and not any(f"shop{j}.csv" in bar for j in range(SESSIONS) if j != i), bar
            # the runs this session can switch to: the sidebar's run picker lists them (the Runs page's table is a
            # canvas, not text)
            pg.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
            options = pg.get_by_role("option").all_inner_texts()
            pg.keyboard.press("Escape")
            assert [o.strip() for o in options] == [f"tab{i}"], f"session {i} can pick {options}"
            no_exception(pg, f"session {i} Runs")
        for title in ("Map", "Neighbours", "Reconstruction", "Duplicates"):  # where titles are shown
            go(pages[0], title)
            no_exception(pages[0], f"session 0 {title}")
        shoot(pages[0], "sessions-0-duplicates")
    except BaseException:
        for i, pg in enumerate(pages):
            shoot(pg, f"sessions-failure-{i}")
        raise
    finally:
        stop.set()
        for context in contexts:
            context.close()
    watcher.join(timeout=10)
    assert not dialogs, f"markup in a title ran as script: {dialogs}"
    assert health and all(health), f"the health check failed {health.count(False)} of {len(health)} times"


def test_a_closed_tab_stops_its_training_and_frees_the_cpu(server, browser, tmp_path):
    """A tab that closes while its training runs: the server stops that training soon after (ABANDON_S here)
    and says so in its log, instead of spending the shared CPU on a run nobody will see."""
    from product_repr.data import demo

    path, _ = demo.write_catalog(tmp_path / "left.csv", rows=3000, seed=11)
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(server)
    pg.get_by_role("heading", name="Data").first.wait_for()
    idle(pg)
    pg.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    pg.get_by_role("heading", name="left.csv").first.wait_for()
    idle(pg)
    go(pg, "Train")
    pg.get_by_role("spinbutton", name="steps").fill("1000")
    pg.get_by_role("textbox", name="Run name").fill("left-behind")
    pg.keyboard.press("Tab")
    idle(pg)
    pg.get_by_role("button", name="Train", exact=True).click()
    pg.get_by_role("heading", name="Run left-behind").first.wait_for(timeout=30_000)  # the job has started
    context.close()
    closed = time.monotonic()
    log = SERVER_LOG["path"]
    line = "WARNING product_repr.app: training left-behind stopped: its browser session closed"  # app.py's handler
    while line not in log.read_text(errors="replace"):
        assert time.monotonic() - closed < 120, f"the training went on after its tab closed; log:\n{log.read_text()[-2000:]}"
        time.sleep(0.5)
    print(f"stopped {time.monotonic() - closed:.1f} s after the tab closed (grace {ABANDON_S} s)")
    # then its catalog and state are let go, once Streamlit would no longer resume the session
    released = re.compile(r"INFO product_repr\.app: released the state of a closed browser session \(\w+…\): "
                          r"about (\d+\.\d) MB")
    while not released.search(log.read_text(errors="replace")):
        assert time.monotonic() - closed < 60, f"the closed tab's state was kept; log:\n{log.read_text()[-2000:]}"
        time.sleep(0.5)
    size = float(released.search(log.read_text(errors="replace")).group(1))
    assert size > 0.5, f"a 3,000-product catalog was let go, not {size} MB"
    print(f"released {size} MB {time.monotonic() - closed:.1f} s after the tab closed (after {RELEASE_S} s)")
