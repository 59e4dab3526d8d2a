"""Clauses -> what the engine runs: the scoring query, the exclusions, the filter, the
synonym and acronym expansions, the forms of compounds, and pseudo-relevance feedback.

The query tree is made of ``whoosh.query``'s public classes used as plain data, and of the
scorer's own nodes (:class:`~.scorer.FieldedTerm`: one word over the fields, as one BM25F
term; :class:`~.scorer.Expansion`): ranking (:mod:`.scorer`) evaluates it through the engine
seam (:mod:`.backend`). Settings are read from :mod:`evsearch.config` when a query is built.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import islice
from math import log
from typing import Any

from whoosh import query as wq

from .. import config
from ..analysis import analyze, expansions, words
from .corrections import is_english_word
from .query import Clause, Filters
from .rank import best_docs
from .scorer import ArrayScorer, Expansion, FieldedTerm

_PUNCTUATION = "\"'.,;:!?()[]{}<>"


def _field_terms(fieldname: str | None, terms: list[str], make: Any, boost: float = 1.0) -> wq.Query:
    """One term (or phrase) in every text field (or the one named), as one BM25F term."""
    weights = config.FIELD_WEIGHTS
    fields = list(config.FIELD_ALIASES.get(fieldname, (fieldname,))) if fieldname else list(weights)
    subs = [make(f, terms, weights.get(f, 1.0)) for f in fields if weights.get(f, 1.0) > 0]
    return FieldedTerm(subs, boost=boost, label=" ".join(terms))


def _term(f: str, terms: list[str], boost: float) -> wq.Query:
    return wq.Term(f, terms[0], boost=boost)


def _phrase(f: str, terms: list[str], boost: float) -> wq.Query:
    return wq.Phrase(f, terms, boost=boost)


def _clause_queries(searcher: Any, clause: Clause) -> list[wq.Query]:
    if clause.kind == "prefix":
        prefix = clause.text.lower()
        fields = (
            list(config.FIELD_ALIASES.get(clause.field, (clause.field,)))
            if clause.field
            else list(config.PREFIX_FIELDS)
        )
        by_term: dict[str, list[str]] = {}
        for f in fields:
            for t in _limited_prefix(searcher, f, prefix):
                by_term.setdefault(t, []).append(f)
        subs: list[wq.Query] = [
            FieldedTerm([wq.Term(f, t, boost=config.FIELD_WEIGHTS.get(f, 1.0)) for f in fs], label=t)
            for t, fs in by_term.items()
        ]
        return [wq.Or(subs) if len(subs) > 1 else subs[0]] if subs else []
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
        if len(out) >= config.MAX_PREFIX_TERMS:
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
    loose = _loose_phrases(clauses)
    kept = _kept_terms(searcher, clauses)
    counts: Counter[tuple[str | None, str]] = Counter(
        (c.field, t) for c in clauses if _is_plain(c, loose) for t in analyze(c.text)
    )
    seen: set[tuple[str | None, str]] = set()
    for clause in clauses:
        if _is_plain(clause, loose):
            # a word typed twice is searched once, weighted by _qtf (Whoosh would add each copy)
            fresh = [t for t in analyze(clause.text) if (clause.field, t) not in seen]
            fresh = [t for t in fresh if (clause.field, t) in kept]
            seen.update((clause.field, t) for t in fresh)
            subs = [
                _field_terms(clause.field, [t], _term, boost=_qtf(counts, clause.field, t)) for t in fresh
            ]
            if clause.kind == "word" and len(fresh) == 1 and clause.field is None:
                subs = [_joined_or_split(searcher, clause.text, subs[0])]
            if clause.kind == "phrase":  # the phrase itself ranks its documents higher
                subs.extend(_clause_queries(searcher, clause) if len(analyze(clause.text)) > 1 else [])
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
    should.extend(_proximity_queries(clauses, kept))
    should.extend(_joined_forms(searcher, clauses))
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


def _in_vocabulary(searcher: Any, word: str) -> bool:
    """True when some document has ``word`` (lowercased, as written) in its text."""
    return bool(searcher.reader().doc_frequency("words", word))


def _joined_or_split(searcher: Any, text: str, typed: wq.Query) -> wq.Query:
    """A word typed joined (``dropout``, ``followup``) that the index does not have finds its
    parts written apart or hyphenated (``drop-out``, ``follow up``), as the same term (see
    ``_one_term``). Only splits into two words that the index has, at most ``config.MAX_SPLITS``."""
    word = text.lower().strip(_PUNCTUATION)
    if not config.FORMS or not word.isalpha() or len(word) < 5 or not isinstance(typed, FieldedTerm):
        return typed
    if _in_vocabulary(searcher, word):
        return typed  # the index writes it this way: splitting would find mostly chance pairs
    parts = list(typed.subqueries)
    for i in range(2, len(word) - 1):
        left, right = word[:i], word[i:]
        if _in_vocabulary(searcher, left) and _in_vocabulary(searcher, right):
            terms = analyze(f"{left} {right}")
            if len(terms) == 2:
                phrase: Any = _field_terms(None, terms, _phrase)
                parts.extend(phrase.subqueries)
        if len(parts) >= len(typed.subqueries) * (1 + config.MAX_SPLITS):
            break
    return _one_term(parts, typed.label)


def _one_term(parts: list[wq.Query], label: str) -> FieldedTerm:
    """The forms of one word (a word, the phrase of its parts) as one BM25F term: their
    frequencies add up in each field, with one idf over the documents having any of them."""
    return FieldedTerm(parts, label=label)


def _joined_forms(searcher: Any, clauses: list[Clause]) -> list[wq.Query]:
    """Words typed hyphenated or apart (``drop-out``, ``follow up``) also find the joined
    form (``dropout``, ``followup``) where the index has it: two plain words, no stopword."""
    if not config.FORMS:
        return []
    out: list[wq.Query] = []
    plain = [c for c in clauses if c.kind == "word" and c.occur == "should" and c.field is None]
    candidates: list[tuple[str, list[str]]] = []  # (the joined form, the parts' terms)
    for c in plain:
        parts = [p for p in re.split(r"[-\u2010\u2011]", c.text.strip(_PUNCTUATION)) if p]
        if len(parts) > 1 and len(analyze(" ".join(parts))) == len(parts):
            candidates.append(("".join(parts), analyze(" ".join(parts))))
    for a, b in zip(plain, plain[1:], strict=False):
        pair = analyze(a.text) + analyze(b.text)
        if len(analyze(a.text)) == 1 and len(analyze(b.text)) == 1:  # two words, no stopword
            candidates.append((a.text.strip(_PUNCTUATION) + b.text.strip(_PUNCTUATION), pair))
    for joined, pair in dict.fromkeys((w.lower(), tuple(p)) for w, p in candidates):  # type: ignore[assignment]
        terms = analyze(joined)
        if joined.isalpha() and len(terms) == 1 and terms[0] not in pair and _in_vocabulary(searcher, joined):
            # documents that write it joined lack the parts the others match: the joined
            # form stands in for them
            out.append(_field_terms(None, terms, _term))
    return out


def _proximity_queries(clauses: list[Clause], kept: set[tuple[str | None, str]]) -> list[wq.Query]:
    """Each pair of adjacent plain words typed, as a phrase weighted ``config.PROXIMITY_WEIGHT``:
    documents where the words stand together as typed rank higher (at most
    ``config.PROXIMITY_PAIRS`` pairs, from the start of the query)."""
    if config.PROXIMITY_WEIGHT <= 0:
        return []
    run: list[str] = []
    pairs: list[tuple[str, str]] = []
    for c in clauses:
        if not (c.kind == "word" and c.occur == "should" and c.field is None):
            run = []
            continue
        for t in analyze(c.text):
            if (None, t) in kept and run and run[-1] != t and (run[-1], t) not in pairs:
                pairs.append((run[-1], t))
            run.append(t)
    return [
        _field_terms(None, list(pair), _phrase, boost=config.PROXIMITY_WEIGHT)
        for pair in pairs[: config.PROXIMITY_PAIRS]
    ]


def _qtf(counts: Counter[tuple[str | None, str]], field: str | None, term: str) -> float:
    """The weight of a typed term from how often the query has it, n: BM25's saturated query
    term weight ``(k3 + 1) n / (k3 + n)`` with ``config.QUERY_TF_K3`` (a long question that
    names a thing twice is about it, but a list repeating its head word is not n times about
    it); n itself with ``config.QUERY_TF``; 1 when both are off."""
    n = counts[(field, term)]
    if config.QUERY_TF:
        return float(n)
    k3 = config.QUERY_TF_K3
    return (k3 + 1) * n / (k3 + n) if k3 > 0 and n > 0 else 1.0


def _loose_phrases(clauses: list[Clause]) -> bool:
    """True when a quoted phrase among other words also counts as its words: then it ranks
    the documents that have the phrase higher without leaving out those that have only its
    words (a question quoting a title). A phrase alone, required (``+"..."``) or in a field
    is exact."""
    return sum(1 for c in clauses if c.occur == "should") > 1 and config.PHRASE_WORDS


def _is_plain(clause: Clause, loose: bool) -> bool:
    """A clause searched as plain words: an optional word, or a loose phrase's words."""
    return clause.occur == "should" and (
        clause.kind == "word" or (loose and clause.kind == "phrase" and clause.field is None)
    )


