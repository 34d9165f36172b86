"""Text encoding: TF-IDF of word and character n-grams, reduced by truncated SVD.

One text column becomes a dense block of ``dim`` numbers per product:

1. each value is read as a string (missing -> ``""``), stripped and cut to ``max_chars``
   characters so one huge cell cannot stall fitting;
2. two sparse TF-IDF blocks are built: word 1-2-grams (tokens of letters/digits, single
   characters kept because sizes such as "5 kg" matter) and ``char_wb`` 3-5-grams (robust to
   spelling variants, plurals and short titles). Term frequency is sublinear (``1 + log tf``),
   idf is smoothed (``log((1 + n) / (1 + df)) + 1``), each block is L2-normalised and scaled by
   ``1/sqrt(2)`` so the concatenated row has unit length;
3. the concatenation is projected on its top ``dim`` right singular vectors (randomized SVD,
   seeded); the vocabulary, idf and SVD are fitted on at most ``fit_rows`` rows (a seeded
   sample) so fitting 100k rows stays a few seconds;
4. rows are L2-normalised (the cosine geometry of TF-IDF is kept; empty texts stay all-zero)
   and multiplied by one scale chosen at fit time so that the block's total variance (sum of
   per-dimension variances) equals ``weight ** 2``. With ``weight = 1`` a text block counts as
   much as one standardised numeric column in a Euclidean distance or a summed MSE;
5. with ``sentence`` naming a pretrained model (:mod:`product_repr.features.sentence`), its unit vectors
   are appended: the block becomes ``[SVD part | sentence part]`` with total variances
   ``(1 - sentence_share) * weight ** 2`` and ``sentence_share * weight ** 2``. TF-IDF keeps
   exact words (brands, sizes, model numbers); the sentence encoder knows that "banana" and
   "plantain" are both fruit.

The fitted state is plain data: vocabularies as lists of strings (JSON), idf and SVD
components as numpy arrays (saved with ``np.savez``), so no pickle is ever needed and a
reloaded encoder reproduces ``transform`` exactly (the sentence part needs its model's
package installed; the state names it).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

from product_repr.features import ngrams, sentence as sentences
from product_repr.errors import FeatureError, NotFittedError

_CHUNK = 20_000  # distinct texts encoded at a time by transform
_MIN_VARIANCE = 0.05  # floor for the scale: a block of nearly empty texts is not blown up
_SENTENCE_FIT_ROWS = 2_000  # rows sampled by fit() to set the sentence part's scale
DEFAULT_SENTENCE_SHARE = 0.8  # measured best on the real catalogs (docs/QUALITY.md)


def clean_texts(values: Iterable[Any], *, max_chars: int = 1000) -> list[str]:
    """Strings ready for n-gram analysis: missing -> "", stripped, cut to ``max_chars``.

    ``values``: any iterable (a pandas Series, a list); NaN/None/pd.NA become "".
    """
    out = []
    for v in values:
        if v is None or (not isinstance(v, str) and pd.isna(v) is True):
            out.append("")
            continue
        s = v if isinstance(v, str) else str(v)
        out.append(s.strip()[:max_chars])
    return out


def tfidf_block(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear tf x idf, rows L2-normalised. ``counts``: (n, V) term counts; ``idf``: (V,)."""
    m = counts.tocsr().astype(np.float64, copy=True)
    m.sum_duplicates()
    m.data = (1.0 + np.log(m.data)) * np.asarray(idf, dtype=np.float64)[m.indices]
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    norms = np.sqrt(np.bincount(rows, weights=m.data * m.data, minlength=m.shape[0]))
    m.data /= norms[rows]  # rows with entries have a positive norm
    return m


def smooth_idf(counts: sp.csr_matrix) -> np.ndarray:
    """``log((1 + n) / (1 + df)) + 1`` per column of a (n, V) count matrix."""
    n = counts.shape[0]
    df = np.bincount(counts.tocsr().indices, minlength=counts.shape[1]) if counts.nnz else np.zeros(counts.shape[1])
    return np.log((1.0 + n) / (1.0 + df)) + 1.0


