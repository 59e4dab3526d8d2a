"""Reading whoosh3's W3 codec directly: posting lists a block at a time, field-length bytes.

Private parts of whoosh3 (pinned to 3.54) used here, each checked by
``tests/test_whoosh_canary.py``: ``W3LeafMatcher`` and its ``_byteids``, ``_data``,
``_read_data()``, ``_blocklength``, ``_next_block()``; ``whoosh.codec.whoosh3._lenfield``
and ``LENGTHS_COLUMN``; a per-document reader's ``_perdoc._cached_reader`` and a column
reader's ``_dbfile``, ``_basepos``, ``_count``. Anything unexpected falls back to Whoosh's
public, slower per-posting API.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from whoosh.util.numeric import byte_to_length

#: Field lengths are stored as one byte each (a logarithmic approximation); its lengths.
BYTE_LENGTHS = np.array([byte_to_length(i) for i in range(256)], dtype=np.float64)


def segment_postings(reader: Any, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
    """One segment's posting list of a term: document numbers and term frequencies.

    Deleted documents are included (``ArrayScorer.matches`` drops them)."""
    from whoosh.codec.whoosh3 import W3LeafMatcher
    from whoosh.matching.wrappers import FilterMatcher

    m = reader.postings(fieldname, text)
    if isinstance(m, FilterMatcher):
        m = m.child
    ids: list[Any] = []
    weights: list[Any] = []
    if isinstance(m, W3LeafMatcher) and not m._byteids:
        while m.is_active():
            if m._data is None:
                m._read_data()
            data: Any = m._data
            deltas, w = data[0], data[1]
            n = m._blocklength
            block_ids = np.cumsum(np.asarray(deltas, dtype=np.int64))
            ids.append(block_ids)
            if w is None:
                weights.append(np.ones(n))
            elif isinstance(w, float):
                weights.append(np.full(n, w))
            else:
                weights.append(np.asarray(w, dtype=np.float64))
            m._next_block()
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return np.concatenate(ids), np.concatenate(weights)
    plain_ids: list[int] = []
    plain_weights: list[float] = []
    while m.is_active():  # inlined or unfamiliar postings: Whoosh's public API
        plain_ids.append(m.id())
        plain_weights.append(m.weight())
        m.next()
    return np.asarray(plain_ids, dtype=np.int64), np.asarray(plain_weights, dtype=np.float64)


def segment_length_bytes(reader: Any, fieldname: str, count: int) -> np.ndarray:
    """One segment's stored length byte of ``fieldname`` for every document (0 = empty)."""
    from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

    try:
        column = reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
        if column is None:
            return np.zeros(count, dtype=np.uint8)
        raw = np.frombuffer(column._dbfile.get(column._basepos, column._count), dtype=np.uint8)
        out = np.zeros(count, dtype=np.uint8)
        out[: len(raw)] = raw[:count]
        return out
    except AttributeError:  # another codec: ask document by document
        from whoosh.util.numeric import length_to_byte

        return np.fromiter(
            (length_to_byte(reader.doc_field_length(d, fieldname, 0) or 0) for d in range(count)),
            dtype=np.uint8,
            count=count,
        )
