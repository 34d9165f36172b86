"""Planted anomalies and near-duplicates in real catalogs: does each method find them?

For each catalog of ``../shared/datasets`` (sampled like bench/quality.py, the label and its taxonomy
columns kept out of the input as a CLI user would with ``--label`` and ``--exclude``), 1 % of the rows get
one planted fault each, in turn:

- ``numeric``: a numeric value multiplied or divided by 40;
- ``title``: a text column's value replaced by the one of a product with another label;
- ``category``: a categorical value replaced by a level that never occurs with the product's label.

Then copies of another 1 % of the rows (never an anomalous one) are appended under new product ids, as
near-duplicates: the title column (``data.titles.title_column``) varied (one word dropped, two neighbouring
words swapped, or a word such as "New" inserted), every plain numeric column multiplied by
uniform(0.97, 1.03) (rounded like the original), every other column copied.

The default learner is trained once per catalog through ``pipeline.build_run`` with its default settings
and the analysis on (what ``python -m product_repr train`` does), then every method ranks the products:

- ``anomaly score``: the run's own ``run.anomalies["score"]`` (``product_repr.analysis.anomalies``: each
  column predicted from the others);
- ``reconstruction error``: the run's plain reconstruction error total (``run.reconstruction["error"]``);
- ``IsolationForest`` and ``LocalOutlierFactor`` (scikit-learn defaults) on the same encoded features X;
- ``max robust z``: the largest robust z-score of the product's numeric values (median / MAD).

and lists duplicate pairs:

- ``duplicate finder``: the run's candidates ``run.duplicates`` at ``analysis.duplicates.THRESHOLD``
  (column-by-column similarity);
- ``cosine X``: each product's 10 nearest neighbours by cosine of X, pairs with cosine >= 0.95;
- ``cosine embedding``: the same over the learned embeddings.

Prints two markdown tables: recall of the planted anomalies in each method's top 2 %, overall and per kind;
and, per duplicate method, the share of planted pairs listed, the other pairs listed (how many of them are
exact copies in every column but the id, i.e. duplicates already in the catalog, and how many are identical
in every encoded column, which no method can tell from a copy), and the rank of the first pair that is not
planted in the method's whole ranked candidate list. ``--demo`` uses the demo catalog's
own planted anomalies and near-duplicates, nothing added.

    python3 -m bench.anomalies [--catalogs amazon_sales_india bigbasket_products] [--rows 4000] [--demo]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.quality import CATALOGS, DATASETS, load_catalog, sample_rows

KINDS = ("numeric", "title", "category")
TOP = 0.02
SHARE = 0.01
#: share of rows copied as near-duplicates
DUPLICATE_SHARE = 0.01
#: words a copy's title may gain
INSERTED = ("New", "Original", "Premium", "Combo")
#: plain cosine lists: each product's K nearest neighbours, pairs with cosine >= COSINE
K = 10
COSINE = 0.95


@dataclass
class Planted:
    table: pd.DataFrame
    rows: np.ndarray  # positions of the planted rows
    kinds: list[str]
    pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))  # (original, copy) positions


def plant(df: pd.DataFrame, schema, label: str, excluded: set[str], *, share: float = SHARE, seed: int = 0) -> Planted:
    """A copy of ``df`` with ``share`` of its rows given one fault each (kinds in turn, where possible)."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    usable = [c.name for c in schema if c.name not in excluded and c.name != label]
    numeric = [c for c in usable if schema.role(c).value == "numeric" and schema.parse(c) in (None, "number_text")]
    text = [c for c in usable if schema.role(c).value == "text"]
    categorical = [c for c in usable if schema.role(c).value == "categorical"]
    labels = df[label].astype(str).to_numpy()
    n = max(3, int(round(share * len(df))))
    rows = rng.choice(len(df), size=n, replace=False)
    kinds: list[str] = []
    for j, i in enumerate(rows):
        for kind in np.roll(KINDS, -j):
            if kind == "numeric" and numeric:
                col = numeric[rng.integers(len(numeric))]
                value = pd.to_numeric(pd.Series([out.at[i, col]]), errors="coerce").iloc[0]
                if not np.isfinite(value) or value == 0:
                    continue
                out[col] = out[col].astype("float64") if out[col].dtype != object else out[col]
                out.at[i, col] = value * 40.0 if rng.random() < 0.5 else value / 40.0
            elif kind == "title" and text:
                col = text[rng.integers(len(text))]
                others = np.flatnonzero((labels != labels[i]) & df[col].notna().to_numpy())
                if not len(others):
                    continue
                out.at[i, col] = df.at[int(rng.choice(others)), col]
            elif kind == "category" and categorical:
                col = categorical[rng.integers(len(categorical))]
                seen = set(df.loc[labels == labels[i], col].dropna().astype(str))
                levels = {str(v): v for v in df[col].dropna()}  # the level as the column holds it (int codes)
                foreign = sorted(set(levels) - seen)
                if not foreign:
                    continue
                out.at[i, col] = levels[foreign[rng.integers(len(foreign))]]
            else:
                continue
            kinds.append(str(kind))
            break
        else:
            kinds.append("none")
    keep = [k != "none" for k in kinds]
    return Planted(out, rows[keep], [k for k in kinds if k != "none"])


