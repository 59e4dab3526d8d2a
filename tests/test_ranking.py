"""Ranking levers kept by the evaluation (scripts/evaluate.py): what a user would notice."""

from __future__ import annotations

from pathlib import Path

import pytest

import evsearch.config as config
from evsearch import SearchIndex, open_index
from evsearch.index import passage, write_documents

#: B5's passage that says "drop-out", and its motivational interviewing study
P6 = "alcohol/B5/are-the-practitioners-therapeutic/1"
S7 = "alcohol/B5/r2005-motivational-interviewing-work"


@pytest.fixture(scope="module")
def two_topics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One passage about supervision, one about offenders (same length, same idf), filler."""
    docs = [passage("sup", "supervision report"), passage("off", "offenders report")]
    docs += [passage(f"f{i}", f"filler paragraph number {i} about weather") for i in range(20)]
    path = tmp_path_factory.mktemp("qtf") / "index"
    write_documents(docs, index=path)
    return path


@pytest.mark.parametrize("times", [1, 2, 3, 10])
def test_a_word_typed_again_weighs_more_but_saturates(two_topics: Path, times: int) -> None:
    with open_index(index=two_topics) as idx:
        scores = {h.id: h.score for h in idx.search(" ".join(["supervision"] * times) + " offenders").hits}
    k3 = config.QUERY_TF_K3
    assert k3 > 0
    # BM25's query term weight: (k3 + 1) n / (k3 + n), below k3 + 1 however often it is typed
    assert scores["sup"] / scores["off"] == pytest.approx((k3 + 1) * times / (k3 + times), rel=1e-3)
    assert scores["sup"] / scores["off"] < k3 + 1


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 passages: ten about a topic that always co-occurs with 'methadone', one that says
    only 'methadone', the rest filler."""
    docs = [
        passage(f"on{i}", f"opioid treatment retention dosing clinic outcomes methadone study {i}")
        for i in range(10)
    ]
    docs.append(passage("feedback", "methadone methadone maintenance"))
    docs += [passage(f"f{i}", f"filler paragraph number {i} about weather gardens and trains")
             for i in range(589)]
    path = tmp_path_factory.mktemp("prf") / "index"
    write_documents(docs, index=path)
    return path


def test_feedback_finds_what_a_long_query_implies(collection: Path) -> None:
    with open_index(index=collection) as idx:
        long = idx.search("opioid treatment retention dosing clinic outcomes", limit=20)
        assert "feedback" in [h.id for h in long.hits]  # via 'methadone', from the top documents
        assert long.hits[0].id.startswith("on")  # the user's own words still rank first


