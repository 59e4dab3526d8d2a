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
    return (
        isinstance(q, wq.Or) and not isinstance(q, (wq.DisjunctionMax, FieldedTerm))
        and not q.minmatch and not q.scale
    )


class FieldedTerm(wq.Or):
    """One word (or phrase) of a query searched in several fields and scored as one BM25F term.

    Its parts are a ``Term`` (or ``Phrase``) per field, each boosted by its field's weight.
    The array scorer combines them as Robertson and Zaragoza define BM25F: the field-weighted,
    field-length-normalised frequencies are added before saturation, with one idf per term
    over documents (see ``ArrayScorer.bm25f``). Whoosh, which does not know it, scores it as
    an or of its parts (a sum of per-field scores).
    """

    def __init__(self, parts: list[wq.Query], boost: float = 1.0, label: str = "") -> None:
        super().__init__(parts, boost=boost)
        self.label = label  # what the user sees in ``explain``: the word, phrase or expansion

    def __copy__(self) -> FieldedTerm:
        return FieldedTerm(list(self.subqueries), boost=self.boost, label=self.label)

    def normalize(self) -> wq.Query:
        return self

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        """Whoosh's matcher for this term (when Whoosh searches, for a query shape the array
        scorer does not know): the array scorer's BM25F scores of the segment's documents."""
        from whoosh.matching import ListMatcher, NullMatcher

        top = searcher.get_parent()
        scorer = getattr(top, "_evsearch_scorer", None)
        if scorer is None or scorer.model != "bm25f":
            return super().matcher(searcher, context)
        m = scorer.bm25f(self, self.boost)
        keep = scorer.live()[m.ids]
        offset = top._offset_for_subsearcher(searcher) if searcher is not top else 0
        lo, hi = offset, offset + searcher.doc_count_all()
        keep &= (m.ids >= lo) & (m.ids < hi)
        ids = (m.ids[keep] - lo).tolist()
        if not ids:
            return NullMatcher()
        return ListMatcher(ids, weights=m.scores[keep].tolist())


def lucene_idf(n_docs: int, df: int) -> float:
    """Lucene's BM25 idf: log(1 + (N - n + 0.5) / (n + 0.5)); never negative."""
    return log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class FieldPart:
    """One field of a ``FieldedTerm`` in one document: what its BM25F score is made of."""

    field: str
    text: str  # the index term, or a phrase's terms joined by spaces
    frequency: float
    field_length: float
    weight: float  # the field's weight
    normalised: float  # weight * frequency / length normalisation: this field's share of tf


