"""The README's query-syntax table, row by row: what the parser makes of each form, and what
a search for it finds in the bundled cell (alcohol/B5: 9 studies, 28 passages)."""

from __future__ import annotations

import re

import pytest

from evsearch import QueryError, SearchIndex
from evsearch.search.query import MAX_CLAUSES, MAX_QUERY_CHARS, Clause, parse_query


def clauses(text: str) -> list[tuple[str, str, str | None, str]]:
    return [(c.text, c.kind, c.field, c.occur) for c in parse_query(text).clauses]


def filters(text: str) -> dict[str, object]:
    f = parse_query(text).filters
    return {
        "types": f.types, "kinds": f.kinds, "cells": f.cells, "matrices": f.matrices,
        "years": (f.year_from, f.year_to),
    }


NO_FILTERS = {"types": set(), "kinds": set(), "cells": set(), "matrices": set(), "years": (None, None)}


def only(**changed: object) -> dict[str, object]:
    return {**NO_FILTERS, **changed}


def ids(idx: SearchIndex, query: str, **options: object) -> list[str]:
    return [h.id for h in idx.search(query, limit=100, suggest=False, **options).hits]  # type: ignore[arg-type]


def titles(idx: SearchIndex, query: str) -> list[str]:
    return [h.title for h in idx.search(query, limit=100, suggest=False).hits]


