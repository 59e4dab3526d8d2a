"""Ranking: scores (through :mod:`.scorer`), paging, sorting, facets, and hits from stored fields.

All matches are counted so that ``total`` and the facets cover every page, and ties are
broken the same way on every page: by score, then by ``seq`` (cell order).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh import scoring, sorting
from whoosh.query.compound import BinaryQuery

from .. import config
from .._whoosh.backend import column_reader
from ..config import FACET_FIELDS
from ..results import DocumentView, FacetCount, Facets, Hit
from .query import YEAR_MAX, YEAR_MIN
from .scorer import ArrayScorer, FieldedTerm, Matches, Unsupported
from .snippets import MarkFormatter, for_highlighting, highlight_docs, highlight_hit, leading_snippet


def weighting() -> scoring.BM25F:
    """The ranking model: BM25F with the per-field length normalisation of ``config.FIELD_B``
    (what Whoosh scores phrases with, and the array scorer reproduces)."""
    return scoring.BM25F(
        B=config.BM25_B, K1=config.BM25_K1, **{f"{f}_B": b for f, b in config.FIELD_B.items()}
    )


@dataclass(frozen=True)
class Page:
    """Which page of results to build, in which order, and what with."""

    limit: int
    page: int
    sort: str
    facets: bool
    snippets: bool


def year_of(value: Any) -> int | None:
    """A year column value, or None for the column's "no year" default."""
    return value if isinstance(value, int) and YEAR_MIN <= value <= YEAR_MAX else None


def ranked_page(
    searcher: Any, scorer: ArrayScorer, q: wq.Query, fq: wq.Query | None, mask: wq.Query | None,
    opts: Page,
) -> tuple[int, tuple[Hit, ...], Facets | None]:
    """Every match of ``q`` (and its facets), ordered by ``opts.sort``; the hits of one page.

    All matches are counted so that ``total`` and the facets cover every page, and ties are
    broken the same way on every page: by score, then by ``seq`` (cell order). The array
    scorer does the work; a query shape it does not know goes through Whoosh's collectors
    (:func:`_whoosh_page`: no query evsearch builds goes there; ``tests/test_scorer.py``
    reaches it and checks it gives the same pages).
    """
    scored = not isinstance(q, wq.Every)
    start = (opts.page - 1) * opts.limit
    found = _array_page(scorer, q, fq, mask, opts)
    if found is None:
        return _whoosh_page(searcher, scorer, q, fq, mask, opts)
    total, page, facets = found
    stored = [scorer.backend.stored(docnum) for docnum, _ in page]
    if opts.snippets and scored:
        texts = [fields.get("text", "") for fields in stored]
        snippets = highlight_docs(searcher, q, page, texts)
    else:
        snippets = [""] * len(page)
    hits = tuple(
        make_hit(rank, score, fields, snippet)
        for rank, ((_, score), fields, snippet) in enumerate(
            zip(page, stored, snippets, strict=True), start=start + 1
        )
    )
    return total, hits, facets


def engine_query(scorer: ArrayScorer, q: Any) -> Any:
    """``q`` for the engine's own collectors: each BM25F term (which only the array scorer
    computes) replaced by the engine's query of its documents and scores."""
    if isinstance(q, FieldedTerm):
        m = scorer.bm25f(q, q.boost)
        m = m.restrict(scorer.live()[m.ids])
        return scorer.backend.scored_query(m.ids, m.scores)
    if isinstance(q, BinaryQuery):
        out: Any = copy.copy(q)
        out.a, out.b = engine_query(scorer, q.a), engine_query(scorer, q.b)
        out.subqueries = (out.a, out.b)
        return out
    if isinstance(q, wq.CompoundQuery):
        whole: Any = copy.copy(q)
        whole.subqueries = [engine_query(scorer, s) for s in q.subqueries]
        return whole
    return q


