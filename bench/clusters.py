"""Clusters against the real catalogs' labels: how well do density clusters of the learned embedding
match the held-out label, beside k-means?

For each catalog of ``../shared/datasets`` (sampled like bench/quality.py, the label and its taxonomy
columns kept out of the input), the default learner is trained through ``pipeline.build_run`` (as
``product_repr train`` does). Then:

- ``HDBSCAN map (ours)``: ``product_repr.analysis.clusters.cluster`` of the run's 2D UMAP map (the Map
  page's clusters); unclustered products count as one more group, and in brackets the AMI with every
  unclustered product given its nearest clustered product's cluster (``clusters.assign_all``);
- ``HDBSCAN embedding``: the same on the unit-length 32-dimensional embedding;
- ``k-means embedding``: k-means of the unit embeddings with k = the label's number of values;
- ``k-means X``: the same on the encoded input features X (what the learner was fed).

Prints a markdown table of adjusted mutual information (AMI) with the label, the number of clusters, the
share of products clustered, and seconds.

    python3 -m bench.clusters [--catalogs amazon_sales_india ...] [--rows 4000] [--seed 0]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from bench.quality import CATALOGS, DATASETS, MAIN_CATALOGS, load_catalog, sample_rows


def evaluate(name: str, rows: int, seed: int) -> dict:
    from sklearn.metrics import adjusted_mutual_info_score

    from product_repr import infer_schema, pipeline
    from product_repr.analysis import clusters

    catalog = CATALOGS[name]
    df = sample_rows(load_catalog(catalog, DATASETS), catalog.label, rows, seed=0, drop_labels=catalog.drop_labels)
    from product_repr.analysis import projection

    run = pipeline.build_run(df, infer_schema(df), exclude=sorted(set(catalog.excluded) - {catalog.label}),
                             label=catalog.label, analysis=False, config={"seed": seed})
    coords = projection.project(run.embeddings, method="umap", dims=2, seed=None).coords  # as build_run's map
    labels = df[catalog.label].astype(str).to_numpy()
    k = len(np.unique(labels))
    out = {"rows": len(df), "label values": k}
    for method, M, cosine in (("HDBSCAN map (ours)", coords, False), ("HDBSCAN embedding", run.embeddings, True)):
        t0 = time.perf_counter()
        found = clusters.cluster(M, cosine=cosine, seed=seed)
        seconds = time.perf_counter() - t0
        every = clusters.assign_all(M, found, cosine=cosine)
        out[method] = (adjusted_mutual_info_score(labels, found), int(found.max()) + 1, float((found >= 0).mean()),
                       seconds, adjusted_mutual_info_score(labels, every))
    for method, M in (("k-means embedding", run.embeddings), ("k-means X", run.feature_space.transform(df))):
        t0 = time.perf_counter()
        assigned = clusters.kmeans(M, k, seed=seed)
        out[method] = (adjusted_mutual_info_score(labels, assigned), k, 1.0, time.perf_counter() - t0)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalogs", nargs="*", default=list(MAIN_CATALOGS))
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    methods = ("HDBSCAN map (ours)", "HDBSCAN embedding", "k-means embedding", "k-means X")
    print("| catalog | rows | label values | " + " | ".join(methods) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in methods) + " |")
    for name in args.catalogs:
        res = evaluate(name, args.rows, args.seed)
        cells = []
        for m in methods:
            ami, n, share, seconds = res[m][:4]
            extra = f" [{res[m][4]:.3f} all assigned]; {n} clusters, {share:.0%} clustered" if len(res[m]) > 4 else \
                f"; {n} clusters"
            cells.append(f"{ami:.3f}{extra}, {seconds:.1f} s")
        print(f"| {name} | {res['rows']:,} | {res['label values']} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
