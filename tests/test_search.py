"""The query language and ranking on the real B5 cell, through the library."""

from __future__ import annotations

import pytest

from evsearch import QueryError, SearchIndex

# B5's ids (see evsearch.ingest.documents)
P15 = "alcohol/B5/best-to-split-therapy/5"
P16 = "alcohol/B5/the-trickier-the-situation/1"
P18 = "alcohol/B5/the-trickier-the-situation/3"
P20 = "alcohol/B5/the-trickier-the-situation/5"
P21 = "alcohol/B5/the-trickier-the-situation/6"
P27 = "alcohol/B5/the-trickier-the-situation/10"
S1 = "alcohol/B5/k2008-relationship-therapist-seems"
S2 = "alcohol/B5/k2014-client-centred-supervision"
S3 = "alcohol/B5/k2016-job-perception-lack"
S4 = "alcohol/B5/k2008-mothers-wales-staff"
S5 = "alcohol/B5/r2002-supervising-offenders-quality"
S8 = "alcohol/B5/g2005-manual-research-based"
S9 = "alcohol/B5/g2015-working-men-physically"


def ids(result) -> list[str]:
    return [h.id for h in result.hits]


def test_plain_words_rank_the_study_about_them_first(idx: SearchIndex) -> None:
    result = idx.search("motivational interviewing criminal justice")
    assert result.hits[0].id == "alcohol/B5/r2005-motivational-interviewing-work"
    assert result.hits[0].title == "Can motivational interviewing work in criminal justice settings?"
    assert result.total >= 10


def test_a_missing_word_never_empties_the_result(idx: SearchIndex) -> None:
    with_nonsense = idx.search("supervision xylophone", suggest=False)
    assert with_nonsense.total == idx.search("supervision").total > 0


def test_documents_matching_more_words_rank_higher(idx: SearchIndex) -> None:
    hits = idx.search("juggling balls magnetic", limit=3).hits
    # the pull quote and the paragraph hold all three words; the next one only "balls"
    assert {h.id for h in hits[:2]} == {P20, P21}
    assert all("magnetic" in h.text for h in hits[:2])
    assert idx.search("juggling balls magnetic").total == 2


def test_natural_question_with_punctuation_is_safe(idx: SearchIndex) -> None:
    question = idx.search("Can motivational interviewing work in criminal justice settings?")
    keywords = idx.search("motivational interviewing criminal justice settings")
    assert question.hits[0].id == keywords.hits[0].id == "alcohol/B5/r2005-motivational-interviewing-work"
    for q in ["what's the 'glue' of supervision & rapport: (offender", 'unbalanced "quote', "a?",
              "settings?", "[2005 TO", "((", "title:", "&&", "*", "?????"]:
        idx.search(q)  # never raises


def test_question_mark_is_not_a_wildcard_on_an_unstemmed_word(idx: SearchIndex) -> None:
    # "settings?" must be searched as the word "settings" (stem "set"), not as a wildcard
    assert idx.search("settings?").total == idx.search("settings").total > 0


def test_phrase_matches_words_in_order(idx: SearchIndex) -> None:
    result = idx.search('"formal power"')
    assert set(ids(result)) == {P15, P16, P18, P27}
    assert idx.search('"power formal"').total == 0
    assert idx.search("formal power").total > result.total


def test_field_restriction(idx: SearchIndex) -> None:
    result = idx.search("title:supervision")
    assert set(ids(result)) == {S2, S5, S8}
    sections = idx.search('section:"best to split"')
    assert {h.section for h in sections.hits} == {"Best to split therapy and supervision?"}


def test_type_filter_keeps_words_ranking(idx: SearchIndex) -> None:
    result = idx.search("supervision type:K")
    assert result.total >= 1
    assert all(h.kind == "study" and h.study_type == "K" for h in result.hits)
    assert result.hits[0].id == "alcohol/B5/k2014-client-centred-supervision"


