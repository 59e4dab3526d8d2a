"""Searching an index: the query layer (ranking, filters, snippets, suggestions).

>>> from evsearch import open_index
>>> with open_index("index") as idx:                         # doctest: +SKIP
...     result = idx.search("motivational interviewing", kind="study", limit=3)
...     [hit.title for hit in result.hits]
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh import scoring, sorting
from whoosh.searching import Results

from ._sanitize import scrub_surrogates
from ._scorer import ArrayScorer, Matches, Unsupported, column_reader
from .analysis import analyze, expansions, is_synonym_term, words
from .errors import DocumentNotFoundError, QueryError
from .index import (
    Generation,
    default_corpus_dir,
    default_index_dir,
    index_is_stale,
    live_name,
    open_searcher,
    update_index,
)
from .query import (
    YEAR_MAX,
    YEAR_MIN,
    Clause,
    Filters,
    normalise_cell,
    normalise_kind,
    normalise_matrix,
    normalise_type,
    parse_query,
    parse_year,
)
from .results import (
    DocumentView,
    Explanation,
    FacetCount,
    Facets,
    Hit,
    IndexStats,
    Related,
    SearchResult,
    SimilarResult,
    TermScore,
)
from .snippets import MarkFormatter, highlight_hit, leading_snippet

#: Per-field weights of plain words (BM25F-style: a field's score is multiplied by its weight).
FIELD_WEIGHTS: dict[str, float] = {
    "title": 2.5,  # a study's title: the cell's one-line statement of what it found
    "doc_title": 1.0,  # a passage's document title, shared by all the document's passages
    "section": 1.5,
    "text": 1.0,
    "organisation": 2.0,
    "meta": 0.5,
}
#: ``title:`` in a query searches both kinds of title.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {"title": ("title", "doc_title")}
#: Pseudo-relevance feedback (RM3, see ``_with_feedback``); PRF_DOCS = 0 turns it off.
PRF_DOCS = 10
PRF_TERMS = 20
PRF_WEIGHT = 0.3
PRF_MIN_TERMS = 5
PRF_MIN_DOCS = 500
PRF_MAX_DOCS = 2_000_000  # feedback is a second, longer search: above this, questions slow down
PRF_MAX_DF = 0.1
PRF_FIELDS: tuple[str, ...] = ("text",)
#: Coordination bonus: documents matching more of the query's words rank higher.
COORD_SCALE: float | None = None
#: Weight of a synonym or acronym expansion relative to the words the user typed.
EXPANSION_WEIGHT = 0.3
BM25_B = 0.75
BM25_K1 = 1.2
#: Per-field length normalisation. Organisation and meta are short labels present on few
#: documents: their average length (over all documents) is tiny, so normalising by it
#: would bury a match in a four-word organisation name.
FIELD_B: dict[str, float] = {"organisation": 0.0, "meta": 0.0}


def weighting() -> scoring.BM25F:
    """The ranking model: BM25F with the per-field length normalisation above."""
    return scoring.BM25F(B=BM25_B, K1=BM25_K1, **{f"{f}_B": b for f, b in FIELD_B.items()})
MAX_LIMIT = 1000
#: Index terms one prefix (``supervis*``) may expand to, per field.
MAX_PREFIX_TERMS = 256
#: Orders of search results: relevance (score, ties by cell order), year ascending, year descending.
SORTS: tuple[str, ...] = ("relevance", "year", "-year")
#: How many key terms ``similar`` searches for.
SIMILAR_TERMS = 12
#: Spelling suggestions (fuzzy matching against the vocabulary) are sought for at most this
#: many words of a query, each at most this long: fuzzy expansion cost grows with both.
MAX_SUGGEST_WORDS = 8
MAX_SUGGEST_WORD_CHARS = 30


@dataclass(frozen=True)
class _Page:
    """Which page of results to build, in which order, and what with."""

    limit: int
    page: int
    sort: str
    facets: bool
    snippets: bool


class SearchIndex:
    """An open evsearch index: search it, fetch documents, count what it holds.

    Use as a context manager, or call :meth:`close`. The searcher is kept open across
    searches and reopened when the index has changed (a new commit or a rebuild), so a
    long-running process sees every commit on its next search. Thread-safe: a search holds
    the searcher until it is done, and the old searcher is closed once no search uses it.
    """

    def __init__(self, index_dir: Path | str) -> None:
        self.index_dir = Path(index_dir)
        self._lock = threading.RLock()
        self._gen: Generation | None = None
        self._ix: Any = None
        self._searcher: Any = None
        self._open()

    # -- lifecycle ----------------------------------------------------------------------------
    def _open(self) -> None:
        gen, ix, searcher = open_searcher(self.index_dir, weighting())
        old = self._searcher
        self._gen, self._ix, self._searcher = gen, ix, searcher
        if old is not None:
            old.close()

    def _current(self) -> Any:
        """The searcher, reopened when the index changed (never ``Searcher.refresh()``, which
        in whoosh3 shows deleted and doubled documents after an update). Call it with
        ``self._lock`` held for as long as the searcher is used."""
        with self._lock:
            if self._searcher is None:
                raise QueryError("the index is closed", hint="open it again with open_index()")
            name = live_name(self.index_dir) or (self._gen.path.name if self._gen else "")
            if self._gen is None or name != self._gen.path.name or not self._searcher.up_to_date():
                self._open()
            return self._searcher

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
            self._searcher = None
            self._ix = None

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- searching ----------------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        page: int = 1,
        sort: str = "relevance",
        facets: bool = False,
        kind: str | None = None,
        study_type: str | None = None,
        cell: str | None = None,
        matrix: str | None = None,
        year_from: int | None = None,
        year_to: int | None = None,
        snippets: bool = True,
        suggest: bool = True,
    ) -> SearchResult:
        """Run ``query`` and return page ``page`` of ``limit`` hits, ranked by ``sort``.

        Options are filters that every hit satisfies, like the query's own ``type:K`` etc.;
        ``study_type`` may name several types (``"S,G"``). ``sort`` is ``"relevance"``,
        ``"year"`` or ``"-year"`` (newest first; undated documents last); ties go by score,
        then by the documents' order in their cell. ``total`` counts every page; with
        ``facets=True`` the result counts all matches by kind, type, year, decade, matrix, cell.
        When some words are in no document and look misspelt, ``suggestion`` is the query
        with them corrected from the index's vocabulary, the hits are those of the
        suggestion, and ``corrected`` is True.

        >>> idx.search("supervision", kind="study", sort="-year", page=2, limit=3)  # doctest: +SKIP
        """
        if not isinstance(limit, int) or limit < 1 or limit > MAX_LIMIT:
            raise QueryError(
                f"limit must be between 1 and {MAX_LIMIT}", hint="pass --limit N with 1 <= N"
            )
        query = scrub_surrogates(query)
        if not isinstance(page, int) or page < 1:
            raise QueryError(f"page must be 1 or more, not {page}", hint="pass --page N with N >= 1")
        if sort not in SORTS:
            raise QueryError(f"unknown sort {sort!r}", hint="sort by " + ", ".join(SORTS))
        parsed = parse_query(query)
        filters = parsed.filters
        if kind:
            filters.kinds.add(normalise_kind(kind))
        if study_type:
            filters.types.update(normalise_type(t) for t in study_type.replace(",", " ").split())
        if cell:
            filters.cells.add(normalise_cell(cell))
        if matrix:
            filters.matrices.add(normalise_matrix(matrix))
        for year in (year_from, year_to):
            if year is not None:
                parse_year(str(year))
        filters.merge_year(year_from, year_to)
        page_opts = _Page(limit, page, sort, facets, snippets)
        with self._lock:
            searcher = self._current()
            result = self._run(searcher, query, parsed.clauses, filters, page_opts)
            if suggest:
                suggestion = self._suggest(searcher, query, parsed.clauses)
                if suggestion:
                    # a suggestion replaces only words no document has, which add nothing to
                    # the results: the corrected query finds all the original finds, and more
                    fixed = parse_query(suggestion)
                    corrected = self._run(searcher, query, fixed.clauses, filters, page_opts)
                    if corrected.total:
                        return replace(corrected, suggestion=suggestion, corrected=True)
                    return replace(result, suggestion=suggestion)
            return result

    def _run(
        self,
        searcher: Any,
        query: str,
        clauses: list[Clause],
        filters: Filters,
        opts: _Page,
    ) -> SearchResult:
        q, mask = build_query(searcher, clauses)
        fq = build_filter(filters)
        if q is None:
            if fq is None:
                return SearchResult(
                    query, 0, (), page=opts.page, limit=opts.limit, sort=opts.sort,
                    facets=Facets() if opts.facets else None,
                )
            q = wq.Every()
        if fq is not None and not fq.matcher(searcher).is_active():
            # whoosh3 treats a filter that matches nothing as no filter at all
            return SearchResult(
                query, 0, (), page=opts.page, limit=opts.limit, sort=opts.sort,
                facets=Facets() if opts.facets else None,
            )
        if opts.sort == "relevance" and not isinstance(q, wq.Every):
            q = _with_feedback(searcher, q, clauses, fq, mask)
        total, hits, facets = _ranked_page(searcher, q, fq, mask, opts)
        return SearchResult(
            query, total, hits, page=opts.page, limit=opts.limit, sort=opts.sort, facets=facets
        )

    def _suggest(self, searcher: Any, query: str, clauses: list[Clause]) -> str | None:
        """A corrected query built from the index's own vocabulary, or None."""
        reader = searcher.reader()
        replacements: dict[str, str] = {}
        tried = 0
        for clause in clauses:
            if clause.kind == "prefix" or clause.occur == "must_not":
                continue
            for word in words(clause.text):
                if len(word) < 4 or len(word) > MAX_SUGGEST_WORD_CHARS:
                    continue
                if word.isdigit() or word in replacements:
                    continue
                if not analyze(word) or is_synonym_term(word) or _known(reader, word):
                    continue
                tried += 1
                if tried > MAX_SUGGEST_WORDS:
                    break
                best = _closest_word(reader, word)
                if best:
                    replacements[word] = best
        if not replacements:
            return None
        out = query
        for wrong, right in replacements.items():
            out = _replace_word(out, wrong, right)
        return out if out != query else None

    # -- documents ----------------------------------------------------------------------------
    def get(self, doc_id: str) -> DocumentView:
        """The stored document with this id."""
        doc_id = scrub_surrogates(doc_id)
        with self._lock:
            searcher = self._current()
            stored = searcher.document(id=doc_id)
        if stored is None:
            raise DocumentNotFoundError(f"no document with id {doc_id!r}")
        return _make_view(stored)

    def documents(self, *, kind: str | None = None, cell: str | None = None) -> list[DocumentView]:
        """All documents, in cell order (optionally one kind or one cell)."""
        filters = Filters()
        if kind:
            filters.kinds.add(normalise_kind(kind))
        if cell:
            filters.cells.add(normalise_cell(cell))
        with self._lock:
            searcher = self._current()
            fq = build_filter(filters)
            docnums = searcher.docs_for_query(fq if fq is not None else wq.Every())
            views = [_make_view(searcher.stored_fields(n)) for n in docnums]
        return sorted(views, key=lambda v: (v.cell, v.kind != "study", v.order))

    def similar(
        self, doc_id: str, *, limit: int = 10, page: int = 1, kind: str | None = None
    ) -> SimilarResult:
        """Documents like ``doc_id`` (more-like-this): a search for its key terms, itself left out.

        >>> [h.id for h in idx.similar("alcohol/B5/s7", limit=3).hits]  # doctest: +SKIP
        """
        if not isinstance(limit, int) or limit < 1 or limit > MAX_LIMIT:
            raise QueryError(
                f"limit must be between 1 and {MAX_LIMIT}", hint="pass --limit N with 1 <= N"
            )
        if not isinstance(page, int) or page < 1:
            raise QueryError(f"page must be 1 or more, not {page}", hint="pass --page N with N >= 1")
        filters = Filters()
        if kind:
            filters.kinds.add(normalise_kind(kind))
        searcher = self._current()
        with self._lock:
            stored = searcher.document(id=doc_id)
            if stored is None:
                raise DocumentNotFoundError(f"no document with id {doc_id!r}")
            source = " ".join(
                stored.get(f) or "" for f in ("title", "doc_title", "section", "text", "organisation")
            )
            key_terms = [t for t, _ in searcher.key_terms_from_text("text", source, SIMILAR_TERMS)]
            if not key_terms:
                return SimilarResult(doc_id, (), 0, ())
            weights = dict(searcher.key_terms_from_text("text", source, SIMILAR_TERMS))
            subs = [
                wq.Term(f, t, boost=FIELD_WEIGHTS[f] * weights[t])
                for t in key_terms
                for f in ("title", "doc_title", "section", "text")
            ]
            q = wq.Or(subs)
            opts = _Page(limit, page, "relevance", False, True)
            total, hits, _ = _ranked_page(
                searcher, q, build_filter(filters), wq.Term("id", doc_id), opts
            )
        return SimilarResult(doc_id, tuple(key_terms), total, hits)

    def related(self, doc_id: str) -> Related:
        """The documents linked to ``doc_id`` through its cell's commentary sections.

        For a study: the passages of the sections that discuss it, and the other studies
        discussed in those sections. For a passage: the studies its section discusses.

        >>> [p.id for p in idx.related("alcohol/B5/s1").passages]  # doctest: +SKIP
        """
        view = self.get(doc_id)
        if view.kind == "study":
            sections = view.links
        else:
            sections = (view.section,) if view.section else ()
        keys = {_heading_key(h) for h in sections}
        if not keys:
            return Related(doc_id, sections)
        searcher = self._current()
        with self._lock:
            docnums = searcher.docs_for_query(wq.Term("cell", view.cell.lower()))
            cell_docs = [_make_view(searcher.stored_fields(n)) for n in docnums]
        cell_docs.sort(key=lambda v: (v.kind != "study", v.order))
        passages = ()
        if view.kind == "study":
            passages = tuple(
                v for v in cell_docs if v.kind == "passage" and _heading_key(v.section or "") in keys
            )
        studies = tuple(
            v for v in cell_docs
            if v.kind == "study" and v.id != doc_id and keys & {_heading_key(h) for h in v.links}
        )
        return Related(doc_id, sections, passages, studies)

    def explain(self, query: str, doc_id: str) -> Explanation:
        """Why ``doc_id`` scored as it did for ``query``: its BM25F score per field and term.

        Each matched term's score is Whoosh's BM25F scorer on that document's field, times
        the field weight the query gives it; ``score`` is their sum, plus what synonym
        expansions, phrases and feedback terms of the query add.

        >>> idx.explain("motivational interviewing", "alcohol/B5/s7").terms[0]  # doctest: +SKIP
        """
        parsed = parse_query(query)
        searcher = self._current()
        with self._lock:
            docnum = searcher.document_number(id=doc_id)
            if docnum is None:
                raise DocumentNotFoundError(f"no document with id {doc_id!r}")
            q, mask = build_query(searcher, parsed.clauses)
            fq = build_filter(parsed.filters)
            only = wq.Term("id", doc_id)

            def hits_doc(extra: wq.Query) -> bool:
                return bool(list(searcher.docs_for_query(wq.And([only, extra]))))

            reason: str | None = None
            score = 0.0
            if q is None or isinstance(q, wq.Every):
                reason = "the query has no words to score"
            else:
                found = _top_docs(searcher, q, only, None, 1)  # scored as searches are
                best = found[1] if found is not None else [
                    (h.docnum, h.score or 0.0) for h in searcher.search(q, filter=only, limit=1)
                ]
                if best:
                    score = round(float(best[0][1]), 4)
                else:
                    reason = "it does not match the query's words"
            if reason is None and mask is not None and hits_doc(mask):
                reason = "it contains an excluded word"
            if reason is None and fq is not None and not hits_doc(fq):
                reason = "the query's filters (type:, kind:, cell:, matrix:, year:) leave it out"
            terms = _term_scores(searcher, q, docnum) if q is not None else []
        wanted = [
            t for c in parsed.clauses if c.kind != "prefix" and c.occur != "must_not"
            for t in analyze(c.text)
        ]
        seen = {t.term for t in terms}
        missing = tuple(dict.fromkeys(t for t in wanted if t not in seen))
        return Explanation(
            query, doc_id, reason is None, score if reason is None else 0.0, tuple(terms),
            missing, reason,
        )

    def stats(self) -> IndexStats:
        """What the index holds and where it is."""
        with self._lock:
            self._current()
            assert self._gen is not None
            meta = self._gen.meta
        return IndexStats(
            index_dir=str(self.index_dir),
            corpus_dir=str(meta.get("corpus_dir", "")),
            cells=len(meta.get("cells", [])),
            studies=int(meta.get("studies", 0)),
            passages=int(meta.get("passages", 0)),
            files=len(meta.get("files", {})),
            schema_version=int(meta.get("schema_version", 0)),
            evsearch_version=str(meta.get("evsearch_version", "")),
            built_at=str(meta.get("built_at", "")),
        )


