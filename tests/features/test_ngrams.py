"""N-gram counting: the token-product shortcut gives scikit-learn's char_wb counts exactly."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from product_repr.features import ngrams

DOCS = ["Stainless  Steel Kettle 1.5 L", "a b", "", "kettle kettle KETTLE", "t-shirt, cotton (slim)", "é café"]


def test_token_ngrams_pads_and_keeps_short_tokens():
    assert ngrams.token_ngrams("ab") == [" ab", "ab ", " ab "]
    assert ngrams.token_ngrams("a") == [" a "]


def test_char_counts_match_scikit_learn_char_wb():
    terms, counts = ngrams.fit_counts(DOCS, "char", max_features=10_000)
    ref = CountVectorizer(analyzer="char_wb", ngram_range=(3, 5), lowercase=True)
    want = ref.fit_transform(DOCS)
    assert sorted(terms) == terms and set(terms) == set(ref.vocabulary_)
    order = [ref.vocabulary_[t] for t in terms]
    assert np.array_equal(counts.toarray(), want.toarray()[:, order])


def test_word_counts_match_scikit_learn():
    terms, counts = ngrams.fit_counts(DOCS, "word", max_features=10_000)
    ref = CountVectorizer(ngram_range=(1, 2), token_pattern=ngrams.WORD_TOKEN_PATTERN, lowercase=True)
    want = ref.fit_transform(DOCS)
    assert set(terms) == set(ref.vocabulary_)
    order = [ref.vocabulary_[t] for t in terms]
    assert np.array_equal(counts.toarray(), want.toarray()[:, order])


def test_fixed_vocabulary_ignores_unknown_terms():
    terms, counts = ngrams.fit_counts(DOCS, "word", max_features=10_000)
    again = ngrams.count(DOCS + ["never seen words"], "word", terms)
    assert np.array_equal(again[:-1].toarray(), counts.toarray()) and again[-1].nnz == 0
    assert "1" in terms and "stainless steel" in terms, "single characters and bigrams are terms"


def test_caps_keep_the_most_frequent_terms_deterministically():
    terms, counts = ngrams.fit_counts(DOCS, "word", max_features=2, min_df=1)
    assert terms == ["kettle", "kettle kettle"], f"the two most frequent terms (4 and 2 times): {terms}"
    assert counts.shape == (len(DOCS), 2)
    assert ngrams.fit_counts(DOCS, "word", max_features=5, min_df=2)[0] == ["kettle"]


def test_empty_corpus_and_unknown_kind():
    assert ngrams.fit_counts(["", " "], "word", max_features=10)[0] == []
    assert ngrams.fit_counts(["", " "], "char", max_features=10)[1].shape == (2, 0)
    with pytest.raises(ValueError, match="unknown n-gram kind"):
        ngrams.count(["x"], "bytes", ["x"])
