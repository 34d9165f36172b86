"""The encoded features X of a big table, on disk instead of in memory.

A million products of a 50-column catalog encode to 2,095 float32 columns: 8.4 GB, more than the machine
should hold beside everything else. Above :data:`product_repr.pipeline.FILE_ROWS` rows the pipeline writes X
chunk by chunk into a :class:`RowFile` (a plain ``.npy`` file) and every later stage reads it back a block of
rows at a time. The file is read with ``pread`` into fresh arrays, never memory-mapped: pages of a mapped
file count towards the process's resident memory; pages read this way stay in the kernel's page cache,
which gives them back under pressure.

A RowFile answers the array operations the stages use on X: ``len``, ``shape``, ``X[lo:hi]``,
``X[rows]`` (an integer or boolean array), ``X[rows, columns]``; each returns a float32 array of just those
rows. :func:`row_chunks` walks any X (array or RowFile) a block at a time.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

DTYPE = np.dtype("<f4")
#: a block of rows read or computed at a time holds about this many bytes of X (:func:`chunk_rows`)
CHUNK_BYTES = 64 << 20
#: largest single read (Linux reads at most about 2 GiB per call)
_MAX_READ = 1 << 30


class RowFile:
    """A float32 (n, p) matrix in a ``.npy`` file, read a block of rows at a time (see the module text)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as f:
            np.lib.format.read_magic(f)  # written by RowFile.write: format 1.0
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            self._offset = f.tell()
        if fortran or np.dtype(dtype) != DTYPE or len(shape) != 2:
            raise ValueError(f"{self.path} is not a C-ordered float32 matrix")
        self.shape = (int(shape[0]), int(shape[1]))
        self._row_bytes = self.shape[1] * DTYPE.itemsize
        self._fd = os.open(self.path, os.O_RDONLY)
        self._index: np.ndarray | None = None  # a view's rows of the file (see view)
        self._owner = True

    def view(self, rows) -> "RowFile":
        """The rows ``rows`` (integers into this matrix) as a RowFile of ``len(rows)`` rows over the same file:
        a learner fitted on a sample of a big table reads its batches through it, no copy made."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.shape[0]):
            raise IndexError(f"rows outside 0..{self.shape[0] - 1}")
        out = object.__new__(RowFile)
        out.__dict__.update(self.__dict__)
        out._index = rows if self._index is None else self._index[rows]
        out.shape = (len(rows), self.shape[1])
        out._owner = False
        out._base = self  # the file stays open while a view of it lives
        return out

    # -- writing ------------------------------------------------------------------------------------------
    @classmethod
    def write(cls, path: str | Path, n: int, blocks: Iterable[np.ndarray], *, progress=None) -> "RowFile":
        """The ``n`` rows of ``blocks`` (consecutive (m, p) arrays, e.g.
        ``FeatureSpace.transform_chunks``) written to ``path``, one block in memory at a time;
        ``progress(done, n)`` after each block."""
        done, p = 0, None
        with open(path, "wb") as f:
            for block in blocks:
                block = np.ascontiguousarray(block, dtype=DTYPE)
                if p is None:
                    p = block.shape[1]
                    np.lib.format.write_array_header_1_0(
                        f, {"descr": DTYPE.str, "fortran_order": False, "shape": (int(n), int(p))})
                if block.ndim != 2 or block.shape[1] != p:
                    raise ValueError(f"a block of shape {block.shape} does not continue rows of {p} columns")
                f.write(memoryview(block).cast("B"))
                done += len(block)
                if progress is not None:
                    progress(done, n)
        if done != n:
            raise ValueError(f"{done:,} rows written for {n:,}")
        return cls(path)

    # -- the array operations X is used with ------------------------------------------------------------
    ndim = 2
    dtype = DTYPE

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"RowFile({str(self.path)!r}, shape={self.shape})"

    def __getitem__(self, key):
        rows, columns = key if isinstance(key, tuple) else (key, slice(None))
        if isinstance(rows, (int, np.integer)):
            i = int(rows) + (self.shape[0] if rows < 0 else 0)
            if not 0 <= i < self.shape[0]:
                raise IndexError(f"row {rows} is out of range for {self.shape[0]} rows")
            out = self._read(i, i + 1)[0]
        elif isinstance(rows, slice):
            start, stop, step = rows.indices(self.shape[0])
            out = self._read(start, max(start, stop)) if step == 1 else self.take(np.arange(start, stop, step))
        else:
            out = self.take(rows)
        return out if columns == slice(None) else out[..., columns]

    def take(self, rows) -> np.ndarray:
        """The rows ``rows`` (integers, any order and repeats, or a boolean mask): float32 (len, p)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = rows.astype(np.int64).reshape(-1)
        if len(rows) and (rows.min() < -self.shape[0] or rows.max() >= self.shape[0]):
            raise IndexError(f"rows outside 0..{self.shape[0] - 1}")
        rows = np.where(rows < 0, rows + self.shape[0], rows)
        if self._index is not None:
            rows = self._index[rows]
        return self._take_file_rows(rows)

    def _take_file_rows(self, rows: np.ndarray) -> np.ndarray:
        wanted, back = np.unique(rows, return_inverse=True)
        out = np.empty((len(wanted), self.shape[1]), dtype=DTYPE)
        # runs of consecutive rows are read at once
        breaks = np.flatnonzero(np.diff(wanted) != 1) + 1
        for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(wanted)]):
            self._read_into(out[lo:hi], int(wanted[lo]))
        return out if len(wanted) == len(rows) and (np.diff(rows) > 0).all() else out[back]

    def __array__(self, dtype=None, copy=None):
        whole = self._read(0, self.shape[0])
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def mean(self, axis=None) -> np.ndarray:
        """The column means (``axis=0``), accumulated in float64 a chunk at a time: float32 (p,)."""
        if axis != 0:
            raise ValueError("a RowFile gives column means only (axis=0)")
        return column_moments(self, variances=False)[0].astype(DTYPE)

    def close(self) -> None:
        if getattr(self, "_owner", False) and getattr(self, "_fd", None) is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------------------
    def _read(self, start: int, stop: int) -> np.ndarray:
        if self._index is not None:
            return self._take_file_rows(self._index[start:stop])
        out = np.empty((stop - start, self.shape[1]), dtype=DTYPE)
        self._read_into(out, start)
        return out

    def _read_into(self, out: np.ndarray, start: int) -> None:
        view = memoryview(out).cast("B")
        offset, done = self._offset + start * self._row_bytes, 0
        while done < len(view):
            got = os.preadv(self._fd, [view[done:done + _MAX_READ]], offset + done)
            if got <= 0:
                raise OSError(f"{self.path} ended early: rows {start}..{start + len(out)} not all there")
            done += got