def recall(score: np.ndarray, planted: Planted) -> dict[str, float]:
    """Share of planted rows (all, and per kind) among the top ``TOP`` of ``score``."""
    top = set(np.argsort(-score, kind="stable")[: int(np.ceil(TOP * len(score)))].tolist())
    found = np.array([r in top for r in planted.rows])
    kinds = np.array(planted.kinds)
    out = {"all": float(found.mean())}
    for kind in KINDS:
        if (kinds == kind).any():
            out[kind] = float(found[kinds == kind].mean())
    return out


def robust_z(df: pd.DataFrame, schema, columns: list[str]) -> np.ndarray:
    from product_repr.data.schema import as_numbers

    worst = np.zeros(len(df))
    for col in columns:
        v = np.asarray(as_numbers(df[col], schema.parse(col)), dtype=np.float64)
        med = np.nanmedian(v)
        mad = 1.4826 * np.nanmedian(np.abs(v - med))
        if np.isfinite(mad) and mad > 0:
            worst = np.maximum(worst, np.nan_to_num(np.abs(v - med) / mad))
    return worst


def vary_title(rng: np.random.Generator, title: str) -> str:
    """A near-duplicate's title: one word dropped (never the first), two neighbouring words swapped, or a
    word of ``INSERTED`` added (as the demo catalog varies its copies)."""
    words = str(title).split()
    kind = int(rng.integers(3))
    if kind == 0 and len(words) > 3:
        del words[int(rng.integers(1, len(words)))]
    elif kind == 1 and len(words) > 2:
        i = int(rng.integers(1, len(words) - 1))
        words[i], words[i + 1] = words[i + 1], words[i]
    else:
        words.insert(int(rng.integers(1, len(words) + 1)), INSERTED[int(rng.integers(len(INSERTED)))])
    return " ".join(words)


def _decimals(value: float) -> int:
    """How many decimals ``value`` is written with (0 for a whole number, at most 6)."""
    if float(value).is_integer():
        return 0
    text = np.format_float_positional(float(value), trim="-")
    return min(6, len(text.split(".")[1])) if "." in text else 0


def _new_ids(ids: pd.Series, sources: np.ndarray) -> list:
    """Unused product ids for copies of the rows ``sources``: the next integers for a numeric id column (or
    one of digit strings, zero-padded like them), else the original id + ``-copy``."""
    n = len(sources)
    if pd.api.types.is_integer_dtype(ids.dtype):
        top = int(ids.max())
        return [top + 1 + j for j in range(n)]
    text = ids.astype("string")
    if len(text) and text.notna().all() and text.str.fullmatch(r"\d+").all():
        top, width = int(text.astype("int64").max()), int(text.str.len().max())
        return [str(top + 1 + j).zfill(width) for j in range(n)]
    used = set(text.dropna())
    out = []
    for j, i in enumerate(sources):
        new = f"{ids.iloc[int(i)]}-copy"
        while new in used:
            new += f"{j}"
        used.add(new)
        out.append(new)
    return out


