"""The array scorer: BM25F as defined (checked against a plain per-document computation), and the
same scores as Whoosh's collectors for the rest of the query tree, on one segment and on several
with deletions."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from whoosh import query as wq

from evsearch._whoosh import postcache as _postcache
from evsearch._whoosh.backend import WhooshBackend
from evsearch._whoosh.postings import segment_postings
from evsearch.config import BM25_B, BM25_K1, FIELD_B
from evsearch.index import open_searcher, update_index
from evsearch.search.plan import build_filter, build_query
from evsearch.search.query import parse_query
from evsearch.search.rank import Page as _Page
from evsearch.search.rank import (
    _array_page,
    _facets,
    _sorted_matches,
    engine_query,
    top_docs,
    weighting,
)
from evsearch.search.scorer import ArrayScorer, Unsupported

from ._scripts import load_script

QUERIES = [
    "motivational interviewing",
    "probation officers supervision",
    "alcohol",
    '"criminal justice" offenders',
    "title:supervision treatment",
    "+probation mentor",
    "supervis* -probation",
    "type:K year:[2005 TO 2010] evidence",
    "patients treatment effect study results",
    "zzzz nothing matches this",
]


@pytest.fixture(scope="module")
def segmented_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic index of two segments, the first with deleted documents (a changed cell),
    with the postings of terms in 5 or more documents saved beside the segments."""
    make_corpus = load_script("make_corpus")
    where = tmp_path_factory.mktemp("seg")
    corpus, index_dir = where / "corpus", where / "index"
    make_corpus.write_corpus(600, corpus, seed=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_postcache, "MIN_DF", 5)
        update_index(corpus=corpus, index=index_dir)
        model = make_corpus.train(make_corpus.DEFAULT_TRAINING)
        cell = make_corpus.cell_text(model, random.Random(9), "alcohol", "A1", 12)
        (corpus / "alcohol" / "A1.txt").write_text(cell, encoding="utf-8")
        update_index(corpus=corpus, index=index_dir)
    return index_dir