def _whoosh_page(
    searcher: Any, scorer: ArrayScorer, q: wq.Query, fq: wq.Query | None, mask: wq.Query | None,
    opts: Page,
) -> tuple[int, tuple[Hit, ...], Facets | None]:
    """:func:`ranked_page` through Whoosh's own collectors, for a query the array scorer
    cannot score."""
    shown = q
    q = engine_query(scorer, q)
    scored = not isinstance(q, wq.Every)
    start = (opts.page - 1) * opts.limit
    if opts.sort == "relevance" and not opts.facets:
        results = searcher.search(
            q, filter=fq, mask=mask, limit=start + opts.limit, sortedby=None if scored else "seq"
        )
        total = _count(searcher, q, fq, mask) if scored else len(results)
        order = list(range(start, min(start + opts.limit, results.scored_length())))
        scores = [(results.score(i) or 0.0) if scored else 0.0 for i in order]
        facets = None
    else:
        order, scores, total, results = _sorted_matches(searcher, q, fq, mask, opts, scored)
        facets = _facets(results) if opts.facets else None
    results.formatter = MarkFormatter()
    results.q = for_highlighting(shown)
    hits = []
    for rank, (i, score) in enumerate(zip(order, scores, strict=True), start=start + 1):
        hit = results[i]
        stored = hit.fields()
        snippet = highlight_hit(results, hit, stored.get("text", "")) if opts.snippets and scored else ""
        hits.append(make_hit(rank, score, stored, snippet))
    return total, tuple(hits), facets


def _array_matches(
    scorer: ArrayScorer, q: wq.Query, fq: wq.Query | None, mask: wq.Query | None
) -> Matches:
    """Every document ``q`` matches that passes ``fq`` and is not masked, with its score
    (raises ``Unsupported`` for a query shape the array scorer does not know)."""
    m = scorer.everything() if isinstance(q, wq.Every) else scorer.matches(q)
    if fq is not None and len(m.ids):
        m = m.restrict(np.isin(m.ids, scorer.docs(fq), assume_unique=True))
    if mask is not None and len(m.ids):
        m = m.restrict(~np.isin(m.ids, scorer.docs(mask), assume_unique=True))
    return m


def top_docs(
    scorer: ArrayScorer, q: wq.Query, fq: wq.Query | None, mask: wq.Query | None, k: int
) -> tuple[int, list[tuple[int, float]]] | None:
    """How many documents match, and the ``k`` best as (document number, score), best first
    (ties in cell order); None when the array scorer cannot score ``q``."""
    try:
        m = _array_matches(scorer, q, fq, mask)
    except Unsupported:
        return None
    ids, scores = scorer.top(m, k)
    return len(m.ids), [(int(d), float(s)) for d, s in zip(ids, scores, strict=True)]


def best_docs(
    searcher: Any, scorer: ArrayScorer, q: wq.Query, fq: wq.Query | None, mask: wq.Query | None,
    k: int,
) -> list[tuple[int, float]]:
    """The ``k`` best matches of ``q`` as (document number, score), best first: from the array
    scorer, or from Whoosh's collectors for a query shape it does not know."""
    found = top_docs(scorer, q, fq, mask, k)
    if found is not None:
        return found[1]
    hits = searcher.search(engine_query(scorer, q), filter=fq, mask=mask, limit=k)
    return [(h.docnum, h.score or 0.0) for h in hits]


