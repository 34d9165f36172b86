"""Representation quality on the real catalogs: every learner against raw, PCA and TF-IDF baselines.

Protocol (issue 6): per catalog, rows with a missing label (and instacart's ``missing`` department) are
dropped, at most ``--rows`` rows are sampled with ``DataFrame.sample(n, random_state=0)``; the label and its
taxonomy twins are never part of any input. Metrics: leave-one-out cosine 10-NN precision on the label
(``product_repr.analysis.evaluation.knn_precision``) and 3-fold linear-probe accuracy
(``product_repr.analysis.evaluation.linear_probe_accuracy``).

Columns of the table:

- ``raw``: the issue's raw matrix — signed log1p + z-score numerics, one-hot of categoricals with at most
  200 levels, TF-IDF (word 1-2-grams) -> SVD-64 per text column, blocks concatenated;
- ``PCA-32``: PCA of ``raw`` to 32 dimensions;
- ``TF-IDF text``: sparse TF-IDF (word 1-2-grams, cosine) of the schema's text columns joined into one
  document; ``TF-IDF strings``: the same of *all* string columns that are not excluded (this reproduces the
  issue's figures on amazon and bigbasket, where ``brand`` / the title are strings);
- ``ours-X``: the product's own ``FeatureSpace`` matrix (what every learner is fed);
- one column per learner in ``product_repr.learners.REGISTRY``, default config except ``seed``.

Run ``python3 bench/quality.py --help``. Results are cached per (catalog, method, seed, settings) in
``bench/quality_results.json`` so seeds can be added later without recomputing; ``--fresh`` ignores the cache.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

if __name__ == "__main__":  # run as a script: one BLAS thread each on a shared 2-core machine, before numpy loads
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]

DATASETS = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "bench" / "quality_results.json"
K = 10
RAW_MAX_LEVELS = 200
RAW_TEXT_DIM = 64
PCA_DIM = 32
BASELINES = ("raw", "pca32", "tfidf_text", "tfidf_strings", "sentence", "sentence_raw", "ours_x")
TITLES = {"raw": "raw", "pca32": "PCA-32", "tfidf_text": "TF-IDF text", "tfidf_strings": "TF-IDF strings",
          "sentence": "MiniLM of text", "sentence_raw": "MiniLM + raw", "ours_x": "ours-X"}
#: a catalog's variants (``name:variant``): the tables a catalog stands for when a user's has no text, or only text
VARIANTS = {"no-text": "text columns dropped: numbers and categories only",
            "text-only": "text columns only"}


@dataclass(frozen=True)
class Catalog:
    """One real catalog: where it is, its label, and the columns kept out of every input."""

    name: str
    path: str  # relative to the datasets folder
    label: str
    exclude: tuple[str, ...]  # taxonomy twins and ids (the label is excluded too, always)
    drop_labels: tuple[str, ...] = ()  # label values whose rows are dropped before sampling
    dtype: dict = field(default_factory=dict)
    variant: str = ""  # "" (every column), or a key of VARIANTS

    @property
    def excluded(self) -> tuple[str, ...]:
        """Every column kept out of the inputs: the label first, then ``exclude``."""
        return (self.label, *[c for c in self.exclude if c != self.label])


CATALOGS: dict[str, Catalog] = {c.name: c for c in (
    Catalog("amazon_sales_india", "amazon_sales_india/amazon_products_parsed.csv", "category_l2",
            ("category_path", "category_l1", "category_l2", "category_leaf")),
    Catalog("bigbasket_products", "bigbasket_products/bigbasket_products.csv", "category",
            ("sub_category", "type", "index")),
    Catalog("instacart_products", "instacart_products/instacart_products_joined.csv", "department",
            ("aisle", "aisle_id", "department_id"), drop_labels=("missing",)),
    Catalog("hm_articles", "hm_articles/hm_articles.csv.gz", "product_group_name",
            ("product_type_no", "product_type_name", "product_group_name", "department_no", "department_name",
             "index_code", "index_name", "index_group_no", "index_group_name", "section_no", "section_name",
             "garment_group_no", "garment_group_name", "product_code"),
            dtype={"article_id": str}),
)}


MAIN_CATALOGS = tuple(CATALOGS)
for _base in MAIN_CATALOGS:
    for _variant in VARIANTS:
        _name = f"{_base}:{_variant}"
        CATALOGS[_name] = dataclasses.replace(CATALOGS[_base], name=_name, variant=_variant)


class NoInput(Exception):
    """A catalog variant that leaves no column to learn from (e.g. a text-only catalog without its text)."""


# ---------------------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------------------
def load_catalog(catalog: Catalog, datasets: Path = DATASETS) -> pd.DataFrame:
    """The whole catalog as read by pandas (``catalog.dtype`` applied). Raises FileNotFoundError."""
    path = Path(datasets) / catalog.path
    if not path.exists():
        raise FileNotFoundError(f"catalog {catalog.name!r} not found at {path}; pass --datasets")
    return pd.read_csv(path, dtype=catalog.dtype or None)


def sample_rows(df: pd.DataFrame, label: str, rows: int, *, seed: int = 0,
                drop_labels: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows with a label (not in ``drop_labels``), at most ``rows`` of them: ``.sample(n, random_state=seed)``.

    Deterministic for a given table, ``rows`` and ``seed``; the index is reset (0..n-1).
    """
    keep = df[label].notna()
    if drop_labels:
        keep &= ~df[label].astype(str).isin(drop_labels)
    pool = df[keep]
    n = min(int(rows), len(pool))
    return pool.sample(n, random_state=seed).reset_index(drop=True)


