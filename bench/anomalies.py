"""Planted anomalies in real catalogs: how many does each method put in its top 2 %?

For each catalog of ``../shared/datasets`` (sampled like bench/quality.py, the label and its taxonomy
columns kept out of the input as a CLI user would with ``--label`` and ``--exclude``), 1 % of the rows get
one planted fault each, in turn:

- ``numeric``: a numeric value multiplied or divided by 40;
- ``title``: a text column's value replaced by the one of a product with another label;
- ``category``: a categorical value replaced by a level that never occurs with the product's label.

The default learner is trained through ``pipeline.build_run`` with its default settings (what
``python -m product_repr train`` does), then every method ranks the products:

- ``anomaly score``: ``product_repr.analysis.anomalies`` (each column predicted from the others);
- ``reconstruction error``: the plain reconstruction error total (``analysis.reconstruction.errors``);
- ``IsolationForest`` and ``LocalOutlierFactor`` (scikit-learn defaults) on the same encoded features X;
- ``max robust z``: the largest robust z-score of the product's numeric values (median / MAD).

Prints a markdown table: recall of the planted rows in each method's top 2 %, overall and per kind.

    python3 -m bench.anomalies [--catalogs amazon_sales_india bigbasket_products] [--rows 4000] [--demo]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.quality import CATALOGS, DATASETS, load_catalog, sample_rows

KINDS = ("numeric", "title", "category")
TOP = 0.02
SHARE = 0.01


@dataclass
class Planted:
    table: pd.DataFrame
    rows: np.ndarray  # positions of the planted rows
    kinds: list[str]


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
                foreign = sorted(set(df[col].dropna().astype(str)) - seen)
                if not foreign:
                    continue
                out.at[i, col] = foreign[rng.integers(len(foreign))]
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


def evaluate(df: pd.DataFrame, label: str | None, excluded: set[str], *, seed: int = 0,
             planted: Planted | None = None) -> dict[str, dict[str, float]]:
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor

    from product_repr import infer_schema, pipeline
    from product_repr.analysis import anomalies, reconstruction

    schema = infer_schema(df)
    if planted is None:
        planted = plant(df, schema, label, excluded, seed=seed)
    table = planted.table
    schema = infer_schema(table)
    t0 = time.perf_counter()
    run = pipeline.build_run(table, schema, exclude=sorted(excluded - {label}), label=label, analysis=False)
    fit_s = time.perf_counter() - t0
    X = run.feature_space.transform(table)
    learner = run.learner
    t0 = time.perf_counter()
    frame, _ = anomalies.anomaly_scores(learner.reconstruct, X, run.feature_space.spans)
    score_s = time.perf_counter() - t0
    plain = reconstruction.errors(X, learner.reconstruct(X), run.feature_space.spans)["error"].to_numpy()
    numeric = [c.name for c in schema if c.role.value == "numeric" and c.name not in excluded]
    methods = {
        "anomaly score": frame["score"].to_numpy(),
        "reconstruction error": plain,
        "IsolationForest": -IsolationForest(random_state=seed).fit(X).score_samples(X),
        "LocalOutlierFactor": -LocalOutlierFactor().fit(X).negative_outlier_factor_,
        "max robust z": robust_z(table, schema, numeric),
    }
    out = {name: recall(s, planted) for name, s in methods.items()}
    out["_info"] = {"rows": len(table), "planted": len(planted.rows), "train_s": fit_s, "score_s": score_s}
    return out


def demo_case(rows: int = 4000, seed: int = 2) -> tuple[pd.DataFrame, Planted]:
    """The demo catalog with its own planted truth (price, weight, category kinds), category excluded."""
    from product_repr.data import demo

    catalog = demo.make_catalog(rows=rows, seed=seed)
    df = catalog.table
    position = {pid: i for i, pid in enumerate(df["product_id"])}
    anomalies = catalog.truth["anomalies"]
    kinds = {"price": "numeric", "weight": "numeric", "category": "title"}
    planted = Planted(df, np.array([position[a] for a in anomalies]),
                      [kinds[catalog.truth["anomaly_kinds"][a]] for a in anomalies])
    return df, planted


def main(argv=None) -> int:
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
        results["demo (4,000, seed 2)"] = evaluate(df, None, {"category"}, planted=planted)
    for name in args.catalogs:
        catalog = CATALOGS[name]
        df = sample_rows(load_catalog(catalog, DATASETS), catalog.label, args.rows, seed=0,
                         drop_labels=catalog.drop_labels)
        results[name] = evaluate(df, catalog.label, set(catalog.excluded), seed=args.seed)
        print(name, results[name], flush=True)
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
    print("\ntraining and scoring seconds: " + "; ".join(
        f"{n} {r['_info']['train_s']:.0f} + {r['_info']['score_s']:.1f}" for n, r in results.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
