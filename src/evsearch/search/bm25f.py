"""BM25F as Robertson and Zaragoza define it ("The Probabilistic Relevance Framework: BM25 and
Beyond", 2009), with Lucene's idf: the query nodes it scores, and the formula.

For one term over several fields, each field's frequency is weighted and divided by that
field's length normalisation, the results are added, and the sum is saturated once:

    tf~(d) = sum over fields f of  w_f * tf_f(d) / ((1 - b_f) + b_f * len_f(d) / avg_f)
    score(d) = idf * tf~(d) / (k1 + tf~(d)),   idf = log(1 + (N - n + 0.5) / (n + 0.5))

with ``avg_f`` the field's average length over the documents that have it and ``n`` the
documents having the term in any of the fields (one idf per term, not one per field). With
one field of weight 1 this is Lucene's BM25. The array scorer (:mod:`.scorer`) computes it
over whole posting lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import log
from typing import Any

import numpy as np
from whoosh import query as wq


class FieldedTerm(wq.Or):
    """One word (or phrase, or the forms of one word) searched in several fields, scored as one
    BM25F term.

    Its parts are a ``Term`` (or ``Phrase``) per field, each boosted by its field's weight.
    The array scorer combines them as Robertson and Zaragoza define BM25F (see
    :meth:`ArrayScorer.bm25f`): the field-weighted, field-length-normalised frequencies are
    added before saturation, with one idf per term over documents.
    """

    def __init__(self, parts: list[wq.Query], boost: float = 1.0, label: str = "") -> None:
        super().__init__(parts, boost=boost)
        self.label = label  # what ``explain`` shows: the term, phrase or expansion

    def __copy__(self) -> FieldedTerm:
        return FieldedTerm(list(self.subqueries), boost=self.boost, label=self.label)

    def normalize(self) -> wq.Query:
        return self


def walk_scored(
    q: Any,
    boost: float,
    score_at: Callable[[Any], float | None],
    on_term: Callable[[FieldedTerm, float], None],
    on_leaf: Callable[[Any, float], None],
) -> None:
    """Visit the parts of ``q`` that add to one document's score, as ranking adds them up
    (``explain`` on either engine): ``on_term(term, boost)`` for each BM25F term and
    ``on_leaf(leaf, boost)`` for any other leaf, ``boost`` the product of the boosts above it.
    ``score_at(part)`` is the part's unboosted score in the document, None where it does not
    match: an and-maybe's second part counts where the first matches, a disjunction-max
    only its best part, an and only where all its parts match."""
    if isinstance(q, FieldedTerm):
        on_term(q, boost)
        return
    if isinstance(q, wq.AndMaybe):
        if score_at(q.a) is None:
            return
        walk_scored(q.a, boost, score_at, on_term, on_leaf)
        if score_at(q.b) is not None:
            walk_scored(q.b, boost, score_at, on_term, on_leaf)
        return
    if isinstance(q, (wq.Or, wq.And, wq.DisjunctionMax)) and len(q.subqueries) == 1:
        walk_scored(q.subqueries[0], boost, score_at, on_term, on_leaf)  # the lone part's boost only
        return
    if isinstance(q, (wq.Or, wq.And, wq.DisjunctionMax)):
        boost *= q.boost
        present = [(sub, score_at(sub)) for sub in q.subqueries]
        present = [(sub, score) for sub, score in present if score is not None]
        if isinstance(q, wq.DisjunctionMax):
            present = [max(present, key=lambda p: p[1] or 0.0)] if present else []
        elif isinstance(q, wq.And) and len(present) < len(q.subqueries):
            return
        for sub, _ in present:
            walk_scored(sub, boost, score_at, on_term, on_leaf)
        return
    on_leaf(q, boost)  # another leaf: a term, a phrase


class Expansion(wq.And):
    """An expansion of several words (a synonym, an acronym's meaning): ``gate`` (the phrase,
    or all its words, unscored) and the words the user did not type, scored as if typed."""

    def __init__(self, gate: wq.Query, scored: list[wq.Query]) -> None:
        super().__init__([gate, *scored])
        self.gate = gate

    def __copy__(self) -> Expansion:
        out = Expansion(self.gate, list(self.subqueries[1:]))
        out.boost = self.boost
        return out

    def normalize(self) -> wq.Query:
        return self


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
    """A scored part of a query (a ``FieldedTerm``, or another leaf) in one document."""

    label: str
    idf: float
    boost: float
    score: float
    fields: tuple[FieldPart, ...]


def length_normalised(
    tf: np.ndarray, weight: float, lengths: np.ndarray, avg: float, b: float
) -> np.ndarray:
    """``weight * tf / ((1 - b) + b * length / avg)``: one field's share of BM25F's tf."""
    return weight * tf / ((1 - b) + b * lengths / avg)


def saturate(tf: np.ndarray, idf: float, k1: float) -> np.ndarray:
    """``idf * tf / (k1 + tf)``: a BM25F term's score from its combined frequency."""
    return idf * tf / (k1 + tf)
