"""Searching an index: a query -> typed results.

>>> from evsearch import open_index
>>> with open_index(index="index") as idx:                   # doctest: +SKIP
...     result = idx.search("motivational interviewing", kind="study", limit=3)
...     [hit.title for hit in result.hits]

Modules: ``query`` (the query language -> clauses), ``plan`` (clauses -> what the engine
runs), ``bm25f``, ``scorer`` and ``rank`` (scoring, paging, sorting, facets), ``extras``
(similar, related, explain, suggest), ``corrections`` (the English word list), ``snippets``,
and ``backend`` (the engine seam). ``SearchIndex`` below is a thin facade over them: it owns
the open index and its lock.
"""

from __future__ import annotations

import functools
import importlib
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from whoosh import query as wq

from .. import config
from .._sanitize import scrub_surrogates
from .._whoosh.backend import WhooshBackend
from ..config import (
    DEFAULT_LIMIT,
    ENGINE_INDEX,
    SORTS,
    check_limit,
    check_page,
    remote_index,
    resolve_dirs,
)
from ..errors import DocumentNotFoundError, EvsearchError, IndexMissingError, QueryError
from ..index import index_is_stale, open_searcher, update_index
from ..index.integrity import verify
from ..index.store import Generation, close_leaked_files, current_generation, damaged, live_name
from ..results import (
    DocumentView,
    Explanation,
    Facets,
    IndexStats,
    Related,
    SearchResult,
    SimilarResult,
)
from . import extras
from .plan import build_filter, build_query, with_feedback
from .query import (
    Clause,
    Filters,
    normalise_cell,
    normalise_kind,
    normalise_matrix,
    normalise_type,
    parse_query,
    parse_year,
)
from .rank import Page, make_view, ranked_page, weighting
from .scorer import ArrayScorer

__all__ = ["SearchIndex", "ensure_index", "open_index"]


