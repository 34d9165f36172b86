"""The product_repr dashboard: ``streamlit run app.py``.

Registers the pages under ``pages/`` with ``st.navigation`` (Data first and default), draws the shared
sidebar, sets torch's threads once, and in a background thread per server process warms umap-learn's JIT,
loads the sentence encoders and puts the demo catalog's texts in the encoding cache.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import streamlit as st

# `streamlit run app.py` puts this file's folder on the import path
from pages._catalogs import demo_rows
from pages._shell import DEEP_LINK_KEY, error_boundary
from pages._sidebar import sidebar

ROOT = Path(__file__).resolve().parent

log = logging.getLogger("product_repr.app")


@st.cache_resource(show_spinner=False)
def _server_log() -> logging.Logger:
    """The app's log lines (info and up: warm-up, stopped trainings, failures) on the server's stderr, once per
    process; without a handler Python would print warnings and errors only."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log

# (file, title, icon) in menu order; pages whose file is not there (yet) are left out so the app always runs.
PAGES = [
    ("pages/data.py", "Data", ":material/table:"),
    ("pages/train.py", "Train", ":material/model_training:"),
    ("pages/map.py", "Map", ":material/scatter_plot:"),
    ("pages/neighbours.py", "Neighbours", ":material/hub:"),
    ("pages/reconstruction.py", "Reconstruction", ":material/troubleshoot:"),
    ("pages/duplicates.py", "Duplicates", ":material/content_copy:"),
    ("pages/compare.py", "Compare", ":material/compare:"),
    ("pages/runs.py", "Runs", ":material/download:"),
    ("pages/learn.py", "Learn", ":material/school:"),
]


def _warm_up() -> None:
    try:
        from product_repr.analysis import projection

        projection.warm_up()
        log.info("umap warm-up finished")
    except ImportError:
        log.info("projection module not available; umap warm-up skipped")
    except Exception:  # noqa: BLE001 - a failed warm-up only costs time later
        log.exception("umap warm-up failed")
    try:
        from product_repr.features import sentence

        for name in (sentence.FAST_MODEL, sentence.DEFAULT_MODEL):
            if sentence.warm_up(name):
                log.info("sentence encoder %s loaded", name)
        _encode_demo_texts()
    except Exception:  # noqa: BLE001 - the first training will load and encode instead
        log.exception("sentence encoder warm-up failed")


def _encode_demo_texts(chunk: int = 500) -> None:
    """Put the built-in demo catalog's texts in the sentence encoder's disk cache, so the catalog the app
    opens on trains in seconds. Chunk by chunk through the server's CPU gate as the biggest job there is:
    any user's job goes first."""
    from product_repr.data import demo
    from product_repr.features import sentence
    from product_repr.compute import SERVER_GATE
    from product_repr.data.schema import infer_schema
    from product_repr.features.text import clean_texts

    if sentence.DEFAULT_MODEL not in sentence.available():
        return
    table = demo.make_catalog(rows=demo_rows(), seed=0).table
    texts = [t for c in infer_schema(table).names("text") for t in clean_texts(table[c])]
    todo = sentence.uncached(texts)
    ticket = SERVER_GATE.ticket("server warm-up", float("inf"))
    for lo in range(0, len(todo), chunk):
        with SERVER_GATE.turn(ticket):
            sentence.encode(todo[lo:lo + chunk])
    log.info("demo catalog texts encoded (%d new)", len(todo))


@st.cache_resource(show_spinner=False)
def _warm_up_thread() -> threading.Thread | None:
    """Start the warm-up once per server process (shared, user-independent: safe to share)."""
    if os.environ.get("PRODUCT_REPR_NO_WARMUP") == "1":
        return None
    from product_repr.compute import preload_libraries

    preload_libraries()  # in this thread, before the warm-up thread imports the same libraries
    thread = threading.Thread(target=_warm_up, name="umap-warm-up", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def _cpu_threads() -> int:
    """torch's threads, set once per server process (heavy work runs one job at a time through the gate)."""
    from product_repr.compute import use_cpu_threads

    return use_cpu_threads()


def main() -> None:
    st.set_page_config(page_title="product_repr", page_icon=str(ROOT / "assets" / "icon.png"), layout="wide")
    _server_log()
    _cpu_threads()
    _warm_up_thread()
    pages = [
        st.Page(path, title=title, icon=icon, default=(path == "pages/data.py"))
        for path, title, icon in PAGES
        if (ROOT / path).exists()
    ]
    page = st.navigation(pages)
    target = st.session_state.pop(DEEP_LINK_KEY, None)  # see _shell.ensure_app_shell
    if target and (ROOT / target).exists():
        st.switch_page(target)
    with error_boundary("drawing the sidebar"):
        sidebar()
    with error_boundary():
        page.run()


main()