def squash(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").lower()


# B5's studies, by the titles a user sees
K_STUDIES = [
    "Relationship with therapist seems more important for offenders than other clients",
    "Client-centred supervision motivates UK offenders",
    "'Not my job' perception and lack of confidence impede assessment of domestic violence",
    "Mothers in Wales see staff support as critical to child welfare and keeping families together",
]
QUALITY = "Supervising offenders is about the quality of the relationship"
MI_IN_CJS = "Can motivational interviewing work in criminal justice settings?"
MANUAL = "Manual for research-based offender supervision"
MEN_WHO_ABUSE = "Working with men who physically abuse their partners"


# --- `motivational interviewing`: words; more of them rank higher; a missing word never empties

def test_words_parse_as_optional_words_with_no_filter() -> None:
    assert clauses("motivational interviewing") == [
        ("motivational", "word", None, "should"), ("interviewing", "word", None, "should"),
    ]
    assert filters("motivational interviewing") == NO_FILTERS
    assert clauses("  motivational\t\ninterviewing  ") == clauses("motivational interviewing")


def test_words_find_documents_with_any_of_them_best_with_all(idx: SearchIndex) -> None:
    both = ids(idx, "motivational interviewing")
    either = set(ids(idx, "motivational")) | set(ids(idx, "interviewing"))
    assert set(both) == either
    assert titles(idx, "motivational interviewing")[0] == MI_IN_CJS
    assert ids(idx, "motivational interviewing xylophone") == both  # a word no document has


# --- `"quality of the relationship"`: the phrase

def test_a_quoted_phrase_is_one_clause() -> None:
    assert clauses('"quality of the relationship"') == [
        ("quality of the relationship", "phrase", None, "should"),
    ]
    assert clauses('"quality of') == [("quality of", "phrase", None, "should")]  # unbalanced: to the end


def test_a_phrase_finds_only_the_words_in_that_order(idx: SearchIndex) -> None:
    found = idx.search('"quality of the relationship"', limit=100).hits
    assert sorted((h.kind, h.title) for h in found) == [
        ("passage", "Where should I start?"), ("study", QUALITY),
    ]
    for hit in found:
        assert "quality of the relationship" in squash(f"{hit.title} {hit.text}")
    assert len(ids(idx, "quality of the relationship")) > len(found)  # as words: many more
    assert ids(idx, '"relationship the of quality"') == []


# --- `title:supervision`, `section:"best to split"`, `text:…`, `organisation:justice`

@pytest.mark.parametrize(("query", "expected"), [
    ("title:supervision", ("supervision", "word", "title", "should")),
    ('section:"best to split"', ("best to split", "phrase", "section", "should")),
    ("heading:split", ("split", "word", "section", "should")),
    ("text:mentor", ("mentor", "word", "text", "should")),
    ("summary:mentor", ("mentor", "word", "text", "should")),
    ("organisation:justice", ("justice", "word", "organisation", "should")),
    ("organization:justice", ("justice", "word", "organisation", "should")),
    ("org:justice", ("justice", "word", "organisation", "should")),
    ("TITLE:supervis*", ("supervis", "prefix", "title", "should")),
    ("+title:supervision", ("supervision", "word", "title", "must")),
])
def test_a_field_name_restricts_one_word_phrase_or_prefix(query: str, expected: tuple) -> None:
    assert clauses(query) == [expected]
    assert filters(query) == NO_FILTERS


def test_an_unknown_field_name_is_read_as_a_word() -> None:
    assert clauses("foo:bar") == [("foo:bar", "word", None, "should")]
    assert clauses("a:b:c") == [("a:b:c", "word", None, "should")]


def test_a_field_restriction_searches_that_field_only(idx: SearchIndex) -> None:
    in_titles = titles(idx, "title:supervision")
    assert sorted(in_titles) == sorted([K_STUDIES[1], MANUAL, QUALITY])
    assert len(ids(idx, "supervision")) > len(in_titles)

    sections = idx.search('section:"best to split"', limit=100).hits
    assert sections and {h.section for h in sections} == {"Best to split therapy and supervision?"}

    texts = idx.search("text:mentor", limit=100).hits
    assert texts and all("mentor" in h.text.lower() for h in texts)

    orgs = idx.search("organisation:justice", limit=100).hits
    assert [(h.title, h.organisation) for h in orgs] == [(K_STUDIES[1], "[UK] Ministry of Justice")]
    assert len(ids(idx, "justice")) > len(orgs)  # "justice" in titles and text too
    assert ids(idx, "org:justice") == ids(idx, "organization:justice") == [orgs[0].id]


# --- `supervis*`: a prefix (2+ letters)

@pytest.mark.parametrize(("query", "expected"), [
    ("supervis*", [("supervis", "prefix", None, "should")]),
    ("su*", [("su", "prefix", None, "should")]),
    ("s*", [("s*", "word", None, "should")]),  # one letter: too short for a prefix
    ("*", [("*", "word", None, "should")]),
    ("*vision", [("*vision", "word", None, "should")]),  # no leading wildcards
    ("su*pervision", [("su*pervision", "word", None, "should")]),
    ("supervis**", [("supervis", "prefix", None, "should")]),
    ("settings?", [("settings?", "word", None, "should")]),  # ? is punctuation, never a wildcard
])
def test_a_trailing_star_after_two_letters_makes_a_prefix(query: str, expected: list) -> None:
    assert clauses(query) == expected


def test_a_prefix_finds_every_word_that_starts_with_it(idx: SearchIndex) -> None:
    prefix = set(ids(idx, "supervis*"))
    for word in ("supervision", "supervising", "supervisor"):
        found = set(ids(idx, word))
        assert found and found <= prefix, word
    assert set(ids(idx, "mentor*")) == set(ids(idx, "mentor")) | set(ids(idx, "mentoring"))
    assert ids(idx, "zq*") == []


# --- `+mentor +probation`, `mentor AND probation`: words that must appear

def test_plus_and_AND_make_words_required() -> None:
    required = [("mentor", "word", None, "must"), ("probation", "word", None, "must")]
    assert clauses("+mentor +probation") == required
    assert clauses("mentor AND probation") == required
    assert clauses('+"formal power" supervision') == [
        ("formal power", "phrase", None, "must"), ("supervision", "word", None, "should"),
    ]
    assert clauses("mentor and probation") == [  # lower-case "and" is a word
        ("mentor", "word", None, "should"), ("and", "word", None, "should"),
        ("probation", "word", None, "should"),
    ]
    assert clauses("+ mentor") == [("+", "word", None, "should"), ("mentor", "word", None, "should")]


def test_required_words_must_all_appear(idx: SearchIndex) -> None:
    both = idx.search("+mentor +probation", limit=100).hits
    assert len(both) == 2
    for hit in both:
        assert "mentor" in hit.text.lower() and "probation" in hit.text.lower()
    assert ids(idx, "mentor AND probation") == [h.id for h in both]
    assert len(ids(idx, "mentor probation")) > len(both)  # as optional words: either one


# --- `-probation`, `NOT probation`: words that must not appear

def test_minus_and_NOT_exclude_words() -> None:
    assert clauses("-probation") == [("probation", "word", None, "must_not")]
    assert clauses("NOT probation") == [("probation", "word", None, "must_not")]
    assert clauses("supervision NOT probation") == clauses("supervision -probation") == [
        ("supervision", "word", None, "should"), ("probation", "word", None, "must_not"),
    ]
    assert clauses('-"formal power"') == [("formal power", "phrase", None, "must_not")]


def test_excluded_words_appear_in_no_hit(idx: SearchIndex) -> None:
    with_it = idx.search("supervision", limit=100).hits
    without = idx.search("supervision -probation", limit=100).hits
    assert 0 < len(without) < len(with_it)
    assert all("probation" not in squash(f"{h.title} {h.text}") for h in without)
    assert [h.id for h in without] == ids(idx, "supervision NOT probation")
    # alone, an excluded word lists every other document
    everything = len(ids(idx, "kind:study")) + len(ids(idx, "kind:passage"))
    assert len(ids(idx, "-probation")) == everything - len(ids(idx, "probation"))
    assert ids(idx, "-probation") == ids(idx, "NOT probation")


# --- `type:K`, `type:S,G`: only studies of that type

@pytest.mark.parametrize(("query", "types"), [
    ("type:K", {"K"}), ("type:k", {"K"}), ("type:S,G", {"S", "G"}), ("type:S|R", {"S", "R"}),
    ("type:K type:R", {"K", "R"}),
])
def test_type_filters_parse_to_study_types(query: str, types: set[str]) -> None:
    assert clauses(query) == []
    assert filters(query) == only(types=types)


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(QueryError, match=r"^unknown study type 'Q'$") as err:
        parse_query("supervision type:Q")
    assert err.value.hint == "study types are S (seminal), K (key), R (review), G (guidance)"


def test_type_filters_keep_only_those_studies(idx: SearchIndex) -> None:
    assert titles(idx, "type:K") == K_STUDIES  # a filter alone: cell order
    assert [(h.study_type, h.title) for h in idx.search("type:S,G").hits] == [
        ("G", MANUAL), ("G", MEN_WHO_ABUSE),
    ]
    ranked = idx.search("supervision type:K", limit=100).hits
    assert ranked and all(h.kind == "study" and "K" in (h.study_type or "").split() for h in ranked)
    assert [h.id for h in ranked] == [i for i in ids(idx, "supervision") if i in ids(idx, "type:K")]


# --- `kind:study`, `kind:passage`, `kind:record`: only studies / passages / records' text

@pytest.mark.parametrize(("query", "kinds"), [
    ("kind:study", {"study"}), ("kind:studies", {"study"}), ("kind:passage", {"passage"}),
    ("kind:PASSAGES", {"passage"}), ("kind:study,passage", {"study", "passage"}),
    ("kind:record", {"record"}), ("kind:records", {"record"}),
])
def test_kind_filters_parse(query: str, kinds: set[str]) -> None:
    assert clauses(query) == []
    assert filters(query) == only(kinds=kinds)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(QueryError, match="^unknown kind 'book'$") as err:
        parse_query("kind:book")
    assert err.value.hint.startswith("kind is study, passage")


def test_kind_filters_split_the_results(idx: SearchIndex) -> None:
    studies = idx.search("supervision kind:study", limit=100).hits
    passages = idx.search("supervision kind:passage", limit=100).hits
    assert {h.kind for h in studies} == {"study"} and {h.kind for h in passages} == {"passage"}
    assert {h.id for h in studies} | {h.id for h in passages} == set(ids(idx, "supervision"))
    assert (len(ids(idx, "kind:study")), len(ids(idx, "kind:passage"))) == (9, 28)
    assert ids(idx, "supervision kind:record") == [] == ids(idx, "kind:record")  # B5 has no records


# --- `cell:B5`, `cell:alcohol/B5`, `matrix:alcohol`: only that cell / matrix

@pytest.mark.parametrize(("query", "expected"), [
    ("cell:B5", only(cells={"b5"})),
    ("cell:b5", only(cells={"b5"})),
    ("cell:alcohol/B5", only(cells={"alcohol/b5"})),
    ("cell:drugs/A1,B5", only(cells={"drug/a1", "b5"})),
    ("matrix:alcohol", only(matrices={"alcohol"})),
    ("matrix:Drugs", only(matrices={"drug"})),
    ("matrix:page", only(matrices={"page"})),
])
def test_cell_and_matrix_filters_parse(query: str, expected: dict[str, object]) -> None:
    assert clauses(query) == []
    assert filters(query) == expected


@pytest.mark.parametrize(("query", "message"), [
    ("cell:F9", "unknown cell 'F9'"), ("cell:tobacco/B5", "unknown cell 'tobacco/B5'"),
    ("matrix:tobacco", "unknown matrix 'tobacco'"),
])
def test_unknown_cells_and_matrices_are_refused(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=f"^{re.escape(message)}$"):
        parse_query(query)


def test_cell_and_matrix_filters_keep_only_that_cell(idx: SearchIndex) -> None:
    everything = ids(idx, "supervision")
    for query in ("cell:B5", "cell:alcohol/B5", "matrix:alcohol"):
        assert ids(idx, f"supervision {query}") == everything, query
    for query in ("cell:C1", "cell:drug/B5", "matrix:drug", "matrix:page"):
        assert ids(idx, f"supervision {query}") == [], query
    assert len(ids(idx, "cell:B5")) == 37  # a filter alone lists the whole cell


# --- `year:2008`, `year:[2005 TO 2010]`, `year:>=2010`, `year:<2005`: only those years

@pytest.mark.parametrize(("query", "years"), [
    ("year:2008", (2008, 2008)),
    ("year:[2005 TO 2010]", (2005, 2010)),
    ("year:[2010 TO 2005]", (2005, 2010)),  # reversed bounds are swapped
    ("year:{2005 to 2010}", (2005, 2010)),
    ("year:2005-2010", (2005, 2010)),
    ("year:2005..2010", (2005, 2010)),
    ("year:[* TO 2010]", (None, 2010)),
    ("year:>=2010", (2010, None)),
    ("year:>2010", (2011, None)),
    ("year:<=2005", (None, 2005)),
    ("year:<2005", (None, 2004)),
    ("year:>=2005 year:<2010", (2005, 2009)),  # two filters: both hold
])
def test_year_filters_parse_to_inclusive_bounds(query: str, years: tuple[int | None, int | None]) -> None:
    assert clauses(query) == []
    assert filters(query) == only(years=years)


@pytest.mark.parametrize(("query", "message"), [
    ("year:soon", "bad year 'soon'"), ("year:99999", "year:99999 is out of range"),
    ("year:>=abc", "bad year 'abc'"),
])
def test_bad_years_are_refused(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=f"^{re.escape(message)}$"):
        parse_query(query)


@pytest.mark.parametrize(("query", "lo", "hi"), [
    ("year:2008", 2008, 2008), ("year:[2005 TO 2010]", 2005, 2010), ("year:>=2010", 2010, 9999),
    ("year:<2005", 0, 2004),
])
def test_year_filters_keep_only_dated_documents_in_range(idx: SearchIndex, query: str, lo: int,
                                                         hi: int) -> None:
    hits = idx.search(query, limit=100).hits
    assert hits and all(h.year is not None and lo <= h.year <= hi for h in hits)
    in_range = [h for h in idx.search("kind:study", limit=100).hits
                if h.year is not None and lo <= h.year <= hi]
    assert {h.id for h in hits} == {h.id for h in in_range}


# --- filters restrict while the words rank; anything else is words

def test_filters_and_words_combine_and_options_are_the_same_filters(idx: SearchIndex) -> None:
    parsed = parse_query("supervision type:K,R year:>=2005")
    assert [c.text for c in parsed.clauses] == ["supervision"]
    assert filters("supervision type:K,R year:>=2005") == only(types={"K", "R"}, years=(2005, None))
    by_syntax = ids(idx, "supervision type:K,R year:>=2005")
    by_options = ids(idx, "supervision", study_type="K,R", year_from=2005)
    assert by_syntax == by_options and by_syntax


@pytest.mark.parametrize("query", [
    "Can motivational interviewing work in criminal justice settings?",
    "what's the 'glue' of supervision & rapport: (offender", 'unbalanced "quote', "[2005 TO", "((",
    "title:", "type:", "&&", "*", "?????", "AND OR NOT", "\\", "~2", "^", "{", "}",
])
def test_punctuation_is_never_an_error(idx: SearchIndex, query: str) -> None:
    parse_query(query)
    idx.search(query)


def test_a_question_typed_in_full_is_its_words() -> None:
    assert [c.text for c in parse_query("Can MI work in prisons?").clauses] == [
        "Can", "MI", "work", "in", "prisons?",
    ]
    assert filters("Can MI work in prisons?") == NO_FILTERS
    assert clauses("title:") == [] and filters("title: year:") == NO_FILTERS


def test_the_parser_enforces_the_documented_limits() -> None:
    assert len(parse_query(" ".join(["+w"] * MAX_CLAUSES)).clauses) == MAX_CLAUSES
    with pytest.raises(QueryError, match=f"the limit is {MAX_CLAUSES}$"):
        parse_query(" ".join(["+w"] * (MAX_CLAUSES + 1)))
    # plain words are never refused: a pasted paragraph is searched by its most informative ones
    assert len(parse_query(" ".join(["w"] * (MAX_CLAUSES * 3))).clauses) == MAX_CLAUSES * 3
    with pytest.raises(QueryError, match=f"the limit is {MAX_QUERY_CHARS:,}$"):
        parse_query("x" * (MAX_QUERY_CHARS + 1))
    assert parse_query("type:K " * 200 + "x").clauses == [Clause("x", "word")]  # filters are not terms
