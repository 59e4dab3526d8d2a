"""What a search engine offers beside a ranked page: similar documents, related documents,
explanations of a score, and spelling suggestions."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from whoosh import query as wq

from ..analysis import analyze, is_synonym_term, words
from ..config import (
    FIELD_WEIGHTS,
    KNOWN_WORD_FIELDS,
    MAX_SIMILAR_CHARS,
    MAX_SUGGEST_WORD_CHARS,
    MAX_SUGGEST_WORDS,
    SIMILAR_FIELDS,
    SIMILAR_SOURCE_FIELDS,
    SIMILAR_TERMS,
)
from ..errors import DocumentNotFoundError, QueryError
from ..results import DocumentView, Explanation, Related, SimilarResult, TermScore
from .corrections import is_english_word
from .plan import build_filter, build_query, with_feedback
from .query import Clause, Filters, parse_query
from .rank import Page, best_docs, make_view, ranked_page
from .scorer import ArrayScorer, FieldedTerm


def _heading_key(heading: str) -> str:
    """A section heading compared loosely: case, curly quotes and spacing ignored."""
    return " ".join(heading.replace("\u2019", "'").replace("\u2018", "'").casefold().split())


def _term_scores(scorer: ArrayScorer, q: wq.Query, docnum: int) -> list[TermScore]:
    """The scorer's breakdown of one document's score: a row per term and field, each the
    field's share of the term's score, largest first (they add up to the score)."""
    out = []
    for part in scorer.explain(q, docnum):
        total = sum(f.normalised for f in part.fields)
        for f in part.fields:
            share = part.score * f.normalised / total if total else 0.0
            weight = f.weight * part.boost
            out.append(TermScore(
                field=f.field, term=f.text, frequency=int(round(f.frequency)),
                field_length=int(f.field_length), weight=round(weight, 4),
                score=round(share / weight, 4) if weight else 0.0, contribution=round(share, 4),
            ))
        if not part.fields:
            out.append(TermScore(field="", term=part.label, frequency=0, field_length=0,
                                 weight=round(part.boost, 4), score=round(part.score / part.boost, 4)
                                 if part.boost else 0.0, contribution=round(part.score, 4)))
    out.sort(key=lambda t: (-t.contribution, t.field, t.term))
    return out


def surface_words(text: str, terms: list[str]) -> list[str]:
    """Each index term of ``terms`` as the word ``text`` most often writes it (``motiv`` ->
    ``motivational``), in the order of ``terms``."""
    forms: dict[str, Counter[str]] = {t: Counter() for t in terms}
    for word in words(text):
        for term in analyze(word):
            if term in forms:
                forms[term][word] += 1
    return [forms[t].most_common(1)[0][0] if forms[t] else t for t in terms]


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
    """A corrected query built from the index's own vocabulary, or None.

    Only plain words are candidates, and only those no document has that are not English
    words (:func:`evsearch.search.corrections.is_english_word`): a correction never changes a real
    word."""
    reader = searcher.reader()
    replacements: dict[str, str] = {}
    tried = 0
    for clause in clauses:
        if not (clause.kind == "word" and clause.occur == "should" and clause.field is None):
            continue  # quoted, required, excluded and fielded words are as the user meant
        for word in words(clause.text):
            if len(word) < 4 or len(word) > MAX_SUGGEST_WORD_CHARS:
                continue
            if word.isdigit() or word in replacements:
                continue
            if not analyze(word) or is_synonym_term(word) or _known(reader, word):
                continue
            if is_english_word(word):
                continue  # a real word is never changed, even if no document has it
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
    searcher: Any, scorer: ArrayScorer, doc_id: str | None, text: str | None, filters: Filters,
    opts: Page,
) -> SimilarResult:
    """Documents like ``doc_id`` (itself left out), or like a pasted ``text``: a search for
    the key terms, shown as the words the source uses."""
    mask: wq.Query | None = None
    if doc_id is not None:
        stored = searcher.document(id=doc_id)
        if stored is None:
            raise DocumentNotFoundError(f"no document with id {doc_id!r}")
        source = " ".join(stored.get(f) or "" for f in SIMILAR_SOURCE_FIELDS)
        mask = wq.Term("id", doc_id)
    else:
        source = text or ""
        if len(source) > MAX_SIMILAR_CHARS:
            raise QueryError(
                f"the text is {len(source):,} characters long; the limit is {MAX_SIMILAR_CHARS:,}",
                hint="paste a paragraph or an abstract",
            )
    weights = dict(searcher.key_terms_from_text("text", source, SIMILAR_TERMS))
    if not weights:
        return SimilarResult(doc_id, (), 0, ())
    subs: list[wq.Query] = [
        FieldedTerm([wq.Term(f, t, boost=FIELD_WEIGHTS[f]) for f in SIMILAR_FIELDS], boost=w, label=t)
        for t, w in weights.items()
    ]
    total, hits, _ = ranked_page(searcher, scorer, wq.Or(subs), build_filter(filters), mask, opts)
    return SimilarResult(doc_id, tuple(surface_words(source, list(weights))), total, hits)


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


def unscored_reason(
    q: Any, mask: Any, fq: Any, hits_doc: Callable[[Any], bool]
) -> str | None:
    """Why a document cannot score for a query before any scoring (``explain`` on either
    engine): no words to score, an excluded word, or filters that leave it out; else None.
    ``hits_doc(extra)`` tells whether the document matches ``extra``."""
    if q is None or isinstance(q, wq.Every):
        return "the query has no words to score"
    if mask is not None and hits_doc(mask):
        return "it contains an excluded word"
    if fq is not None and not hits_doc(fq):
        return "the query's filters (type:, kind:, cell:, matrix:, year:) leave it out"
    return None


def explain(searcher: Any, scorer: ArrayScorer, query: str, doc_id: str) -> Explanation:
    """Why ``doc_id`` scored as it did for ``query``: the scorer's own numbers, a row per
    term and field, adding up to the score search gives it (no rows when it does not match)."""
    parsed = parse_query(query)
    docnum = searcher.document_number(id=doc_id)
    if docnum is None:
        raise DocumentNotFoundError(f"no document with id {doc_id!r}")
    q, mask = build_query(searcher, parsed.clauses)
    fq = build_filter(parsed.filters)
    only = wq.Term("id", doc_id)

    def hits_doc(extra: wq.Query) -> bool:
        return bool(list(searcher.docs_for_query(wq.And([only, extra]))))

    score = 0.0
    reason = unscored_reason(q, mask, fq, hits_doc)
    if reason is None and q is not None:
        q = with_feedback(searcher, scorer, q, parsed.clauses, fq, mask)  # as searches do
        best = best_docs(searcher, scorer, q, only, None, 1)
        if best:
            score = round(float(best[0][1]), 4)
        else:
            reason = "it does not match the query's words"
    terms = _term_scores(scorer, q, docnum) if reason is None and q is not None else []
    wanted = [
        t for c in parsed.clauses if c.kind != "prefix" and c.occur != "must_not"
        for t in analyze(c.text)
    ]
    seen = {w for t in terms for w in t.term.split()}
    missing = tuple(dict.fromkeys(t for t in wanted if t not in seen))
    return Explanation(query, doc_id, reason is None, score, tuple(terms), missing, reason)


def labels_of(files: dict[str, Any]) -> dict[str, str]:
    """Each indexed cell's own label from a file manifest: ``{"alcohol/B5": "Practitioners;
    Safeguarding the community", ...}`` (the cell page's label before its records')."""
    labels: dict[str, str] = {}
    for e in files.values():
        if not (e.get("cell") and e.get("label")) or e.get("shadowed_by"):
            continue
        cell, _, form = str(e["cell"]).partition("#")  # "alcohol/B5#record": the cell's record
        if not form or cell not in labels:  # the cell page's own label first
            labels[cell] = str(e["label"])
    return labels