def input_frame(df: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """``df`` without the label and its twins: the only columns any method may look at; for a variant, only
    its kind of columns (by the inferred roles; the id column stays). Raises NoInput when none is left."""
    from product_repr.data.schema import Role, infer_schema

    out = df.drop(columns=[c for c in catalog.excluded if c in df.columns])
    if not catalog.variant:
        return out
    schema = infer_schema(out)
    text = set(schema.names(Role.TEXT))
    keep = [c for c in out.columns if (c in text) == (catalog.variant == "text-only") or schema.role(c) is Role.ID]
    used = [c for c in keep if schema.role(c) in (Role.NUMERIC, Role.CATEGORICAL, Role.TEXT)]
    if not used:
        raise NoInput(f"{catalog.name}: no column is left to learn from ({VARIANTS[catalog.variant]})")
    return out[keep]


def label_values(df: pd.DataFrame, label: str) -> np.ndarray:
    """The label as an object array of stripped strings (missing as None)."""
    out = []
    for v in df[label].tolist():
        out.append(None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v).strip())
    return np.array(out, dtype=object)


def string_columns(df: pd.DataFrame) -> list[str]:
    """Columns holding strings (object or string dtype)."""
    return [c for c in df.columns if pd.api.types.is_string_dtype(df[c]) or df[c].dtype == object]


def documents(df: pd.DataFrame, columns: list[str]) -> list[str]:
    """One document per row: the non-missing values of ``columns`` joined by spaces."""
    parts = df[columns].astype("string").fillna("")
    return [" ".join(v for v in row if v) for row in parts.itertuples(index=False, name=None)]


# ---------------------------------------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------------------------------------
def tfidf(texts: list[str]) -> sp.csr_matrix:
    """Sparse TF-IDF (word 1-2-grams, scikit-learn defaults, rows L2-normalised): (n, V)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2)).fit_transform(texts).tocsr()


def raw_features(df: pd.DataFrame, schema, *, max_levels: int = RAW_MAX_LEVELS, text_dim: int = RAW_TEXT_DIM,
                 seed: int = 0) -> np.ndarray:
    """The issue's raw matrix of the schema's numeric, categorical and text columns present in ``df``.

    numeric -> median-imputed signed log1p, z-scored (one column); categorical with at most ``max_levels``
    levels -> one-hot of every level (missing is a level), wider ones are left out; text -> TF-IDF
    (word 1-2-grams) -> truncated SVD to ``text_dim``. Returns float32 (n, p).
    """
    from sklearn.decomposition import TruncatedSVD

    from product_repr.features.space import signed_log1p
    from product_repr.data.schema import Role, as_numbers

    blocks = []
    for info in schema.columns:
        if info.name not in df.columns:
            continue
        col = df[info.name]
        if info.role is Role.NUMERIC:
            v = as_numbers(col, info.parse)
            v = np.where(np.isfinite(v), v, np.nanmedian(v) if np.isfinite(v).any() else 0.0)
            v = signed_log1p(v)
            sd = v.std()
            blocks.append(((v - v.mean()) / (sd if sd > 0 else 1.0))[:, None])
        elif info.role is Role.CATEGORICAL:
            values = col.astype("string").str.strip().fillna("(missing)")
            if values.nunique() <= max_levels:
                blocks.append(pd.get_dummies(values).to_numpy(dtype=np.float64))
        elif info.role is Role.TEXT:
            m = tfidf(col.astype("string").fillna("").tolist())
            k = min(text_dim, m.shape[1] - 1, m.shape[0] - 1)
            if k >= 1:
                blocks.append(TruncatedSVD(k, random_state=seed).fit_transform(m))
    if not blocks:
        return np.zeros((len(df), 1), dtype=np.float32)
    return np.hstack(blocks).astype(np.float32)


def sentence_vectors(texts: list[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 of each text (the weights the product ships; the encoding cache applies): (n, 384)."""
    from product_repr.features import sentence

    return np.asarray(sentence.encode(texts, sentence.DEFAULT_MODEL), dtype=np.float32)