def test_no_feedback_for_short_queries_or_when_turned_off(
    collection: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_index(index=collection) as idx:
        assert "feedback" not in [h.id for h in idx.search("opioid treatment", limit=20).hits]
        monkeypatch.setattr(config, "PRF_DOCS", 0)
        long = idx.search("opioid treatment retention dosing clinic outcomes", limit=20)
        assert "feedback" not in [h.id for h in long.hits]


def test_no_feedback_on_a_small_collection(idx: SearchIndex) -> None:
    # B5 has 37 documents: its top 10 would be a quarter of it, so feedback stays off
    question = idx.search("Can motivational interviewing work in criminal justice settings?")
    assert question.total == idx.search("motivational interviewing work criminal justice settings").total


FORMS = {
    "joined": "Dropout from aftercare was high; followup lasted a year.",
    "hyphen": "Drop-out from after-care was high; follow-up lasted a year.",
    "apart": "Many drop out of after care; the follow up lasted a year.",
}


@pytest.fixture(scope="module")
def forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """For each way of writing the compounds, an index where only that way occurs."""
    out = {}
    for name, text in FORMS.items():
        path = tmp_path_factory.mktemp(name) / "index"
        docs = [passage(name, text), passage("other", "Retention in treatment was good.")]
        write_documents(docs, index=path)
        out[name] = path
    return out


@pytest.mark.parametrize("written", list(FORMS))
@pytest.mark.parametrize("typed", ["dropout", "drop-out", "aftercare", "after-care", "followup",
                                   "follow-up", "follow up"])
def test_joined_hyphenated_and_separate_forms_find_each_other(
    forms: dict[str, Path], typed: str, written: str
) -> None:
    with open_index(index=forms[written]) as idx:
        assert [h.id for h in idx.search(typed, suggest=False).hits] == [written]


def test_snippets_keep_the_sources_spelling_of_a_compound(forms: dict[str, Path]) -> None:
    with open_index(index=forms["hyphen"]) as idx:
        assert "<mark>Drop</mark>-<mark>out</mark>" in idx.search("dropout").hits[0].snippet
    with open_index(index=forms["joined"]) as idx:
        assert "<mark>Dropout</mark>" in idx.search("drop-out").hits[0].snippet


def test_dropout_finds_drop_out_on_the_bundled_corpus(idx: SearchIndex) -> None:
    result = idx.search("dropout")
    assert [h.id for h in result.hits] == [P6] and not result.corrected
    assert "<mark>drop</mark>-<mark>out</mark>" in result.hits[0].snippet


def test_a_typed_acronym_counts_as_much_as_its_expansion(idx: SearchIndex) -> None:
    # "MI offenders": the study of motivational interviewing with offenders comes first, above
    # studies of offenders that never mention MI
    assert idx.search("MI offenders").hits[0].id == S7
    mi = idx.search("MI").hits[0]
    spelt_out = idx.search("motivational interviewing").hits[0]
    assert mi.id == spelt_out.id == S7
    assert mi.score == pytest.approx(spelt_out.score, rel=0.05)


def test_cjs_finds_what_criminal_justice_finds(idx: SearchIndex) -> None:
    cjs = {h.id for h in idx.search("CJS", limit=50).hits}
    assert cjs >= {h.id for h in idx.search("criminal justice system", limit=50).hits if
                   "criminal justice" in h.text.lower()}
    assert len(cjs) >= 10


def test_a_pasted_paragraph_is_never_refused(idx: SearchIndex) -> None:
    from evsearch.search.query import MAX_CLAUSES

    paragraph = idx.get(P6).text  # far more than MAX_CLAUSES distinct words
    assert len(set(paragraph.split())) > MAX_CLAUSES
    result = idx.search(paragraph)
    assert result.hits[0].id == P6


def test_the_clause_limit_still_holds_for_operators() -> None:
    from evsearch import QueryError
    from evsearch.search.query import MAX_CLAUSES, parse_query

    parse_query(" ".join(f"word{i}" for i in range(MAX_CLAUSES * 3)))  # plain words: fine
    with pytest.raises(QueryError, match="limit"):
        parse_query(" ".join(f"+word{i}" for i in range(MAX_CLAUSES + 1)))


def test_a_long_query_keeps_its_most_informative_words(tmp_path: Path) -> None:
    from evsearch.search.query import MAX_CLAUSES

    # 80 distinct words each in many documents, and one rare word at the very end
    common = [f"common{i}" for i in range(80)]
    docs = [passage(f"d{i}", " ".join(common[i % 80 : i % 80 + 20])) for i in range(200)]
    docs.append(passage("rare", "zebrafish"))
    write_documents(docs, index=tmp_path / "index")
    query = " ".join(common) + " zebrafish"
    assert len(query.split()) > MAX_CLAUSES
    with open_index(index=tmp_path / "index") as idx:
        assert "rare" in [h.id for h in idx.search(query, suggest=False, limit=300).hits]


def test_capitals_never_make_operators(tmp_path: Path) -> None:
    docs = [passage("a", "filters and attenuation"), passage("b", "no attenuation here")]
    write_documents(docs, index=tmp_path / "index")
    with open_index(index=tmp_path / "index") as idx:
        # a query pasted in capitals: AND and NOT are words, not operators
        assert idx.search("BAND PASS FILTERS AND NOT ATTENUATION", suggest=False).total == 2
        assert idx.search("filters AND attenuation", suggest=False).total == 1


def test_a_quoted_title_in_a_question_counts_as_its_words_too(tmp_path: Path) -> None:
    docs = [passage("cited", "rotation of eigenvectors by a permutation", "Eigenvectors"),
            passage("other", "sorting algorithms")]
    write_documents(docs, index=tmp_path / "index")
    with open_index(index=tmp_path / "index") as idx:
        question = idx.search('papers like "The rotation of eigenvectors under permutations" please')
        assert question.hits[0].id == "cited"
        assert idx.search('"eigenvectors rotation"').total == 0  # a phrase alone stays exact


def test_a_letter_or_digit_alone_counts_only_when_nothing_else_is_typed(tmp_path: Path) -> None:
    docs = [passage("noise", "Step (1) and step (1) again: I'd say d and 1."),
            passage("topic", "Eigenvectors of sparse matrices.")]
    write_documents(docs, index=tmp_path / "index")
    with open_index(index=tmp_path / "index") as idx:
        # "(1)" and the "d" of "I'd" say nothing next to real words
        assert [h.id for h in idx.search("I'd like eigenvectors (1)", suggest=False).hits] == ["topic"]
        assert [h.id for h in idx.search("1", suggest=False).hits] == ["noise"]
