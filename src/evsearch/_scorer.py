"""Scoring a query one whole posting list at a time, with numpy (internal to the query layer).

Whoosh scores document by document, through a tree of Python matcher objects: six fields
per word make a query of four common words a union of 24 posting lists, walked one posting
at a time. At 100,000 passages that takes hundreds of milliseconds. This module reads each
term's posting list from the same Whoosh index into numpy arrays (from the decoded copy saved
beside the segment when the term is frequent, see ``_postcache``; else a block at a time;
recently read lists are kept in memory, ``POSTINGS_CACHE_BYTES``) and computes the same BM25F
formula (Whoosh's ``scoring.bm25``, with the same quantised field lengths and the same idf)
for all of a term's documents at once; ors add, and-maybes add where the first matches,
disjunction-maxes take the best. ``tests/test_scorer.py`` checks
the scores against Whoosh's own.

Leaves other than terms (phrases, numeric ranges) are scored by their Whoosh matcher, one
document at a time: they match few documents. A query shape this module does not know
raises ``Unsupported``, and the caller searches with Whoosh instead.

Reading a posting list uses private parts of whoosh3's W3 codec (pinned to 3.54): the block
structure of ``W3LeafMatcher`` and the raw bytes of the field-length columns. Anything
unexpected falls back to Whoosh's public, slower per-posting API.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from math import log
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

from ._postcache import SegmentCache

#: Field lengths are stored as one byte each (a logarithmic approximation); its lengths.
_BYTE_LENGTHS = np.array([byte_to_length(i) for i in range(256)], dtype=np.float64)
#: Up to this many tied candidates, ``top`` reads their ``seq`` one by one (else loads the column).
SEQ_LOOKUPS = 2000
#: Bytes of decoded posting lists kept in memory per searcher (least recently used go first).
POSTINGS_CACHE_BYTES = 64 << 20
_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_SCORES = np.zeros(0, dtype=np.float64)


def _is_sum(q: wq.Query) -> bool:
    """An or whose score is the sum of its parts' (not a disjunction-max, no coordination)."""
    return isinstance(q, wq.Or) and not isinstance(q, wq.DisjunctionMax) and not q.minmatch and not q.scale


class Unsupported(Exception):
    """The query has a part this scorer does not handle; search it with Whoosh."""


@dataclass(frozen=True)
class Matches:
    """Documents (global document numbers, ascending, unique) and their scores."""

    ids: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> Matches:
        return cls(_EMPTY_IDS, _EMPTY_SCORES)

    def restrict(self, keep: np.ndarray) -> Matches:
        """The matches where ``keep`` (a boolean array over them) is True."""
        return self if keep.all() else Matches(self.ids[keep], self.scores[keep])


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