def _kept_terms(searcher: Any, clauses: list[Clause]) -> set[tuple[str | None, str]]:
    """The plain words' terms that are searched: all of them, or, when there are more than
    ``MAX_CLAUSES`` (a pasted paragraph), the most informative: the highest idf times count."""
    loose = _loose_phrases(clauses)
    counts: Counter[tuple[str | None, str]] = Counter(
        (c.field, t) for c in clauses if _is_plain(c, loose) for t in analyze(c.text)
    )
    if config.MIN_TERM_CHARS > 1 and any(len(t) >= config.MIN_TERM_CHARS for _, t in counts):
        # a letter or digit alone ("I'd", "don't", "(1)") says nothing among other words
        counts = Counter({k: n for k, n in counts.items() if len(k[1]) >= config.MIN_TERM_CHARS})
    if len(counts) <= config.MAX_CLAUSES:
        return set(counts)
    reader = searcher.reader()
    n = max(searcher.doc_count_all(), 1)

    def informative(key: tuple[str | None, str]) -> tuple[float, str]:
        df = max((reader.doc_frequency(f, key[1]) for f in config.FIELD_WEIGHTS), default=0)
        return (-counts[key] * log(1 + (n - df + 0.5) / (df + 0.5)), key[1])

    return set(sorted(counts, key=informative)[: config.MAX_CLAUSES])