# --- building Whoosh queries -----------------------------------------------------------------

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
            else ["title", "doc_title", "section", "text", "organisation"]
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
    optional = wq.Or(should, scale=COORD_SCALE) if len(should) > 1 else (should[0] if should else None)
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


def _boosted(q: wq.Query) -> wq.Query:
    q.boost = q.boost * EXPANSION_WEIGHT
    return q


def _with_feedback(
    searcher: Any, q: wq.Query, clauses: list[Clause], fq: wq.Query | None, mask: wq.Query | None
) -> wq.Query:
    """Pseudo-relevance feedback (RM3): ``q`` plus the top terms of its top documents.

    Only for questions and long queries of plain words (at least ``PRF_MIN_TERMS`` distinct
    terms) over a collection large enough that the top ``PRF_DOCS`` documents are a small part
    of it (``PRF_MIN_DOCS``) and small enough that a second, longer search stays interactive
    (``PRF_MAX_DOCS``); other queries are returned as they are. The user's own terms keep
    ``1 - PRF_WEIGHT`` of the weight, so what they typed still ranks first.
    """
    if not PRF_DOCS or not PRF_MIN_DOCS <= searcher.doc_count() <= PRF_MAX_DOCS:
        return q
    if any(c.kind != "word" or c.field or c.occur != "should" for c in clauses):
        return q
    typed = list(dict.fromkeys(t for c in clauses for t in analyze(c.text)))
    if len(typed) < PRF_MIN_TERMS:
        return q
    found = _top_docs(searcher, q, fq, mask, PRF_DOCS)
    if found is not None:
        top = found[1]
    else:
        top = [(h.docnum, h.score or 0.0) for h in searcher.search(q, filter=fq, mask=mask, limit=PRF_DOCS)]
    mass = sum(score for _, score in top)
    if mass <= 0:
        return q
    weights: Counter[str] = Counter()
    for docnum, score in top:
        stored = searcher.stored_fields(docnum)
        terms = analyze(f"{stored.get('title') or stored.get('doc_title') or ''} {stored.get('text') or ''}")
        if terms:
            for term, tf in Counter(terms).items():
                weights[term] += tf / len(terms) * score / mass
    # Terms in more than PRF_MAX_DF of the documents say little and cost a full scan each.
    n_docs = searcher.doc_count()
    reader = searcher.reader()
    best = [
        (term, w)
        for term, w in weights.most_common(PRF_TERMS * 3)
        if term in typed or reader.doc_frequency("text", term) <= PRF_MAX_DF * n_docs
    ][:PRF_TERMS]
    norm = sum(w for _, w in best) or 1.0
    merged = dict.fromkeys(typed, (1 - PRF_WEIGHT) / len(typed))
    for term, w in best:
        merged[term] = merged.get(term, 0.0) + PRF_WEIGHT * w / norm
    top_w = max(merged.values())  # the largest weight 1
    subs: list[wq.Query] = []
    for term, w in merged.items():
        if term in typed:  # the user's own words: every field, as in the query itself
            subs.append(
                _field_terms(None, [term], lambda f, ts, fb, w=w: wq.Term(f, ts[0], boost=fb * w / top_w))
            )
        else:  # feedback terms: the body text only (one posting list each, not six)
            subs.extend(wq.Term(f, term, boost=FIELD_WEIGHTS[f] * w / top_w) for f in PRF_FIELDS)
    for expansion in _expansion_queries(clauses):
        expansion.boost *= (1 - PRF_WEIGHT) / len(typed) / top_w
        subs.append(expansion)
    return wq.Or(subs, scale=COORD_SCALE)


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


