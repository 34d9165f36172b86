"""Counting word and character n-grams of many short texts, with a learned or a fixed vocabulary.

Two kinds of terms:

- ``"word"``: lower-cased tokens of letters/digits (single characters kept: "5 kg"), 1- and
  2-grams (scikit-learn's ``CountVectorizer``);
- ``"char"``: character 3-5-grams inside each whitespace-separated token padded with one
  space on each side (like scikit-learn's ``char_wb``; a padded token shorter than 3
  characters counts as one term). Because these n-grams never cross a token boundary, a
  document's counts are (its token counts) x (each distinct token's n-gram counts): two
  sparse matrices multiplied in C instead of a Python loop over every n-gram of every
  document, which makes character n-grams about as cheap as words.

Vocabularies keep the ``max_features`` terms with the largest total count among those in at
least ``min_df`` documents (ties broken by the term, so results are deterministic), in
alphabetical order.
"""
from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

WORD_TOKEN_PATTERN = r"(?u)\b\w+\b"
CHAR_RANGE = (3, 5)
KINDS = ("word", "char")
_SPACES = re.compile(r"\s\s+")


def token_ngrams(token: str, lo: int = CHAR_RANGE[0], hi: int = CHAR_RANGE[1]) -> list[str]:
    """Character ``lo``..``hi``-grams of one token padded with spaces (``"ab"`` -> ``[" ab", "ab "]``...)."""
    w = f" {token} "
    if len(w) < lo:
        return [w]
    return [w[i:i + n] for n in range(lo, min(hi, len(w)) + 1) for i in range(len(w) - n + 1)]


def _token_matrix(texts: list[str]) -> tuple[sp.csr_matrix, list[str]]:
    """(n, T) counts of lower-cased whitespace tokens, and the T distinct tokens."""
    index: dict[str, int] = {}
    indices: list[int] = []
    indptr = [0]
    for text in texts:
        for tok in text.lower().split():
            indices.append(index.setdefault(tok, len(index)))
        indptr.append(len(indices))
    m = sp.csr_matrix((np.ones(len(indices)), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
                      shape=(len(texts), len(index)))
    m.sum_duplicates()
    return m, list(index)


def _char_counts(texts: list[str], vocabulary: dict[str, int] | None) -> tuple[sp.csr_matrix, dict[str, int]]:
    """(n, V) char n-gram counts; with ``vocabulary=None`` every n-gram seen gets a column."""
    tokens_by_doc, types = _token_matrix(texts)
    grow = vocabulary is None
    vocab: dict[str, int] = {} if grow else vocabulary
    rows, cols = [], []
    for t, tok in enumerate(types):
        for g in token_ngrams(tok):
            j = vocab.setdefault(g, len(vocab)) if grow else vocab.get(g)
            if j is not None:
                rows.append(t)
                cols.append(j)
    grams = sp.csr_matrix((np.ones(len(rows)), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
                          shape=(len(types), len(vocab)))
    return sp.csr_matrix(tokens_by_doc @ grams), vocab


def _word_vectorizer(vocabulary: list[str] | None = None) -> CountVectorizer:
    return CountVectorizer(lowercase=True, dtype=np.float64, vocabulary=vocabulary, analyzer="word",
                           ngram_range=(1, 2), token_pattern=WORD_TOKEN_PATTERN)


def _select(counts: sp.csr_matrix, terms: list[str], max_features: int, min_df: int) -> list[int]:
    """Columns kept: in >= ``min_df`` documents, the ``max_features`` largest totals, by term order."""
    counts = counts.tocsc()
    df = np.diff(counts.indptr)
    total = np.asarray(counts.sum(axis=0)).ravel()
    ok = np.flatnonzero(df >= min_df)
    ranked = sorted(ok.tolist(), key=lambda j: (-total[j], terms[j]))[:max_features]
    return sorted(ranked, key=lambda j: terms[j])


def fit_counts(texts: list[str], kind: str, *, max_features: int, min_df: int = 1
               ) -> tuple[list[str], sp.csr_matrix]:
    """Learn a vocabulary from ``texts`` (n,) and return ``(terms (V,), counts (n, V))``.

    ``V`` may be 0 (no terms at all, e.g. all texts empty).
    """
    if kind == "word":
        vec = _word_vectorizer()
        try:
            counts = vec.fit_transform(texts).tocsr()
        except ValueError:  # scikit-learn: empty vocabulary
            return [], sp.csr_matrix((len(texts), 0))
        terms = [""] * len(vec.vocabulary_)
        for term, j in vec.vocabulary_.items():
            terms[j] = term
    elif kind == "char":
        counts, vocab = _char_counts(texts, None)
        terms = list(vocab)
    else:
        raise ValueError(f"unknown n-gram kind {kind!r}; choose one of {KINDS}")
    keep = _select(counts, terms, max_features, min_df)
    return [terms[j] for j in keep], sp.csr_matrix(counts[:, keep])


def count(texts: list[str], kind: str, terms: list[str]) -> sp.csr_matrix:
    """(n, len(terms)) counts of ``terms`` (a fitted vocabulary) in ``texts``; unknown terms are ignored."""
    if not terms:
        return sp.csr_matrix((len(texts), 0))
    if kind == "word":
        return _word_vectorizer(list(terms)).transform(texts).tocsr()
    if kind == "char":
        return _char_counts(texts, {t: j for j, t in enumerate(terms)})[0]
    raise ValueError(f"unknown n-gram kind {kind!r}; choose one of {KINDS}")
