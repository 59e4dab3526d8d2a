"""Searching a Xapian index: the same library API as the Whoosh engine, over Xapian shards.

:class:`XapianIndex` is a :class:`~evsearch.search.SearchIndex`: argument checks, the query
language, filters, synonyms, corrections and the result types are the shared code; this
module runs the shared query plan on Xapian (see :mod:`.query`), with Xapian's BM25,
match spies for facets, value sorting, and snippets cut from the stored text by the same
highlighter and formatter as the Whoosh engine.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from whoosh import highlight
from whoosh import query as wq

from .. import search as S
from ..analysis import _shared_analyzer, analyze
from ..errors import DocumentNotFoundError, IndexCorruptError, QueryError
from ..index import current_generation
from ..query import Clause, Filters, normalise_cell, normalise_kind, parse_query
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
from ..snippets import SNIPPET_CHARS, MarkFormatter
from . import load
from .query import Translator
from .schema import (
    BOOL_PREFIX,
    FIELD_PREFIX,
    FIELD_WDF,
    META_FILES,
    META_INFO,
    SLOT_CELL,
    SLOT_KIND,
    SLOT_MATRIX,
    SLOT_SEQ,
    SLOT_TYPE,
    SLOT_YEAR,
    SLOT_YEAR_ASC,
    SLOT_YEAR_DESC,
    WDF_SCALE,
    WORD_PREFIX,
    shard_name,
)
from .shards import ShardAddress, ShardSet, _open_one, is_remote_spec, parse_remote_spec
from .writer import boolean_term

#: BM25's length normalisation never treats a document as shorter than this fraction of
#: the average (Xapian's ``min_normlen``; 0.5 is its default).
MIN_NORMLEN = 0.5
#: The facets counted with ``facets=True``: name -> (value slot, several values per document).
FACET_SLOTS: dict[str, tuple[int, bool]] = {
    "kind": (SLOT_KIND, False),
    "type": (SLOT_TYPE, True),
    "year": (SLOT_YEAR, False),
    "matrix": (SLOT_MATRIX, False),
    "cell": (SLOT_CELL, False),
}
_TEXT_FIELDS = frozenset(FIELD_PREFIX)


def shard_addresses(index_dir: Path, meta: dict[str, Any], gen_path: Path) -> list[ShardAddress]:
    """The local shard databases of a generation."""
    built = meta.get("built")
    if not isinstance(built, list) or not built:
        raise IndexCorruptError(f"the index at {index_dir} names no Xapian shards")
    return [ShardAddress(path=gen_path / shard_name(int(i))) for i in built]


@dataclass
class _Match:
    docid: int
    weight: float
    stored: dict[str, Any]
    seq: str
    key: str  # the year sort's key (see ``schema.year_keys``), or ""


def _decode(b: Any) -> str:
    return b.decode("utf-8") if isinstance(b, bytes) else str(b)


class XapianSearcher:
    """One opened state of the shards: what the shared query layer asks of an engine
    (``reader()``, ``doc_count()``, prefix expansion, document frequencies, spelling
    candidates) and the Xapian-specific work of running a plan."""

    def __init__(self, shards: ShardSet) -> None:
        self.xapian = load()
        self.shards = shards
        self.translator = Translator(self.xapian, S.FIELD_WEIGHTS)
        self.schema = frozenset([*FIELD_PREFIX, "words"])

    # -- what the shared query layer reads -----------------------------------------------------
    def reader(self) -> XapianSearcher:
        return self

    def doc_count(self) -> int:
        return int(self.shards.run(lambda db: db.get_doccount()))

    def _prefix(self, fieldname: str) -> str:
        return WORD_PREFIX if fieldname == "words" else FIELD_PREFIX[fieldname]

    def expand_prefix(self, fieldname: str, prefix: str) -> Iterator[str]:
        p = self._prefix(fieldname)

        def terms(db: Any) -> list[str]:
            out = []
            for item in db.allterms(p + prefix):
                out.append(_decode(item.term)[len(p):])
                if len(out) >= S.MAX_PREFIX_TERMS:
                    break
            return out

        return iter(self.shards.run(terms))

    def doc_frequency(self, fieldname: str, term: str) -> int:
        t = self._prefix(fieldname) + term
        return int(self.shards.run(lambda db: db.get_termfreq(t)))

    def terms_within(self, fieldname: str, word: str, maxdist: int, prefix: int = 0) -> list[str]:
        """Index words within ``maxdist`` edits of ``word`` sharing its first ``prefix`` chars."""
        p = self._prefix(fieldname)
        head = word[:prefix]

        def scan(db: Any) -> list[str]:
            out = []
            for item in db.allterms(p + head):
                cand = _decode(item.term)[len(p):]
                if abs(len(cand) - len(word)) <= maxdist and _within(word, cand, maxdist):
                    out.append(cand)
            return out

        return self.shards.run(scan)

    # -- documents ---------------------------------------------------------------------------
    def docid(self, doc_id: str) -> int | None:
        term = boolean_term(BOOL_PREFIX["id"], doc_id)

        def find(db: Any) -> int | None:
            for item in db.postlist(term):
                return int(item.docid)
            return None

        return self.shards.run(find)

    def stored(self, docid: int) -> dict[str, Any]:
        return json.loads(self.shards.run(lambda db: db.get_document(docid).get_data()))

    # -- running plans -------------------------------------------------------------------------
    def _enquire(self, db: Any, xq: Any, scored: bool) -> Any:
        x = self.xapian
        enquire = x.Enquire(db)
        enquire.set_query(xq)
        if scored:
            enquire.set_weighting_scheme(
                x.BM25Weight(S.BM25_K1 * WDF_SCALE, 0, 0, S.BM25_B, MIN_NORMLEN)
            )
        else:
            enquire.set_weighting_scheme(x.BoolWeight())
        return enquire

    def compose(self, q: Any, fq: Any, mask: Any) -> Any:
        Q = self.xapian.Query
        xq = self.translator.query(q)
        if fq is not None:
            xq = Q(Q.OP_FILTER, xq, self.translator.boolean(fq))
        if mask is not None:
            xq = Q(Q.OP_AND_NOT, xq, self.translator.boolean(mask))
        return xq

    def _matches(self, mset: Any, key_slot: int | None = None) -> list[_Match]:
        out = []
        for m in mset:
            doc = m.document
            key = _decode(doc.get_value(key_slot)) if key_slot is not None else ""
            out.append(_Match(int(m.docid), float(m.weight), json.loads(doc.get_data()),
                              _decode(doc.get_value(SLOT_SEQ)), key))
        return out

    def top(self, q: Any, fq: Any, mask: Any, k: int) -> list[_Match]:
        """The ``k`` best matches by relevance (ties in cell order)."""
        xq = self.compose(q, fq, mask)

        def run(db: Any) -> list[_Match]:
            enquire = self._enquire(db, xq, True)
            enquire.set_sort_by_relevance_then_value(SLOT_SEQ, False)
            return self._matches(enquire.get_mset(0, k))

        return self.shards.run(run)

    def page(self, q: Any, fq: Any, mask: Any, opts: Any) -> tuple[int, list[_Match], Facets | None]:
        """The total, one page of matches in ``opts.sort`` order, and the facets if asked for."""
        scored = not isinstance(q, wq.Every)
        xq = self.compose(q, fq, mask)
        start, end = (opts.page - 1) * opts.limit, opts.page * opts.limit

        def run(db: Any) -> tuple[int, list[_Match], Facets | None]:
            everything = db.get_doccount()
            enquire = self._enquire(db, xq, scored)
            if opts.sort == "relevance":
                if scored:
                    enquire.set_sort_by_relevance_then_value(SLOT_SEQ, False)
                else:
                    enquire.set_sort_by_value(SLOT_SEQ, False)
                mset = enquire.get_mset(start, opts.limit, everything)
                total, found = int(mset.get_matches_estimated()), self._matches(mset)
            else:
                total, found = self._by_year(db, enquire, xq, scored, opts.sort == "-year", end, everything)
                found = found[start:end]
            facets = self._count_facets(db, xq, everything) if opts.facets else None
            return total, found, facets

        return self.shards.run(run)

    def _by_year(
        self, db: Any, enquire: Any, xq: Any, scored: bool, newest: bool, end: int, everything: int
    ) -> tuple[int, list[_Match]]:
        """The first ``end`` matches by year (undated last), then score, then cell order.

        Xapian sorts by the year key and then by relevance, but breaks the remaining ties by
        document id, which differs between one database and shards. So the matches of every
        year wholly inside the first ``end`` are re-sorted here, and the year cut at ``end``
        is fetched again on its own, by relevance and then cell order."""
        Q = self.xapian.Query
        slot = SLOT_YEAR_DESC if newest else SLOT_YEAR_ASC
        enquire.set_sort_by_value_then_relevance(slot, False)
        mset = enquire.get_mset(0, end, everything)
        total = int(mset.get_matches_estimated())
        found = self._matches(mset, slot)

        def order(m: _Match) -> tuple[Any, ...]:
            return (m.key, -m.weight if scored else 0.0, m.seq)

        if total <= end:
            return total, sorted(found, key=order)
        cut = found[-1].key
        whole = sorted((m for m in found if m.key < cut), key=order)
        again = self._enquire(db, Q(Q.OP_FILTER, xq, Q(Q.OP_VALUE_RANGE, slot, cut, cut)), scored)
        if scored:
            again.set_sort_by_relevance_then_value(SLOT_SEQ, False)
        else:
            again.set_sort_by_value(SLOT_SEQ, False)
        rest = self._matches(again.get_mset(0, end - len(whole)), slot)
        return total, whole + rest

    def _count_facets(self, db: Any, xq: Any, everything: int) -> Facets:
        """Facet counts over every match, by match spies on the value slots.

        A pass of its own, unsorted and unweighted: with shards served remotely, Xapian
        1.4's spies count some documents twice when the match is sorted by value."""
        x = self.xapian
        enquire = self._enquire(db, xq, False)
        spies = {}
        for name, (slot, _) in FACET_SLOTS.items():
            spies[name] = x.ValueCountMatchSpy(slot)
            enquire.add_matchspy(spies[name])
        enquire.get_mset(0, 0, everything)
        groups: dict[str, dict[Any, int]] = {}
        for name, spy in spies.items():
            counts: Counter[Any] = Counter()
            for item in spy.values():
                value = _decode(item.term) if name != "year" else item.term
                if name == "year":
                    counts[int(x.sortable_unserialise(value))] += int(item.termfreq)
                elif FACET_SLOTS[name][1]:
                    for part in set(value.split()):
                        counts[part] += int(item.termfreq)
                else:
                    counts[value] += int(item.termfreq)
            groups[name] = dict(counts)
        return S._facets_from_groups(groups)

    def filtered(self, fq: Any) -> list[dict[str, Any]]:
        """The stored fields of every document passing ``fq`` (all of them for None), in cell order."""
        Q = self.xapian.Query
        xq = Q.MatchAll if fq is None else Q(Q.OP_FILTER, Q.MatchAll, self.translator.boolean(fq))

        def run(db: Any) -> list[dict[str, Any]]:
            enquire = self._enquire(db, xq, False)
            enquire.set_sort_by_value(SLOT_SEQ, False)
            return [json.loads(m.document.get_data()) for m in enquire.get_mset(0, db.get_doccount())]

        return self.shards.run(run)

    def term_score(self, q: Any, doc_id: str, docid: int) -> float | None:
        """The score of one document for ``q`` (None when it does not match). The word
        alone, unrestricted by field, is one unprefixed term: ``Term("text", t)`` with the
        text weight translates to it filtered by the text field, so the filter is dropped."""
        Q = self.xapian.Query
        xq = Q(_decode(q.text)) if isinstance(q, wq.Term) else self.translator.query(q)
        only = Q(boolean_term(BOOL_PREFIX["id"], doc_id))

        def run(db: Any) -> float | None:
            enquire = self._enquire(db, Q(Q.OP_FILTER, xq, only), True)
            for m in enquire.get_mset(0, 10):
                if int(m.docid) == docid:
                    return float(m.weight)
            return None

        return self.shards.run(run)

    def wdf(self, docid: int, term: str) -> int:
        def run(db: Any) -> int:
            tl = db.termlist(docid)
            try:
                item = tl.skip_to(term)
            except StopIteration:
                return 0
            return int(item.wdf) if _decode(item.term) == term else 0

        return self.shards.run(run)

    def key_terms(self, docid: int, k: int) -> list[tuple[str, float]]:
        """The ``k`` terms that best tell a document apart (Xapian's expand set, unprefixed
        terms only), with their weights."""
        x = self.xapian

        def run(db: Any) -> list[tuple[str, float]]:
            rset = x.RSet()
            rset.add_document(docid)
            enquire = x.Enquire(db)
            enquire.set_query(x.Query.MatchAll)
            out = []
            for item in enquire.get_eset(k * 4, rset):
                term = _decode(item.term)
                if term[:1].isupper() or term.isdigit():
                    continue
                out.append((term, float(item.weight)))
                if len(out) == k:
                    break
            return out

        return self.shards.run(run)

    def shard_metadata(self) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        """Each shard's name, file manifest and info, read from the shard itself."""
        x = self.xapian
        out = []
        for addr in self.shards.shards:
            if addr.name in self.shards.missing:
                continue
            try:
                db = _open_one(x, addr, 5.0, 2.0)
                files = db.get_metadata(META_FILES)
                info = db.get_metadata(META_INFO)
            except x.Error:
                continue
            out.append((addr.name, json.loads(_decode(files) or "{}"), json.loads(_decode(info) or "{}")))
        return out


