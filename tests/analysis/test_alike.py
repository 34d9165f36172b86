"""Why two products are alike: per-column agreement and contributions that add up to the cosine."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from product_repr.analysis import alike
from product_repr.errors import ConfigError
from product_repr.features.space import FeatureSpace
from product_repr.data.schema import infer_schema


@pytest.fixture(scope="module")
def shop():
    rng = np.random.default_rng(0)
    n = 200
    df = pd.DataFrame({
        "title": [f"{rng.choice(['red', 'blue', 'green'])} {rng.choice(['kettle', 'toaster', 'lamp'])} {i}" for i in range(n)],
        "brand": rng.choice(["Acme", "Bolt", "Crest", "Dune"], size=n),
        "price": rng.lognormal(3, 0.8, size=n).round(2),
        "weight_kg": rng.lognormal(0, 0.5, size=n).round(3),
    })
    df.loc[1] = df.loc[0]
    df.loc[1, "price"] = df.loc[0, "price"] * 3  # identical but for price
    fs = FeatureSpace(infer_schema(df), text_encoder="tfidf").fit(df)
    return df, fs, fs.transform(df)


def test_a_pair_identical_but_for_price_names_price_as_the_difference(shop):
    df, fs, X = shop
    frame = alike.explain_pair(X, fs.spans, 0, 1, rows=df)
    assert frame["column"].iloc[0] == "price" and frame["agreement"].iloc[0] < 0.5, frame
    assert (frame.loc[frame["column"] != "price", "agreement"] > 0.999).all(), frame
    assert frame.loc[frame["column"] == "brand", "a"].iloc[0] == df.loc[0, "brand"]
    said = alike.summary(frame)
    assert said.startswith("Alike in") and said.endswith("different in price"), said


def test_contributions_add_up_to_the_cosine(shop):
    _, fs, X = shop
    frame = alike.explain_pair(X, fs.spans, 3, 17)
    cosine = float(X[3] @ X[17] / np.linalg.norm(X[3]) / np.linalg.norm(X[17]))
    assert frame["contribution"].sum() == pytest.approx(cosine, abs=1e-5)
    assert frame["a"].eq("").all()
    with pytest.raises(ConfigError, match="not one of the 200 products"):
        alike.explain_pair(X, fs.spans, 0, 200)
