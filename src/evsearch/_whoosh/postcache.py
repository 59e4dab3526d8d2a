"""Decoded posting lists of frequent terms, saved beside each Whoosh segment (internal).

The file names follow whoosh3's segment file naming (``<indexname>_<segment id>.<ext>``), so
Whoosh deletes them with their segment: that naming is the private detail used here.

Reading a posting list from whoosh3's W3 codec costs about half a microsecond a posting:
every block of 128 postings is unpickled, positions included. A query for common words at
100,000 passages reads a hundred thousand postings, so most of its time went there. After
each commit, the terms of every new segment found in at least ``MIN_DF`` documents get their
document numbers and frequencies saved as plain arrays, three files per segment::

    MAIN_<segment>.evpost.json   {"fields": {field: {term: [start, end]}}, "postings": n}
    MAIN_<segment>.evpost_ids    n little-endian uint32: document numbers within the segment
    MAIN_<segment>.evpost_tf     n little-endian float32: term frequencies

from which a search reads the slice of each term it needs (no file is held open). Segments
never change once written (deletions are kept apart, and the scorer drops deleted documents
itself), so a table is valid for as long as its segment lives; its names follow Whoosh's
segment file pattern, so Whoosh deletes it with the segment. It is a cache, written after
the commit: a missing, partial or inconsistent table only means the postings are decoded
from the segment, as before.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..config import SEARCH_FIELDS
from .postings import segment_postings

#: The fields whose frequent terms are saved (the fields plain words are searched in).
FIELDS: tuple[str, ...] = SEARCH_FIELDS
#: Terms in fewer documents than this decode fast enough (~0.1 ms) as they are.
MIN_DF = 256
_TABLE = ".evpost.json"
_IDS = ".evpost_ids"
_TF = ".evpost_tf"
_ID_TYPE = np.dtype("<u4")
_TF_TYPE = np.dtype("<f4")


def cache_files(segid: str) -> tuple[str, str, str]:
    """The names of a segment's saved-postings files."""
    return segid + _TABLE, segid + _IDS, segid + _TF


def write_caches(ix: Any) -> int:
    """Save the frequent terms of every segment of ``ix`` that has no table yet; returns how
    many segments got one."""
    folder = Path(ix.storage.folder)
    written = 0
    with ix.reader() as reader:
        for sub, _ in reader.leaf_readers():
            segid = sub.segment().segment_id()
            if not (folder / (segid + _TABLE)).exists():
                _write_segment(sub, folder, segid)
                written += 1
    return written


def _write_segment(reader: Any, folder: Path, segid: str) -> None:
    table: dict[str, dict[str, list[int]]] = {}
    ids: list[np.ndarray] = []
    tfs: list[np.ndarray] = []
    at = 0
    for fieldname in FIELDS:
        if fieldname not in reader.schema:
            continue
        terms: dict[str, list[int]] = {}
        for term, info in reader.iter_field(fieldname):
            if info.doc_frequency() < MIN_DF:
                continue
            text = term.decode("utf-8") if isinstance(term, bytes) else term
            found, tf = segment_postings(reader, fieldname, text)
            terms[text] = [at, at + len(found)]
            at += len(found)
            ids.append(found.astype(_ID_TYPE))
            tfs.append(tf.astype(_TF_TYPE))
        if terms:
            table[fieldname] = terms
    all_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=_ID_TYPE)
    all_tf = np.concatenate(tfs) if tfs else np.zeros(0, dtype=_TF_TYPE)
    for suffix, array in ((_IDS, all_ids), (_TF, all_tf)):
        tmp = folder / (segid + suffix + ".tmp")
        tmp.write_bytes(array.tobytes())
        os.replace(tmp, folder / (segid + suffix))
    tmp = folder / (segid + _TABLE + ".tmp")
    tmp.write_text(json.dumps({"fields": table, "postings": at}), encoding="utf-8")
    os.replace(tmp, folder / (segid + _TABLE))  # last: its presence says the arrays are whole


class SegmentCache:
    """The saved postings of one segment (``get`` returns None for a term not saved)."""

    def __init__(self, table: dict[str, dict[str, list[int]]], ids: Path, tf: Path) -> None:
        self._table = table
        self._ids = ids
        self._tf = tf

    @classmethod
    def open(cls, folder: Path, segid: str) -> SegmentCache | None:
        """The segment's table, or None when it has none or it is damaged."""
        ids, tf = folder / (segid + _IDS), folder / (segid + _TF)
        try:
            meta = json.loads((folder / (segid + _TABLE)).read_text(encoding="utf-8"))
            sizes = ids.stat().st_size, tf.stat().st_size
        except (OSError, ValueError):
            return None
        n = meta.get("postings") if isinstance(meta, dict) else None
        if not isinstance(n, int) or sizes != (n * _ID_TYPE.itemsize, n * _TF_TYPE.itemsize):
            return None
        if not isinstance(meta.get("fields"), dict):
            return None
        return cls(meta["fields"], ids, tf)

    def get(self, fieldname: str, text: str, df: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The term's document numbers (int64) and frequencies (float64), if saved and of the
        length the segment's own term info gives (``df``)."""
        span = self._table.get(fieldname, {}).get(text)
        if not isinstance(span, list) or len(span) != 2 or span[1] - span[0] != df:
            return None
        start = span[0]
        try:
            ids = np.fromfile(self._ids, dtype=_ID_TYPE, count=df, offset=start * _ID_TYPE.itemsize)
            tf = np.fromfile(self._tf, dtype=_TF_TYPE, count=df, offset=start * _TF_TYPE.itemsize)
        except (OSError, ValueError):
            return None
        if len(ids) != df or len(tf) != df:
            return None
        return ids.astype(np.int64), tf.astype(np.float64)
