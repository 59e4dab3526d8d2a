"""Query plans -> Xapian queries.

The query layer builds one plan for every engine: a tree of terms, phrases, ``Or``, ``And``,
``AndMaybe`` and ``DisjunctionMax`` with per-field boosts (``evsearch.search.build_query``,
with its synonyms, prefixes and feedback). Here that tree becomes a Xapian query:

* a word searched in every text field with the field weights (what a plain word becomes) is
  one unprefixed Xapian term, whose wdf is already BM25F's frequency over the weighted,
  length-normalised fields (:mod:`.schema`); its boost relative to the field weights, times
  Lucene's idf over Xapian's (``idf``, from the searcher), is an ``OP_SCALE_WEIGHT``;
* a word restricted to some fields (``title:x``, prefixes, feedback terms) is the fields' own
  prefixed terms (one, or an ``OP_SYNONYM`` of several), whose wdfs are the fields' shares of
  that frequency: BM25F over those fields, as the Whoosh engine scores it;
* a phrase is an ``OP_SYNONYM`` of the phrase, so it is weighted as one term (the least wdf
  of its words), its idf scaled to Lucene's over the documents that have it; restricted to
  fields, it is filtered by documents with all its words in one of them;
* filters are boolean terms and a value range on the year slot.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from whoosh import query as wq

from ..search.bm25f import Expansion, FieldedTerm
from .schema import BOOL_PREFIX, FIELD_PREFIX, SLOT_YEAR
from .writer import boolean_term

#: Marks a phrase's words among the terms whose idf is scaled (no index term starts with it).
PHRASE = "\0"


class Translator:
    """Translates plan trees for one set of field weights."""

    def __init__(
        self,
        xapian: Any,
        field_weights: dict[str, float],
        idf: dict[tuple[str, ...], float] | None = None,
    ) -> None:
        self.x = xapian
        self.weights = field_weights
        self.all_fields = frozenset(field_weights)
        #: Lucene's idf over Xapian's for each scored term (or a field group's terms, see
        #: :meth:`_text_leaf`); None: only note which are wanted (``wanted``), scaling nothing.
        self.idf = idf
        self.wanted: set[tuple[str, ...]] = set()

    def _idf(self, terms: tuple[str, ...]) -> float:
        if self.idf is None:
            self.wanted.add(terms)
            return 1.0
        return self.idf.get(terms, 1.0)

    # -- helpers ---------------------------------------------------------------------------
    def scaled(self, q: Any, factor: float) -> Any:
        if abs(factor - 1.0) < 1e-12:
            return q
        return self.x.Query(self.x.Query.OP_SCALE_WEIGHT, q, max(0.0, float(factor)))

    def _or(self, subs: list[Any], op: Any = None) -> Any:
        Q = self.x.Query
        if not subs:
            return None
        if len(subs) == 1:
            return subs[0]
        return Q(Q.OP_OR if op is None else op, subs)

    def _phrase(self, words: list[str], prefix: str = "") -> Any:
        Q = self.x.Query
        terms = [prefix + w for w in words]
        if len(terms) == 1:
            return Q(terms[0])
        return Q(Q.OP_PHRASE, terms, len(terms))

    def _text_leaf(self, words: tuple[str, ...], fields: Iterable[str], factor: float) -> Any:
        """The unprefixed word/phrase scaled by ``factor``, restricted to ``fields`` unless
        they are all the weighted fields."""
        Q = self.x.Query
        fields = set(fields)
        if len(words) == 1:
            if fields >= self.all_fields:
                return self.scaled(Q(words[0]), factor * self._idf(words))
            # the fields' own terms, whose wdf is each field's share of BM25F's frequency:
            # one field is BM25F over it; several are added up by OP_SYNONYM, as one term
            terms = tuple(FIELD_PREFIX[f] + words[0] for f in sorted(fields))
            one = Q(terms[0]) if len(terms) == 1 else Q(Q.OP_SYNONYM, [Q(t) for t in terms])
            return self.scaled(one, factor * self._idf(terms))
        # a phrase as one term (OP_SYNONYM): its frequency, not its words' weights added up;
        # its idf is made Lucene's over the documents that have it (see ``PHRASE``)
        phrase = Q(Q.OP_SYNONYM, [self._phrase(list(words))])
        rank = self.scaled(phrase, factor * self._idf((PHRASE, *words)))
        if fields >= self.all_fields:
            return rank
        only = self._or([self._all_of(words, FIELD_PREFIX[f]) for f in sorted(fields)])
        return Q(Q.OP_FILTER, rank, only)

    def _all_of(self, words: tuple[str, ...], prefix: str) -> Any:
        """Documents with every word in one field (the field's terms have no positions)."""
        Q = self.x.Query
        terms = [prefix + w for w in words]
        return Q(terms[0]) if len(terms) == 1 else Q(Q.OP_AND, terms)

    @staticmethod
    def _leaf_words(q: Any) -> tuple[str, ...] | None:
        if isinstance(q, wq.Term):
            t = q.text
            return (t.decode("utf-8") if isinstance(t, bytes) else str(t),)
        if isinstance(q, wq.Phrase):
            return tuple(str(w) for w in q.words)
        return None

    def _collect(
        self,
        q: Any,
        boost: float,
        out: list[tuple[tuple[str, ...], dict[str, float]]],
        loose: dict[tuple[str, ...], dict[str, float]],
    ) -> bool:
        """Gather the text leaves of a plain ``Or`` tree, each ``FieldedTerm`` on its own
        (words -> field -> relative boost, appended to ``out``: two terms of the plan with the
        same word add up, as on Whoosh), and bare terms into ``loose``, by word. False when
        the tree holds anything else."""
        if isinstance(q, (wq.Term, wq.Phrase)):
            if q.fieldname not in self.weights:
                return False
            words = self._leaf_words(q)
            if not words:
                return False
            rel = boost * float(q.boost) / self.weights[q.fieldname]
            slot = loose.setdefault(words, {})
            slot[q.fieldname] = max(slot.get(q.fieldname, 0.0), rel)
            return True
        if getattr(q, "minmatch", 0):
            return False
        if type(q) is FieldedTerm:
            own: dict[tuple[str, ...], dict[str, float]] = {}
            found = all(self._collect(s, boost * float(q.boost), out, own) for s in q.subqueries)
            out.extend(own.items())
            return found
        if type(q) is wq.Or:
            return all(self._collect(s, boost * float(q.boost), out, loose) for s in q.subqueries)
        return False

    # -- the translation ---------------------------------------------------------------------
    def query(self, q: Any) -> Any:
        """The Xapian query of a plan tree (``None`` for nothing)."""
        x = self.x
        Q = x.Query
        if q is None:
            return None
        if isinstance(q, wq.Every):
            return Q.MatchAll
        if isinstance(q, (wq.Term, wq.Phrase)):
            if q.fieldname in self.weights:
                words = self._leaf_words(q)
                assert words is not None
                return self._text_leaf(words, [q.fieldname], float(q.boost) / self.weights[q.fieldname])
            return self.boolean(q)
        if isinstance(q, wq.NumericRange):
            return self.boolean(q)
        if isinstance(q, Expansion):
            # the gate (the expansion's phrase, or all its words) only selects; the words
            # the user did not type score
            gate = self.scaled(self.query(q.gate), 0.0)
            scored = [s for s in map(self.query, q.subqueries[1:]) if s is not None]
            return self.scaled(Q(Q.OP_AND, [gate, *scored]) if scored else gate, float(q.boost))
        if type(q) in (wq.Or, FieldedTerm):
            leaves: list[tuple[tuple[str, ...], dict[str, float]]] = []
            loose: dict[tuple[str, ...], dict[str, float]] = {}
            if self._collect(q, 1.0, leaves, loose):
                subs = []
                for words, fields in [*leaves, *loose.items()]:
                    # one word in several fields with one relative boost: one leaf
                    factors = set(round(v, 12) for v in fields.values())
                    if len(factors) == 1:
                        subs.append(self._text_leaf(words, fields, next(iter(factors))))
                    else:
                        subs.extend(self._text_leaf(words, [f], v) for f, v in fields.items())
                return self._or(subs)
            return self.scaled(self._or([s for s in map(self.query, q.subqueries) if s is not None]),
                               float(q.boost))
        if isinstance(q, wq.DisjunctionMax):
            subs = [s for s in map(self.query, q.subqueries) if s is not None]
            return self.scaled(self._or(subs, Q.OP_MAX), float(q.boost))
        if isinstance(q, wq.AndMaybe):
            a, b = self.query(q.a), self.query(q.b)
            return a if b is None else Q(Q.OP_AND_MAYBE, a, b)
        if isinstance(q, wq.And):
            subs = [s for s in map(self.query, q.subqueries) if s is not None]
            return self.scaled(subs[0] if len(subs) == 1 else Q(Q.OP_AND, subs), float(q.boost))
        raise TypeError(f"no Xapian form for the plan node {type(q).__name__}")

    def boolean(self, q: Any) -> Any:
        """A filter (kind, type, cell, matrix, id, source terms and year ranges): no weight."""
        x = self.x
        Q = x.Query
        if isinstance(q, wq.Term):
            prefix = BOOL_PREFIX.get(q.fieldname)
            if prefix is None:
                return self.query(q)
            text = q.text.decode("utf-8") if isinstance(q.text, bytes) else str(q.text)
            return Q(boolean_term(prefix, text))
        if isinstance(q, wq.NumericRange):
            if q.start is None and q.end is None:
                return Q.MatchAll
            if q.end is None:
                return Q(Q.OP_VALUE_GE, SLOT_YEAR, x.sortable_serialise(q.start))
            if q.start is None:
                return Q(Q.OP_VALUE_LE, SLOT_YEAR, x.sortable_serialise(q.end))
            lo, hi = x.sortable_serialise(q.start), x.sortable_serialise(q.end)
            return Q(Q.OP_VALUE_RANGE, SLOT_YEAR, lo, hi)
        if isinstance(q, wq.Or):
            return self._or([self.boolean(s) for s in q.subqueries])
        if isinstance(q, wq.And):
            subs = [self.boolean(s) for s in q.subqueries]
            return subs[0] if len(subs) == 1 else Q(Q.OP_AND, subs)
        return self.query(q)
