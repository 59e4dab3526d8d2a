"""Scoring a query one whole posting list at a time, with numpy (the ranking math).

Whoosh scores document by document, through a tree of Python matcher objects: six fields
per word make a query of four common words a union of 24 posting lists, walked one posting
at a time. At 100,000 passages that takes hundreds of milliseconds. This module reads each
term's posting list through the engine seam (:class:`~evsearch.search.backend.Backend`) as
numpy arrays (recently read lists are kept in memory, ``POSTINGS_CACHE_BYTES``) and computes
BM25F as Robertson and Zaragoza define it for the words of a query (:class:`FieldedTerm`:
field-weighted, per-field length-normalised frequencies added before saturation, one Lucene
idf per term over documents) for all of a term's documents at once; a bare ``Term`` is scored
with Whoosh's own BM25F formula; ors add, and-maybes add where the first matches,
disjunction-maxes take the best. ``tests/test_scorer.py`` checks BM25F against a plain
per-document computation, and the rest against Whoosh's own scores.

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
from .bm25f import (
    Expansion,
    FieldedTerm,
    FieldPart,
    TermBreakdown,
    length_normalised,
    lucene_idf,
    saturate,
    walk_scored,
)

__all__ = ["ArrayScorer", "Expansion", "FieldedTerm", "Matches", "TermBreakdown", "Unsupported"]

#: Up to this many tied candidates, ``top`` reads their ``seq`` one by one (else loads the column).
SEQ_LOOKUPS = 2000
#: Bytes of decoded posting lists kept in memory per searcher (least recently used go first).
POSTINGS_CACHE_BYTES = 64 << 20
_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_SCORES = np.zeros(0, dtype=np.float64)


def _is_sum(q: wq.Query) -> bool:
    """An or whose score is the sum of its parts' (not a disjunction-max, no coordination)."""
    return (
        isinstance(q, wq.Or) and not isinstance(q, (wq.DisjunctionMax, FieldedTerm))
        and not q.minmatch and not q.scale
    )


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
        self._codes: dict[str, tuple[np.ndarray, list[Any]]] = {}
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

    def column_codes(self, fieldname: str) -> tuple[np.ndarray, list[Any]]:
        """A sortable field's column as small integers and the values they stand for, so that
        counting values over many documents is one ``np.bincount`` (facets)."""
        found = self._codes.get(fieldname)
        if found is None:
            index: dict[Any, int] = {}
            codes = np.fromiter((index.setdefault(v, len(index)) for v in self.column(fieldname).tolist()),
                                dtype=np.int32, count=len(self.column(fieldname)))
            found = (codes, list(index))
            self._codes[fieldname] = found
        return found

    def live(self) -> np.ndarray:
        """True for each document number not deleted."""
        if self._live is None:
            self._live = self.backend.live()
        return self._live

    # -- the query tree ------------------------------------------------------------------------
    def _eval(self, q: Any, boost: float) -> Matches:
        """``q``'s matches, scores times ``boost`` (the product of the boosts above it)."""
        if isinstance(q, FieldedTerm):
            return self.bm25f(q, boost * q.boost)
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

    # -- BM25F ---------------------------------------------------------------------------------
    def _field_frequencies(self, part: Any) -> tuple[str, np.ndarray, np.ndarray]:
        """A part of a ``FieldedTerm``: its field, documents and frequencies there."""
        if isinstance(part, wq.Term):
            text = part.text.decode("utf-8") if isinstance(part.text, bytes) else part.text
            if not self.backend.has_field(part.fieldname):
                return part.fieldname, _EMPTY_IDS, _EMPTY_SCORES
            ids, tf, _ = self._read_postings(part.fieldname, text)
            return part.fieldname, ids, tf
        if isinstance(part, wq.Phrase):
            if not self.backend.has_field(part.fieldname):
                return part.fieldname, _EMPTY_IDS, _EMPTY_SCORES
            return part.fieldname, *self._phrase_frequencies(part)
        raise Unsupported(type(part).__name__)

    def _normalised(self, fieldname: str, weight: float, ids: np.ndarray, tf: np.ndarray) -> np.ndarray:
        """weight * tf / ((1 - b) + b * length / average length): a field's share of BM25F's tf."""
        lengths = self._field_lengths(fieldname)
        if lengths is None:
            return weight * tf
        b = self.field_b.get(fieldname, self.b)
        return length_normalised(tf, weight, lengths[ids], self._avg_with_field(fieldname, lengths), b)

    def _avg_with_field(self, fieldname: str, lengths: np.ndarray) -> float:
        """The field's average length over the documents that have it, as Lucene computes it
        (Whoosh divides by every document: a field most documents lack, a title say, would
        look long wherever it is present)."""
        key = "\0" + fieldname
        avg = self._avg.get(key)
        if avg is None:
            having = int(np.count_nonzero(lengths))
            total = self.backend.total_field_length(fieldname) or float(lengths.sum())
            avg = self._avg[key] = (total / having) if having else 1.0
        return avg

    def bm25f(self, q: FieldedTerm, boost: float) -> Matches:
        """BM25F (Robertson and Zaragoza 2009) of one term over its fields:
        ``idf * tf / (k1 + tf)`` with ``tf`` the sum over fields of the field weight times the
        field's frequency divided by its length normalisation, and ``idf`` Lucene's, over the
        documents having the term in any of the fields."""
        id_parts: list[np.ndarray] = []
        tf_parts: list[np.ndarray] = []
        part: Any
        for part in q.subqueries:
            fieldname, ids, tf = self._field_frequencies(part)
            if len(ids) and part.boost > 0:
                id_parts.append(ids)
                tf_parts.append(self._normalised(fieldname, part.boost, ids, tf))
        if not id_parts:
            return Matches.empty()
        if len(id_parts) == 1:
            uniq, acc = id_parts[0], tf_parts[0]
        else:
            uniq, inverse = np.unique(np.concatenate(id_parts), return_inverse=True)
            acc = np.bincount(inverse, weights=np.concatenate(tf_parts))
        return Matches(uniq, saturate(acc, lucene_idf(self.n, len(uniq)) * boost, self.k1))

    def breakdown(self, q: FieldedTerm, boost: float, docnum: int) -> TermBreakdown | None:
        """How ``q`` scores in one document (None when the document does not have it):
        the numbers ``bm25f`` computes, field by field."""
        fields: list[FieldPart] = []
        docs: list[np.ndarray] = []
        part: Any
        for part in q.subqueries:
            fieldname, ids, tf = self._field_frequencies(part)
            if not len(ids) or part.boost <= 0:
                continue
            docs.append(ids)
            at = np.searchsorted(ids, docnum)
            if at < len(ids) and ids[at] == docnum:
                lengths = self._field_lengths(fieldname)
                fields.append(FieldPart(
                    fieldname,
                    " ".join(part.words) if isinstance(part, wq.Phrase) else str(part.text),
                    float(tf[at]),
                    float(lengths[docnum]) if lengths is not None else 0.0,
                    float(part.boost),
                    float(self._normalised(fieldname, part.boost, ids[at : at + 1], tf[at : at + 1])[0]),
                ))
        if not fields:
            return None
        df = len(np.unique(np.concatenate(docs)))
        idf = lucene_idf(self.n, df)
        tf_total = sum(f.normalised for f in fields)
        score = idf * boost * q.boost * tf_total / (self.k1 + tf_total)
        return TermBreakdown(q.label, idf, boost * q.boost, score, tuple(fields))

    # -- explaining one document's score ---------------------------------------------------
    def explain(self, q: wq.Query, docnum: int) -> list[TermBreakdown]:
        """What each scored part of ``q`` adds to document ``docnum``'s score, as ``_eval``
        computes it: the scores of the parts add up to the document's score."""
        out: list[TermBreakdown] = []
        self._explain(q, 1.0, docnum, out)
        return [b for b in out if b.score]

    def _score_at(self, q: wq.Query, boost: float, docnum: int) -> float | None:
        m = self._eval(q, boost)
        at = int(np.searchsorted(m.ids, docnum))
        return float(m.scores[at]) if at < len(m.ids) and m.ids[at] == docnum else None

    def _explain(self, q: wq.Query, boost: float, docnum: int, out: list[TermBreakdown]) -> None:
        def on_term(term: FieldedTerm, boost: float) -> None:
            found = self.breakdown(term, boost, docnum)
            if found is not None:
                out.append(found)

        def on_leaf(leaf: Any, boost: float) -> None:
            score = self._score_at(leaf, boost, docnum)
            if score is not None:
                out.append(TermBreakdown(str(leaf), 0.0, boost, score, ()))

        walk_scored(q, boost, lambda part: self._score_at(part, 1.0, docnum), on_term, on_leaf)

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
        self._remember(key, out)
        return out

    def _phrase_frequencies(self, phrase: Any) -> tuple[np.ndarray, np.ndarray]:
        """Where a phrase occurs and how often, kept in memory like a posting list: a phrase
        is matched position by position, the slowest leaf there is, and the phrases the plan
        adds for acronyms and synonyms come back query after query."""
        words = tuple(w.decode("utf-8") if isinstance(w, bytes) else w for w in phrase.words)
        key = (phrase.fieldname, "\x00phrase\x00" + "\x00".join(words) + f"\x00{phrase.slop}")
        cached = self._postings.get(key)
        if cached is not None:
            self._postings.move_to_end(key)
            return cached[0], cached[1]
        ids, freqs = self.backend.phrase_frequencies(phrase)
        self._remember(key, (ids, freqs, len(ids)))
        return ids, freqs

    def _remember(self, key: tuple[str, str], value: tuple[np.ndarray, np.ndarray, int]) -> None:
        """Keep ``value`` in memory, forgetting the least recently used beyond the budget."""
        size = value[0].nbytes + value[1].nbytes
        if size > POSTINGS_CACHE_BYTES:
            return
        self._postings[key] = value
        self._cached_bytes += size
        while self._cached_bytes > POSTINGS_CACHE_BYTES:
            _, (ids, weights, _) = self._postings.popitem(last=False)
            self._cached_bytes -= ids.nbytes + weights.nbytes

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