@dataclass(frozen=True)
class TermBreakdown:
    """A ``FieldedTerm``'s score in one document, field by field."""

    label: str
    idf: float
    boost: float
    score: float
    fields: tuple[FieldPart, ...]


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
    """Scores queries over one open Whoosh searcher; make a new one when the searcher changes."""

    def __init__(
        self, searcher: Any, *, k1: float, b: float, field_b: dict[str, float], folder: Path | None = None,
        model: str = "bm25f",
    ) -> None:
        self.searcher = searcher
        self.folder = folder  # the index directory: its saved postings are used when present
        self._caches: dict[str, SegmentCache | None] = {}
        self.n = searcher.doc_count_all()
        self.k1 = k1
        self.b = b
        self.field_b = dict(field_b)
        self.model = model  # "bm25f" (Robertson and Zaragoza) or "whoosh" (Whoosh's per-field sum)
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
            self._seq = self.searcher.reader().column_reader("seq")
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
            values = list(self.searcher.reader().column_reader(fieldname))
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
        if isinstance(q, FieldedTerm) and self.model == "bm25f":
            return self.bm25f(q, boost * q.boost)
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

    # -- BM25F ---------------------------------------------------------------------------------
    def _field_frequencies(self, part: wq.Query) -> tuple[str, np.ndarray, np.ndarray]:
        """A part of a ``FieldedTerm``: its field, documents and frequencies there."""
        if isinstance(part, wq.Term):
            text = part.text.decode("utf-8") if isinstance(part.text, bytes) else part.text
            if part.fieldname not in self.searcher.schema:
                return part.fieldname, _EMPTY_IDS, _EMPTY_SCORES
            ids, tf, _ = self._read_postings(part.fieldname, text)
            return part.fieldname, ids, tf
        if isinstance(part, wq.Phrase):
            return part.fieldname, *self._phrase_frequencies(part)
        raise Unsupported(type(part).__name__)

    def _phrase_frequencies(self, q: wq.Phrase) -> tuple[np.ndarray, np.ndarray]:
        """The documents holding a phrase, and how often each holds it (from Whoosh's spans)."""
        ids: list[int] = []
        tf: list[float] = []
        plain = wq.Phrase(q.fieldname, q.words, slop=q.slop)
        for sub, offset in self._leaves:
            m = plain.matcher(sub, sub.context())
            while m.is_active():
                ids.append(m.id() + offset)
                tf.append(float(len(m.spans())) if hasattr(m, "spans") else 1.0)
                m.next()
        if not ids:
            return _EMPTY_IDS, _EMPTY_SCORES
        order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
        return np.asarray(ids, dtype=np.int64)[order], np.asarray(tf, dtype=np.float64)[order]

    def _normalised(self, fieldname: str, weight: float, ids: np.ndarray, tf: np.ndarray) -> np.ndarray:
        """weight * tf / ((1 - b) + b * length / average length): a field's share of BM25F's tf."""
        lengths = self._field_lengths(fieldname)
        if lengths is None:
            return weight * tf
        b = self.field_b.get(fieldname, self.b)
        avg = self._avg_with_field(fieldname, lengths)
        return weight * tf / ((1 - b) + b * lengths[ids] / avg)

    def _avg_with_field(self, fieldname: str, lengths: np.ndarray) -> float:
        """The field's average length over the documents that have it, as Lucene computes it
        (Whoosh divides by every document: a field most documents lack, a title say, would
        look long wherever it is present)."""
        key = "\0" + fieldname
        avg = self._avg.get(key)
        if avg is None:
            having = int(np.count_nonzero(lengths))
            total = self.searcher.field_length(fieldname) or float(lengths.sum())
            avg = self._avg[key] = (total / having) if having else 1.0
        return avg

    def bm25f(self, q: FieldedTerm, boost: float) -> Matches:
        """BM25F (Robertson and Zaragoza 2009) of one term over its fields:
        ``idf * tf / (k1 + tf)`` with ``tf`` the sum over fields of the field weight times the
        field's frequency divided by its length normalisation, and ``idf`` Lucene's, over the
        documents having the term in any of the fields."""
        id_parts: list[np.ndarray] = []
        tf_parts: list[np.ndarray] = []
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
        idf = lucene_idf(self.n, len(uniq))
        return Matches(uniq, (idf * boost) * acc / (self.k1 + acc))

    def breakdown(self, q: FieldedTerm, boost: float, docnum: int) -> TermBreakdown | None:
        """How ``q`` scores in one document (None when the document does not have it):
        the numbers ``bm25f`` computes, field by field."""
        fields: list[FieldPart] = []
        docs: list[np.ndarray] = []
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
        if isinstance(q, FieldedTerm) and self.model == "bm25f":
            found = self.breakdown(q, boost, docnum)
            if found is not None:
                out.append(found)
            return
        if isinstance(q, wq.AndMaybe):
            if self._score_at(q.a, 1.0, docnum) is None:
                return
            self._explain(q.a, boost, docnum, out)
            if self._score_at(q.b, 1.0, docnum) is not None:
                self._explain(q.b, boost, docnum, out)
            return
        if isinstance(q, (wq.Or, wq.And, wq.DisjunctionMax)) and len(q.subqueries) == 1:
            self._explain(q.subqueries[0], boost, docnum, out)
            return
        if isinstance(q, (wq.Or, wq.And, wq.DisjunctionMax)):
            boost *= q.boost
            present = [(sub, self._score_at(sub, 1.0, docnum)) for sub in q.subqueries]
            present = [(sub, score) for sub, score in present if score is not None]
            if isinstance(q, wq.DisjunctionMax):
                present = [max(present, key=lambda p: p[1])] if present else []
            elif isinstance(q, wq.And) and len(present) < len(q.subqueries):
                return
            for sub, _ in present:
                self._explain(sub, boost, docnum, out)
            return
        score = self._score_at(q, boost, docnum)  # another leaf: a term, a phrase
        if score is not None:
            out.append(TermBreakdown(str(q), 0.0, boost, score, ()))

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