def plant_duplicates(planted: Planted, schema, *, share: float = DUPLICATE_SHARE, seed: int = 0) -> Planted:
    """``planted`` with copies of ``share`` of its rows appended (never an anomalous row, nor one without a
    title), each under a new product id, its title varied (:func:`vary_title`), each plain numeric column
    times uniform(0.97, 1.03) rounded like the original; ``pairs``: (original, copy) row positions.

    ``schema``: the planted table's. Without an id column the product ids are row positions, so the appended
    rows are new products as they are.
    """
    from product_repr.data.titles import title_column

    rng = np.random.default_rng([seed, 1])  # its own stream: the anomalies are planted exactly as before
    df = planted.table
    title = title_column(df, schema)
    id_col = schema.id_column if schema.id_column in df.columns else None
    numeric = [c.name for c in schema if c.role.value == "numeric" and c.parse is None and c.name != id_col
               and pd.api.types.is_numeric_dtype(df[c.name].dtype) and not pd.api.types.is_bool_dtype(df[c.name].dtype)]
    pool = np.setdiff1d(np.arange(len(df)), planted.rows)
    if title is not None:
        titles = df[title].astype("string").str.strip()
        pool = pool[(titles.notna() & (titles != "")).fillna(False).to_numpy(dtype=bool)[pool]]
    n = min(len(pool), max(2, round(share * len(df))))
    sources = np.sort(rng.choice(pool, size=n, replace=False))
    copies = df.iloc[sources].copy().reset_index(drop=True)
    if title is not None:
        copies[title] = [vary_title(rng, t) for t in copies[title]]
    for col in numeric:
        values = copies[col].to_numpy(dtype=np.float64)
        factor = rng.uniform(0.97, 1.03, size=len(values))
        varied = [v if not np.isfinite(v) else round(v * f, _decimals(v)) for v, f in zip(values, factor)]
        if pd.api.types.is_integer_dtype(df[col].dtype):
            copies[col] = np.array(varied, dtype=np.float64).round().astype(df[col].dtype)
        else:
            copies[col] = np.array(varied, dtype=np.float64)
    if id_col is not None:
        copies[id_col] = _new_ids(df[id_col], sources)
    table = pd.concat([df, copies], ignore_index=True)
    pairs = np.column_stack([sources, len(df) + np.arange(n)]).astype(np.int64)
    return Planted(table, planted.rows, planted.kinds, pairs)


def cosine_pairs(Z: np.ndarray, k: int = K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, cosine): every product with each of its ``k`` nearest cosine neighbours in ``Z``, each
    unordered pair once (a < b), most similar first."""
    from product_repr.analysis import neighbours

    n = len(Z)
    ids, sims = neighbours.all_neighbours(np.asarray(Z, dtype=np.float32), min(k, n - 1))
    a = np.repeat(np.arange(n), ids.shape[1])
    b, c = ids.ravel(), sims.ravel().astype(np.float64)
    keep = b >= 0
    a, b, c = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep]), c[keep]
    frame = pd.DataFrame({"a": a, "b": b, "c": c}).groupby(["a", "b"], as_index=False)["c"].max()
    frame = frame.sort_values(["c", "a", "b"], ascending=[False, True, True], kind="stable")
    return frame["a"].to_numpy(), frame["b"].to_numpy(), frame["c"].to_numpy()


def exact_copies(table: pd.DataFrame, columns: list[str], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Boolean (len(a),): rows a and b hold the same value (or both nothing) in every one of ``columns``."""
    same = np.ones(len(a), dtype=bool)
    for col in columns:
        va = table[col].iloc[a].reset_index(drop=True)
        vb = table[col].iloc[b].reset_index(drop=True)
        same &= ((va == vb) | (va.isna() & vb.isna())).to_numpy(dtype=bool)
    return same