def beside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a`` and ``b`` side by side, each scaled to a total variance of 1, so each counts the same."""
    def unit(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, dtype=np.float64)
        return m / np.sqrt(max(float(m.var(axis=0).sum()), 1e-12))
    return np.hstack([unit(a), unit(b)]).astype(np.float32)


def sparse_neighbours(M: sp.csr_matrix, k: int = K, *, block: int = 1024) -> np.ndarray:
    """Exact cosine top-``k`` neighbours of every row of sparse ``M`` (n, V), self left out: int64 (n, k).

    Rows are L2-normalised here; ties are broken by row index (stable sort).
    """
    M = sp.csr_matrix(M, dtype=np.float64)
    norms = np.sqrt(np.asarray(M.multiply(M).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    M = sp.csr_matrix(sp.diags(1.0 / norms) @ M)
    n = M.shape[0]
    out = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, block):
        stop = min(n, start + block)
        S = (M[start:stop] @ M.T).toarray()
        S[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        part = np.argpartition(-S, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(S, part, axis=1), axis=1, kind="stable")
        out[start:stop] = np.take_along_axis(part, order, axis=1)
    return out


def sparse_knn_precision(M: sp.csr_matrix, labels: np.ndarray, k: int = K) -> float:
    """Leave-one-out cosine kNN precision of sparse rows ``M`` (n, V) on ``labels`` (n,), all labelled."""
    codes = pd.factorize(pd.Series(labels, dtype=object))[0]
    ids = sparse_neighbours(M, k)
    return float((codes[ids] == codes[:, None]).mean())


def sparse_probe_accuracy(M: sp.csr_matrix, labels: np.ndarray, *, folds: int = 3, seed: int = 0) -> float:
    """Stratified ``folds``-fold accuracy of a logistic regression on sparse TF-IDF rows (not standardised).

    Classes with fewer than ``folds`` rows are left out, as in ``evaluation.linear_probe_accuracy``.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    codes = pd.factorize(pd.Series(labels, dtype=object))[0]
    rows = np.flatnonzero(np.bincount(codes)[codes] >= folds)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(LogisticRegression(C=10.0, max_iter=300), M[rows], codes[rows], cv=cv)
    return float(np.mean(scores))


# ---------------------------------------------------------------------------------------------------------
# the product's path: FeatureSpace -> learner -> Z
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """What a run varies: FeatureSpace options and learner overrides (empty = the product's defaults)."""

    features: dict = field(default_factory=dict)  # FeatureSpace keyword arguments, e.g. {"text_dim": 256}
    learner: dict = field(default_factory=dict)  # config overrides, e.g. {"epochs": 200}

    def key(self) -> str:
        """A stable string naming these settings in the results cache ("default" when empty)."""
        if not self.features and not self.learner:
            return "default"
        return json.dumps({"features": self.features, "learner": self.learner}, sort_keys=True)


def feature_matrix(df: pd.DataFrame, catalog: Catalog, settings: Settings):
    """(schema, FeatureSpace, X float32 (n, p)) exactly as the product builds them, twins excluded."""
    from product_repr.features.space import FeatureSpace
    from product_repr.data.schema import infer_schema

    schema = infer_schema(df)
    dropped = [c for c in catalog.excluded if c in schema.names()]
    fs = FeatureSpace(schema, exclude=dropped, **settings.features)
    X = fs.fit_transform(df)
    return schema, fs, X