def _within(a: str, b: str, maxdist: int) -> bool:
    """Whether the Levenshtein distance of ``a`` and ``b`` is at most ``maxdist``."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > maxdist:
            return False
        prev = cur
    return prev[-1] <= maxdist


def _text_words(q: Any) -> frozenset[str]:
    """The words the plan searches in the body text: what snippets mark."""
    out = set()
    for leaf in _leaves(q):
        if getattr(leaf, "fieldname", None) != "text":
            continue
        if isinstance(leaf, wq.Term):
            out.add(_decode(leaf.text))
        elif isinstance(leaf, wq.Phrase):
            out.update(str(w) for w in leaf.words)
    return frozenset(out)


def snippet(text: str, q: Any, words: frozenset[str]) -> str:
    """The snippet of ``text`` for the plan ``q``: the steps of Whoosh's highlighter (as the
    Whoosh engine runs it, re-tokenising the stored text) and the shared formatter. With a
    phrase in the query, phrase words are marked only where the phrase occurs (strict),
    falling back to loose marking when that finds nothing, as :mod:`evsearch.snippets` does."""
    if not text or not words:
        return ""
    fragmenter = (
        highlight.WholeFragmenter()
        if len(text) <= SNIPPET_CHARS * 1.25
        else highlight.ContextFragmenter(maxchars=SNIPPET_CHARS, surround=90)
    )
    analyzer = _shared_analyzer()

    def cut(strict: bool) -> str:
        tokens = analyzer(text, positions=True, chars=True, mode="index", removestops=False)
        if strict:
            terms, phrases = q.phrases()
            tokens = highlight.set_matched_filter_phrases(tokens, text, terms, phrases)
        else:
            tokens = highlight.set_matched_filter(tokens, words)
        tokens = highlight.Highlighter._merge_matched_tokens(tokens)
        fragments = highlight.top_fragments(
            fragmenter.fragment_tokens(text, tokens), 2, highlight.BasicFragmentScorer(),
            highlight.FIRST, minscore=1,
        )
        return MarkFormatter().format(fragments)

    if not any(isinstance(leaf, wq.Phrase) for leaf in _leaves(q)):
        return cut(False)
    return cut(True) or cut(False)


def _leaves(q: Any) -> list[Any]:
    return [q] if isinstance(q, (wq.Term, wq.Phrase)) else list(q.leaves())


class XapianIndex(S.SearchIndex):
    """An open Xapian index: its local shards (an index directory) or remote ones
    (``xapian+tcp://host:port,...``). With ``partial``, shards that do not answer are left
    out (``missing_shards`` says which) instead of failing the search."""

    def __init__(self, index: Path | str, *, partial: bool = False) -> None:
        import threading

        self._spec = index
        self._remote = is_remote_spec(index)
        self.index_dir = Path(index) if not self._remote else Path(".")
        self._partial = partial
        self._lock = threading.RLock()
        self._gen = None
        self._ix = None
        self._searcher: XapianSearcher | None = None
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
            addrs = shard_addresses(self.index_dir, gen.meta, gen.path)
        old = self._searcher
        self._searcher = XapianSearcher(ShardSet(addrs, partial=self._partial))
        self._gen = gen
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
            self._searcher.shards.reopen()
            return self._searcher

    @property
    def missing_shards(self) -> tuple[str, ...]:
        return self._searcher.shards.missing if self._searcher is not None else ()

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.shards.close()
            self._searcher = None

    # -- searching ----------------------------------------------------------------------------
    def search(self, query: str, **options: Any) -> SearchResult:  # type: ignore[override]
        """:meth:`SearchIndex.search`; a partial search also names the shards left out."""
        result = super().search(query, **options)
        missing = self.missing_shards
        return replace(result, missing_shards=missing) if missing else result

    def _run(
        self, searcher: Any, query: str, clauses: list[Clause], filters: Filters, opts: Any
    ) -> SearchResult:
        q, mask = S.build_query(searcher, clauses)
        fq = S.build_filter(filters)
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
                raise DocumentNotFoundError(f"no document with id {doc_id!r}")
            return S._make_view(s.stored(docid))

    def documents(self, *, kind: str | None = None, cell: str | None = None) -> list[DocumentView]:
        filters = Filters()
        if kind:
            filters.kinds.add(normalise_kind(kind))
        if cell:
            filters.cells.add(normalise_cell(cell))
        with self._lock:
            views = [S._make_view(d) for d in self._current().filtered(S.build_filter(filters))]
        return sorted(views, key=lambda v: (v.cell, v.kind != "study", v.order))

    def similar(
        self, doc_id: str, *, limit: int = 10, page: int = 1, kind: str | None = None
    ) -> SimilarResult:
        if not isinstance(limit, int) or limit < 1 or limit > S.MAX_LIMIT:
            raise QueryError(
                f"limit must be between 1 and {S.MAX_LIMIT}", hint="pass --limit N with 1 <= N"
            )
        if not isinstance(page, int) or page < 1:
            raise QueryError(f"page must be 1 or more, not {page}", hint="pass --page N with N >= 1")
        filters = Filters()
        if kind:
            filters.kinds.add(normalise_kind(kind))
        with self._lock:
            s = self._current()
            docid = s.docid(doc_id)
            if docid is None:
                raise DocumentNotFoundError(f"no document with id {doc_id!r}")
            weights = dict(s.key_terms(docid, S.SIMILAR_TERMS))
            if not weights:
                return SimilarResult(doc_id, (), 0, ())
            q = wq.Or([
                wq.Term(f, t, boost=S.FIELD_WEIGHTS[f] * w)
                for t, w in weights.items()
                for f in ("title", "doc_title", "section", "text")
            ])
            opts = S._Page(limit, page, "relevance", False, True)
            total, hits, _ = _ranked_page(s, q, S.build_filter(filters), wq.Term("id", doc_id), opts)
        return SimilarResult(doc_id, tuple(weights), total, hits)

    def related(self, doc_id: str) -> Related:
        view = self.get(doc_id)
        sections = view.links if view.kind == "study" else ((view.section,) if view.section else ())
        keys = {S._heading_key(h) for h in sections}
        if not keys:
            return Related(doc_id, sections)
        with self._lock:
            stored = self._current().filtered(wq.Term("cell", view.cell.lower()))
        cell_docs = sorted((S._make_view(d) for d in stored), key=lambda v: (v.kind != "study", v.order))
        passages: tuple[DocumentView, ...] = ()
        if view.kind == "study":
            passages = tuple(
                v for v in cell_docs if v.kind == "passage" and S._heading_key(v.section or "") in keys
            )
        studies = tuple(
            v for v in cell_docs
            if v.kind == "study" and v.id != doc_id and keys & {S._heading_key(h) for h in v.links}
        )
        return Related(doc_id, sections, passages, studies)

    def explain(self, query: str, doc_id: str) -> Explanation:
        """Why ``doc_id`` scored as it did: each query term's Xapian BM25 weight in the
        document (``field_length`` is the document's weighted length: Xapian normalises by
        the whole document, whose wdf already carries the field weights)."""
        parsed = parse_query(query)
        with self._lock:
            s = self._current()
            docid = s.docid(doc_id)
            if docid is None:
                raise DocumentNotFoundError(f"no document with id {doc_id!r}")
            q, mask = S.build_query(s, parsed.clauses)
            fq = S.build_filter(parsed.filters)
            only = wq.Term("id", doc_id)
            reason: str | None = None
            score = 0.0
            if q is None or isinstance(q, wq.Every):
                reason = "the query has no words to score"
            else:
                found = s.top(q, only, None, 1)
                if found:
                    score = round(found[0].weight, 4)
                else:
                    reason = "it does not match the query's words"
            if reason is None and mask is not None and s.top(wq.Every(), wq.And([only, mask]), None, 1):
                reason = "it contains an excluded word"
            if reason is None and fq is not None and not s.top(wq.Every(), wq.And([only, fq]), None, 1):
                reason = "the query's filters (type:, kind:, cell:, matrix:, year:) leave it out"
            terms = _term_scores(s, q, doc_id, docid) if q is not None and not isinstance(q, wq.Every) else []
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
        hits.append(S._make_hit(rank, m.weight if scored else 0.0, m.stored, snippet(text, q, words)))
    return total, tuple(hits), facets


def _with_feedback(s: XapianSearcher, q: Any, clauses: list[Clause], fq: Any, mask: Any) -> Any:
    """Pseudo-relevance feedback (RM3) as :func:`evsearch.search._with_feedback` does it,
    with the top documents from Xapian."""
    n_docs = s.doc_count()
    if not S.PRF_DOCS or not S.PRF_MIN_DOCS <= n_docs <= S.PRF_MAX_DOCS:
        return q
    if any(c.kind != "word" or c.field or c.occur != "should" for c in clauses):
        return q
    typed = list(dict.fromkeys(t for c in clauses for t in analyze(c.text)))
    if len(typed) < S.PRF_MIN_TERMS:
        return q
    top = s.top(q, fq, mask, S.PRF_DOCS)
    mass = sum(m.weight for m in top)
    if mass <= 0:
        return q
    weights: Counter[str] = Counter()
    for m in top:
        stored = m.stored
        terms = analyze(f"{stored.get('title') or stored.get('doc_title') or ''} {stored.get('text') or ''}")
        if terms:
            for term, tf in Counter(terms).items():
                weights[term] += tf / len(terms) * m.weight / mass
    best = [
        (term, w)
        for term, w in weights.most_common(S.PRF_TERMS * 3)
        if term in typed or s.doc_frequency("text", term) <= S.PRF_MAX_DF * n_docs
    ][: S.PRF_TERMS]
    norm = sum(w for _, w in best) or 1.0
    merged = dict.fromkeys(typed, (1 - S.PRF_WEIGHT) / len(typed))
    for term, w in best:
        merged[term] = merged.get(term, 0.0) + S.PRF_WEIGHT * w / norm
    top_w = max(merged.values())
    subs: list[Any] = []
    for term, w in merged.items():
        if term in typed:
            subs.append(S._field_terms(
                None, [term], lambda f, ts, fb, w=w: wq.Term(f, ts[0], boost=fb * w / top_w)
            ))
        else:
            subs.extend(wq.Term(f, term, boost=S.FIELD_WEIGHTS[f] * w / top_w) for f in S.PRF_FIELDS)
    for expansion in S._expansion_queries(clauses):
        expansion.boost *= (1 - S.PRF_WEIGHT) / len(typed) / top_w
        subs.append(expansion)
    return wq.Or(subs)


def _term_scores(s: XapianSearcher, q: Any, doc_id: str, docid: int) -> list[TermScore]:
    """Each query word's BM25F weight in one document. Xapian scores a word once over all
    its fields (the wdf carries the field weights), so ``field`` lists the fields it occurs
    in, ``frequency`` counts its occurrences there, and ``field_length`` is the document's
    weighted length, the length BM25 normalises by."""
    wanted: dict[str, tuple[set[str], float]] = {}
    for leaf in q.leaves() if not isinstance(q, (wq.Term, wq.Phrase)) else [q]:
        if isinstance(leaf, wq.Term):
            pairs = [(leaf.fieldname, _decode(leaf.text))]
        elif isinstance(leaf, wq.Phrase):
            pairs = [(leaf.fieldname, str(w)) for w in leaf.words]
        else:
            continue
        for fieldname, text in pairs:
            if fieldname in _TEXT_FIELDS:
                fields, boost = wanted.get(text, (set(), 0.0))
                fields.add(fieldname)
                wanted[text] = (fields, max(boost, float(leaf.boost) / S.FIELD_WEIGHTS[fieldname]))
    length = int(s.shards.run(lambda db: db.get_doclength(docid)))
    stored = s.stored(docid)
    analysed = {f: analyze(str(stored.get(f) or "")) for f in _TEXT_FIELDS}
    out = []
    for text, (fields, weight) in wanted.items():
        found = {}
        for f in sorted(fields):
            n = analysed[f].count(text)
            if n:
                found[f] = n
        if not found:
            continue
        score = s.term_score(wq.Term("text", text, boost=S.FIELD_WEIGHTS["text"]), doc_id, docid)
        if score is None:
            continue
        out.append(TermScore(
            field=",".join(found), term=text, frequency=sum(found.values()), field_length=length,
            weight=round(weight, 4), score=round(score, 4),
        ))
    out.sort(key=lambda t: (-t.contribution, t.field, t.term))
    return out


def check_plan_fields() -> None:
    """The text fields of the plan and of the Xapian layout agree (a canary for the seam)."""
    if set(S.FIELD_WEIGHTS) != set(FIELD_WDF):
        raise AssertionError("FIELD_WEIGHTS and the Xapian FIELD_WDF name different fields")