def duplicate_scores(a: np.ndarray, b: np.ndarray, s: np.ndarray, threshold: float, truth: set,
                     table: pd.DataFrame, columns: list[str], inputs: list[str]) -> dict:
    """One method's figures from its ranked candidate pairs (row positions ``a``, ``b``, most similar first,
    scores ``s``): share of the ``truth`` pairs listed at ``threshold``, the other pairs listed, how many of
    those are exact copies in ``columns`` (every column but the id) and how many are identical in ``inputs``
    (the encoded columns: no method can tell those apart), and the rank (1-based) and score of the first
    non-planted candidate."""
    key = [(int(min(x, y)), int(max(x, y))) for x, y in zip(a, b)]
    planted = np.array([k in truth for k in key], dtype=bool)
    listed = s >= threshold
    found = {k for k, p, l in zip(key, planted, listed) if p and l}
    other = listed & ~planted
    false = np.flatnonzero(~planted)
    return {
        "found": len(found) / len(truth) if truth else float("nan"),
        "found_n": len(found),
        "other": int(other.sum()),
        "exact": int(exact_copies(table, columns, a[other], b[other]).sum()) if other.any() else 0,
        "same_inputs": int(exact_copies(table, inputs, a[other], b[other]).sum()) if other.any() else 0,
        "first_false": int(false[0]) + 1 if len(false) else None,
        "first_false_score": float(s[false[0]]) if len(false) else None,
        "candidates": len(key),
    }


def evaluate(df: pd.DataFrame, label: str | None, excluded: set[str], *, seed: int = 0,
             planted: Planted | None = None) -> dict[str, dict[str, float]]:
    """Plant (unless ``planted`` is given), train once with the analysis on, and measure every method."""
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor

    from product_repr import infer_schema, pipeline
    from product_repr.analysis import duplicates

    t_all = time.perf_counter()
    if planted is None:
        schema = infer_schema(df)
        planted = plant(df, schema, label, excluded, seed=seed)
        planted = plant_duplicates(planted, infer_schema(planted.table), seed=seed)
    table = planted.table
    schema = infer_schema(table)
    t0 = time.perf_counter()
    run = pipeline.build_run(table, schema, exclude=sorted(excluded - {label}), label=label, analysis=True)
    build_s = time.perf_counter() - t0
    timings = run.info.get("timings", {})
    X = run.feature_space.transform(table)
    numeric = [c.name for c in schema if c.role.value == "numeric" and c.name not in excluded]
    methods = {
        "anomaly score": run.anomalies["score"].to_numpy(dtype=np.float64),
        "reconstruction error": run.reconstruction["error"].to_numpy(dtype=np.float64),
        "IsolationForest": -IsolationForest(random_state=seed).fit(X).score_samples(X),
        "LocalOutlierFactor": -LocalOutlierFactor().fit(X).negative_outlier_factor_,
        "max robust z": robust_z(table, schema, numeric),
    }
    out = {name: recall(s, planted) for name, s in methods.items()}

    # duplicates: the run's candidates (product ids) back to row positions
    position = {str(pid): i for i, pid in enumerate(run.product_ids)}
    truth = {(int(min(x, y)), int(max(x, y))) for x, y in planted.pairs}
    ids = set(schema.names("id")) | ({schema.id_column} if schema.id_column else set())
    columns = [c for c in table.columns if c not in ids]
    inputs = list(run.feature_space.columns)
    cand = run.duplicates.sort_values("similarity", ascending=False, kind="stable")
    a = cand["product_a"].astype(str).map(position).to_numpy(dtype=np.int64)
    b = cand["product_b"].astype(str).map(position).to_numpy(dtype=np.int64)
    listed = duplicates.at_threshold(run.duplicates, duplicates.THRESHOLD)
    dup = {"duplicate finder": duplicate_scores(a, b, cand["similarity"].to_numpy(),
                                                duplicates.THRESHOLD, truth, table, columns, inputs)}
    assert dup["duplicate finder"]["found_n"] + dup["duplicate finder"]["other"] == len(listed)
    for name, Z in (("cosine X", X), ("cosine embedding", run.embeddings)):
        dup[name] = duplicate_scores(*cosine_pairs(Z), COSINE, truth, table, columns, inputs)
    out["_duplicates"] = dup
    out["_info"] = {"rows": len(table), "planted": len(planted.rows), "pairs": len(truth), "build_s": build_s,
                    "train_s": timings.get("features_s", 0.0) + timings.get("train_s", 0.0),
                    "score_s": timings.get("anomalies_s", float("nan")),
                    "duplicates_s": timings.get("duplicates_s", float("nan")),
                    "wall_s": time.perf_counter() - t_all}
    return out