def test_filters_alone_list_documents_in_cell_order(idx: SearchIndex) -> None:
    result = idx.search("type:K")
    assert ids(result) == [S1, S2, S3, S4]
    assert idx.search("type:S,G").total == 2


def test_year_range_filters(idx: SearchIndex) -> None:
    result = idx.search("year:[2005 TO 2010]", limit=20)
    assert sorted(h.year for h in result.hits) == [2005, 2005, 2005, 2008, 2008]
    assert idx.search("year:[2010 TO 2005]").total == 5  # reversed bounds are swapped
    assert [h.year for h in idx.search("year:>=2015").hits] == [2016, 2015]
    assert idx.search("year:2014").hits[0].id == "alcohol/B5/k2014-client-centred-supervision"


def test_year_and_organisation_are_searchable_as_words(idx: SearchIndex) -> None:
    assert idx.search("2014").hits[0].id == "alcohol/B5/k2014-client-centred-supervision"
    assert idx.search("Welsh Assembly Government").hits[0].id == "alcohol/B5/k2008-mothers-wales-staff"
    assert idx.search("Ministry of Justice").hits[0].id == "alcohol/B5/k2014-client-centred-supervision"


def test_kind_and_cell_filters(idx: SearchIndex) -> None:
    studies = idx.search("supervision kind:study", limit=50)
    assert studies.hits and all(h.kind == "study" for h in studies.hits)
    passages = idx.search("supervision", kind="passage", cell="B5", limit=50)
    assert passages.hits and all(h.kind == "passage" and h.cell == "alcohol/B5" for h in passages.hits)
    assert idx.search("supervision cell:alcohol/B5").total == idx.search("supervision").total
    assert idx.search("supervision cell:C1").total == 0


def test_prefix(idx: SearchIndex) -> None:
    result = idx.search("supervis* type:G")
    assert ids(result) == ["alcohol/B5/g2005-manual-research-based"]


def test_required_and_excluded_words(idx: SearchIndex) -> None:
    assert idx.search("mentor -probation").total == 0
    both = idx.search("+mentor +probation")
    assert both.total == 2 and all("mentor" in h.text.lower() for h in both.hits)
    assert idx.search("mentor AND probation").total == 2
    excluded = idx.search("supervision NOT offender")
    assert excluded.total and all("offender" not in h.text.lower() for h in excluded.hits)


def test_british_and_american_spellings_find_each_other(idx: SearchIndex) -> None:
    for american, british in [("stigmatized", "stigmatised"), ("counseling", "counselling"),
                              ("behavior", "behaviour"), ("programs", "programmes")]:
        us, uk = idx.search(american), idx.search(british)
        assert us.total == uk.total > 0
        assert ids(us) == ids(uk)
        assert british in us.hits[0].snippet  # the source's own spelling is shown


def test_misspelt_query_gets_a_suggestion_and_corrected_results(idx: SearchIndex) -> None:
    result = idx.search("motivatonal intervewing")
    assert result.suggestion == "motivational interviewing"
    assert result.corrected and result.hits[0].id == "alcohol/B5/r2005-motivational-interviewing-work"
    assert idx.search("motivational interviewing").suggestion is None


def test_a_query_that_finds_documents_is_searched_as_typed_with_a_suggestion(idx: SearchIndex) -> None:
    result = idx.search("offender supervison")
    assert result.suggestion == "offender supervision" and not result.corrected
    assert ids(result) == ids(idx.search("offender", suggest=False))
    assert idx.search("Faye Taxmann").suggestion == "Faye Taxman"


@pytest.mark.parametrize("word", ["relapse", "women", "youth", "placebo", "Counselling", "naltrexone"])
def test_a_real_word_is_never_corrected(idx: SearchIndex, word: str) -> None:
    # none of these is in B5 (nor close to one of its words): searched as typed
    result = idx.search(word)
    assert result.suggestion is None and not result.corrected
    assert result.query == word