class ArrayScorer:
    """Scores queries over one open Whoosh searcher; make a new one when the searcher changes."""

    def __init__(
        self, searcher: Any, *, k1: float, b: float, field_b: dict[str, float], folder: Path | None = None
    ) -> None:
        self.searcher = searcher
        self.folder = folder  # the index directory: its saved postings are used when present
        self._caches: dict[str, SegmentCache | None] = {}
        self.n = searcher.doc_count_all()
        self.k1 = k1
        self.b = b
        self.field_b = dict(field_b)
        self._leaves: list[tuple[Any, int]] = list(searcher.leaf_searchers())
        self._live: np.ndarray | None = None
        self._lengths: dict[str, np.ndarray | None] = {}
        self._avg: dict[str, float] = {}
        self._seq: Any = None
        self._seq_rank: np.ndarray | None = None
        self._columns: dict[str, np.ndarray] = {}
        self._cached_bytes = 0
        self._postings: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray, int]] = OrderedDict()

    # -- public --------------------------------------------------------------------------------
    def matches(self, q: wq.Query) -> Matches:
        """Every live document ``q`` matches, with its score."""
        m = self._eval(q, 1.0)
        keep = self.live()[m.ids]
        return m if keep.all() else Matches(m.ids[keep], m.scores[keep])

    def docs(self, q: wq.Query) -> np.ndarray:
        """The live documents ``q`` matches (unscored: for filters and exclusions)."""
        return self.matches(q).ids

    def everything(self) -> Matches:
        """Every live document, unscored (score 0)."""
        ids = np.flatnonzero(self.live())
        return Matches(ids, np.zeros(len(ids)))

    def top(self, m: Matches, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best matches: by score, ties in ``seq`` order (cell, studies first, then
        the document's order in its cell)."""
        if len(m.ids) > k:
            # everything scoring at least the k-th best score, so ties at the cut are all kept
            cut = np.partition(m.scores, len(m.scores) - k)[len(m.scores) - k]
            pick = np.flatnonzero(m.scores >= cut)
            ids, scores = m.ids[pick], m.scores[pick]
        else:
            ids, scores = m.ids, m.scores
        if len(ids) <= SEQ_LOOKUPS:  # a few candidates: look their seq up one by one
            seq = self._seq_reader()
            keys = [(-score, seq[d]) for d, score in zip(ids.tolist(), scores.tolist(), strict=True)]
            order = np.array(sorted(range(len(keys)), key=keys.__getitem__)[:k], dtype=np.int64)
        else:
            order = np.lexsort((self.seq_rank()[ids], -scores))[:k]
        return ids[order], scores[order]

    def _seq_reader(self) -> Any:
        if self._seq is None:
            self._seq = column_reader(self.searcher.reader(), "seq")
        return self._seq

    def seq_rank(self) -> np.ndarray:
        """Each document's rank in ``seq`` order."""
        if self._seq_rank is None:
            values = list(self._seq_reader())
            rank = np.empty(len(values), dtype=np.int64)
            rank[sorted(range(len(values)), key=values.__getitem__)] = np.arange(len(values))
            self._seq_rank = rank
        return self._seq_rank

    def column(self, fieldname: str) -> np.ndarray:
        """The values of a sortable field's column, one per document number."""
        found = self._columns.get(fieldname)
        if found is None:
            values = list(column_reader(self.searcher.reader(), fieldname))
            if values and all(isinstance(v, int) for v in values):
                found = np.array(values, dtype=np.int64)
            else:
                found = np.array(values, dtype=object)
            self._columns[fieldname] = found
        return found

    def live(self) -> np.ndarray:
        """True for each document number not deleted."""
        if self._live is None:
            live = np.ones(self.n, dtype=bool)
            for sub, offset in self._leaves:
                reader = sub.reader()
                if reader.has_deletions():
                    gone = np.fromiter(reader.deleted_docs_set, dtype=np.int64)
                    live[gone + offset] = False
            self._live = live
        return self._live

    # -- the query tree ------------------------------------------------------------------------
    def _eval(self, q: wq.Query, boost: float) -> Matches:
        """``q``'s matches, scores times ``boost`` (the product of the boosts above it)."""
        if isinstance(q, wq.Term):
            return self._term(q.fieldname, q.text, boost * q.boost)
        if isinstance(q, type(wq.NullQuery)):
            return Matches.empty()
        if isinstance(q, (wq.Phrase, wq.NumericRange)):
            return self._by_matcher(q, boost)  # Whoosh's matcher applies q's own boost
        if isinstance(q, wq.AndMaybe):
            return self._and_maybe(self._eval(q.a, 1.0), self._eval(q.b, 1.0), boost)
        if isinstance(q, (wq.Or, wq.And, wq.DisjunctionMax)) and len(q.subqueries) == 1:
            return self._eval(q.subqueries[0], boost)  # as Whoosh does, the lone part's boost only
        boost *= q.boost
        if isinstance(q, wq.DisjunctionMax):
            return self._union([self._eval(s, 1.0) for s in q.subqueries], boost, best=True)
        if _is_sum(q):
            # nested sums (the words of a query, each an or over fields) add up in one pass
            return self._union(self._addends(q, 1.0), boost, best=False)
        if isinstance(q, wq.And) and q.subqueries:
            return self._intersect([self._eval(s, 1.0) for s in q.subqueries], boost)
        if isinstance(q, (wq.Or, wq.DisjunctionMax, wq.And)) and not q.subqueries:
            return Matches.empty()
        raise Unsupported(type(q).__name__)

    def _addends(self, q: wq.Query, boost: float) -> list[Matches]:
        """The matches of the parts of a sum, nested sums flattened, boosts applied."""
        out: list[Matches] = []
        for sub in q.subqueries:
            if _is_sum(sub) and len(sub.subqueries) > 1:
                out.extend(self._addends(sub, boost * sub.boost))
            else:
                m = self._eval(sub, 1.0)
                out.append(m if boost == 1.0 else Matches(m.ids, m.scores * boost))
        return out

    def _union(self, parts: list[Matches], boost: float, *, best: bool) -> Matches:
        parts = [p for p in parts if len(p.ids)]
        if not parts:
            return Matches.empty()
        if len(parts) == 1:
            p = parts[0]
            return Matches(p.ids, p.scores * boost) if boost != 1.0 else p
        ids = np.concatenate([p.ids for p in parts])
        if best:
            acc = np.full(self.n, -np.inf)
            for p in parts:
                acc[p.ids] = np.maximum(acc[p.ids], p.scores)
            hit = np.flatnonzero(acc > -np.inf)
            return Matches(hit, acc[hit] * boost)
        scores = np.concatenate([p.scores for p in parts])
        if len(ids) * 8 < self.n:  # few postings: sort them rather than touch every document
            uniq, inverse = np.unique(ids, return_inverse=True)
            return Matches(uniq, np.bincount(inverse, weights=scores) * boost)
        acc = np.bincount(ids, weights=scores, minlength=self.n)
        seen = np.zeros(self.n, dtype=bool)
        seen[ids] = True
        hit = np.flatnonzero(seen)
        return Matches(hit, acc[hit] * boost)

    def _intersect(self, parts: list[Matches], boost: float) -> Matches:
        out = parts[0]
        for p in parts[1:]:
            common, ia, ib = np.intersect1d(out.ids, p.ids, assume_unique=True, return_indices=True)
            out = Matches(common, out.scores[ia] + p.scores[ib])
        return Matches(out.ids, out.scores * boost) if boost != 1.0 else out

    def _and_maybe(self, a: Matches, b: Matches, boost: float) -> Matches:
        scores = a.scores.copy()
        _, ia, ib = np.intersect1d(a.ids, b.ids, assume_unique=True, return_indices=True)
        scores[ia] += b.scores[ib]
        return Matches(a.ids, scores * boost)

    # -- leaves --------------------------------------------------------------------------------
    def _term(self, fieldname: str, text: str | bytes, boost: float) -> Matches:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        searcher = self.searcher
        if fieldname not in searcher.schema:
            return Matches.empty()
        ids, weights, df = self._read_postings(fieldname, text)
        if not df:
            return Matches.empty()
        lengths = self._field_lengths(fieldname)
        if lengths is None:  # not a scorable field: Whoosh scores the stored weight
            return Matches(ids, weights * boost)
        idf = log(self.n / (df + 1)) + 1  # Whoosh's WeightingModel.idf, df over all segments
        avg = self._avg.get(fieldname)
        if avg is None:
            avg = self._avg[fieldname] = searcher.avg_field_length(fieldname) or 1
        b = self.field_b.get(fieldname, self.b)
        k1 = self.k1
        norm = k1 * ((1 - b) + b * lengths[ids] / avg)
        return Matches(ids, (idf * boost) * ((weights * (k1 + 1)) / (weights + norm)))

    def _read_postings(self, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray, int]:
        """A term's documents and frequencies over all segments (deleted documents included),
        and its document frequency as the segments' term infos give it."""
        key = (fieldname, text)
        cached = self._postings.get(key)
        if cached is not None:
            self._postings.move_to_end(key)
            return cached
        id_parts: list[np.ndarray] = []
        weight_parts: list[np.ndarray] = []
        df = 0
        for sub, offset in self._leaves:
            reader = sub.reader()
            try:
                found = reader.term_info(fieldname, text).doc_frequency()
            except TermNotFound:
                continue
            df += found
            cache = self._segment_cache(reader)
            saved = cache.get(fieldname, text, found) if cache else None
            ids, weights = saved if saved is not None else segment_postings(reader, fieldname, text)
            id_parts.append(ids + offset)
            weight_parts.append(weights)
        if not id_parts:
            out = (_EMPTY_IDS, _EMPTY_SCORES, 0)
        elif len(id_parts) == 1:
            out = (id_parts[0], weight_parts[0], df)
        else:
            out = (np.concatenate(id_parts), np.concatenate(weight_parts), df)
        size = out[0].nbytes + out[1].nbytes
        if size <= POSTINGS_CACHE_BYTES:
            self._postings[key] = out
            self._cached_bytes += size
            while self._cached_bytes > POSTINGS_CACHE_BYTES:
                _, (ids, weights, _) = self._postings.popitem(last=False)
                self._cached_bytes -= ids.nbytes + weights.nbytes
        return out

    def clear_cache(self) -> None:
        """Forget the decoded posting lists (for measuring, or to give the memory back)."""
        self._postings.clear()
        self._cached_bytes = 0

    def _segment_cache(self, reader: Any) -> SegmentCache | None:
        if self.folder is None:
            return None
        segid = reader.segment().segment_id()
        if segid not in self._caches:
            self._caches[segid] = SegmentCache.open(self.folder, segid)
        return self._caches[segid]

    def _field_lengths(self, fieldname: str) -> np.ndarray | None:
        if fieldname in self._lengths:
            return self._lengths[fieldname]
        out: np.ndarray | None = None
        if self.searcher.schema[fieldname].scorable:
            out = np.zeros(self.n, dtype=np.float64)
            for sub, offset in self._leaves:
                reader = sub.reader()
                count = reader.doc_count_all()
                out[offset : offset + count] = _BYTE_LENGTHS[_segment_length_bytes(reader, fieldname, count)]
        self._lengths[fieldname] = out
        return out

    def _by_matcher(self, q: wq.Query, boost: float) -> Matches:
        """A leaf Whoosh scores itself (a phrase): its matches, one posting at a time."""
        ids: list[int] = []
        scores: list[float] = []
        for sub, offset in self._leaves:
            m = q.matcher(sub, sub.context())
            while m.is_active():
                ids.append(m.id() + offset)
                scores.append(m.score())
                m.next()
        if not ids:
            return Matches.empty()
        order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
        return Matches(
            np.asarray(ids, dtype=np.int64)[order], np.asarray(scores, dtype=np.float64)[order] * boost
        )


# --- reading whoosh3's W3 codec ---------------------------------------------------------------

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
            deltas, w = m._data[0], m._data[1]
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
            return _EMPTY_IDS, _EMPTY_SCORES
        return np.concatenate(ids), np.concatenate(weights)
    plain_ids: list[int] = []
    plain_weights: list[float] = []
    while m.is_active():  # inlined or unfamiliar postings: Whoosh's public API
        plain_ids.append(m.id())
        plain_weights.append(m.weight())
        m.next()
    return np.asarray(plain_ids, dtype=np.int64), np.asarray(plain_weights, dtype=np.float64)


def _segment_length_bytes(reader: Any, fieldname: str, count: int) -> np.ndarray:
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