# --- ranking, paging and facets ------------------------------------------------------------------

#: The facets counted with ``facets=True``: name -> (field, many values per document).
_FACET_FIELDS: dict[str, tuple[str, bool]] = {
    "kind": ("kind", False),
    "type": ("type", True),
    "year": ("year", False),
    "matrix": ("matrix", False),
    "cell": ("cell_key", False),
}


def _year_of(value: Any) -> int | None:
    """A year column value, or None for the column's "no year" default."""
    return value if isinstance(value, int) and YEAR_MIN <= value <= YEAR_MAX else None


def _ranked_page(
    searcher: Any, q: wq.Query, fq: wq.Query | None, mask: wq.Query | None, opts: _Page
) -> tuple[int, tuple[Hit, ...], Facets | None]:
    """Every match of ``q`` (and its facets), ordered by ``opts.sort``; the hits of one page.

    All matches are counted so that ``total`` and the facets cover every page, and ties are
    broken the same way on every page: by score, then by ``seq`` (cell order). The array
    scorer does the work; a query shape it does not know goes through Whoosh's collectors.
    """
    scored = not isinstance(q, wq.Every)
    start = (opts.page - 1) * opts.limit
    found = _array_page(searcher, q, fq, mask, opts)
    if found is not None:
        total, page, facets = found
        results = Results(searcher, q, [(score, docnum) for docnum, score in page])
        order = list(range(len(page)))
        scores = [score for _, score in page]
    elif opts.sort == "relevance" and not opts.facets:
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
    hits = []
    for rank, (i, score) in enumerate(zip(order, scores, strict=True), start=start + 1):
        hit = results[i]
        stored = hit.fields()
        snippet = highlight_hit(results, hit, stored.get("text", "")) if opts.snippets and scored else ""
        hits.append(_make_hit(rank, score, stored, snippet))
    return total, tuple(hits), facets