def chunk_rows(columns: int, limit: int | None = None) -> int:
    """Rows of ``columns`` float32 columns in :data:`CHUNK_BYTES` (at least 1,000; at most ``limit``): 8,010
    rows of a 2,095-column X. Every working copy of a chunk (a reconstruction, a masked copy, float64 blocks)
    is then tens of MB, not the GB a chunk of 50,000 such rows takes."""
    rows = max(1_000, CHUNK_BYTES // max(1, int(columns) * DTYPE.itemsize))
    return rows if limit is None else max(1, min(rows, int(limit)))


def row_chunks(X, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, block)`` of X's rows, ``rows`` at a time (default :func:`chunk_rows`): views of an array,
    fresh reads of a RowFile."""
    chunk = max(1, int(rows or chunk_rows(X.shape[1])))
    for lo in range(0, len(X), chunk):
        yield lo, X[lo:lo + chunk]


def as_rows(X):
    """X itself when it is a :class:`RowFile`, else X as a float32 array (no copy when it is one)."""
    return X if isinstance(X, RowFile) else np.asarray(X, dtype=np.float32)


def column_moments(X, *, variances: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """(means, variances) float64 (p,) of X's columns (an array or a RowFile), a chunk of rows at a time: two
    passes, the squared deviations from the means as ``var`` computes them (variances None when not asked)."""
    n = max(len(X), 1)
    means = np.zeros(X.shape[1], dtype=np.float64)
    for _, block in row_chunks(X):
        means += block.sum(axis=0, dtype=np.float64)
    means /= n
    if not variances:
        return means, None
    squares = np.zeros(X.shape[1], dtype=np.float64)
    for _, block in row_chunks(X):
        squares += np.square(block.astype(np.float64) - means).sum(axis=0)
    return means, squares / n