def train_learner(name: str, X: np.ndarray, spans, *, seed: int, overrides: dict, time_limit: float,
                  log: Callable[[str], None] = print):
    """Fit learner ``name`` (default config + ``overrides`` + ``seed``) on X; stop after ``time_limit`` s.

    Returns (Z float32 (n, d), info dict with seconds, epochs run, best epoch, whether time ran out).
    """
    import torch

    from product_repr import learners

    torch.set_num_threads(1)
    cls = learners.get(name)
    config = cls.Config.from_dict({**overrides, "seed": seed})
    t0 = time.perf_counter()
    state = {"timed_out": False, "last": 0.0}

    def progress(report) -> bool:
        now = time.perf_counter() - t0
        if now - state["last"] > 15:
            state["last"] = now
            log(f"      step {report.step}/{report.steps} train {report.train_loss:.4f} "
                f"val {report.val_loss if report.val_loss is not None else float('nan'):.4f} [{now:.0f}s]")
        if now > time_limit:
            state["timed_out"] = True
            return True
        return None

    model = cls(config).fit(X, spans=spans, progress=progress, device="cpu")
    Z = model.encode(X)
    history = model.history_ or [{}]
    info = {"seconds": round(time.perf_counter() - t0, 1), "steps": history[-1].get("step"),
            "epochs": history[-1].get("epoch"), "timed_out": state["timed_out"],
            "config": config.to_dict()}
    return Z, info


# ---------------------------------------------------------------------------------------------------------
# results cache and table
# ---------------------------------------------------------------------------------------------------------
def cache_key(catalog: str, method: str, seed: int, rows: int, settings_key: str) -> str:
    return f"{catalog}|{method}|seed={seed}|rows={rows}|{settings_key}"


def load_results(path: Path | None = None) -> dict:
    path = Path(path or RESULTS)
    return json.loads(path.read_text()) if path.exists() else {}


def save_results(results: dict, path: Path | None = None) -> None:
    path = Path(path or RESULTS)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True))
    tmp.replace(path)


def fmt(values: list[float]) -> str:
    """"0.712" for one value, "0.712 ± 0.004" for several, "–" for none."""
    vals = [v for v in values if v is not None and np.isfinite(v)]
    if not vals:
        return "–"
    if len(vals) == 1:
        return f"{vals[0]:.3f}"
    return f"{np.mean(vals):.3f} ± {np.std(vals, ddof=1):.3f}"


def table(results: dict, catalogs: list[str], methods: list[str], seeds: list[int], rows: int,
          settings_key: str, metric: str) -> str:
    """A markdown table: one row per catalog, one column per method; learners as mean ± std over seeds."""
    head = "| catalog (label) | " + " | ".join(TITLES.get(m, m) for m in methods) + " |"
    lines = [head, "|" + " --- |" * (len(methods) + 1)]
    for c in catalogs:
        cells = []
        for m in methods:
            ss = [0] if m in BASELINES else seeds
            key_settings = settings_key if m in ("ours_x",) or m not in BASELINES else "default"
            vals = [results.get(cache_key(c, m, s, rows, key_settings), {}).get(metric) for s in ss]
            cells.append(fmt(vals))
        best = _best_marks(cells)
        lines.append(f"| {c} (`{CATALOGS[c].label}`) | " + " | ".join(best) + " |")
    return "\n".join(lines)


#: issue 6's baseline figures (raw, PCA-32, TF-IDF), kNN@10 on 8,000 rows; the goal is checked against the
#: higher of these and our own measurement of each baseline
ISSUE_BASELINES = {
    "amazon_sales_india": (0.714, 0.688, 0.868),
    "bigbasket_products": (0.577, 0.449, 0.767),
    "instacart_products": (0.448, 0.440, 0.515),
    "hm_articles": (0.614, 0.611, 0.893),
}
GOAL_MARGIN = 0.02