def _expansion_queries(clauses: list[Clause]) -> list[wq.Query]:
    """Acronyms and synonyms of the plain words (``MI`` -> "motivational interviewing").

    An acronym the user typed (see ``_typed_acronyms``) is what they mean: its expansions
    count as much as typing them out (``config.ACRONYM_WEIGHT``), in documents that have all their
    words. Other synonyms (a phrase for a phrase) match as phrases, weighted below the words
    typed (``config.EXPANSION_WEIGHT``). Either way an expansion scores only the words the user did
    not type: their own words already count."""
    plain = [c for c in clauses if c.kind == "word" and c.field is None and c.occur != "must_not"]
    terms = [t for c in plain for t in analyze(c.text)]
    typed = set(terms)
    acronyms = _typed_acronyms(plain, clauses)
    out: list[wq.Query] = []
    for key, alternatives in expansions(terms):
        if len(key) > 1:  # a term of the field typed out: where it stands as a phrase counts too
            out.append(_field_terms(None, list(key), _phrase, boost=config.FIELD_PHRASE_WEIGHT))
        meant = len(key) == 1 and key[0] in acronyms
        subs = [q for q in (_expansion(alt, typed, phrase=not meant) for alt in alternatives) if q]
        if not subs:
            continue
        weight = config.ACRONYM_WEIGHT if meant else config.EXPANSION_WEIGHT
        out.append(wq.DisjunctionMax(subs, boost=weight) if len(subs) > 1 else _boosted(subs[0], weight))
    return out


def _expansion(alt: tuple[str, ...], typed: set[str], *, phrase: bool) -> wq.Query | None:
    new = [t for t in dict.fromkeys(alt) if t not in typed]
    if not new:
        return None  # the user typed all of it
    if len(alt) == 1:
        return _field_terms(None, [alt[0]], _term)
    scored = [_field_terms(None, [t], _term) for t in new]
    if phrase:
        gate = _field_terms(None, list(alt), _phrase, boost=0.0)
        return Expansion(gate, scored)
    # an acronym's expansion scores as typing it out would: its words, and the phrase
    gate = wq.And([_field_terms(None, [t], _term, boost=0.0) for t in dict.fromkeys(alt)])
    scored.append(_field_terms(None, list(alt), _phrase, boost=config.FIELD_PHRASE_WEIGHT))
    return Expansion(gate, [wq.Or(scored)])


def _typed_acronyms(plain: list[Clause], clauses: list[Clause]) -> set[str]:
    """The terms of the words typed as acronyms: in capitals (``MI``, ``CBT``) in a query
    that has lower-case letters too, or, whatever the case, not an English word (``cbt``)."""
    # capitals mean an acronym, except in a longer query typed (or pasted) all in capitals
    mixed = len(clauses) <= 3 or any(ch.islower() for c in clauses for ch in c.text)
    out: set[str] = set()
    for c in plain:
        for word in words(c.text):
            typed = next((w for w in re.findall(r"\w+", c.text) if w.lower() == word), word)
            capitals = len(typed) >= 2 and typed.isupper() and mixed
            if capitals or (len(word) >= 2 and not word.isdigit() and not is_english_word(word)):
                out.update(analyze(word))
    return out


