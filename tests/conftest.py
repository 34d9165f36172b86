"""Shared fixtures: where the real catalogs live, skipped when absent (but never under CI)."""
from __future__ import annotations

import os
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