def goal_table(results: dict, catalogs: list[str], learner_names: list[str], seeds: list[int], rows: int,
               settings_key: str, default: str) -> str:
    """Issue 6's check per catalog: best learner (mean over seeds) minus the best baseline (the higher of the
    issue's figure and ours for raw, PCA-32 and TF-IDF), and the default learner against raw and PCA."""
    def mean(c: str, m: str, ss: list[int], key: str) -> float | None:
        vals = [results.get(cache_key(c, m, s, rows, key), {}).get("knn@10") for s in ss]
        vals = [v for v in vals if v is not None]
        return float(np.mean(vals)) if vals else None

    lines = ["| catalog | best baseline | best learner | margin (goal ≥ +0.02) | default learner vs raw / PCA |",
             "| --- | --- | --- | --- | --- |"]
    for c in catalogs:
        issue = ISSUE_BASELINES.get(c, (0.0, 0.0, 0.0))
        ours = {m: mean(c, m, [0], "default") for m in ("raw", "pca32", "tfidf_text", "tfidf_strings")}
        raw = max(issue[0], ours["raw"] or 0.0)
        pca = max(issue[1], ours["pca32"] or 0.0)
        tfidf = max(issue[2], ours["tfidf_text"] or 0.0, ours["tfidf_strings"] or 0.0)
        base_name, base = max((("raw", raw), ("PCA-32", pca), ("TF-IDF", tfidf)), key=lambda t: t[1])
        learned = {m: mean(c, m, seeds, settings_key) for m in learner_names}
        learned = {m: v for m, v in learned.items() if v is not None}
        if not learned:
            lines.append(f"| {c} | {base_name} {base:.3f} | – | – | – |")
            continue
        best_m = max(learned, key=learned.get)
        margin = learned[best_m] - base
        verdict = "met" if margin >= GOAL_MARGIN else "not met"
        d = learned.get(default)
        beats = "–" if d is None else (f"{d:.3f} vs {raw:.3f} / {pca:.3f}: "
                                       + ("beats both" if d > raw and d > pca else "does not beat both"))
        lines.append(f"| {c} | {base_name} {base:.3f} | {best_m} {learned[best_m]:.3f} | "
                     f"{margin:+.3f} ({verdict}) | {beats} |")
    return "\n".join(lines)


#: the baselines a practitioner would pick instead of training (issue 13), in the order the table shows them
PRACTITIONER = ("raw", "pca32", "tfidf_text", "tfidf_strings", "sentence", "sentence_raw")


def practitioner_table(results: dict, catalogs: list[str], learner: str, seeds: list[int], rows: int,
                       settings_key: str) -> str:
    """kNN@10 of ``learner`` (mean over ``seeds``) beside the practitioner's baselines on each table, with its
    margin over the best of them and whether it is below raw features or the best single baseline."""
    def value(c: str, m: str, ss: list[int], key: str) -> float | None:
        vals = [results.get(cache_key(c, m, s, rows, key), {}).get("knn@10") for s in ss]
        vals = [v for v in vals if v is not None]
        return float(np.mean(vals)) if vals else None

    head = ["table", *(TITLES[m] for m in PRACTITIONER), f"{learner} (seeds {' '.join(map(str, seeds))})",
            "best baseline", "margin", "below raw or the best baseline?"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for c in catalogs:
        base = {m: value(c, m, [0], "default") for m in PRACTITIONER}
        ours = value(c, learner, seeds, settings_key)
        if ours is None and all(v is None for v in base.values()):
            continue
        known = {m: v for m, v in base.items() if v is not None}
        best = max(known, key=known.get) if known else None
        margin = None if ours is None or best is None else ours - known[best]
        below = "—" if ours is None else ("**yes**" if margin is not None and margin < 0 else "no")
        cells = [c, *(fmt([base[m]]) for m in PRACTITIONER), fmt([ours]),
                 f"{TITLES[best]} {known[best]:.3f}" if best else "–",
                 "–" if margin is None else f"{margin:+.3f}", below]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _best_marks(cells: list[str]) -> list[str]:
    nums = [float(c.split()[0]) if c[0].isdigit() else -1.0 for c in cells]
    top = max(nums)
    return [f"**{c}**" if n == top and n >= 0 else c for c, n in zip(cells, nums)]


def _default_learner() -> str:
    from product_repr import learners

    return learners.DEFAULT


def machine() -> dict:
    """nproc, CPU model, versions of the packages that matter."""
    import sklearn
    import torch

    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import faiss
        faiss_version = getattr(faiss, "__version__", "?")
    except ImportError:
        faiss_version = "absent"
    from product_repr import __version__
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "versions": f"product_repr {__version__}, torch {torch.__version__}, numpy {np.__version__}, "
                        f"pandas {pd.__version__}, scikit-learn {sklearn.__version__}, faiss {faiss_version}"}


