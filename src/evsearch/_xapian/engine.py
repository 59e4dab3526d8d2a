"""Searching a Xapian index: the library's :class:`~evsearch.search.SearchIndex` over Xapian.

:class:`XapianIndex` is a ``SearchIndex``: argument checks, the query language, filters,
synonyms, corrections, the retry with a corrected query and the result types are the shared
code; the plan it builds runs on Xapian (:mod:`.searcher`). Ranking stays inside Xapian,
and so inside each shard's server, rather than reading posting lists through
:class:`evsearch.search.backend.Backend` (see the README: posting lists of remote shards
would cross the network whole for every query).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from whoosh import query as wq

from .._sanitize import scrub_surrogates
from ..analysis import analyze
from ..config import (
    FIELD_WEIGHTS,
    MAX_SIMILAR_CHARS,
    SIMILAR_FIELDS,
    SIMILAR_SOURCE_FIELDS,
    SIMILAR_TERMS,
    check_limit,
    check_page,
    remote_index,
    shown,
)
from ..errors import DocumentNotFoundError, IndexCorruptError, IndexVersionError, QueryError
from ..index.schema import meta_text, stored_length
from ..index.store import current_generation
from ..results import (
    DocumentView,
    Explanation,
    Facets,
    Hit,
    IndexStats,
    Related,
    SearchResult,
    SimilarResult,
    TermScore,
)
from ..search import SearchIndex, extras
from ..search.bm25f import FieldedTerm, walk_scored
from ..search.plan import build_filter, build_query, feedback_query
from ..search.query import Clause, Filters, normalise_cell, normalise_kind, parse_query
from ..search.rank import Page, make_hit, make_view
from .schema import FIELD_BM25F, RANKING
from .searcher import XapianSearcher, _decode, _text_words, shard_addresses, snippet
from .shards import ShardSet, is_remote_spec, parse_remote_spec
from .writer import read_averages


class XapianIndex(SearchIndex):
    """An open Xapian index: its local shards (an index directory) or remote ones
    (``xapian+tcp://host:port,...``). With ``partial``, shards that do not answer are left
    out (``missing_shards`` says which) instead of failing the search."""

    def __init__(self, index: Path | str, *, partial: bool = False) -> None:
        self._spec = remote_index(index) or index
        self._remote = is_remote_spec(self._spec)
        self.index_dir = Path(index) if not self._remote else Path(".")
        self._partial = partial
        self._lock = threading.RLock()
        self._gen = None
        self._ix = None
        self._searcher: XapianSearcher | None = None
        self._scorer = None
        self._labels: dict[str, str] | None = None
        self.update_skipped: str | None = None
        self._open()

    @property
    def spec(self) -> str:
        return str(self._spec)

    def _open(self) -> None:
        if self._remote:
            addrs = parse_remote_spec(str(self._spec))
            gen = None
        else:
            gen = current_generation(self.index_dir)
            if gen.meta.get("engine") != "xapian":
                raise IndexCorruptError(f"the index at {self.index_dir} is not a Xapian index")
            if gen.meta.get("ranking") != RANKING:
                raise IndexVersionError(
                    f"the Xapian index at {self.index_dir} was written with another ranking "
                    "(field weights or length normalisation)"
                )
            addrs = shard_addresses(self.index_dir, gen.meta, gen.path)
        old = self._searcher
        self._searcher = XapianSearcher(ShardSet(addrs, partial=self._partial))
        self._gen = gen
        self._labels = None
        if old is not None:
            old.shards.close()

    def _current(self) -> XapianSearcher:
        with self._lock:
            if self._searcher is None:
                raise QueryError("the index is closed", hint="open it again with open_index()")
            if not self._remote:
                try:
                    name = (self.index_dir / "CURRENT").read_text(encoding="utf-8").strip()
                except OSError:
                    name = self._gen.path.name if self._gen else ""
                if self._gen is None or name != self._gen.path.name:
                    self._open()
                    assert self._searcher is not None
                    return self._searcher
            if self._searcher.refresh():
                self._labels = None
            return self._searcher

    def _view(self) -> tuple[Any, Any]:
        """The shared search path asks for (searcher, scorer): ranking here is Xapian's."""
        return self._current(), None

    def _not_found(self, doc_id: str) -> DocumentNotFoundError:
        """No such document; in a partial index, it may be on a shard left out: say which."""
        missing = self.missing_shards
        if not missing:
            return DocumentNotFoundError(f"no document with id {doc_id!r}")
        return DocumentNotFoundError(
            f"no document with id {doc_id!r} in the shards that answered "
            f"(left out: {shown(', '.join(missing))})",
            hint="start the shard's xapian-tcpsrv again, or check the id",
        )

    @property
    def missing_shards(self) -> tuple[str, ...]:
        return self._searcher.shards.missing if self._searcher is not None else ()

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.shards.close()
            self._searcher = None

    # -- searching ----------------------------------------------------------------------------
    def search(self, query: str, **options: Any) -> SearchResult:
        """:meth:`SearchIndex.search`; a partial search also names the shards left out."""
        result = super().search(query, **options)
        missing = self.missing_shards
        return replace(result, missing_shards=missing) if missing else result

    def _run(
        self, searcher: Any, scorer: Any, query: str, clauses: list[Clause], filters: Filters, opts: Any
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
        if opts.sort == "relevance" and not isinstance(q, wq.Every):
            q = _with_feedback(searcher, q, clauses, fq, mask)
        total, hits, facets = _ranked_page(searcher, q, fq, mask, opts)
        return SearchResult(
            query, total, hits, page=opts.page, limit=opts.limit, sort=opts.sort, facets=facets
        )

    # -- documents ----------------------------------------------------------------------------
    def get(self, doc_id: str) -> DocumentView:
        with self._lock:
            s = self._current()
            docid = s.docid(doc_id)
            if docid is None:
                raise self._not_found(doc_id)
            return make_view(s.stored(docid))

    def documents(self, *, kind: str | None = None, cell: str | None = None) -> list[DocumentView]:
        filters = Filters()
        if kind:
            filters.kinds.add(normalise_kind(kind))
        if cell:
            filters.cells.add(normalise_cell(cell))
        with self._lock:
            views = [make_view(d) for d in self._current().filtered(build_filter(filters))]
        return sorted(views, key=lambda v: (v.cell, v.kind != "study", v.order))

    def similar(
        self,
        doc_id: str | None = None,
        *,
        text: str | None = None,
        limit: int = 10,
        page: int = 1,
        kind: str | None = None,
    ) -> SimilarResult:
        check_limit(limit)
        check_page(page)
        if (doc_id is None) == (text is None):
            raise QueryError("give either a document id or a text",
                             hint='evsearch similar ID, or evsearch similar --text "..."')
        filters = Filters()
        if kind:
            filters.kinds.add(normalise_kind(kind))
        with self._lock:
            s = self._current()
            mask: wq.Query | None = None
            if doc_id is not None:
                docid = s.docid(doc_id)
                if docid is None:
                    raise self._not_found(doc_id)
                weights = dict(s.key_terms(docid, SIMILAR_TERMS))
                mask = wq.Term("id", doc_id)
                source = " ".join(str(s.stored(docid).get(f) or "") for f in SIMILAR_SOURCE_FIELDS)
            else:
                source = scrub_surrogates(text or "")
                if len(source) > MAX_SIMILAR_CHARS:
                    raise QueryError(
                        f"the text is {len(source):,} characters long; the limit is {MAX_SIMILAR_CHARS:,}",
                        hint="paste a paragraph or an abstract",
                    )
                weights = dict(_text_key_terms(s, source, SIMILAR_TERMS))
            if not weights:
                return SimilarResult(doc_id, (), 0, ())
            q = wq.Or([
                wq.Term(f, t, boost=FIELD_WEIGHTS[f] * w)
                for t, w in weights.items()
                for f in SIMILAR_FIELDS
            ])
            opts = Page(limit, page, "relevance", False, True)
            total, hits, _ = _ranked_page(s, q, build_filter(filters), mask, opts)
        return SimilarResult(doc_id, tuple(extras.surface_words(source, list(weights))), total, hits)

    def related(self, doc_id: str) -> Related:
        view = self.get(doc_id)
        with self._lock:
            stored = self._current().filtered(wq.Term("cell", view.cell.lower()))
        return extras.related(view, [make_view(d) for d in stored])

    def explain(self, query: str, doc_id: str) -> Explanation:
        """Why ``doc_id`` scored as it did: as :meth:`SearchIndex.explain`, a row per query
        term and field, adding up to the score search gives it (see :func:`_term_scores`)."""
        parsed = parse_query(query)
        with self._lock:
            s = self._current()
            docid = s.docid(doc_id)
            if docid is None:
                raise self._not_found(doc_id)
            q, mask = build_query(s, parsed.clauses)
            fq = build_filter(parsed.filters)
            only = wq.Term("id", doc_id)

            def hits_doc(extra: Any) -> bool:
                return bool(s.top(wq.Every(), wq.And([only, extra]), None, 1))

            score = 0.0
            reason = extras.unscored_reason(q, mask, fq, hits_doc)
            if reason is None and q is not None:
                q = _with_feedback(s, q, parsed.clauses, fq, mask)  # as searches do
                found = s.top(q, only, None, 1)
                if found:
                    score = round(found[0].weight, 4)
                else:
                    reason = "it does not match the query's words"
            terms = _term_scores(s, q, doc_id, docid) if reason is None else []
        wanted = [
            t for c in parsed.clauses if c.kind != "prefix" and c.occur != "must_not"
            for t in analyze(c.text)
        ]
        seen = {w for t in terms for w in t.term.split()}
        missing = tuple(dict.fromkeys(t for t in wanted if t not in seen))
        return Explanation(query, doc_id, reason is None, score, tuple(terms), missing, reason)

    def cell_labels(self) -> dict[str, str]:
        """:meth:`SearchIndex.cell_labels`, from the shards' manifests (read once per commit)."""
        with self._lock:
            s = self._current()
            if self._labels is None:
                self._labels = s.cell_labels()
            return dict(self._labels)

    def stats(self) -> IndexStats:
        with self._lock:
            s = self._current()
            shards = s.shard_metadata()
            gen_meta = self._gen.meta if self._gen is not None else {}
        files: dict[str, Any] = {}
        corpus = str(gen_meta.get("corpus_dir", ""))
        for _, part, info in shards:
            files.update(part)
            corpus = corpus or str(info.get("corpus_dir", ""))
        documents = sum(int(e.get("documents", 0)) for e in files.values())
        studies = sum(int(e.get("studies", 0)) for e in files.values())
        schema = gen_meta.get("schema_version") or next(
            (info.get("schema_version") for _, _, info in shards), 0
        )
        return IndexStats(
            index_dir=self.spec,
            corpus_dir=corpus,
            cells=len({e["cell"] for e in files.values() if e.get("cell")}),
            studies=studies,
            passages=documents - studies,
            files=len(files),
            schema_version=int(schema or 0),
            evsearch_version=str(gen_meta.get("evsearch_version", "")),
            built_at=str(gen_meta.get("built_at", "")),
            engine="xapian",
            shards=tuple(name for name, _, _ in shards),
        )


def _ranked_page(
    s: XapianSearcher, q: Any, fq: Any, mask: Any, opts: Any
) -> tuple[int, tuple[Hit, ...], Facets | None]:
    total, found, facets = s.page(q, fq, mask, opts)
    scored = not isinstance(q, wq.Every)
    words = _text_words(q) if scored and opts.snippets else frozenset()
    start = (opts.page - 1) * opts.limit
    hits = []
    for rank, m in enumerate(found, start=start + 1):
        text = m.stored.get("text", "")
        hits.append(make_hit(rank, m.weight if scored else 0.0, m.stored, snippet(text, q, words)))
    return total, tuple(hits), facets


def _with_feedback(s: XapianSearcher, q: Any, clauses: list[Clause], fq: Any, mask: Any) -> Any:
    """Pseudo-relevance feedback: the shared :func:`~evsearch.search.plan.feedback_query`,
    with the top documents from Xapian."""

    def top(k: int) -> list[tuple[dict[str, Any], float]]:
        return [(m.stored, m.weight) for m in s.top(q, fq, mask, k)]

    return feedback_query(s, q, clauses, top)


def _term_scores(s: XapianSearcher, q: Any, doc_id: str, docid: int) -> list[TermScore]:
    """One document's score broken down as the Whoosh engine's ``explain`` does it: a row
    per query term and field, each the field's share of the term's score (in proportion to
    what the field adds to BM25F's frequency), largest first; the rows add up to the score.

    Each term's score is Xapian's, for that part of the query alone; the fields' shares are
    BM25F's per-field frequencies (``w_f * tf_f / ((1 - b_f) + b_f * len_f / avg_f)``, what
    the field's own terms hold as wdf), counted in the document's stored fields."""
    avglen = s.shards.run(read_averages) or {}
    stored = s.stored(docid)
    tokens: dict[str, list[str]] = {}

    def field_terms(f: str) -> list[str]:
        if f not in tokens:
            tokens[f] = analyze(_field_text(stored, f))
        return tokens[f]

    def score_at(part: Any) -> float | None:
        return s.term_score(part, doc_id, docid)

    rows: list[TermScore] = []

    def fielded(term: FieldedTerm, boost: float) -> None:
        score = score_at(term)
        if not score:
            return
        score *= boost
        parts: list[tuple[str, str, int, int, float, float]] = []
        part: Any
        for part in term.subqueries:
            if part.fieldname not in FIELD_BM25F or part.boost <= 0:
                continue
            words = [_decode(part.text)] if isinstance(part, wq.Term) else [str(w) for w in part.words]
            found = field_terms(part.fieldname)
            n = _occurrences(found, words)
            if not n:
                continue
            _, b = FIELD_BM25F[part.fieldname]
            length = stored_length(len(found))
            norm = (1 - b) + b * length / avglen.get(part.fieldname, 1.0)
            parts.append((part.fieldname, " ".join(words), n, length, float(part.boost),
                          float(part.boost) * n / norm))
        total = sum(p[5] for p in parts)
        outer = boost * float(term.boost)
        for field, text, n, length, weight, normalised in parts:
            share = score * normalised / total
            w = weight * outer
            rows.append(TermScore(
                field=field, term=text, frequency=n, field_length=length, weight=round(w, 4),
                score=round(share / w, 4) if w else 0.0, contribution=round(share, 4),
            ))
        if not parts:  # the document holds the term in no stored field: one row for it all
            rows.append(TermScore(field="", term=term.label, frequency=0, field_length=0,
                                  weight=round(outer, 4), score=round(score / outer, 4) if outer else 0.0,
                                  contribution=round(score, 4)))

    def leaf(node: Any, boost: float) -> None:
        score = score_at(node)
        if score:
            rows.append(TermScore(field="", term=str(node), frequency=0, field_length=0,
                                  weight=round(boost, 4), score=round(score, 4),
                                  contribution=round(score * boost, 4)))

    walk_scored(q, 1.0, score_at, fielded, leaf)
    rows = [r for r in rows if r.contribution]
    rows.sort(key=lambda t: (-t.contribution, t.field, t.term))
    return rows


def _field_text(stored: dict[str, Any], field: str) -> str:
    """A text field of a document as it was indexed, from its stored fields (``meta``, the
    study's type names and year, is not stored: it is made again as the index makes it)."""
    if field != "meta":
        return str(stored.get(field) or "")
    if stored.get("kind") != "study":
        return ""
    return meta_text(str(stored.get("study_type") or ""), stored.get("year"))


def _occurrences(tokens: list[str], words: list[str]) -> int:
    """How often ``words`` stand together, in order, in ``tokens`` (a word: its count)."""
    if len(words) == 1:
        return tokens.count(words[0])
    k = len(words)
    return sum(1 for i in range(len(tokens) - k + 1) if tokens[i : i + k] == words)


def _text_key_terms(s: XapianSearcher, text: str, k: int) -> list[tuple[str, float]]:
    """The ``k`` terms of a pasted text that best tell it apart: frequency in the text times
    idf over the whole index (as :meth:`XapianSearcher.key_terms` does for a stored document)."""
    counts = Counter(analyze(text))
    n = s.doc_count()
    scored = []
    for term, count in counts.items():
        if not term or term.isdigit():
            continue
        df = s.doc_frequency("text", term)
        if df:
            scored.append((term, count * math.log((n + 1) / df)))
    scored.sort(key=lambda tw: (-tw[1], tw[0]))
    return scored[:k]