def _array_page(
    scorer: ArrayScorer, q: wq.Query, fq: wq.Query | None, mask: wq.Query | None,
    opts: Page,
) -> tuple[int, list[tuple[int, float]], Facets | None] | None:
    """The total, one page of (document number, score) in ``opts.sort`` order, and the facets
    if asked for; None when the array scorer cannot score ``q``."""
    try:
        m = _array_matches(scorer, q, fq, mask)
    except Unsupported:
        return None
    start, end = (opts.page - 1) * opts.limit, opts.page * opts.limit
    if opts.sort == "relevance":
        ids, scores = scorer.top(m, end)
    else:
        years = scorer.column("year")[m.ids]
        dated = (years >= YEAR_MIN) & (years <= YEAR_MAX)
        year_key = np.where(dated, -years if opts.sort == "-year" else years, 0)
        order = np.lexsort((scorer.seq_rank()[m.ids], -m.scores, year_key, ~dated))[:end]
        ids, scores = m.ids[order], m.scores[order]
    page = [(int(d), float(s)) for d, s in zip(ids[start:end], scores[start:end], strict=True)]
    return len(m.ids), page, (_array_facets(scorer, m.ids) if opts.facets else None)


def _array_facets(scorer: ArrayScorer, ids: np.ndarray) -> Facets:
    """Facet counts over the matched documents ``ids``, from the index's columns."""

    def counts(fieldname: str) -> dict[Any, int]:
        codes, values = scorer.column_codes(fieldname)
        found = np.bincount(codes[ids], minlength=len(values))
        return {values[i]: int(found[i]) for i in np.flatnonzero(found).tolist()}

    groups: dict[str, dict[Any, int]] = {}
    for name, (fieldname, overlap) in FACET_FIELDS.items():
        if not scorer.backend.has_field(fieldname):
            continue  # an index built before the field was indexed counts nothing for it
        if overlap:  # several values per document: count each value's postings
            groups[name] = {}
            for value in scorer.backend.terms(fieldname):
                n = int(np.isin(ids, scorer.docs(wq.Term(fieldname, value)), assume_unique=True).sum())
                if n:
                    groups[name][value] = n
        else:
            groups[name] = counts(fieldname)
    return _facets_from_groups(groups)


def _match_ids(searcher: Any, q: wq.Query) -> set[int]:
    """The documents ``q`` matches, from posting lists and set algebra where the query is made
    of terms, ors and ands (Whoosh's own count re-runs the whole matcher tree in Python)."""
    if isinstance(q, wq.Term):
        if (q.fieldname, q.text) not in searcher.reader():
            return set()
        return set(searcher.postings(q.fieldname, q.text).all_ids())
    if isinstance(q, (wq.Or, wq.DisjunctionMax)) and not getattr(q, "minmatch", 0):
        out: set[int] = set()
        for sub in q.subqueries:
            out |= _match_ids(searcher, sub)
        return out
    if isinstance(q, wq.And) and q.subqueries:
        sets = sorted((_match_ids(searcher, sub) for sub in q.subqueries), key=len)
        return sets[0].intersection(*sets[1:])
    if isinstance(q, wq.AndMaybe):
        return _match_ids(searcher, q.a)
    return set(searcher.docs_for_query(q))


def _count(searcher: Any, q: wq.Query, fq: wq.Query | None, mask: wq.Query | None) -> int:
    """How many documents match ``q``, pass the filter ``fq`` and are not masked: what
    ``len(results)`` says, without re-running the scoring matchers."""
    ids = _match_ids(searcher, q)
    if fq is not None:
        ids &= _match_ids(searcher, fq)
    if mask is not None:
        ids -= _match_ids(searcher, mask)
    return len(ids)


