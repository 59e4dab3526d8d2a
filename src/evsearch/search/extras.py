"""What a search engine offers beside a ranked page: similar documents, related documents,
explanations of a score, and spelling suggestions."""

from __future__ import annotations

import re
from typing import Any

from whoosh import query as wq

from ..analysis import analyze, is_synonym_term, words
from ..config import (
    FIELD_WEIGHTS,
    KNOWN_WORD_FIELDS,
    MAX_SUGGEST_WORD_CHARS,
    MAX_SUGGEST_WORDS,
    SIMILAR_FIELDS,
    SIMILAR_SOURCE_FIELDS,
    SIMILAR_TERMS,
)
from ..errors import DocumentNotFoundError
from ..results import DocumentView, Explanation, Related, SimilarResult, TermScore
from .plan import build_filter, build_query
from .query import Clause, Filters, parse_query
from .rank import Page, best_docs, make_view, ranked_page
from .scorer import ArrayScorer


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
        any(reader.doc_frequency(field, t) for field in KNOWN_WORD_FIELDS) for t in terms
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


# --- the operations ----------------------------------------------------------------------------

def suggest(searcher: Any, query: str, clauses: list[Clause]) -> str | None:
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


def similar(
    searcher: Any, scorer: ArrayScorer, doc_id: str, filters: Filters, opts: Page
) -> SimilarResult:
    """Documents like ``doc_id`` (more-like-this): a search for its key terms, itself left out."""
    stored = searcher.document(id=doc_id)
    if stored is None:
        raise DocumentNotFoundError(f"no document with id {doc_id!r}")
    source = " ".join(stored.get(f) or "" for f in SIMILAR_SOURCE_FIELDS)
    key_terms = [t for t, _ in searcher.key_terms_from_text("text", source, SIMILAR_TERMS)]
    if not key_terms:
        return SimilarResult(doc_id, (), 0, ())
    weights = dict(searcher.key_terms_from_text("text", source, SIMILAR_TERMS))
    subs = [
        wq.Term(f, t, boost=FIELD_WEIGHTS[f] * weights[t])
        for t in key_terms
        for f in SIMILAR_FIELDS
    ]
    q = wq.Or(subs)
    total, hits, _ = ranked_page(
        searcher, scorer, q, build_filter(filters), wq.Term("id", doc_id), opts
    )
    return SimilarResult(doc_id, tuple(key_terms), total, hits)


def related(view: DocumentView, cell_docs: list[DocumentView]) -> Related:
    """The documents of ``view``'s cell (``cell_docs``) linked to it through the commentary."""
    doc_id = view.id
    if view.kind == "study":
        sections = view.links
    else:
        sections = (view.section,) if view.section else ()
    keys = {_heading_key(h) for h in sections}
    if not keys:
        return Related(doc_id, sections)
    cell_docs = sorted(cell_docs, key=lambda v: (v.kind != "study", v.order))
    passages: tuple[DocumentView, ...] = ()
    if view.kind == "study":
        passages = tuple(
            v for v in cell_docs if v.kind == "passage" and _heading_key(v.section or "") in keys
        )
    studies = tuple(
        v for v in cell_docs
        if v.kind == "study" and v.id != doc_id and keys & {_heading_key(h) for h in v.links}
    )
    return Related(doc_id, sections, passages, studies)


def cell_documents(searcher: Any, cell: str) -> list[DocumentView]:
    """Every document of one cell (``alcohol/B5``)."""
    docnums = searcher.docs_for_query(wq.Term("cell", cell.lower()))
    return [make_view(searcher.stored_fields(n)) for n in docnums]


def explain(searcher: Any, scorer: ArrayScorer, query: str, doc_id: str) -> Explanation:
    """Why ``doc_id`` scored as it did for ``query``: its BM25F score per field and term."""
    parsed = parse_query(query)
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
        best = best_docs(searcher, scorer, q, only, None, 1)  # scored as searches are
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