# ---------------------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------------------
CODE_FILES = ("features", "data/schema.py", "data/parsing.py", "learners", "compute.py", "analysis/neighbours.py")


def code_fingerprint(root: Path = ROOT / "product_repr") -> str:
    """12 hex digits of sha256 over the package files that decide X and Z; stored with every result."""
    import hashlib

    digest = hashlib.sha256()
    for name in CODE_FILES:
        path = root / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            if f.exists():
                digest.update(f.relative_to(root).as_posix().encode())
                digest.update(f.read_bytes())
    return digest.hexdigest()[:12]


@dataclass
class Prepared:
    """One catalog's sampled rows, labels and the product's feature matrix, shared by all its methods."""

    catalog: Catalog
    inputs: pd.DataFrame
    labels: np.ndarray
    spans: list
    X: np.ndarray
    base_schema: object


def prepare(catalog: Catalog, rows: int, settings: Settings, datasets: Path,
            log: Callable[[str], None] = print) -> Prepared:
    """Sample the catalog, keep the twins out, build the FeatureSpace matrix (timed in the log)."""
    from product_repr.data.schema import infer_schema

    t0 = time.perf_counter()
    df = sample_rows(load_catalog(catalog, datasets), catalog.label, rows, seed=0, drop_labels=catalog.drop_labels)
    labels = label_values(df, catalog.label)
    inputs = input_frame(df, catalog)
    _, fs, X = feature_matrix(inputs, catalog, settings)
    log(f"{catalog.name}: {len(df)} rows, {len(set(labels))} classes, input columns {list(inputs.columns)}; "
        f"X {X.shape} [{time.perf_counter() - t0:.1f}s]")
    return Prepared(catalog, inputs, labels, list(fs.spans), X, infer_schema(inputs))


