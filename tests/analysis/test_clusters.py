"""Density clusters of the embedding and their names."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from product_repr.analysis import clusters
from product_repr.errors import ConfigError


def blobs(n_per: int = 60, k: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, 16)) * 4
    kind = np.repeat(np.arange(k), n_per)
    Z = (centres[kind] + rng.normal(size=(len(kind), 16))).astype(np.float32)
    return Z, kind


def test_clusters_recover_planted_groups_numbered_by_size():
    Z, kind = blobs()
    Z = np.vstack([Z, Z[:30] + 0.01])  # group 0 is now the largest
    kind = np.concatenate([kind, kind[:30]])
    labels = clusters.cluster(Z)
    from sklearn.metrics import adjusted_mutual_info_score

    assert adjusted_mutual_info_score(kind, labels) > 0.9
    assert labels[0] == 0, "the largest cluster is number 0"
    sizes = np.bincount(labels[labels >= 0])
    assert (np.diff(sizes) <= 0).all()


def test_a_sampled_clustering_gives_every_product_a_cluster(monkeypatch):
    Z, kind = blobs(n_per=100)
    monkeypatch.setattr(clusters, "MAX_ROWS", 150)
    labels = clusters.cluster(Z, seed=1)
    from sklearn.metrics import adjusted_mutual_info_score

    assert len(labels) == len(Z) and adjusted_mutual_info_score(kind, labels) > 0.8
    with pytest.raises(ConfigError, match="at least 2"):
        clusters.cluster(Z[:1])


def test_a_group_sharing_a_rare_word_is_named_by_it():
    Z, kind = blobs(n_per=50, k=3)
    rng = np.random.default_rng(2)
    common = ["steel", "classic", "home", "pack", "black"]
    titles = [" ".join(rng.choice(common, size=3)) + (" espresso" if g == 1 else "") for g in kind]
    rows = pd.DataFrame({"title": titles, "brand": np.where(kind == 2, "Acme", rng.choice(["A", "B", "C"], size=len(kind))),
                         "price": np.where(kind == 1, 200.0, 20.0)})
    labels = clusters.cluster(Z)
    frame = clusters.describe(labels, rows, text=["title"], categorical=["brand"], numeric=["price"])
    espresso = frame.loc[frame["cluster"] == labels[kind == 1][0]].iloc[0]
    assert espresso["words"].split(", ")[0] == "espresso", frame
    assert espresso["median price"] == 200.0 and espresso["size"] == 50
    acme = frame.loc[frame["cluster"] == labels[kind == 2][0]].iloc[0]
    assert acme["shared"] == "brand: Acme (100%)", frame
    assert frame["share"].sum() == pytest.approx(1.0)


def test_map_coordinates_cluster_by_euclidean_distance_and_every_product_can_be_assigned():
    rng = np.random.default_rng(3)
    coords = np.vstack([rng.normal(loc=(0, 0), size=(80, 2)), rng.normal(loc=(20, 0), size=(80, 2)),
                        [[10.0, 40.0]]])  # one lone product far from both
    labels = clusters.cluster(coords, cosine=False)
    assert labels[-1] == clusters.UNCLUSTERED and len(set(labels[:-1])) == 2
    assert len(set(labels[:80])) == 1 and labels[0] != labels[100]
    every = clusters.assign_all(coords, labels, cosine=False)
    assert (every >= 0).all() and (every[:-1] == labels[:-1]).all()