def l2_rows(a: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; all-zero rows stay zero. Returns a new array."""
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    return np.divide(a, norms, out=np.zeros_like(a), where=norms > 0)


def _join(blocks: list[sp.csr_matrix], n: int) -> sp.csr_matrix:
    """Concatenate unit-row blocks, scaled by 1/sqrt(#blocks) so rows keep unit length."""
    if not blocks:
        return sp.csr_matrix((n, 0), dtype=np.float32)
    m = sp.csr_matrix(sp.hstack(blocks, format="csr", dtype=np.float64))
    m.data *= 1.0 / np.sqrt(len(blocks))
    return m.astype(np.float32)


class TextEncoder:
    """TF-IDF (word 1-2-grams + char_wb 3-5-grams) -> truncated SVD -> scaled unit rows.

    Parameters: ``dim`` components at most (fewer when the fitted texts support fewer),
    ``weight`` the block's target total standard deviation (see the module docstring),
    ``max_word_features`` / ``max_char_features`` vocabulary caps (most frequent terms),
    ``max_chars`` per value, ``fit_rows`` rows sampled for fitting, ``seed`` for the sample
    and the randomized SVD. ``sentence``: a model of :data:`product_repr.features.sentence.MODELS` whose
    vectors are appended (None: TF-IDF only); ``sentence_share`` of the block's variance is theirs.
    """

    def __init__(self, dim: int = 128, *, weight: float = 1.0, max_word_features: int = 10_000,
                 max_char_features: int = 20_000, max_chars: int = 1000, fit_rows: int = 10_000,
                 svd_iter: int = 2, seed: int = 0, sentence: str | None = None,
                 sentence_share: float = DEFAULT_SENTENCE_SHARE) -> None:
        if int(dim) < 1:
            raise FeatureError(f"text dimension must be at least 1, got {dim}; choose e.g. text_dim=128")
        if not float(weight) > 0:
            raise FeatureError(f"text weight must be positive, got {weight}; choose e.g. 1.0")
        if sentence is not None:
            sentences.model_info(sentence)
        if not 0.0 < float(sentence_share) < 1.0:
            raise FeatureError(f"sentence_share must be between 0 and 1 (exclusive), got {sentence_share}; "
                               f"choose e.g. {DEFAULT_SENTENCE_SHARE}")
        self.dim = int(dim)
        self.weight = float(weight)
        self.max_word_features = int(max_word_features)
        self.max_char_features = int(max_char_features)
        self.max_chars = int(max_chars)
        self.fit_rows = int(fit_rows)
        self.svd_iter = int(svd_iter)
        self.seed = int(seed)
        self.sentence = sentence
        self.sentence_share = float(sentence_share)
        self.vocabularies_: dict[str, list[str]] | None = None
        self.idf_: dict[str, np.ndarray] = {}
        self.components_: np.ndarray | None = None
        self.scale_: float = 1.0
        self.sentence_scale_: float = 0.0

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, values: Iterable[Any]) -> "TextEncoder":
        """Learn vocabularies, idf, SVD components and scale from ``values`` (n,). Returns self.

        Never fails on content: all-empty texts give a one-dimensional all-zero block.
        """
        texts = clean_texts(values, max_chars=self.max_chars)
        self._fit(texts)
        if self.sentence is not None:
            if len(texts) > _SENTENCE_FIT_ROWS:
                rng = np.random.default_rng(self.seed)
                texts = [texts[i] for i in rng.choice(len(texts), size=_SENTENCE_FIT_ROWS, replace=False)]
            self._fit_sentence(sentences.encode(texts, self.sentence))
        return self

    def fit_transform(self, values: Iterable[Any]) -> np.ndarray:
        """``fit(values)`` then ``transform(values)``, counting the n-grams and encoding sentences once."""
        texts = clean_texts(values, max_chars=self.max_chars)
        m = self._fit(texts)
        svd = self._svd_part(texts) if m is None else self._encode(m)
        if self.sentence is None:
            return svd
        vectors = sentences.encode(texts, self.sentence)
        self._fit_sentence(vectors)
        return np.hstack([svd, vectors * np.float32(self.sentence_scale_)])

    def _fit_sentence(self, vectors: np.ndarray) -> None:
        """Scale the sentence part so its total variance is ``sentence_share * weight ** 2``."""
        total_var = float(vectors.astype(np.float64).var(axis=0).sum())
        self.sentence_scale_ = self.weight * np.sqrt(self.sentence_share) / np.sqrt(max(total_var, _MIN_VARIANCE))

    def _fit(self, texts: list[str]) -> sp.csr_matrix | None:
        """Fit on ``texts``; returns their sparse TF-IDF matrix, or None if a sample was fitted."""
        sampled = len(texts) > self.fit_rows
        if sampled:
            rng = np.random.default_rng(self.seed)
            keep = np.sort(rng.choice(len(texts), size=self.fit_rows, replace=False))
            texts = [texts[i] for i in keep]
        n = len(texts)
        min_df = 2 if n >= 1000 else 1
        caps = {"word": self.max_word_features, "char": self.max_char_features}
        self.vocabularies_, self.idf_ = {}, {}
        blocks = []
        for kind in ngrams.KINDS:
            terms, counts = ngrams.fit_counts(texts, kind, max_features=caps[kind], min_df=min_df)
            if not terms:
                continue
            self.vocabularies_[kind] = terms
            self.idf_[kind] = smooth_idf(counts)
            blocks.append(tfidf_block(counts, self.idf_[kind]))
        m = _join(blocks, n)
        k = min(self.dim, m.shape[0], m.shape[1])
        if k == 0 or m.nnz == 0:
            self.components_ = np.zeros((1, m.shape[1]), dtype=np.float32)
        else:
            _, _, vt = randomized_svd(m, n_components=k, n_iter=self.svd_iter, random_state=self.seed)
            self.components_ = np.ascontiguousarray(vt, dtype=np.float32)
        unit = l2_rows(self._project(m))
        total_var = float(unit.astype(np.float64).var(axis=0).sum())
        share = 1.0 if self.sentence is None else 1.0 - self.sentence_share
        self.scale_ = self.weight * np.sqrt(share) / np.sqrt(max(total_var, _MIN_VARIANCE))
        return None if sampled else m

    # -- transforming ------------------------------------------------------------------------
    @property
    def width(self) -> int:
        """Number of output columns (after fit): SVD components, then the sentence model's width."""
        self._check_fitted()
        return int(self.components_.shape[0]) + self.sentence_width

    @property
    def sentence_width(self) -> int:
        """Columns of the sentence model's part, the last of :attr:`width` (0 without a sentence model)."""
        return 0 if self.sentence is None else sentences.model_info(self.sentence).dim

    def feature_names(self, prefix: str) -> list[str]:
        """Names of the output columns: ``{prefix}__svd{j}`` then ``{prefix}__sent{j}``."""
        self._check_fitted()
        return ([f"{prefix}__svd{j}" for j in range(self.components_.shape[0])]
                + [f"{prefix}__sent{j}" for j in range(self.sentence_width)])

    def transform(self, values: Iterable[Any]) -> np.ndarray:
        """Encode ``values`` (n,) to a finite float32 array (n, width); repeated texts are encoded once.

        Raises FeatureError when the sentence model this encoder was fitted with is not installed.
        """
        self._check_fitted()
        texts = clean_texts(values, max_chars=self.max_chars)
        svd = self._svd_part(texts)
        if self.sentence is None:
            return svd
        return np.hstack([svd, sentences.encode(texts, self.sentence) * np.float32(self.sentence_scale_)])

    def _svd_part(self, texts: list[str]) -> np.ndarray:
        index: dict[str, int] = {}
        rows = np.fromiter((index.setdefault(t, len(index)) for t in texts), dtype=np.int64, count=len(texts))
        unique = list(index)
        out = np.zeros((len(unique), self.components_.shape[0]), dtype=np.float32)
        for lo in range(0, len(unique), _CHUNK):  # bounded sparse memory for millions of rows
            out[lo:lo + _CHUNK] = self._encode(self._sparse(unique[lo:lo + _CHUNK]))
        return out[rows]

    def tfidf(self, values: Iterable[Any]) -> sp.csr_matrix:
        """The sparse TF-IDF rows (n, V) float32 before the SVD (unit rows; empty texts all-zero).

        For learners or baselines that want every term rather than ``width`` components.
        """
        self._check_fitted()
        return self._sparse(clean_texts(values, max_chars=self.max_chars))

    def _encode(self, m: sp.csr_matrix) -> np.ndarray:
        out = l2_rows(self._project(m)) * np.float32(self.scale_)
        return out.astype(np.float32, copy=False)

    def _sparse(self, texts: list[str]) -> sp.csr_matrix:
        blocks = []
        for kind, terms in self.vocabularies_.items():
            counts = ngrams.count(texts, kind, terms)
            blocks.append(tfidf_block(counts, self.idf_[kind]))
        return _join(blocks, len(texts))

    def _project(self, m: sp.csr_matrix) -> np.ndarray:
        if m.shape[1] == 0:
            return np.zeros((m.shape[0], self.components_.shape[0]), dtype=np.float32)
        return np.asarray(m @ self.components_.T, dtype=np.float32)

    def _check_fitted(self) -> None:
        if self.components_ is None:
            raise NotFittedError("TextEncoder is not fitted; call fit(texts) first")

    # -- state -------------------------------------------------------------------------------
    def to_dict(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-safe state, arrays). Arrays: ``idf_word``, ``idf_char`` (V,), ``components`` (k, V)."""
        self._check_fitted()
        state = {
            "dim": self.dim, "weight": self.weight, "max_word_features": self.max_word_features,
            "max_char_features": self.max_char_features, "max_chars": self.max_chars,
            "fit_rows": self.fit_rows, "svd_iter": self.svd_iter, "seed": self.seed, "scale": float(self.scale_),
            "sentence": self.sentence, "sentence_share": self.sentence_share,
            "sentence_scale": float(self.sentence_scale_),
            "vocabularies": {k: list(v) for k, v in self.vocabularies_.items()},
        }
        arrays = {f"idf_{k}": np.asarray(v) for k, v in self.idf_.items()}
        arrays["components"] = self.components_
        return state, arrays

    @classmethod
    def from_dict(cls, state: dict, arrays: dict[str, np.ndarray]) -> "TextEncoder":
        """Rebuild a fitted encoder from ``to_dict()`` output. Raises FeatureError if inconsistent."""
        try:
            enc = cls(state["dim"], weight=state["weight"], max_word_features=state["max_word_features"],
                      max_char_features=state["max_char_features"], max_chars=state["max_chars"],
                      fit_rows=state["fit_rows"], svd_iter=state["svd_iter"],
                      seed=state["seed"], sentence=state.get("sentence"),
                      sentence_share=state.get("sentence_share", DEFAULT_SENTENCE_SHARE))
            enc.scale_ = float(state["scale"])
            enc.sentence_scale_ = float(state.get("sentence_scale", 0.0))
            enc.vocabularies_ = {k: list(v) for k, v in state["vocabularies"].items()}
            enc.idf_ = {k: np.asarray(arrays[f"idf_{k}"], dtype=np.float64) for k in enc.vocabularies_}
            enc.components_ = np.asarray(arrays["components"], dtype=np.float32)
        except KeyError as err:
            raise FeatureError(f"saved text encoder state lacks {err}; refit the feature space") from err
        total = sum(len(v) for v in enc.vocabularies_.values())
        if enc.components_.shape[1] != total or any(
                len(enc.idf_[k]) != len(v) for k, v in enc.vocabularies_.items()):
            raise FeatureError("saved text encoder state is inconsistent (vocabulary, idf and components "
                               "sizes differ); refit the feature space")
        return enc
