"""Sets of request ids held as two independent 64-bit hashes per id, not as strings.

Two hashes make a false match between different ids a 1-in-2**128 event. The set is an
open-addressing hash table (`kernel.id_insert`), so finding or adding a live tick's ids costs
O(new ids) whatever the size of the log, and finding the repeats among ten million ids is one
pass.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import kernel


def id_hashes(ids: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The two hashes of each id's UTF-8 bytes, read straight from Arrow's buffers."""
    chunks = ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]
    parts = [_chunk_hashes(chunk.cast(pa.large_string())) for chunk in chunks]
    if not parts:
        empty = np.zeros(0, dtype=np.uint64)
        return empty, empty
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _chunk_hashes(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    offsets, data = string_buffers(chunk)
    return kernel.hash_strings(offsets, data, kernel.as_words(data))


def string_buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The offsets (int64) and bytes of an Arrow ``large_string`` array, without copying."""
    _, offsets, data = chunk.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets, data


class IdSet:
    """Request ids (as `id_hashes`) in a hash table that doubles when three quarters full.

    Examples
    --------
    >>> held = IdSet()
    >>> held.add(*id_hashes(pa.array(["r1", "r2", "r1"]))).tolist()
    [True, True, False]
    >>> held.contains(*id_hashes(pa.array(["r2", "r3"]))).tolist()
    [True, False]
    """

    def __init__(self) -> None:
        self._slots = np.zeros((1024, 2), dtype=np.uint64)  # an id's two hashes share a cache line
        self._held = 0

    def __len__(self) -> int:
        return self._held

    def contains(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        """Per id: whether the set holds it."""
        return kernel.id_probe(self._slots, h1, h2)

    def reserve(self, ids: int) -> None:
        """Make room for ``ids`` ids in all, so adding them never copies the table."""
        size = len(self._slots)
        if ids * 4 > size * 3:
            while ids * 5 > size * 3:  # at most 60% full after growing
                size *= 2
            old = self._slots[self._slots[:, 0] != 0]
            self._slots = np.zeros((size, 2), dtype=np.uint64)
            kernel.id_insert(self._slots, old[:, 0], old[:, 1])

    def add(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        """Add ids; per id, whether it was new (not held, nor earlier in ``h1``)."""
        self.reserve(self._held + len(h1))
        new = kernel.id_insert(self._slots, h1, h2)
        self._held += int(new.sum())
        return new