def _boosted(q: Any, weight: float | None = None) -> wq.Query:
    q.boost = q.boost * (config.EXPANSION_WEIGHT if weight is None else weight)
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
    """Pseudo-relevance feedback (:func:`feedback_query`) with the top documents from the
    array scorer."""

    def top(k: int) -> list[tuple[dict[str, Any], float]]:
        return [(searcher.stored_fields(d), s) for d, s in best_docs(searcher, scorer, q, fq, mask, k)]

    return feedback_query(searcher, q, clauses, top)


def feedback_query(
    searcher: Any,
    q: wq.Query,
    clauses: list[Clause],
    top_docs: Callable[[int], list[tuple[dict[str, Any], float]]],
) -> wq.Query:
    """Pseudo-relevance feedback (RM3): ``q`` plus the top terms of its top documents
    (``top_docs(k)``: the stored fields and score of ``q``'s ``k`` best matches, best first;
    each engine finds them its own way, and this is the rest of the feedback for both).

    Only for questions and long queries of plain words (at least ``PRF_MIN_TERMS`` distinct
    terms; a quoted phrase among them counts as its words) over a collection large enough
    that the top ``PRF_DOCS`` documents are a small part of it (``PRF_MIN_DOCS``) and small
    enough that a second, longer search stays interactive (``PRF_MAX_DOCS``); other queries
    are returned as they are. The user's own terms keep ``1 - PRF_WEIGHT`` of the weight, so
    what they typed still ranks first.
    """
    if not config.PRF_DOCS or not config.PRF_MIN_DOCS <= searcher.doc_count() <= config.PRF_MAX_DOCS:
        return q
    loose = _loose_phrases(clauses)
    if not all(_is_plain(c, loose) and not c.field for c in clauses):
        return q
    kept = _kept_terms(searcher, clauses)
    typed = list(dict.fromkeys(t for c in clauses for t in analyze(c.text) if (None, t) in kept))
    if len(typed) < config.PRF_MIN_TERMS:
        return q
    top = top_docs(config.PRF_DOCS)
    mass = sum(score for _, score in top)
    if mass <= 0:
        return q
    weights: dict[str, float] = {}
    for stored, score in top:
        terms = analyze(f"{stored.get('title') or stored.get('doc_title') or ''} {stored.get('text') or ''}")
        if terms:
            for term, tf in Counter(terms).items():
                weights[term] = weights.get(term, 0.0) + tf / len(terms) * score / mass
    # Terms in more than config.PRF_MAX_DF of the documents say little and cost a full scan each.
    n_docs = searcher.doc_count()
    reader = searcher.reader()
    candidates = sorted(weights.items(), key=lambda kv: -kv[1])[: config.PRF_TERMS * 3]
    # lazily: a term's document frequency is looked up only until PRF_TERMS terms are found
    best = list(islice((
        (term, w)
        for term, w in candidates
        if term in typed or reader.doc_frequency("text", term) <= config.PRF_MAX_DF * n_docs
    ), config.PRF_TERMS))
    norm = sum(w for _, w in best) or 1.0
    counts: Counter[tuple[str | None, str]] = Counter(
        (None, t) for c in clauses for t in analyze(c.text) if (None, t) in kept
    )
    total = sum(_qtf(counts, None, t) for t in typed)
    merged = {t: (1 - config.PRF_WEIGHT) * _qtf(counts, None, t) / total for t in typed}
    for term, w in best:
        merged[term] = merged.get(term, 0.0) + config.PRF_WEIGHT * w / norm
    top_w = max(merged.values())  # the largest weight 1
    subs: list[wq.Query] = []
    for term, w in merged.items():
        if term in typed:  # the user's own words: every field, as in the query itself
            subs.append(_field_terms(None, [term], _term, boost=w / top_w))
        else:  # feedback terms: the body text only (one posting list each, not six)
            subs.append(FieldedTerm(
                [wq.Term(f, term, boost=config.FIELD_WEIGHTS.get(f, 1.0)) for f in config.PRF_FIELDS],
                boost=w / top_w, label=term,
            ))
    phrases = [
        _field_terms(None, analyze(c.text), _phrase)
        for c in clauses if c.kind == "phrase" and len(analyze(c.text)) > 1
    ]
    extra: Any
    for extra in [*_expansion_queries(clauses), *phrases]:
        extra.boost *= (1 - config.PRF_WEIGHT) / len(typed) / top_w
        subs.append(extra)
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