def _array_scorer(searcher: Any) -> ArrayScorer:
    """The array scorer of an open searcher (made once, kept on the searcher while it lives)."""
    scorer = getattr(searcher, "_evsearch_scorer", None)
    if scorer is None:
        folder = getattr(getattr(getattr(searcher, "_ix", None), "storage", None), "folder", None)
        scorer = ArrayScorer(
            searcher, k1=BM25_K1, b=BM25_B, field_b=FIELD_B, folder=Path(folder) if folder else None
        )
        searcher._evsearch_scorer = scorer
    return scorer


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


def _top_docs(
    searcher: Any, q: wq.Query, fq: wq.Query | None, mask: wq.Query | None, k: int
) -> tuple[int, list[tuple[int, float]]] | None:
    """How many documents match, and the ``k`` best as (document number, score), best first
    (ties in cell order); None when the array scorer cannot score ``q``."""
    scorer = _array_scorer(searcher)
    try:
        m = _array_matches(scorer, q, fq, mask)
    except Unsupported:
        return None
    ids, scores = scorer.top(m, k)
    return len(m.ids), [(int(d), float(s)) for d, s in zip(ids, scores, strict=True)]


def _array_page(
    searcher: Any, q: wq.Query, fq: wq.Query | None, mask: wq.Query | None, opts: _Page
) -> tuple[int, list[tuple[int, float]], Facets | None] | None:
    """The total, one page of (document number, score) in ``opts.sort`` order, and the facets
    if asked for; None when the array scorer cannot score ``q``."""
    scorer = _array_scorer(searcher)
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
    return len(m.ids), page, (_array_facets(searcher, scorer, m.ids) if opts.facets else None)