@pytest.fixture(scope="module")
def uncached_index(segmented_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The segmented index without its saved postings."""
    copy = tmp_path_factory.mktemp("uncached") / "index"
    shutil.copytree(segmented_index, copy)
    for p in copy.rglob("*.evpost*"):
        p.unlink()
    return copy


#: The scorer searches use for each open searcher (with the generation's saved postings).
_SCORERS: dict[int, ArrayScorer] = {}


def _open(index_dir: Path) -> Iterator[Any]:
    gen, ix, searcher = open_searcher(index_dir, weighting())
    _SCORERS[id(searcher)] = ArrayScorer(
        WhooshBackend(searcher, folder=gen.path), k1=BM25_K1, b=BM25_B, field_b=FIELD_B
    )
    try:
        yield searcher
    finally:
        del _SCORERS[id(searcher)]
        searcher.close()


def _array_scorer(searcher: Any) -> ArrayScorer:
    return _SCORERS[id(searcher)]


def _fresh_scorer(searcher: Any) -> ArrayScorer:
    """A scorer of its own, reading every posting list from the segments."""
    return ArrayScorer(WhooshBackend(searcher), k1=BM25_K1, b=BM25_B, field_b=FIELD_B)


@pytest.fixture(params=["bundled", "segmented", "uncached"])
def searcher(
    request: pytest.FixtureRequest, built_index: Path, segmented_index: Path, uncached_index: Path
) -> Iterator[Any]:
    where = {"bundled": built_index, "segmented": segmented_index, "uncached": uncached_index}
    yield from _open(where[request.param])


def _whoosh_scores(searcher: Any, q: wq.Query, fq: Any, mask: Any) -> dict[int, float]:
    # Whoosh's collectors over the same tree, its BM25F terms scored by the array scorer
    # (they are checked on their own by test_bm25f_is_robertson_and_zaragozas)
    results = searcher.search(engine_query(_array_scorer(searcher), q), filter=fq, mask=mask, limit=None)
    return {hit.docnum: hit.score for hit in results}


def _array_scores(searcher: Any, q: wq.Query, fq: Any, mask: Any) -> dict[int, float]:
    found = top_docs(_array_scorer(searcher), q, fq, mask, searcher.doc_count_all())
    assert found is not None
    total, best = found
    assert total == len(best)
    return dict(best)


def test_the_segmented_fixture_has_segments_and_deletions(segmented_index: Path) -> None:
    for s in _open(segmented_index):
        leaves = s.leaf_searchers()
        assert len(leaves) == 2
        assert leaves[0][0].reader().has_deletions()


@pytest.mark.parametrize("text", QUERIES)
def test_scores_equal_whooshs(searcher: Any, text: str) -> None:
    parsed = parse_query(text)
    q, mask = build_query(searcher, parsed.clauses)
    assert q is not None
    fq = build_filter(parsed.filters)
    expected = _whoosh_scores(searcher, q, fq, mask)
    got = _array_scores(searcher, q, fq, mask)
    assert got.keys() == expected.keys()
    for docnum, score in expected.items():
        assert got[docnum] == pytest.approx(score, rel=1e-9)


def test_common_queries_match_many_documents_on_the_synthetic_index(segmented_index: Path) -> None:
    for s in _open(segmented_index):
        q, _ = build_query(s, parse_query("patients treatment effect study results").clauses)
        assert q is not None
        assert len(_array_scores(s, q, None, None)) > 100  # the comparison above is not vacuous


def test_deleted_documents_never_match(segmented_index: Path) -> None:
    for s in _open(segmented_index):
        reader, _ = s.leaf_searchers()[0]
        deleted = reader.reader().deleted_docs_set
        assert deleted
        scorer = _fresh_scorer(s)
        words = " ".join(sorted({t for d in list(deleted)[:5] for t in _stored_words(s, d)})[:30])
        q, _ = build_query(s, parse_query(words).clauses)
        assert q is not None
        ids = set(scorer.matches(q).ids.tolist())
        assert ids and not ids & deleted


def _stored_words(searcher: Any, docnum: int) -> list[str]:
    # deleted documents keep their stored fields in the segment until it is merged
    stored = searcher.reader().leaf_readers()[0][0].stored_fields(docnum)
    return [w for w in stored.get("text", "").lower().split() if w.isalpha()]


def test_ties_go_in_cell_order_not_index_order(segmented_index: Path) -> None:
    # the changed cell alcohol/A1 was written last (the highest document numbers), yet its
    # documents come first among equal scores: cell order, studies first
    for s in _open(segmented_index):
        scorer = _fresh_scorer(s)
        everything = scorer.everything()
        for k in (3, 5000):  # few tied candidates (looked up one by one) and many (the column)
            ids, _ = scorer.top(everything, k)
            first = [s.stored_fields(int(d))["id"] for d in ids[:3]]
            a1 = sorted((f["order"], f["id"]) for f in s.all_stored_fields()
                        if f.get("cell_key") == "alcohol/A1" and f.get("kind") == "study")
            assert first == [doc_id for _, doc_id in a1[:3]]  # its first three studies
        assert min(ids[:3]) > s.leaf_searchers()[1][1] - 1  # they are in the second segment


@pytest.mark.parametrize("sort", ["relevance", "year", "-year"])
def test_sorted_pages_and_facets_equal_whooshs(segmented_index: Path, sort: str) -> None:
    for s in _open(segmented_index):
        parsed = parse_query("treatment evidence -zzzz")
        q, mask = build_query(s, parsed.clauses)
        assert q is not None
        opts = _Page(limit=7, page=2, sort=sort, facets=True, snippets=False)
        found = _array_page(_array_scorer(s), q, None, mask, opts)
        assert found is not None
        total, page, facets = found
        order, scores, w_total, results = _sorted_matches(
            s, engine_query(_array_scorer(s), q), None, mask, opts, True
        )
        assert total == w_total
        assert [d for d, _ in page] == [results.docnum(i) for i in order]
        assert [sc for _, sc in page] == pytest.approx(scores, rel=1e-9)
        assert facets == _facets(results)
        assert facets is not None and facets.type and facets.year and facets.cell


def test_disjunction_max_takes_each_documents_best(built_index: Path) -> None:
    for s in _open(built_index):
        scorer = _fresh_scorer(s)
        a, b = wq.Term("text", "probat"), wq.Term("text", "mentor")
        both = scorer.matches(wq.DisjunctionMax([a, b]))
        sa, sb = scorer.matches(a), scorer.matches(b)
        best = dict(zip(sa.ids.tolist(), sa.scores.tolist(), strict=True))
        for d, score in zip(sb.ids.tolist(), sb.scores.tolist(), strict=True):
            best[d] = max(best.get(d, 0.0), score)
        assert dict(zip(both.ids.tolist(), both.scores.tolist(), strict=True)) == best


def test_an_unknown_query_shape_falls_back_to_whoosh(built_index: Path) -> None:
    for s in _open(built_index):
        scorer = _fresh_scorer(s)
        with pytest.raises(Unsupported):
            scorer.matches(wq.Wildcard("text", "prob*"))
        assert top_docs(_array_scorer(s), wq.Wildcard("text", "prob*"), None, None, 10) is None


def test_saved_postings_are_the_segments_own(segmented_index: Path) -> None:
    for s in _open(segmented_index):
        checked = 0
        for sub, _ in s.leaf_searchers():
            reader = sub.reader()
            cache = _array_scorer(s).backend.segment_cache(reader)  # what searches use
            assert cache is not None
            for term, info in reader.iter_field("text"):
                text = term.decode("utf-8")
                saved = cache.get("text", text, info.doc_frequency())
                if info.doc_frequency() < 5:
                    assert saved is None
                    continue
                assert saved is not None
                ids, tf = segment_postings(reader, "text", text)
                assert saved[0].tolist() == ids.tolist() and saved[1].tolist() == tf.tolist()
                checked += 1
        assert checked > 100


def test_saved_postings_follow_the_live_segments(segmented_index: Path) -> None:
    gen = next(p for p in segmented_index.glob("gen-*") if p.is_dir())
    for s in _open(segmented_index):
        live = {sub.reader().segment().segment_id() for sub, _ in s.leaf_searchers()}
        saved = {p.name.split(".")[0] for p in gen.glob("*.evpost.json")}
        assert saved == live  # one table per live segment; Whoosh removed any merged away


@pytest.mark.parametrize("damage", ["truncate ids", "bad table", "wrong length"])
def test_damaged_saved_postings_are_ignored(segmented_index: Path, tmp_path: Path, damage: str) -> None:
    copy = tmp_path / "index"
    shutil.copytree(segmented_index, copy)
    gen = next(p for p in copy.glob("gen-*") if p.is_dir())
    for table in gen.glob("*.evpost.json"):
        segid = table.name.split(".")[0]
        if damage == "truncate ids":
            ids = gen / f"{segid}.evpost_ids"
            ids.write_bytes(ids.read_bytes()[:-40])
        elif damage == "bad table":
            table.write_text("{not json", encoding="utf-8")
        else:
            text = table.read_text(encoding="utf-8").replace('"postings": ', '"postings": 1')
            table.write_text(text, encoding="utf-8")
        assert _postcache.SegmentCache.open(gen, segid) is None
    expected = _whoosh_scores_for(segmented_index, "patients treatment effect study results")
    assert _whoosh_scores_for(copy, "patients treatment effect study results") == expected


def _whoosh_scores_for(index_dir: Path, text: str) -> dict[str, float]:
    for s in _open(index_dir):
        q, _ = build_query(s, parse_query(text).clauses)
        found = top_docs(_array_scorer(s), q, None, None, 50)
        assert found is not None
        return {s.stored_fields(d)["id"]: round(score, 9) for d, score in found[1]}
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"limit": 3, "page": 2},
        {"sort": "-year", "facets": True},
        {"facets": True, "kind": "study"},
        {"sort": "year", "limit": 5},
    ],
)
@pytest.mark.parametrize(
    "text", ["supervision probation", "treatment evidence -alcohol", "type:K", "\"the treatment\" supervis*"]
)
def test_the_whoosh_fallback_gives_the_same_pages(
    segmented_index: Path, monkeypatch: pytest.MonkeyPatch, text: str, options: dict[str, Any]
) -> None:
    from evsearch import open_index

    with open_index(index=segmented_index) as idx:
        fast = idx.search(text, snippets=False, suggest=False, **options)
    assert fast.total

    def unsupported(*args: Any, **kwargs: Any) -> Any:
        raise Unsupported("test")

    monkeypatch.setattr(ArrayScorer, "matches", unsupported)
    monkeypatch.setattr(ArrayScorer, "everything", unsupported)
    with open_index(index=segmented_index) as idx:
        slow = idx.search(text, snippets=False, suggest=False, **options)
    assert slow.total == fast.total
    assert [h.score for h in slow.hits] == pytest.approx([h.score for h in fast.hits])
    assert slow.facets == fast.facets
    if options.get("sort", "relevance") != "relevance" or options.get("facets"):
        assert [h.id for h in slow.hits] == [h.id for h in fast.hits]  # both: ties in cell order


@pytest.mark.parametrize("term", ["supervis", "offend", "motiv"])
def test_bm25f_is_robertson_and_zaragozas(built_index: Path, term: str) -> None:
    # a plain per-document computation from Whoosh's public API: per-field frequencies, each
    # weighted and divided by its length normalisation (average over the documents having
    # the field), added before saturation; one Lucene idf over the documents having the term
    from math import log

    from evsearch.search.scorer import FieldedTerm

    weights = {"title": 3.0, "section": 2.0, "text": 1.0}
    for s in _open(built_index):
        n = s.doc_count_all()
        tf: dict[int, float] = {}
        for f, w in weights.items():
            having = [d for d in range(n) if (s.doc_field_length(d, f, 0) or 0) > 0]
            avg = s.field_length(f) / len(having)
            if (f, term) not in s.reader():
                continue
            m = s.postings(f, term)
            while m.is_active():
                d = m.id()
                norm = (1 - BM25_B) + BM25_B * (s.doc_field_length(d, f) or 0) / avg
                tf[d] = tf.get(d, 0.0) + w * m.weight() / norm
                m.next()
        idf = log(1 + (n - len(tf) + 0.5) / (len(tf) + 0.5))
        expected = {d: idf * x / (BM25_K1 + x) for d, x in tf.items()}
        got = _array_scorer(s).matches(FieldedTerm([wq.Term(f, term, boost=w) for f, w in weights.items()]))
        assert len(expected) > 3
        assert dict(zip(got.ids.tolist(), got.scores.tolist(), strict=True)) == pytest.approx(expected)


def test_phrases_are_matched_once_and_kept_like_posting_lists(built_index: Path) -> None:
    # "MI" adds the phrase "motivational interviewing" in every field: the slowest leaves,
    # and they come back query after query, so the scorer keeps their matches in memory
    for s in _open(built_index):
        scorer = _fresh_scorer(s)
        calls: list[tuple[str, ...]] = []
        read = scorer.backend.phrase_frequencies

        def counted(phrase: Any, calls: list[tuple[str, ...]] = calls, read: Any = read) -> Any:
            calls.append((phrase.fieldname, *phrase.words))
            return read(phrase)

        scorer.backend.phrase_frequencies = counted  # type: ignore[method-assign]
        q, _ = build_query(s, parse_query("MI for young people").clauses)
        assert q is not None
        first = scorer.matches(q)
        phrases = list(calls)
        assert phrases and len(set(phrases)) == len(phrases)
        again = scorer.matches(q)
        assert calls == phrases  # nothing matched twice
        fresh = _fresh_scorer(s).matches(q)
        for got in (first, again):
            assert got.ids.tolist() == fresh.ids.tolist()
            assert got.scores.tolist() == pytest.approx(fresh.scores.tolist(), rel=1e-12)
        scorer.clear_cache()
        scorer.matches(q)
        assert calls == phrases * 2  # forgotten with the posting lists