def _sorted_matches(
    searcher: Any, q: wq.Query, fq: wq.Query | None, mask: wq.Query | None, opts: Page, scored: bool
) -> tuple[list[int], list[float], int, Any]:
    """Every match (and its facets) ordered by ``opts.sort``: the result positions and scores
    of one page, the total, and the Whoosh results they index into."""
    groupedby = None
    if opts.facets:
        schema = searcher.schema
        groupedby = {  # an index built before a field was indexed counts nothing for it
            name: sorting.FieldFacet(fieldname, allow_overlap=overlap)
            for name, (fieldname, overlap) in FACET_FIELDS.items()
            if fieldname in schema and schema[fieldname].indexed
        }
    results = searcher.search(
        q, filter=fq, mask=mask, limit=None, groupedby=groupedby, maptype=sorting.Count
    )
    reader = searcher.reader()
    seq = column_reader(reader, "seq")
    total = results.scored_length()
    keys: list[tuple[Any, ...]] = []
    for i in range(total):
        docnum = results.docnum(i)
        score = (results.score(i) or 0.0) if scored else 0.0
        keys.append((-score, seq[docnum], i))
    if opts.sort != "relevance":
        years = column_reader(reader, "year")
        newest_first = opts.sort == "-year"

        def by_year(key: tuple[Any, ...]) -> tuple[Any, ...]:
            year = year_of(years[results.docnum(key[2])])
            if year is None:
                return (1, 0, *key)
            return (0, -year if newest_first else year, *key)

        keys.sort(key=by_year)
    else:
        keys.sort()
    start = (opts.page - 1) * opts.limit
    page = keys[start : start + opts.limit]
    return [k[2] for k in page], [-k[0] for k in page], total, results


def _facets(results: Any) -> Facets:
    """The facet counts Whoosh grouped while searching, as plain values in display order."""
    groups: dict[str, dict[Any, int]] = {}
    for name in FACET_FIELDS:
        try:
            groups[name] = dict(results.groups(name))
        except KeyError:
            groups[name] = {}
    return _facets_from_groups(groups)


def _facets_from_groups(found: dict[str, dict[Any, int]]) -> Facets:
    """Facet counts (facet -> value -> count) as plain values in display order."""

    def groups(name: str) -> dict[Any, int]:
        return found.get(name, {})

    def by_count(groups: dict[Any, int]) -> tuple[FacetCount, ...]:
        counts = [(str(v), n) for v, n in groups.items() if v not in (None, "")]
        return tuple(FacetCount(v, n) for v, n in sorted(counts, key=lambda c: (-c[1], c[0])))

    years: dict[int, int] = {}
    for value, n in groups("year").items():
        year = year_of(value)
        if year is not None:
            years[year] = years.get(year, 0) + n
    decades: dict[int, int] = {}
    for year, n in years.items():
        decades[year // 10 * 10] = decades.get(year // 10 * 10, 0) + n
    types = {str(v).upper(): n for v, n in groups("type").items() if v}
    return Facets(
        kind=by_count(groups("kind")),
        type=by_count(types),
        year=tuple(FacetCount(str(y), n) for y, n in sorted(years.items())),
        decade=tuple(FacetCount(f"{d}s", n) for d, n in sorted(decades.items())),
        matrix=by_count(groups("matrix")),
        cell=by_count(groups("cell")),
    )


# --- stored fields -> results ------------------------------------------------------------------

def make_hit(rank: int, score: float, stored: dict[str, Any], snippet: str) -> Hit:
    view = make_view(stored)
    return Hit(
        rank=rank,
        score=round(float(score), 4),
        id=view.id,
        kind=view.kind,
        cell=view.cell,
        title=view.title,
        section=view.section,
        study_type=view.study_type,
        year=view.year,
        snippet=snippet or leading_snippet(view.text),
        text=view.text,
        organisation=view.organisation,
        role=view.role,
        links=view.links,
    )


def make_view(stored: dict[str, Any]) -> DocumentView:
    is_study = stored.get("kind") == "study"
    section = None if is_study else (stored.get("section") or "")
    return DocumentView(
        id=stored["id"],
        kind=stored.get("kind", "passage"),
        cell=stored.get("cell_key", ""),
        title=stored.get("title") or stored.get("doc_title") or (section or ""),
        section=section,
        study_type=stored.get("study_type") if is_study else None,
        year=stored.get("year"),
        text=stored.get("text", ""),
        organisation=(stored.get("organisation") or None) if is_study else None,
        role=None if is_study else stored.get("role"),
        order=int(stored.get("order") or 0),
        links=tuple(stored.get("links") or ()),
        source=stored.get("source", ""),
    )
