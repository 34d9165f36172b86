"""Shared fixtures: where the real catalogs live, skipped when absent (but never under CI)."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Callable

import pytest

# Dashboard tests: no UMAP warm-up thread per AppTest, and a small demo catalog (set before app.py is imported)
os.environ.setdefault("PRODUCT_REPR_NO_WARMUP", "1")
os.environ.setdefault("PRODUCT_REPR_DEMO_ROWS", "200")
# the sentence encoder's disk cache lives in a fresh folder per test session, never in the user's home
os.environ.setdefault("PRODUCT_REPR_CACHE", tempfile.mkdtemp(prefix="product_repr_cache_"))

#: ../shared/datasets relative to the repository root (this file is tests/conftest.py).
SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def shared_dataset_path(name: str) -> Path:
    """Path of ``../shared/datasets/<name>``; skips the test when absent, fails it when CI is set."""
    path = SHARED_DATASETS / name
    if not path.exists():
        message = f"real catalog {name!r} not found at {path}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set, so this may not be skipped)")
        pytest.skip(message)
    return path


@pytest.fixture
def shared_dataset() -> Callable[[str], Path]:
    """Call with a folder (``"amazon_sales_india"``) or a file inside it
    (``"amazon_sales_india/amazon_products_parsed.csv"``) to get its path."""
    return shared_dataset_path


@pytest.fixture(autouse=True)
def _torch_threads_and_rng_restored():
    """Whatever a test does to torch's thread count (``cli.main`` calls ``compute.use_cpu_threads``, as an
    entry point should) or to its global generator (some tests seed it to show that it does not matter) is
    undone after it, so no test runs with a setting another one left behind."""
    torch = sys.modules.get("torch")
    before = (torch.get_num_threads(), torch.get_rng_state()) if torch is not None else None
    yield
    if before is not None:
        if torch.get_num_threads() != before[0]:
            torch.set_num_threads(before[0])
        torch.set_rng_state(before[1])


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one intra-op thread for a module's tests (small matrices, and the machine's cores are shared
    with other test runs); the previous count comes back after the module. Use it with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``, never ``torch.set_num_threads`` at import."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def navigation_as_on_a_server(monkeypatch):
    """Run pages through app.py's st.navigation, as a running server does.

    Streamlit guesses "legacy multipage app" when a folder named pages/ sits beside the main script, and then
    runs a page file on its own (no sidebar, no error boundary) until st.navigation has been called once in
    the process. A server calls it on its first run and keeps the answer; AppTest resets the guess before
    every run, so without this a switch_page() would skip app.py.
    """
    from streamlit.runtime import pages_manager

    init = pages_manager.PagesManager.__init__

    def v2_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        pages_manager.PagesManager.uses_pages_directory = False

    monkeypatch.setattr(pages_manager.PagesManager, "__init__", v2_init)