@pytest.mark.parametrize("query", ['"supervison"', "+supervison", "text:supervison", "mentor -supervison"])
def test_quoted_required_excluded_and_fielded_words_are_never_corrected(idx: SearchIndex, query: str) -> None:
    result = idx.search(query)
    assert result.suggestion is None and not result.corrected


def test_correction_can_be_turned_off(idx: SearchIndex) -> None:
    result = idx.search("motivatonal intervewing", correct=False)
    assert result.total == 0 and not result.corrected
    assert result.suggestion == "motivational interviewing"  # still offered


def test_no_match_is_an_empty_result(idx: SearchIndex) -> None:
    result = idx.search("xylophone")
    assert result.total == 0 and result.hits == () and result.suggestion is None


def test_bad_filter_values_are_query_errors(idx: SearchIndex) -> None:
    with pytest.raises(QueryError, match="unknown study type"):
        idx.search("type:X")
    with pytest.raises(QueryError, match="bad year"):
        idx.search("year:soon")
    with pytest.raises(QueryError, match="unknown kind"):
        idx.search("kind:book")
    with pytest.raises(QueryError, match="limit"):
        idx.search("x", limit=0)


def test_snippets_are_golden(idx: SearchIndex) -> None:
    hit = idx.search("glue").hits[0]
    assert hit.id == "alcohol/B5/are-the-practitioners-therapeutic/2" and hit.snippet == (
        "The <mark>glue</mark> of the supervision process is the manner of being between offender and agent"
    )
    study = idx.search("domestic violence").hits[0]
    assert study.id == "alcohol/B5/k2016-job-perception-lack"
    assert study.snippet == (
        "… often lack the skills or confidence to ask patients about their intimate "
        "relationships and <mark>violence</mark> between partners, and they may not see making "
        "these enquiries as part of their job. …"
    )


def test_snippet_escapes_corpus_text(idx: SearchIndex) -> None:
    hit = idx.search('"the approach can work"').hits[0]
    assert "&quot;" not in hit.snippet  # quotes need no escaping in element text
    assert '"the <mark>approach</mark> <mark>can</mark>' not in hit.snippet
    assert "<mark>approach</mark>" in hit.snippet
    assert "<" not in hit.snippet.replace("<mark>", "").replace("</mark>", "")


def test_get_and_stats(idx: SearchIndex) -> None:
    doc = idx.get("alcohol/B5/k2008-mothers-wales-staff")
    assert doc.kind == "study" and doc.organisation == "Welsh Assembly Government" and doc.year == 2008
    assert doc.links == ("The trickier the situation, the more the worker matters",)
    stats = idx.stats()
    assert (stats.cells, stats.studies, stats.passages) == (1, 9, 28)


def test_acronyms_expand_to_the_words_of_the_field(idx: SearchIndex) -> None:
    assert set(ids(idx.search("IPV"))) == {S3, S9}
    assert idx.search("MI").hits[0].id == "alcohol/B5/r2005-motivational-interviewing-work"
    assert idx.search("MI in the CJS").hits[0].id == "alcohol/B5/r2005-motivational-interviewing-work"
    s9 = next(h for h in idx.search("IPV").hits if h.id == "alcohol/B5/g2015-working-men-physically")
    assert "<mark>intimate</mark> <mark>partner</mark> <mark>violence</mark>" in s9.snippet


def test_the_users_own_words_rank_above_their_expansions(idx: SearchIndex) -> None:
    # s3's title says "domestic violence"; s9 says "intimate partner violence"
    assert ids(idx.search("domestic violence"))[:2] == [S3, S9]
    assert ids(idx.search("intimate partner violence"))[:2] == [S9, S3]


def test_acronyms_are_not_corrected_as_typos(idx: SearchIndex) -> None:
    assert idx.search("CBT").suggestion is None
    assert idx.search("IPV").suggestion is None