def measure(prep: Prepared, method: str, seed: int, *, settings: Settings, fit_seconds: float,
            log: Callable[[str], None] = print) -> dict | None:
    """Build one method's vectors for ``prep`` and score them: the cache entry (kNN@10, probe, timings);
    None for a baseline the table does not have (a text baseline without text columns)."""
    from product_repr.analysis import evaluation

    t = time.perf_counter()
    extra: dict = {}
    if method == "raw":
        Z = raw_features(prep.inputs, prep.base_schema)
    elif method == "pca32":
        Z = evaluation.pca_baseline(raw_features(prep.inputs, prep.base_schema), PCA_DIM)
    elif method in ("tfidf_text", "tfidf_strings"):
        if method == "tfidf_text":
            cols = prep.base_schema.names("text")
        else:
            cols = [c for c in string_columns(prep.inputs) if c != prep.base_schema.id_column]
        texts = documents(prep.inputs, cols) if cols else []
        if not any(t.strip() for t in texts):
            return None  # no text to weigh: this baseline does not exist for the table
        Z = tfidf(texts)
        extra["columns"] = cols
    elif method in ("sentence", "sentence_raw"):
        cols = prep.base_schema.names("text")
        if not cols:
            return None  # no text to encode: this baseline does not exist for the table
        Z = sentence_vectors(documents(prep.inputs, cols))
        if method == "sentence_raw":
            Z = beside(Z, raw_features(prep.inputs.drop(columns=cols), prep.base_schema))
        extra["columns"] = cols
    elif method == "ours_x":
        Z = prep.X
        extra["spans"] = [[s.name, s.role.value, s.width] for s in prep.spans]
    else:
        log(f"  {prep.catalog.name}: training {method} seed {seed} (limit {fit_seconds:.0f}s)")
        Z, extra = train_learner(method, prep.X, prep.spans, seed=seed, overrides=settings.learner,
                                 time_limit=fit_seconds, log=log)
    extra.setdefault("seconds", round(time.perf_counter() - t, 1))
    t = time.perf_counter()
    if sp.issparse(Z):
        knn, probe = sparse_knn_precision(Z, prep.labels), sparse_probe_accuracy(Z, prep.labels)
    else:
        knn = evaluation.knn_precision(Z, prep.labels, K)
        probe = evaluation.linear_probe_accuracy(Z, prep.labels)
    log(f"  {prep.catalog.name:20s} {TITLES.get(method, method):15s} seed {seed}: kNN@10 {knn:.3f}  "
        f"probe {probe:.3f}  (dim {Z.shape[1]}, {extra['seconds']}s)")
    return {"knn@10": round(knn, 4), "probe": round(probe, 4), "dim": int(Z.shape[1]),
            "eval_seconds": round(time.perf_counter() - t, 1), **extra,
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def plan(catalogs: list[str], learner_names: list[str], seeds: list[int], rows: int, settings: Settings,
         results: dict, *, baselines: bool, code: str | None) -> list[tuple[str, str, int, str]]:
    """(catalog, method, seed, settings key) still to measure: baselines first, then learner by learner
    (the default learner first) over the catalogs, seed by seed. A result measured with other code
    (features, text, schema, training, learners changed) is measured again; the baselines that do not
    depend on the package (raw, PCA, TF-IDF) are kept."""
    from product_repr import learners

    skey = settings.key()
    todo = []

    def missing(c: str, m: str, s: int, key: str, code_bound: bool) -> bool:
        entry = results.get(cache_key(c, m, s, rows, key))
        return entry is None or (code_bound and code is not None and entry.get("code") != code)

    if baselines:
        for c in catalogs:
            for m in BASELINES:
                key = skey if m == "ours_x" else "default"
                if missing(c, m, 0, key, m == "ours_x"):
                    todo.append((c, m, 0, key))
    order = sorted(learner_names, key=lambda n: n != learners.DEFAULT)
    for s in seeds:
        for m in order:
            for c in catalogs:
                if missing(c, m, s, skey, True):
                    todo.append((c, m, s, skey))
    return todo


def write_report(out: Path, *, results: dict, catalogs: list[str], methods: list[str], seeds: list[int],
                 rows: int, settings: Settings, started: datetime) -> str:
    """The results tables (kNN@10, linear probe) with date, machine, seeds, versions; written to ``out``.

    Only the part between the ``<!-- quality:begin -->`` / ``<!-- quality:end -->`` markers of ``out`` is
    replaced, so the prose around it is kept.
    """
    m = machine()
    codes, timed_out = set(), []
    for c in catalogs:
        for meth in methods:
            if meth in BASELINES and meth != "ours_x":
                continue
            for seed in (seeds if meth not in BASELINES else [0]):
                entry = results.get(cache_key(c, meth, seed, rows, settings.key()), {})
                if entry.get("code"):
                    codes.add(entry["code"])
                if entry.get("timed_out"):
                    timed_out.append(f"{c}/{meth}/seed {seed} ({entry.get('epochs')} epochs)")
    block = [
        "<!-- quality:begin -->",
        f"Generated by `python3 bench/quality.py` on {started.strftime('%Y-%m-%d %H:%M UTC')}; machine: "
        f"{m['nproc']} cores ({m['cpu']}), shared with other jobs; Python {m['python']}; {m['versions']}.",
        f"Rows per catalog: at most {rows} (seed 0); learner seeds: {' '.join(map(str, seeds))} "
        f"(mean ± sample std where more than one finished; baselines are deterministic, seed 0); "
        f"settings: `{settings.key()}`. Best per row in bold. Package code fingerprint(s) of the ours-X and "
        f"learner figures: {', '.join(sorted(codes)) or 'n/a'}.",
        f"Fits stopped by the time limit (best weights kept): {', '.join(timed_out) or 'none'}.",
        "",
        "**kNN@10 precision** (leave-one-out, cosine):",
        "",
        table(results, catalogs, methods, seeds, rows, settings.key(), "knn@10"),
        "",
        "**Goal of issue 6** (mean kNN@10 over the seeds; baselines: the higher of the issue's figure and "
        "ours):",
        "",
        goal_table(results, catalogs, [m for m in methods if m not in BASELINES], seeds, rows, settings.key(),
                   _default_learner()),
        "",
        "**Linear-probe accuracy** (3-fold, standardised logistic regression; TF-IDF columns: logistic "
        "regression on the sparse TF-IDF, C = 10, not standardised):",
        "",
        table(results, catalogs, methods, seeds, rows, settings.key(), "probe"),
        "",
        "<!-- quality:end -->",
    ]
    text = "\n".join(block)
    if out is not None:
        old = out.read_text() if out.exists() else ""
        if "<!-- quality:begin -->" in old and "<!-- quality:end -->" in old:
            head, rest = old.split("<!-- quality:begin -->", 1)
            tail = rest.split("<!-- quality:end -->", 1)[1]
            new = head + text + tail
        else:
            new = (old.rstrip() + "\n\n" if old else "# Representation quality\n\n") + text + "\n"
        out.write_text(new)
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from product_repr import learners

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--catalogs", nargs="+", default=list(MAIN_CATALOGS), choices=list(CATALOGS),
                   help="catalogs; NAME:no-text and NAME:text-only are NAME with only those kinds of columns")
    p.add_argument("--learners", nargs="*", default=list(learners.REGISTRY), help="learner names; none = baselines only")
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--rows", type=int, default=8000)
    p.add_argument("--out", type=Path, nargs="+", default=[ROOT / "docs" / "QUALITY.md", ROOT / "docs" / "BENCHMARKS.md"],
                   help="markdown files whose quality block is replaced ('-' = print only)")
    p.add_argument("--datasets", type=Path, default=DATASETS)
    p.add_argument("--results", type=Path, default=RESULTS, help="JSON cache of every measured figure")
    p.add_argument("--fit-seconds", type=float, default=300.0, help="time limit per learner fit (keeps best weights)")
    p.add_argument("--budget-minutes", type=float, default=90.0, help="stop starting new fits after this long")
    p.add_argument("--no-baselines", action="store_true")
    p.add_argument("--fresh", action="store_true", help="ignore cached results")
    p.add_argument("--keep-stale", action="store_true",
                   help="reuse cached results measured with other package code (default: measure them again)")
    p.add_argument("--feature", action="append", default=[], metavar="KEY=VALUE",
                   help="FeatureSpace option, e.g. text_dim=256 (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="learner config override, e.g. epochs=200 (repeatable)")
    return p.parse_args(argv)


def _pairs(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(timezone.utc)
    deadline = time.time() + 60 * args.budget_minutes
    settings = Settings(features=_pairs(args.feature), learner=_pairs(args.set))
    results = {} if args.fresh else load_results(args.results)
    global RESULTS
    RESULTS = args.results

    def log(msg: str) -> None:
        print(f"[{datetime.now(timezone.utc).strftime('%H:%M:%S')}] {msg}", flush=True)

    code = code_fingerprint()
    todo = plan(args.catalogs, list(args.learners), args.seeds, args.rows, settings, results,
                baselines=not args.no_baselines, code=None if args.keep_stale else code)
    log(f"{len(todo)} measurements to make (code {code}, settings {settings.key()})")
    prepared: dict[str, Prepared] = {}
    for i, (name, method, seed, key) in enumerate(todo, 1):
        left = deadline - time.time()
        if left < 30:
            log(f"time budget spent: {len(todo) - i + 1} measurements left undone")
            break
        if name not in prepared:
            try:
                prepared[name] = prepare(CATALOGS[name], args.rows, settings, args.datasets, log)
            except NoInput as why:
                log(f"skipped: {why}")
                prepared[name] = None
        if prepared[name] is None:
            continue
        log(f"[{i}/{len(todo)}] {name} {method} seed {seed}")
        entry = measure(prepared[name], method, seed, settings=settings, fit_seconds=min(args.fit_seconds, left),
                        log=log)
        if entry is None:
            continue
        entry["code"] = code
        results[cache_key(name, method, seed, args.rows, key)] = entry
        save_results(results)
    methods = [*BASELINES, *args.learners]
    if args.learners:
        print(practitioner_table(results, args.catalogs, _default_learner() if _default_learner() in args.learners
                                 else args.learners[0], args.seeds, args.rows, settings.key()) + "\n")
    outs = [None] if [str(o) for o in args.out] == ["-"] else args.out
    for out in outs:
        text = write_report(out, results=results, catalogs=args.catalogs, methods=methods, seeds=args.seeds,
                            rows=args.rows, settings=settings, started=started)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