class SearchIndex:
    """An open evsearch index: search it, fetch documents, count what it holds.

    Use as a context manager, or call :meth:`close`. The searcher is kept open across
    searches and reopened when the index has changed (a new commit or a rebuild), so a
    long-running process sees every commit on its next search. Thread-safe: a search holds
    the searcher until it is done, and the old searcher is closed once no search uses it.
    """

    def __init__(self, index: Path | str) -> None:
        self.index_dir = Path(index)
        self._lock = threading.RLock()
        self._gen: Generation | None = None
        self._searcher: Any = None
        self._scorer: ArrayScorer | None = None
        #: Why :func:`ensure_index` could not bring the index up to date (it then searches
        #: the last commit), or None.
        self.update_skipped: str | None = None
        self._open()

    # -- lifecycle ----------------------------------------------------------------------------
    def _open(self) -> None:
        gen, _, searcher = open_searcher(self.index_dir, weighting())
        old = self._searcher
        self._gen, self._searcher = gen, searcher
        self._scorer = ArrayScorer(
            WhooshBackend(searcher, folder=gen.path, trusted=gen.trusts), k1=config.BM25_K1,
            b=config.BM25_B, field_b=config.FIELD_B,
        )
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
            self._scorer = None

    def _view(self) -> tuple[Any, ArrayScorer]:
        """The searcher and its scorer (see :meth:`_current`; call with ``self._lock`` held)."""
        searcher = self._current()
        assert self._scorer is not None
        return searcher, self._scorer

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- searching ----------------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        limit: int = DEFAULT_LIMIT,
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
        correct: bool = True,
    ) -> SearchResult:
        """Run ``query`` and return page ``page`` of ``limit`` hits, ranked by ``sort``.

        Options are filters that every hit satisfies, like the query's own ``type:K`` etc.;
        ``study_type`` may name several types (``"S,G"``). ``sort`` is ``"relevance"``,
        ``"year"`` or ``"-year"`` (newest first; undated documents last); ties go by score,
        then by the documents' order in their cell. ``total`` counts every page; with
        ``facets=True`` the result counts all matches by kind, type, year, decade, matrix, cell.

        Spelling: a plain word that no document has and that is not an English word (see
        :mod:`evsearch.search.corrections`) may be misspelt; ``suggestion`` is then the query with it
        corrected from the index's vocabulary ("did you mean"). The query is replaced by the
        suggestion (``corrected`` True) only when it finds nothing as typed and the suggestion
        finds something, and only with ``correct`` (the default). Quoted, ``+``, ``-`` and
        fielded words are never corrected; ``suggest=False`` seeks no suggestion at all.

        >>> idx.search("supervision", kind="study", sort="-year", page=2, limit=3)  # doctest: +SKIP
        """
        check_limit(limit)
        query = scrub_surrogates(query)
        check_page(page)
        if sort not in SORTS:
            raise QueryError(f"unknown sort {sort!r}", hint="sort by " + ", ".join(SORTS))
        parsed = parse_query(query)
        filters = _with_options(
            parsed.filters, kind=kind, study_type=study_type, cell=cell, matrix=matrix
        )
        for year in (year_from, year_to):
            if year is not None:
                parse_year(str(year))
        filters.merge_year(year_from, year_to)
        page_opts = Page(limit, page, sort, facets, snippets)
        with self._lock:
            searcher, scorer = self._view()
            result = self._run(searcher, scorer, query, parsed.clauses, filters, page_opts)
            if suggest:
                suggestion = extras.suggest(searcher, query, parsed.clauses)
                if suggestion:
                    if correct and not result.total:
                        fixed = parse_query(suggestion)
                        corrected = self._run(searcher, scorer, query, fixed.clauses, filters, page_opts)
                        if corrected.total:
                            return replace(corrected, suggestion=suggestion, corrected=True)
                    return replace(result, suggestion=suggestion)
            return result

    def _run(
        self, searcher: Any, scorer: Any, query: str, clauses: list[Clause], filters: Filters, opts: Page
    ) -> SearchResult:
        """One query's result page: what an engine's index overrides (see ``ENGINE_INDEX``)."""
        return _run(searcher, scorer, query, clauses, filters, opts)

    # -- documents ----------------------------------------------------------------------------
    def get(self, doc_id: str) -> DocumentView:
        """The stored document with this id."""
        doc_id = scrub_surrogates(doc_id)
        with self._lock:
            searcher = self._current()
            stored = searcher.document(id=doc_id)
        if stored is None:
            raise DocumentNotFoundError(f"no document with id {doc_id!r}")
        return make_view(stored)

    def documents(self, *, kind: str | None = None, cell: str | None = None) -> list[DocumentView]:
        """All documents, in cell order (optionally one kind or one cell)."""
        filters = _with_options(Filters(), kind=kind, cell=cell)
        with self._lock:
            searcher = self._current()
            fq = build_filter(filters)
            docnums = searcher.docs_for_query(fq if fq is not None else wq.Every())
            views = [make_view(searcher.stored_fields(n)) for n in docnums]
        return sorted(views, key=lambda v: (v.cell, v.kind != "study", v.order))

    def similar(
        self,
        doc_id: str | None = None,
        *,
        text: str | None = None,
        limit: int = DEFAULT_LIMIT,
        page: int = 1,
        kind: str | None = None,
    ) -> SimilarResult:
        """Documents like ``doc_id`` (more-like-this: a search for its key terms, itself left
        out), or like a pasted ``text`` (a paragraph, an abstract). ``terms`` are the key
        terms as words (the form the source uses most), not index terms.

        >>> study = "alcohol/B5/r2005-motivational-interviewing-work"
        >>> [h.id for h in idx.similar(study, limit=3).hits]  # doctest: +SKIP
        >>> idx.similar(text="Probation officers trained in motivational interviewing")  # doctest: +SKIP
        """
        check_limit(limit)
        check_page(page)
        if (doc_id is None) == (text is None):
            raise QueryError("give either a document id or a text",
                             hint='evsearch similar ID, or evsearch similar --text "..."')
        filters = _with_options(Filters(), kind=kind)
        with self._lock:
            searcher, scorer = self._view()
            return extras.similar(
                searcher, scorer, doc_id, None if text is None else scrub_surrogates(text), filters,
                Page(limit, page, "relevance", False, True),
            )

    def related(self, doc_id: str) -> Related:
        """The documents linked to ``doc_id`` through its cell's commentary sections.

        For a study: the passages of the sections that discuss it, and the other studies
        discussed in those sections. For a passage: the studies its section discusses.

        >>> study = "alcohol/B5/k2008-relationship-therapist-seems"
        >>> [p.id for p in idx.related(study).passages]  # doctest: +SKIP
        """
        view = self.get(doc_id)
        with self._lock:
            cell_docs = extras.cell_documents(self._current(), view.cell)
        return extras.related(view, cell_docs)

    def explain(self, query: str, doc_id: str) -> Explanation:
        """Why ``doc_id`` scored as it did for ``query``: the scorer's own numbers.

        Each row is one query term (a word typed, an expansion, a feedback term, a phrase)
        in one field of the document: its frequency there, the field's length, the weight,
        and the row's share of the term's BM25F score; the rows add up to ``score``, the
        score search gives the document. A document the query does not match (or filters
        out) has ``matched`` False, a ``reason``, and no rows.

        >>> study = "alcohol/B5/r2005-motivational-interviewing-work"
        >>> idx.explain("motivational interviewing", study).terms[0]  # doctest: +SKIP
        """
        with self._lock:
            searcher, scorer = self._view()
            return extras.explain(searcher, scorer, query, doc_id)

    def cell_labels(self) -> dict[str, str]:
        """Each indexed cell's own label, as its page gives it: ``{"alcohol/B5": "Practitioners;
        Safeguarding the community", ...}`` (cells indexed before labels were recorded: none)."""
        with self._lock:
            self._current()
            assert self._gen is not None
            files = self._gen.meta.get("files", {})
        return extras.labels_of(files)

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