def _array_facets(searcher: Any, scorer: ArrayScorer, ids: np.ndarray) -> Facets:
    """Facet counts over the matched documents ``ids``, from the index's columns."""

    def counts(values: np.ndarray) -> dict[Any, int]:
        return dict(Counter(values.tolist()))

    groups: dict[str, dict[Any, int]] = {}
    schema = searcher.schema
    for name, (fieldname, overlap) in _FACET_FIELDS.items():
        if fieldname not in schema or not schema[fieldname].indexed:
            continue  # an index built before the field was indexed counts nothing for it
        if overlap:  # several values per document: count each value's postings
            reader = searcher.reader()
            groups[name] = {}
            for term in reader.lexicon(fieldname):
                value = term.decode("utf-8") if isinstance(term, bytes) else term
                n = int(np.isin(ids, scorer.docs(wq.Term(fieldname, value)), assume_unique=True).sum())
                if n:
                    groups[name][value] = n
        else:
            groups[name] = counts(scorer.column(fieldname)[ids])
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
    searcher: Any, q: wq.Query, fq: wq.Query | None, mask: wq.Query | None, opts: _Page, scored: bool
) -> tuple[list[int], list[float], int, Any]:
    """Every match (and its facets) ordered by ``opts.sort``: the result positions and scores
    of one page, the total, and the Whoosh results they index into."""
    groupedby = None
    if opts.facets:
        schema = searcher.schema
        groupedby = {  # an index built before a field was indexed counts nothing for it
            name: sorting.FieldFacet(fieldname, allow_overlap=overlap)
            for name, (fieldname, overlap) in _FACET_FIELDS.items()
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
            year = _year_of(years[results.docnum(key[2])])
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
    for name in _FACET_FIELDS:
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
        year = _year_of(value)
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


def _heading_key(heading: str) -> str:
    """A section heading compared loosely: case, curly quotes and spacing ignored."""
    return " ".join(heading.replace("\u2019", "'").replace("\u2018", "'").casefold().split())


def _term_scores(searcher: Any, q: wq.Query, docnum: int) -> list[TermScore]:
    """The BM25F score of each of the query's terms in each field of one document."""
    wanted: dict[tuple[str, str], float] = {}
    for leaf in q.leaves():
        if isinstance(leaf, wq.Term):
            pairs = [(leaf.fieldname, leaf.text)]
        elif isinstance(leaf, wq.Phrase):
            pairs = [(leaf.fieldname, w) for w in leaf.words]
        else:
            continue
        for fieldname, text in pairs:
            text = text.decode("utf-8") if isinstance(text, bytes) else text
            wanted.setdefault((fieldname, text), float(leaf.boost))
    reader = searcher.reader()
    out = []
    for (fieldname, text), boost in wanted.items():
        if (fieldname, text) not in reader:
            continue
        m = searcher.postings(fieldname, text)
        m.skip_to(docnum)
        if not m.is_active() or m.id() != docnum:
            continue
        out.append(TermScore(
            field=fieldname,
            term=text,
            frequency=int(m.weight()),
            field_length=int(searcher.doc_field_length(docnum, fieldname, 0)),
            weight=boost,
            score=round(float(m.score()), 4),
        ))
    out.sort(key=lambda t: (-t.contribution, t.field, t.term))
    return out


# --- spelling ----------------------------------------------------------------------------------

def _known(reader: Any, word: str) -> bool:
    if reader.doc_frequency("words", word):
        return True
    terms = analyze(word)
    return bool(terms) and all(
        reader.doc_frequency("text", t) or reader.doc_frequency("title", t)
        or reader.doc_frequency("doc_title", t)
        for t in terms
    )


def _closest_word(reader: Any, word: str) -> str | None:
    for maxdist in (1, 2):
        candidates = [
            c.decode("utf-8") if isinstance(c, bytes) else c
            for c in reader.terms_within("words", word, maxdist, prefix=1)
        ]
        if candidates:
            return max(candidates, key=lambda c: (reader.doc_frequency("words", c), c))
    return None


def _replace_word(text: str, wrong: str, right: str) -> str:
    def fix(m: re.Match[str]) -> str:
        found = m.group(0)
        return right.capitalize() if found[:1].isupper() else right

    return re.sub(rf"(?<!\w){re.escape(wrong)}(?!\w)", fix, text, flags=re.IGNORECASE)


# --- stored fields -> results ------------------------------------------------------------------

def _make_hit(rank: int, score: float, stored: dict[str, Any], snippet: str) -> Hit:
    view = _make_view(stored)
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


def _make_view(stored: dict[str, Any]) -> DocumentView:
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


# --- entry points ------------------------------------------------------------------------------

def open_index(index_dir: Path | str | None = None) -> SearchIndex:
    """Open an existing index (the default one when ``index_dir`` is None)."""
    return SearchIndex(index_dir if index_dir is not None else default_index_dir())


def ensure_index(
    index_dir: Path | str | None = None,
    corpus_dir: Path | str | None = None,
    *,
    update: bool = True,
) -> SearchIndex:
    """Open the index, building it from the corpus first if there is none.

    With ``update`` (the default), an index built from this corpus directory is first brought
    up to date when a cheap check (file sizes and modification times, no reading) finds the
    corpus changed. If that update cannot run (another process is indexing, a read-only index
    directory), the last commit is searched.
    """
    from .errors import EvsearchError, IndexMissingError

    target = Path(index_dir) if index_dir is not None else default_index_dir()
    corpus = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
    if update and index_is_stale(corpus, target):
        try:
            update_index(corpus, target, wait=0)
        except EvsearchError:  # busy or not writable: search what is committed
            pass
    try:
        return SearchIndex(target)
    except IndexMissingError:
        update_index(corpus, target)
        return SearchIndex(target)
