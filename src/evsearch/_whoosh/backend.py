"""The ranking seam (:class:`evsearch.search.backend.Backend`) implemented over a Whoosh searcher.

Posting lists come from the decoded copy saved beside each segment when the term is frequent
(:mod:`.postcache`), else from the segment itself a block at a time (:mod:`.postings`); field
lengths from the raw length bytes of each segment. Document numbers are Whoosh's global ones
(a segment's own numbers plus its offset).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.reading import TermNotFound

from .postcache import SegmentCache, cache_files
from .postings import BYTE_LENGTHS, segment_length_bytes, segment_postings

_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_SCORES = np.zeros(0, dtype=np.float64)


def column_reader(reader: Any, fieldname: str) -> Any:
    """A column reader of ``fieldname`` with one value per document number of ``reader``.

    Whoosh's multi-segment reader leaves out the segments that have no column file for the
    field (a segment whose documents all lack it, such as undated pages for ``year``), which
    shifts every later segment's values onto the wrong documents; here such a segment reads
    as the column's default value ("no value") for each of its documents."""
    from whoosh import columns

    if reader.is_atomic():
        return reader.column_reader(fieldname)
    subs, offsets = [], []
    for sub, offset in reader.leaf_readers():
        subs.append(sub.column_reader(fieldname))  # a segment without the column: defaults
        offsets.append(offset)
    return columns.MultiColumnReader(subs, offsets)


class _Scored(wq.Query):
    """A Whoosh query matching given documents with given scores (global document numbers):
    a BM25F term the array scorer computed, for Whoosh's collectors."""

    def __init__(self, backend: WhooshBackend, ids: np.ndarray, scores: np.ndarray) -> None:
        self.backend = backend
        self.ids = ids
        self.scores = scores
        self.boost = 1.0

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"_Scored({len(self.ids)} documents)"

    def is_leaf(self) -> bool:
        return True

    def estimate_size(self, ixreader: Any) -> int:
        return len(self.ids)

    def estimate_min_size(self, ixreader: Any) -> int:
        return len(self.ids)

    def terms(self, phrases: bool = False) -> Any:
        return iter(())

    def existing_terms(self, *args: Any, **kwargs: Any) -> set[Any]:
        return set()

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        from whoosh.matching import ListMatcher, NullMatcher

        top = self.backend.searcher
        offset = 0 if searcher is top else top._offset_for_subsearcher(searcher)
        if offset is None:
            offset = 0
        lo, hi = offset, offset + searcher.doc_count_all()
        keep = (self.ids >= lo) & (self.ids < hi)
        ids = (self.ids[keep] - lo).tolist()
        if not ids:
            return NullMatcher()
        return ListMatcher(ids, weights=self.scores[keep].tolist())


class WhooshBackend:
    """One open Whoosh searcher seen through the ranking seam; make a new one when it changes."""

    def __init__(
        self, searcher: Any, folder: Path | None = None, trusted: Callable[[str], bool] | None = None
    ) -> None:
        self.searcher = searcher
        self.folder = folder  # the generation directory: its saved postings are used when present
        # Which saved-postings files passed verification against the manifest (None: all).
        self.trusted = trusted
        self._caches: dict[str, SegmentCache | None] = {}
        self._leaves: list[tuple[Any, int]] = list(searcher.leaf_searchers())
        self._n = searcher.doc_count_all()

    def doc_count(self) -> int:
        return int(self._n)

    def live(self) -> np.ndarray:
        live = np.ones(self._n, dtype=bool)
        for sub, offset in self._leaves:
            reader = sub.reader()
            if reader.has_deletions():
                gone = np.fromiter(reader.deleted_docs_set, dtype=np.int64)
                live[gone + offset] = False
        return live

    def has_field(self, field: str) -> bool:
        schema = self.searcher.schema
        return field in schema and bool(schema[field].indexed)

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray, int]:
        """A term's documents and frequencies over all segments (deleted documents included),
        and its document frequency as the segments' term infos give it."""
        id_parts: list[np.ndarray] = []
        weight_parts: list[np.ndarray] = []
        df = 0
        for sub, offset in self._leaves:
            reader = sub.reader()
            try:
                found = reader.term_info(field, term).doc_frequency()
            except TermNotFound:
                continue
            df += found
            cache = self.segment_cache(reader)
            saved = cache.get(field, term, found) if cache else None
            ids, weights = saved if saved is not None else segment_postings(reader, field, term)
            id_parts.append(ids + offset)
            weight_parts.append(weights)
        if not id_parts:
            return _EMPTY_IDS, _EMPTY_SCORES, 0
        if len(id_parts) == 1:
            return id_parts[0], weight_parts[0], df
        return np.concatenate(id_parts), np.concatenate(weight_parts), df

    def segment_cache(self, reader: Any) -> SegmentCache | None:
        """The saved postings of one segment's reader, or None."""
        if self.folder is None:
            return None
        segid = reader.segment().segment_id()
        if segid not in self._caches:
            trusted = self.trusted
            ok = trusted is None or all(trusted(name) for name in cache_files(segid))
            self._caches[segid] = SegmentCache.open(self.folder, segid) if ok else None
        return self._caches[segid]

    def field_lengths(self, field: str) -> np.ndarray | None:
        if not self.searcher.schema[field].scorable:
            return None
        out = np.zeros(self._n, dtype=np.float64)
        for sub, offset in self._leaves:
            reader = sub.reader()
            count = reader.doc_count_all()
            out[offset : offset + count] = BYTE_LENGTHS[segment_length_bytes(reader, field, count)]
        return out

    def avg_field_length(self, field: str) -> float:
        return float(self.searcher.avg_field_length(field) or 1)

    def total_field_length(self, field: str) -> float:
        return float(self.searcher.field_length(field) or 0)

    def phrase_frequencies(self, phrase: Any) -> tuple[np.ndarray, np.ndarray]:
        """Where a phrase occurs, and how often (the number of its spans in the document)."""
        plain = wq.Phrase(phrase.fieldname, phrase.words, slop=phrase.slop)
        return self._each_match(
            plain, lambda m: float(len(m.spans())) if hasattr(m, "spans") else 1.0
        )

    def scored_query(self, ids: np.ndarray, scores: np.ndarray) -> Any:
        return _Scored(self, ids, scores)

    def terms(self, field: str) -> list[str]:
        return [
            t.decode("utf-8") if isinstance(t, bytes) else t
            for t in self.searcher.reader().lexicon(field)
        ]

    def column(self, field: str) -> Sequence[Any]:
        column: Sequence[Any] = column_reader(self.searcher.reader(), field)
        return column

    def leaf_matches(self, query: Any) -> tuple[np.ndarray, np.ndarray]:
        """A leaf Whoosh scores itself (a phrase): its matches, one posting at a time."""
        return self._each_match(query, lambda m: float(m.score()))

    def _each_match(self, query: Any, value: Callable[[Any], float]) -> tuple[np.ndarray, np.ndarray]:
        """The documents ``query`` matches in every segment, in order, each with ``value(matcher)``."""
        ids: list[int] = []
        values: list[float] = []
        for sub, offset in self._leaves:
            m = query.matcher(sub, sub.context())
            while m.is_active():
                ids.append(m.id() + offset)
                values.append(value(m))
                m.next()
        if not ids:
            return _EMPTY_IDS, _EMPTY_SCORES
        order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
        return np.asarray(ids, dtype=np.int64)[order], np.asarray(values, dtype=np.float64)[order]

    def stored(self, docnum: int) -> dict[str, Any]:
        fields: dict[str, Any] = self.searcher.stored_fields(docnum)
        return fields
