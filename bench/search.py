"""Search by meaning on the real catalogs: does a query naming a label value find products with that label?

For each catalog of ``../shared/datasets`` (sampled like bench/quality.py, the label and its taxonomy
columns kept out of the input), the default learner is trained through ``pipeline.build_run``. Every label
value with at least 10 products is a query (its own words, e.g. "Beverages", "Trousers"); precision@10 is
the share of the 10 products returned that carry that label, averaged over the queries, for the two spaces
of ``product_repr.analysis.search`` (``learned``: the query row through the encoder; ``text``: the text
blocks of X) and for a plain TF-IDF keyword search over the text columns.

    python3 -m bench.search [--catalogs amazon_sales_india ...] [--rows 4000]
"""
from __future__ import annotations

import argparse

import numpy as np

from bench.quality import CATALOGS, DATASETS, MAIN_CATALOGS, documents, load_catalog, sample_rows, tfidf

K = 10


def evaluate(name: str, rows: int) -> dict:
    from product_repr import infer_schema, pipeline
    from product_repr.analysis import search

    catalog = CATALOGS[name]
    df = sample_rows(load_catalog(catalog, DATASETS), catalog.label, rows, seed=0, drop_labels=catalog.drop_labels)
    run = pipeline.build_run(df, infer_schema(df), exclude=sorted(set(catalog.excluded) - {catalog.label}),
                             label=catalog.label, analysis=False)
    X = run.feature_space.transform(df)
    labels = df[catalog.label].astype(str).to_numpy()
    values, counts = np.unique(labels, return_counts=True)
    queries = [v for v, c in zip(values, counts) if c >= K]
    text_columns = [s.name for s in search.text_spans(run.feature_space)]
    docs = tfidf(documents(df, text_columns) + queries)
    base, asked = docs[: len(df)], docs[len(df):]
    out = {"queries": len(queries)}
    for space in search.SPACES:
        out[space] = float(np.mean([(labels[search.search(run, q, X, k=K, space=space)[0]] == q).mean()
                                    for q in queries]))
    scores = (asked @ base.T).toarray()
    out["TF-IDF keywords"] = float(np.mean([(labels[np.argsort(-scores[j], kind="stable")[:K]] == q).mean()
                                            for j, q in enumerate(queries)]))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalogs", nargs="*", default=list(MAIN_CATALOGS))
    parser.add_argument("--rows", type=int, default=4000)
    args = parser.parse_args(argv)
    methods = ("learned", "text", "TF-IDF keywords")
    print("| catalog | queries | " + " | ".join(f"{m} P@{K}" for m in methods) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in methods) + " |")
    for name in args.catalogs:
        res = evaluate(name, args.rows)
        print(f"| {name} | {res['queries']} | " + " | ".join(f"{res[m]:.3f}" for m in methods) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