def _diagnosing(method: Any) -> Any:
    """``method`` of :class:`SearchIndex`, turning an error Whoosh raises on a damaged file
    (beyond what opening verified: large files are checked by size only) into the one-line
    error naming that file, found by verifying every file of the open commit."""

    @functools.wraps(method)
    def wrapper(self: SearchIndex, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except EvsearchError:
            raise
        except Exception as exc:
            gen = self._gen
            found = verify(gen.path, gen.meta) if gen is not None else None
            if found is None or not found.damaged:
                raise
            close_leaked_files(exc)
            name, why = next(iter(found.damaged.items()))
            raise damaged(gen.path / name, why) from None  # type: ignore[union-attr]

    return wrapper


for _name in ("search", "get", "documents", "similar", "related", "explain", "stats"):
    setattr(SearchIndex, _name, _diagnosing(getattr(SearchIndex, _name)))


def _with_options(
    filters: Filters,
    *,
    kind: str | None = None,
    study_type: str | None = None,
    cell: str | None = None,
    matrix: str | None = None,
) -> Filters:
    """``filters`` with the library's filter options added (checked as the query's own
    ``kind:``, ``type:``, ``cell:`` and ``matrix:`` are)."""
    if kind:
        filters.kinds.add(normalise_kind(kind))
    if study_type:
        filters.types.update(normalise_type(t) for t in study_type.replace(",", " ").split())
    if cell:
        filters.cells.add(normalise_cell(cell))
    if matrix:
        filters.matrices.add(normalise_matrix(matrix))
    return filters


def _run(
    searcher: Any,
    scorer: ArrayScorer,
    query: str,
    clauses: list[Clause],
    filters: Filters,
    opts: Page,
) -> SearchResult:
    q, mask = build_query(searcher, clauses)
    fq = build_filter(filters)
    nothing = SearchResult(
        query, 0, (), page=opts.page, limit=opts.limit, sort=opts.sort,
        facets=Facets() if opts.facets else None,
    )
    if q is None:
        if fq is None:
            return nothing
        q = wq.Every()
    if fq is not None and not fq.matcher(searcher).is_active():
        # whoosh3 treats a filter that matches nothing as no filter at all
        return nothing
    if opts.sort == "relevance" and not isinstance(q, wq.Every):
        q = with_feedback(searcher, scorer, q, clauses, fq, mask)
    total, hits, facets = ranked_page(searcher, scorer, q, fq, mask, opts)
    return SearchResult(
        query, total, hits, page=opts.page, limit=opts.limit, sort=opts.sort, facets=facets
    )


# --- entry points ------------------------------------------------------------------------------

def open_index(*, index: Path | str | None = None, partial: bool = False) -> SearchIndex:
    """Open an existing index (the default one when ``index`` is None); never writes.

    ``index`` may name remote Xapian shards, ``"xapian+tcp://host1:33333,host2:33333"``;
    with ``partial``, shards of a Xapian index that do not answer are left out (the result's
    ``missing_shards`` names them) instead of failing the search.
    """
    spec = remote_index(index)
    if spec is not None:
        remote: SearchIndex = _engine_index("xapian")(spec, partial=partial)
        return remote
    target = resolve_dirs(None, index)[1]
    engine = _engine_of(target)
    if engine in ENGINE_INDEX:
        other: SearchIndex = _engine_index(engine)(target, partial=partial)
        return other
    return SearchIndex(target)


def _engine_of(target: Path) -> str:
    """The engine an index directory was built with (whoosh when it cannot tell)."""
    try:
        return str(current_generation(target).meta.get("engine", "whoosh"))
    except EvsearchError:
        return "whoosh"  # opening it reports what is wrong


def _engine_index(engine: str) -> Any:
    """The search facade of an optional engine, loaded by name (the query layer imports no
    engine package itself)."""
    module, _, name = ENGINE_INDEX[engine].partition(":")
    return getattr(importlib.import_module(module), name)


def ensure_index(
    *,
    index: Path | str | None = None,
    corpus: Path | str | None = None,
    update: bool = True,
    partial: bool = False,
) -> SearchIndex:
    """Open the index, building it from the corpus first if there is none.

    With ``update`` (the default), an index built from this corpus directory is first brought
    up to date when a cheap check (file sizes and modification times, no reading) finds the
    corpus changed. If that update cannot run (another process is indexing, a read-only index
    directory), the last commit is searched. Remote shards (``xapian+tcp://``) are opened as
    they are: each is updated where it lives.
    """
    if remote_index(index) is not None:
        return open_index(index=index, partial=partial)
    corpus_dir, target = resolve_dirs(corpus, index)
    skipped = None
    if update and index_is_stale(corpus=corpus_dir, index=target):
        try:
            update_index(corpus=corpus_dir, index=target, wait=0)
        except EvsearchError as exc:  # busy, not writable, disk full: search what is committed
            skipped = exc.message
    try:
        opened = open_index(index=target, partial=partial)
        opened.update_skipped = skipped
        return opened
    except IndexMissingError:
        update_index(corpus=corpus_dir, index=target)
        return open_index(index=target, partial=partial)
