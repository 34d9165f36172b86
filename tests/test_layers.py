"""The import rules of docs/ARCHITECTURE.md, read from the source with ``ast`` (imports inside functions count).

Layers, lowest first: base (errors, compute) < data < features < analysis < learners < runs (runs, export)
< pipeline < cli. A module imports only its own layer and those below; the core never imports Streamlit;
pages import only Streamlit, plotly, pandas, numpy, ``product_repr``, ``pages`` and the standard library.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "product_repr"
LAYERS = ["base", "data", "features", "analysis", "learners", "runs", "pipeline", "cli"]
TOP_MODULES = {"errors": "base", "compute": "base", "runs": "runs", "export": "runs", "library": "runs", "findings": "runs", "placing": "runs", "raydata": "runs",
               "pipeline": "pipeline", "distributed": "pipeline",
               "cli": "cli", "__main__": "cli"}
PAGE_IMPORTS = {"streamlit", "plotly", "pandas", "numpy", "product_repr", "pages"}


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file ``path`` under the repository root."""
    return imports_of(path.read_text(encoding="utf-8"), ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1]))


def imports_of(source: str, package: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, relative ones resolved against ``package``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            if module == "product_repr":  # from product_repr import pipeline: the submodule is what is used
                found += [(node.lineno, f"product_repr.{alias.name}") for alias in node.names
                          if (PACKAGE / alias.name).is_dir() or (PACKAGE / f"{alias.name}.py").exists()]
    return found


def layer_of(module: str) -> str | None:
    """The layer of a ``product_repr`` module name, or None for the package itself (its lazy names)."""
    parts = module.split(".")
    if parts[0] != "product_repr" or len(parts) == 1:
        return None
    head = parts[1]
    if head in LAYERS:
        return head
    if head in TOP_MODULES:
        return TOP_MODULES[head]
    raise AssertionError(f"{module}: no layer assigned in tests/test_layers.py; add it to the map of layers")


CORE = sorted(p for p in PACKAGE.rglob("*.py") if "models" not in p.relative_to(PACKAGE).parts)


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_imports_only_its_layer_and_below(path):
    own = layer_of(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
    for line, module in imports(path):
        top = module.split(".")[0]
        assert top != "streamlit", f"{path.name}:{line} imports Streamlit; the core must run headless"
        target = layer_of(module) if top == "product_repr" else None
        if own is None or target is None:
            continue
        assert LAYERS.index(target) <= LAYERS.index(own), (
            f"{path.relative_to(ROOT)}:{line} imports {module} ({target}), a layer above its own ({own}); "
            f"move the shared piece down or pass it in")


PAGES = sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_import_only_streamlit_plotting_frames_and_the_core(path):
    for line, module in imports(path):
        top = module.split(".")[0]
        allowed = top in PAGE_IMPORTS or top in sys.stdlib_module_names or top == "__future__"
        assert allowed, (f"{path.relative_to(ROOT)}:{line} imports {module}: pages read widgets, call "
                         f"product_repr and draw; put the computation in the core")


def test_no_file_patches_the_import_path():
    files = [ROOT / "app.py", *ROOT.joinpath("tests").rglob("*.py"), *CORE, *PAGES]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", "") == "sys":
                parent = ast.unparse(node)
                source = path.read_text(encoding="utf-8").splitlines()[node.lineno - 1]
                assert "insert" not in source and "append" not in source, (
                    f"{path.relative_to(ROOT)}:{node.lineno} changes {parent}: install the package "
                    f"(pip install -e .) instead")


def test_the_rules_catch_an_upward_import():
    """The checker itself: a relative and an absolute upward import in an analysis module are both seen."""
    source = "from .. import pipeline\nfrom product_repr.cli import main\n"
    found = {module for _, module in imports_of(source, "product_repr.analysis")}
    assert {"product_repr.pipeline", "product_repr.cli"} <= found, found
    own = LAYERS.index(layer_of("product_repr.analysis.neighbours"))
    assert all(LAYERS.index(layer_of(m)) > own for m in found if m.count(".") >= 1), found
