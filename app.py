"""The product_repr dashboard: ``streamlit run app.py``.

Registers the pages under ``pages/`` with ``st.navigation`` (Data first and default), draws the shared
sidebar, and warms umap-learn's JIT and loads the sentence encoder once per server process in a
background thread.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # so `import product_repr` and `from pages import _ui` work from any cwd
    sys.path.insert(0, str(ROOT))

from pages import _ui  # noqa: E402

log = logging.getLogger("product_repr.app")

# (file, title, icon) in menu order; pages whose file is not there (yet) are left out so the app always runs.
PAGES = [
    ("pages/data.py", "Data", ":material/table:"),
    ("pages/train.py", "Train", ":material/model_training:"),
    ("pages/map.py", "Map", ":material/scatter_plot:"),
    ("pages/neighbours.py", "Neighbours", ":material/hub:"),
    ("pages/reconstruction.py", "Reconstruction", ":material/troubleshoot:"),
    ("pages/compare.py", "Compare", ":material/compare:"),
    ("pages/runs.py", "Runs", ":material/download:"),
    ("pages/learn.py", "Learn", ":material/school:"),
]


def _warm_up() -> None:
    try:
        from product_repr import projection

        projection.warm_up()
        log.info("umap warm-up finished")
    except ImportError:
        log.info("projection module not available; umap warm-up skipped")
    except Exception:  # noqa: BLE001 - a failed warm-up only costs time later
        log.exception("umap warm-up failed")
    try:
        from product_repr import sentence

        if sentence.warm_up():
            log.info("sentence encoder loaded")
    except Exception:  # noqa: BLE001 - the first training will load it instead
        log.exception("sentence encoder warm-up failed")


@st.cache_resource(show_spinner=False)
def _warm_up_thread() -> threading.Thread | None:
    """Start the warm-up once per server process (shared, user-independent: safe to share)."""
    if os.environ.get("PRODUCT_REPR_NO_WARMUP") == "1":
        return None
    thread = threading.Thread(target=_warm_up, name="umap-warm-up", daemon=True)
    thread.start()
    return thread


def main() -> None:
    st.set_page_config(page_title="product_repr", page_icon=":material/scatter_plot:", layout="wide")
    _warm_up_thread()
    pages = [
        st.Page(path, title=title, icon=icon, default=(path == "pages/data.py"))
        for path, title, icon in PAGES
        if (ROOT / path).exists()
    ]
    page = st.navigation(pages)
    target = st.session_state.pop(_ui.DEEP_LINK_KEY, None)  # see _ui.ensure_app_shell
    if target and (ROOT / target).exists():
        st.switch_page(target)
    with _ui.error_boundary("drawing the sidebar"):
        _ui.sidebar()
    with _ui.error_boundary():
        page.run()


main()
