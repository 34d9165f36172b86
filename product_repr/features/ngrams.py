"""Counting word and character n-grams of many short texts, with a learned or a fixed vocabulary.

Two kinds of terms:

- ``"word"``: lower-cased tokens of letters/digits (single characters kept: "5 kg"), 1- and
  2-grams (the same counts as scikit-learn's ``CountVectorizer(ngram_range=(1, 2))``, computed
  on integer token ids: each text is tokenised once, bigrams are pairs of ids);
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

WORD_TOKEN_PATTERN = r"(?u)\b\w+\b"
CHAR_RANGE = (3, 5)
KINDS = ("word", "char")
_WORD = re.compile(WORD_TOKEN_PATTERN)


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


def _word_counts(texts: list[str], vocabulary: dict[str, int] | None) -> tuple[sp.csr_matrix, dict[str, int]]:
    """(n, V) word 1-2-gram counts; with ``vocabulary=None`` every term seen gets a column."""
    index: dict[str, int] = {}
    ids: list[int] = []
    lengths = np.zeros(len(texts), dtype=np.int64)
    for d, text in enumerate(texts):
        toks = _WORD.findall(text.lower())
        lengths[d] = len(toks)
        ids.extend([index.setdefault(t, len(index)) for t in toks])
    types = list(index)
    tok = np.asarray(ids, dtype=np.int64)
    doc = np.repeat(np.arange(len(texts)), lengths)
    same = doc[1:] == doc[:-1] if tok.size else np.zeros(0, dtype=bool)
    pair = tok[:-1][same] * max(len(types), 1) + tok[1:][same]
    pair_doc = doc[:-1][same]
    pairs, pair_inv = np.unique(pair, return_inverse=True)
    width = max(len(types), 1)
    names = [f"{types[p // width]} {types[p % width]}" for p in pairs.tolist()]
    vocab: dict[str, int] = {} if vocabulary is None else vocabulary
    if vocabulary is None:
        for name in (*types, *names):
            vocab.setdefault(name, len(vocab))
    uni_col = np.asarray([vocab.get(t, -1) for t in types], dtype=np.int64)
    bi_col = np.asarray([vocab.get(b, -1) for b in names], dtype=np.int64)
    rows = np.concatenate([doc, pair_doc])
    cols = np.concatenate([uni_col[tok] if tok.size else tok, bi_col[pair_inv] if pair.size else pair])
    keep = cols >= 0
    m = sp.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(len(texts), len(vocab)))
    m.sum_duplicates()
    return m, vocab


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
        counts, vocab = _word_counts(texts, None)
        terms = list(vocab)
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
        return _word_counts(texts, {t: j for j, t in enumerate(terms)})[0]
    if kind == "char":
        return _char_counts(texts, {t: j for j, t in enumerate(terms)})[0]
    raise ValueError(f"unknown n-gram kind {kind!r}; choose one of {KINDS}")
