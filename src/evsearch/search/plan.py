"""Clauses -> what the engine runs: the scoring query, the exclusions, the filter, the
synonym expansions and pseudo-relevance feedback.

The query tree is made of ``whoosh.query``'s public classes, used as plain data: ranking
(:mod:`.scorer`) evaluates it through the engine seam (:mod:`.backend`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from whoosh import query as wq

from .. import config
from ..analysis import analyze, expansions
from ..config import (
    EXPANSION_WEIGHT,
    FIELD_ALIASES,
    FIELD_WEIGHTS,
    MAX_PREFIX_TERMS,
    PREFIX_FIELDS,
)
from .query import Clause, Filters
from .rank import best_docs
from .scorer import ArrayScorer


def _field_terms(fieldname: str | None, terms: list[str], make: Any) -> wq.Query:
    fields = list(FIELD_ALIASES.get(fieldname, (fieldname,))) if fieldname else list(FIELD_WEIGHTS)
    subs = [make(f, terms, FIELD_WEIGHTS.get(f, 1.0)) for f in fields]
    return subs[0] if len(subs) == 1 else wq.Or(subs)


def _term(f: str, terms: list[str], boost: float) -> wq.Query:
    return wq.Term(f, terms[0], boost=boost)


def _phrase(f: str, terms: list[str], boost: float) -> wq.Query:
    return wq.Phrase(f, terms, boost=boost)


def _clause_queries(searcher: Any, clause: Clause) -> list[wq.Query]:
    if clause.kind == "prefix":
        prefix = clause.text.lower()
        fields = (
            list(FIELD_ALIASES.get(clause.field, (clause.field,)))
            if clause.field
            else list(PREFIX_FIELDS)
        )
        subs = []
        for f in fields:
            expansions = list(_limited_prefix(searcher, f, prefix))
            if expansions:
                subs.append(wq.Or([wq.Term(f, t, boost=FIELD_WEIGHTS.get(f, 1.0)) for t in expansions]))
        return [wq.Or(subs)] if subs else []
    terms = analyze(clause.text)
    if not terms:
        return []
    if clause.kind == "phrase" and len(terms) > 1:
        return [_field_terms(clause.field, terms, _phrase)]
    return [_field_terms(clause.field, [t], _term) for t in terms]


def _limited_prefix(searcher: Any, fieldname: str, prefix: str) -> Iterable[str]:
    reader = searcher.reader()
    if fieldname not in reader.schema:
        return []
    out = []
    for term in reader.expand_prefix(fieldname, prefix):
        out.append(term.decode("utf-8") if isinstance(term, bytes) else term)
        if len(out) >= MAX_PREFIX_TERMS:
            break
    return out


def build_query(searcher: Any, clauses: list[Clause]) -> tuple[wq.Query | None, wq.Query | None]:
    """The scoring query of the clauses (None when nothing searchable is left), and the
    query of excluded documents (None when nothing is excluded).

    Exclusions go to Whoosh as a ``mask``, not ``AndNot``: whoosh3's AndNot matcher can
    report an excluded document in the match count.
    """
    should: list[wq.Query] = []
    must: list[wq.Query] = []
    must_not: list[wq.Query] = []
    seen: set[tuple[str | None, str]] = set()
    for clause in clauses:
        if clause.kind == "word" and clause.occur == "should":
            # a word typed twice counts once: Whoosh would weigh each copy again
            fresh = [t for t in analyze(clause.text) if (clause.field, t) not in seen]
            seen.update((clause.field, t) for t in fresh)
            subs = [_field_terms(clause.field, [t], _term) for t in fresh]
        else:
            subs = _clause_queries(searcher, clause)
        if not subs:
            continue
        if clause.occur == "must":
            must.append(subs[0] if len(subs) == 1 else wq.And(subs))
        elif clause.occur == "must_not":
            must_not.append(subs[0] if len(subs) == 1 else wq.Or(subs))
        else:
            should.extend(subs)
    should.extend(_expansion_queries(clauses))
    q: wq.Query | None
    optional = wq.Or(should) if len(should) > 1 else (should[0] if should else None)
    if must:
        required = must[0] if len(must) == 1 else wq.And(must)
        q = wq.AndMaybe(required, optional) if optional is not None else required
    else:
        q = optional
    mask = (must_not[0] if len(must_not) == 1 else wq.Or(must_not)) if must_not else None
    if q is None and mask is not None:
        q = wq.Every()
    return q, mask


def _expansion_queries(clauses: list[Clause]) -> list[wq.Query]:
    """Acronyms and synonyms of the plain words (``MI`` -> "motivational interviewing"),
    weighted below the words themselves."""
    terms = [
        t
        for c in clauses
        if c.kind == "word" and c.field is None and c.occur != "must_not"
        for t in analyze(c.text)
    ]
    out: list[wq.Query] = []
    for _, alternatives in expansions(terms):
        subs = [
            _field_terms(None, list(alt), _phrase if len(alt) > 1 else _term) for alt in alternatives
        ]
        out.append(wq.DisjunctionMax(subs, boost=EXPANSION_WEIGHT) if len(subs) > 1 else _boosted(subs[0]))
    return out


def _boosted(q: Any) -> wq.Query:
    q.boost = q.boost * EXPANSION_WEIGHT
    boosted: wq.Query = q
    return boosted


def with_feedback(
    searcher: Any,
    scorer: ArrayScorer,
    q: wq.Query,
    clauses: list[Clause],
    fq: wq.Query | None,
    mask: wq.Query | None,
) -> wq.Query:
    """Pseudo-relevance feedback (RM3): ``q`` plus the top terms of its top documents.

    Only for questions and long queries of plain words (at least ``PRF_MIN_TERMS`` distinct
    terms) over a collection large enough that the top ``PRF_DOCS`` documents are a small part
    of it (``PRF_MIN_DOCS``) and small enough that a second, longer search stays interactive
    (``PRF_MAX_DOCS``); other queries are returned as they are. The user's own terms keep
    ``1 - PRF_WEIGHT`` of the weight, so what they typed still ranks first.
    """
    if not config.PRF_DOCS or not config.PRF_MIN_DOCS <= searcher.doc_count() <= config.PRF_MAX_DOCS:
        return q
    if any(c.kind != "word" or c.field or c.occur != "should" for c in clauses):
        return q
    typed = list(dict.fromkeys(t for c in clauses for t in analyze(c.text)))
    if len(typed) < config.PRF_MIN_TERMS:
        return q
    top = best_docs(searcher, scorer, q, fq, mask, config.PRF_DOCS)
    mass = sum(score for _, score in top)
    if mass <= 0:
        return q
    weights: Counter[str] = Counter()  # of float weights
    for docnum, score in top:
        stored = searcher.stored_fields(docnum)
        terms = analyze(f"{stored.get('title') or stored.get('doc_title') or ''} {stored.get('text') or ''}")
        if terms:
            for term, tf in Counter(terms).items():
                weights[term] += tf / len(terms) * score / mass  # type: ignore[assignment]
    # Terms in more than PRF_MAX_DF of the documents say little and cost a full scan each.
    n_docs = searcher.doc_count()
    reader = searcher.reader()
    best: list[tuple[str, float]] = [
        (term, float(w))
        for term, w in weights.most_common(config.PRF_TERMS * 3)
        if term in typed or reader.doc_frequency("text", term) <= config.PRF_MAX_DF * n_docs
    ][:config.PRF_TERMS]
    norm = sum(w for _, w in best) or 1.0
    merged = dict.fromkeys(typed, (1 - config.PRF_WEIGHT) / len(typed))
    for term, w in best:
        merged[term] = merged.get(term, 0.0) + config.PRF_WEIGHT * w / norm
    top_w = max(merged.values())  # the largest weight 1
    subs: list[wq.Query] = []
    for term, w in merged.items():
        if term in typed:  # the user's own words: every field, as in the query itself
            subs.append(
                _field_terms(None, [term], lambda f, ts, fb, w=w: wq.Term(f, ts[0], boost=fb * w / top_w))
            )
        else:  # feedback terms: the body text only (one posting list each, not six)
            subs.extend(wq.Term(f, term, boost=FIELD_WEIGHTS[f] * w / top_w) for f in config.PRF_FIELDS)
    expansion: Any
    for expansion in _expansion_queries(clauses):
        expansion.boost *= (1 - config.PRF_WEIGHT) / len(typed) / top_w
        subs.append(expansion)
    return wq.Or(subs)


def build_filter(filters: Filters) -> wq.Query | None:
    """The restriction every hit must satisfy, or None."""
    parts: list[wq.Query] = []
    if filters.types:
        parts.append(wq.Or([wq.Term("type", t.lower()) for t in sorted(filters.types)]))
    if filters.kinds:
        parts.append(wq.Or([wq.Term("kind", k) for k in sorted(filters.kinds)]))
    if filters.cells:
        parts.append(wq.Or([wq.Term("cell", c) for c in sorted(filters.cells)]))
    if filters.matrices:
        parts.append(wq.Or([wq.Term("matrix", m) for m in sorted(filters.matrices)]))
    if filters.year_from is not None or filters.year_to is not None:
        parts.append(wq.NumericRange("year", filters.year_from, filters.year_to))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.And(parts)
