"""TextEncoder: TF-IDF word + char n-grams -> SVD, unit rows with a known total variance."""
from __future__ import annotations

import json

import numpy as np
import pytest

from product_repr.errors import FeatureError, NotFittedError
from product_repr.features.text import TextEncoder, clean_texts

TITLES = [
    "Stainless steel electric kettle 1.5 L", "Electric kettle with auto shut-off", "Glass tea kettle 1.8 L",
    "Cotton crew neck t-shirt", "Printed cotton t-shirt, slim fit", "Oversized graphic tee",
    "Running shoes with cushioned sole", "Leather formal shoes", "Canvas sneakers low-top",
    "Roasted salted almonds 250 g", "Mixed nuts premium 500 g", "Cashews roasted 1 kg",
] * 5


def test_clean_texts_handles_missing_and_long_values():
    out = clean_texts(["  a  ", None, float("nan"), 12, "x" * 5000], max_chars=100)
    assert out[:4] == ["a", "", "", "12"], out
    assert len(out[4]) == 100, "long values are cut to max_chars"


def test_fit_transform_shape_unit_rows_and_total_variance():
    enc = TextEncoder(8, weight=2.0).fit(TITLES)
    Y = enc.transform(TITLES)
    assert Y.dtype == np.float32 and Y.shape == (len(TITLES), enc.width) and enc.width <= 8
    norms = np.linalg.norm(Y, axis=1)
    assert np.allclose(norms, norms[0], rtol=1e-4), "rows share one length (unit rows times one scale)"
    total_var = float(Y.astype(np.float64).var(axis=0).sum())
    assert total_var == pytest.approx(4.0, rel=1e-3), f"total variance should be weight**2=4, got {total_var}"


def test_similar_titles_are_closer_than_different_ones():
    enc = TextEncoder(8).fit(TITLES)
    Y = enc.transform(["electric kettle 1.7 L", "stainless kettle", "cotton t-shirt"])
    cos = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    assert cos(Y[0], Y[1]) > cos(Y[0], Y[2]) + 0.3, "two kettles must be closer than a kettle and a t-shirt"


def test_unseen_and_empty_texts_are_finite():
    enc = TextEncoder(8).fit(TITLES)
    Y = enc.transform(["", None, "zzzz qqqq", "é" * 3000])
    assert np.isfinite(Y).all()
    assert np.all(Y[0] == 0) and np.all(Y[1] == 0), "empty text encodes to the zero vector"


def test_all_empty_texts_give_one_zero_column():
    enc = TextEncoder(16).fit(["", None, "  "])
    Y = enc.transform(["", "anything"])
    assert Y.shape == (2, 1) and np.all(Y == 0)


def test_single_row_fits():
    enc = TextEncoder(16).fit(["only one product"])
    assert enc.width == 1 and np.isfinite(enc.transform(["only one product"])).all()


def test_state_round_trip_is_exact_and_json_safe():
    enc = TextEncoder(8, seed=3).fit(TITLES)
    state, arrays = enc.to_dict()
    json.dumps(state, allow_nan=False)
    again = TextEncoder.from_dict(json.loads(json.dumps(state)), arrays)
    assert np.array_equal(again.transform(TITLES), enc.transform(TITLES)), "transform must survive the round trip"


def test_same_seed_same_output():
    a = TextEncoder(8, seed=1).fit(TITLES).transform(TITLES)
    b = TextEncoder(8, seed=1).fit(TITLES).transform(TITLES)
    assert np.array_equal(a, b)


def test_sampled_fit_still_transforms_all_rows():
    enc = TextEncoder(4, fit_rows=20).fit(TITLES)
    assert enc.transform(TITLES).shape == (len(TITLES), enc.width)


def test_errors():
    with pytest.raises(NotFittedError, match="not fitted"):
        TextEncoder(4).transform(["a"])
    with pytest.raises(FeatureError, match="text dimension"):
        TextEncoder(0)
    state, arrays = TextEncoder(4).fit(TITLES).to_dict()
    arrays["components"] = arrays["components"][:, :3]
    with pytest.raises(FeatureError, match="inconsistent"):
        TextEncoder.from_dict(state, arrays)
    with pytest.raises(FeatureError, match="lacks"):
        TextEncoder.from_dict({}, {})


def test_fit_transform_equals_fit_then_transform():
    a = TextEncoder(8).fit_transform(TITLES)
    b = TextEncoder(8).fit(TITLES).transform(TITLES)
    assert np.allclose(a, b, atol=1e-6)
    c = TextEncoder(8, fit_rows=20).fit_transform(TITLES)
    assert c.shape == (len(TITLES), 8) and np.isfinite(c).all(), "a sampled fit still encodes every row"


def test_transform_in_chunks_equals_one_pass(monkeypatch):
    from product_repr.features import text

    enc = TextEncoder(8).fit(TITLES)
    whole = enc.transform(TITLES)
    monkeypatch.setattr(text, "_CHUNK", 5)
    assert np.array_equal(enc.transform(TITLES), whole), "chunked encoding must not change the result"


def test_tfidf_rows_are_unit_or_empty():
    enc = TextEncoder(8).fit(TITLES)
    m = enc.tfidf(["electric kettle", "", "qqq zzz"])
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    assert np.allclose(norms, [1.0, 0.0, norms[2]]) and m.shape[1] == sum(len(v) for v in enc.vocabularies_.values())