def demo_case(rows: int = 4000, seed: int = 2) -> tuple[pd.DataFrame, Planted]:
    """The demo catalog with its own planted truth (price, weight, category kinds; its near-duplicate
    pairs), category excluded."""
    from product_repr.data import demo

    catalog = demo.make_catalog(rows=rows, seed=seed)
    df = catalog.table
    position = {pid: i for i, pid in enumerate(df["product_id"])}
    anomalies = catalog.truth["anomalies"]
    kinds = {"price": "numeric", "weight": "numeric", "category": "title"}
    pairs = np.array([[position[x], position[y]] for x, y in catalog.truth["near_duplicates"]], dtype=np.int64)
    planted = Planted(df, np.array([position[a] for a in anomalies]),
                      [kinds[catalog.truth["anomaly_kinds"][a]] for a in anomalies], pairs.reshape(-1, 2))
    return df, planted


def _duplicate_cell(d: dict, bold: bool) -> str:
    found = f"{d['found']:.2f}"
    found = f"**{found}**" if bold else found
    if d["first_false"] is None:
        first = f"none in {d['candidates']:,}"
    else:
        first = f"#{d['first_false']} ({d['first_false_score']:.3f})"
    return f"{found} · {d['other']:,} ({d['exact']:,} exact, {d['same_inputs']:,} same inputs) · {first}"


def main(argv=None) -> int:
    from product_repr.analysis import duplicates

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalogs", nargs="*", default=["amazon_sales_india", "bigbasket_products",
                                                          "instacart_products", "hm_articles"])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--demo", action="store_true", help="also the demo catalog (4,000 rows, seed 2)")
    args = parser.parse_args(argv)
    results = {}
    if args.demo:
        df, planted = demo_case()
        results["demo (seed 2)"] = evaluate(df, None, {"category"}, planted=planted)
        print("demo (seed 2)", results["demo (seed 2)"], flush=True)
    for name in args.catalogs:
        catalog = CATALOGS[name]
        df = sample_rows(load_catalog(catalog, DATASETS), catalog.label, args.rows, seed=0,
                         drop_labels=catalog.drop_labels)
        results[name] = evaluate(df, catalog.label, set(catalog.excluded), seed=args.seed)
        print(name, results[name], flush=True)
    if not results:
        return 0
    methods = [m for m in next(iter(results.values())) if not m.startswith("_")]
    print("\n| catalog | rows | planted | " + " | ".join(methods) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in methods) + " |")
    for name, res in results.items():
        info = res["_info"]
        cells = []
        for m in methods:
            kinds = ", ".join(f"{k} {v:.2f}" for k, v in res[m].items() if k != "all")
            cells.append(f"**{res[m]['all']:.2f}** ({kinds})" if m == "anomaly score" else f"{res[m]['all']:.2f}")
        print(f"| {name} | {info['rows']:,} | {info['planted']} | " + " | ".join(cells) + " |")

    dup_methods = list(next(iter(results.values()))["_duplicates"])
    heads = {"duplicate finder": f"duplicate finder (similarity ≥ {duplicates.THRESHOLD})",
             "cosine X": f"cosine X ≥ {COSINE}", "cosine embedding": f"cosine embedding ≥ {COSINE}"}
    print("\nEach cell: share of planted pairs listed · other pairs listed (of which exact copies in every "
          "column but the id, and identical in every encoded column) · rank (score) of the first non-planted "
          "pair among the method's candidates")
    print("\n| catalog | rows | planted pairs | " + " | ".join(heads.get(m, m) for m in dup_methods) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in dup_methods) + " |")
    for name, res in results.items():
        info = res["_info"]
        cells = [_duplicate_cell(res["_duplicates"][m], m == "duplicate finder") for m in dup_methods]
        print(f"| {name} | {info['rows']:,} | {info['pairs']} | " + " | ".join(cells) + " |")

    print("\nseconds (features + training, anomaly score, duplicates; whole catalog): " + "; ".join(
        f"{n} {r['_info']['train_s']:.0f} + {r['_info']['score_s']:.1f} + {r['_info']['duplicates_s']:.1f}; "
        f"{r['_info']['wall_s']:.0f}" for n, r in results.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
