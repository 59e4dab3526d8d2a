"""Scoring a query one whole posting list at a time, with numpy (the ranking math).

Whoosh scores document by document, through a tree of Python matcher objects: six fields
per word make a query of four common words a union of 24 posting lists, walked one posting
at a time. At 100,000 passages that takes hundreds of milliseconds. This module reads each
term's posting list through the engine seam (:class:`~evsearch.search.backend.Backend`) as
numpy arrays (recently read lists are kept in memory, ``POSTINGS_CACHE_BYTES``) and computes
the same BM25F formula (Whoosh's ``scoring.bm25``, with the same quantised field lengths and
the same idf) for all of a term's documents at once; ors add, and-maybes add where the first
matches, disjunction-maxes take the best. ``tests/test_scorer.py`` checks the scores against
Whoosh's own.

Leaves other than terms (phrases, numeric ranges) are scored by the engine, one document at
a time (``Backend.leaf_matches``): they match few documents. A query shape this module does
not know raises ``Unsupported``, and the caller searches with Whoosh instead.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from math import log
from typing import Any

import numpy as np
from whoosh import query as wq

from .backend import Backend

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


class ArrayScorer:
    """Scores queries over one open view of an index; make a new one when the view changes."""

    def __init__(self, backend: Backend, *, k1: float, b: float, field_b: dict[str, float]) -> None:
        self.backend = backend
        self.n = backend.doc_count()
        self.k1 = k1
        self.b = b
        self.field_b = dict(field_b)
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
            self._seq = self.backend.column("seq")
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
            values = list(self.backend.column(fieldname))
            if values and all(isinstance(v, int) for v in values):
                found = np.array(values, dtype=np.int64)
            else:
                found = np.array(values, dtype=object)
            self._columns[fieldname] = found
        return found

    def live(self) -> np.ndarray:
        """True for each document number not deleted."""
        if self._live is None:
            self._live = self.backend.live()
        return self._live

    # -- the query tree ------------------------------------------------------------------------
    def _eval(self, q: Any, boost: float) -> Matches:
        """``q``'s matches, scores times ``boost`` (the product of the boosts above it)."""
        if isinstance(q, wq.Term):
            return self._term(q.fieldname, q.text, boost * q.boost)
        if isinstance(q, type(wq.NullQuery)):
            return Matches.empty()
        if isinstance(q, (wq.Phrase, wq.NumericRange)):
            ids, scores = self.backend.leaf_matches(q)  # the engine applies q's own boost
            return Matches(ids, scores * boost) if len(ids) else Matches.empty()
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

    def _addends(self, q: Any, boost: float) -> list[Matches]:
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
        if not self.backend.has_field(fieldname):
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
            avg = self._avg[fieldname] = self.backend.avg_field_length(fieldname)
        b = self.field_b.get(fieldname, self.b)
        k1 = self.k1
        norm = k1 * ((1 - b) + b * lengths[ids] / avg)
        return Matches(ids, (idf * boost) * ((weights * (k1 + 1)) / (weights + norm)))

    def _read_postings(self, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray, int]:
        """A term's documents and frequencies (deleted documents included), and its document
        frequency, from the backend or from the posting lists kept in memory."""
        key = (fieldname, text)
        cached = self._postings.get(key)
        if cached is not None:
            self._postings.move_to_end(key)
            return cached
        out = self.backend.postings(fieldname, text)
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

    def _field_lengths(self, fieldname: str) -> np.ndarray | None:
        if fieldname in self._lengths:
            return self._lengths[fieldname]
        out = self.backend.field_lengths(fieldname)
        self._lengths[fieldname] = out
        return out
