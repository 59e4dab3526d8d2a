"""Facets, filters, sorting, paging, similar/related documents, explain: library and CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from evsearch import Explanation, Facets, QueryError, Related, SearchIndex, SimilarResult
from evsearch.cli import cli

# B5's ids (see evsearch.ingest.documents)
P10 = "alcohol/B5/are-the-practitioners-therapeutic/5"
P13 = "alcohol/B5/best-to-split-therapy/3"
P24 = "alcohol/B5/the-trickier-the-situation/9"
S1 = "alcohol/B5/k2008-relationship-therapist-seems"
S2 = "alcohol/B5/k2014-client-centred-supervision"
S5 = "alcohol/B5/r2002-supervising-offenders-quality"
S7 = "alcohol/B5/r2005-motivational-interviewing-work"
S8 = "alcohol/B5/g2005-manual-research-based"

# --- library ---------------------------------------------------------------------------------


def test_facets_count_every_match_not_just_the_page(idx: SearchIndex) -> None:
    result = idx.search("supervision", limit=2, facets=True)
    assert result.total == 16 and len(result.hits) == 2
    assert isinstance(result.facets, Facets)
    assert result.facets.to_dict() == {
        "kind": {"passage": 12, "study": 4},
        "type": {"K": 2, "G": 1, "R": 1},
        "year": {"2002": 1, "2005": 1, "2008": 1, "2014": 1},
        "decade": {"2000s": 3, "2010s": 1},
        "matrix": {"alcohol": 16},
        "cell": {"alcohol/B5": 16},
    }
    assert idx.search("supervision").facets is None


def test_filters_as_options_and_as_query_syntax_agree(idx: SearchIndex) -> None:
    by_option = idx.search("supervision", study_type="K,R", year_from=2005, facets=True)
    by_query = idx.search("supervision type:K,R year:>=2005", facets=True)
    assert [h.id for h in by_option.hits] == [h.id for h in by_query.hits] == [
        "alcohol/B5/k2014-client-centred-supervision", "alcohol/B5/k2008-relationship-therapist-seems"]
    assert by_option.facets == by_query.facets
    assert by_option.facets is not None and by_option.facets.to_dict()["type"] == {"K": 2}
    combined = idx.search("offenders", kind="study", matrix="alcohol", cell="B5", year_to=2005)
    assert [h.id for h in combined.hits] == [S5, S8]
    assert idx.search("offenders", matrix="drug").total == 0


def test_sort_by_year_both_ways_undated_last_ties_stable(idx: SearchIndex) -> None:
    labels = {d.id: f"s{i}" for i, d in enumerate(idx.documents(kind="study"), start=1)}

    def order(query: str, sort: str) -> list[tuple[str, int | None]]:
        return [(labels.get(h.id, h.id), h.year) for h in idx.search(query, sort=sort, limit=100).hits]

    assert order("offenders", "year")[:4] == [("s5", 2002), ("s8", 2005), ("s1", 2008), ("s2", 2014)]
    # equal years (and equal scores: a filter-only query) keep the cell's order both ways
    assert order("kind:study", "year") == [
        ("s5", 2002), ("s6", 2005), ("s7", 2005), ("s8", 2005), ("s1", 2008), ("s4", 2008),
        ("s2", 2014), ("s9", 2015), ("s3", 2016),
    ]
    assert order("kind:study", "-year") == [
        ("s3", 2016), ("s9", 2015), ("s2", 2014), ("s1", 2008), ("s4", 2008), ("s6", 2005),
        ("s7", 2005), ("s8", 2005), ("s5", 2002),
    ]
    mixed = idx.search("supervision", sort="-year", limit=100).hits
    assert [h.year for h in mixed][:4] == [2014, 2008, 2005, 2002]
    assert all(h.year is None for h in mixed[4:])
    undated = [h.score for h in mixed[4:]]
    assert undated == sorted(undated, reverse=True)


def test_pages_partition_the_ranking(idx: SearchIndex) -> None:
    everything = idx.search("supervision", limit=100)
    pages = [idx.search("supervision", limit=5, page=n) for n in (1, 2, 3, 4)]
    assert [p.pages for p in pages] == [4, 4, 4, 4]
    assert [h.id for p in pages for h in p.hits] == [h.id for h in everything.hits]
    assert [h.rank for p in pages for h in p.hits] == list(range(1, 17))
    assert all(p.total == 16 for p in pages)
    assert idx.search("supervision", limit=5, page=9).hits == ()
    assert pages[1].to_dict()["page"] == 2 and pages[1].to_dict()["pages"] == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"page": 0}, "page must be 1 or more, not 0"),
        ({"sort": "date"}, "unknown sort 'date'"),
        ({"year_from": 99}, "year 99 is out of range"),
        ({"matrix": "tobacco"}, "unknown matrix 'tobacco'"),
    ],
)
def test_bad_search_options_are_query_errors(idx: SearchIndex, kwargs: dict, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        idx.search("supervision", **kwargs)


def test_similar_finds_documents_sharing_key_terms(idx: SearchIndex) -> None:
    result = idx.similar("alcohol/B5/r2005-motivational-interviewing-work", limit=3)
    assert isinstance(result, SimilarResult)
    assert result.terms[:5] == ("motivational", "ethos", "punishing", "undermine", "interviewing")
    assert S7 not in [h.id for h in idx.similar(S7, limit=100).hits]
    assert [h.id for h in result.hits] == [P10, P24, S2]
    assert [h.id for h in idx.similar(S7, kind="study", limit=2).hits] == [
        "alcohol/B5/k2014-client-centred-supervision", "alcohol/B5/k2016-job-perception-lack"]


def test_similar_to_a_pasted_text(idx: SearchIndex) -> None:
    pasted = idx.get(S7).text
    result = idx.similar(text=pasted, limit=3)
    assert result.id is None and result.hits[0].id == S7  # the source itself first
    assert all(t.isalpha() and t == t.lower() for t in result.terms)
    assert "punishing" in result.terms  # words as written, not stems ("punish")
    with pytest.raises(QueryError):
        idx.similar()
    with pytest.raises(QueryError):
        idx.similar(S7, text="both")


def test_related_links_a_study_to_its_commentary(idx: SearchIndex) -> None:
    related = idx.related("alcohol/B5/k2008-relationship-therapist-seems")
    assert isinstance(related, Related)
    assert related.sections == ("Are the practitioner's therapeutic skills really unimportant?",)
    assert [p.id for p in related.passages] == [
        f"alcohol/B5/are-the-practitioners-therapeutic/{n}" for n in range(1, 6)]
    assert [s.id for s in related.studies] == [S5, S7]
    back = idx.related("alcohol/B5/are-the-practitioners-therapeutic/2")
    assert back.passages == () and [s.id for s in back.studies] == [
        S1, S5, S7]
    assert idx.related(S2) == Related(S2, ())


def test_explain_gives_per_field_term_contributions(idx: SearchIndex) -> None:
    exp = idx.explain("motivational interviewing prison", "alcohol/B5/r2005-motivational-interviewing-work")
    assert isinstance(exp, Explanation) and exp.matched and exp.reason is None
    assert exp.score == idx.search("motivational interviewing prison", limit=1).hits[0].score
    assert [(t.field, t.term, t.frequency, t.weight) for t in exp.terms] == [
        ("title", "motiv interview", 1, 3.0), ("title", "interview", 1, 3.0),
        ("text", "motiv", 2, 1.0), ("title", "motiv", 1, 3.0),
        ("text", "motiv interview", 1, 1.0), ("text", "interview", 1, 1.0),
    ]  # the words, and the phrase of the field's term they make (a synonym-table entry)
    assert exp.missing == ("prison",)
    assert exp.term_total == pytest.approx(exp.score, abs=1e-3)  # the scorer's own numbers
    excluded = idx.explain("motivational -interviewing", "alcohol/B5/r2005-motivational-interviewing-work")
    assert not excluded.matched and excluded.reason == "it contains an excluded word"
    filtered = idx.explain("motivational type:G", "alcohol/B5/r2005-motivational-interviewing-work")
    assert not filtered.matched and filtered.score == 0.0
    assert idx.explain("probation", S7).reason == "it does not match the query's words"


@pytest.mark.parametrize("query", ["domestic violence", "MI in the CJS", "peer mentors probation"])
def test_explain_scores_as_search_does(idx: SearchIndex, query: str) -> None:
    # synonym expansions included: each hit's explained score is its search score
    for hit in idx.search(query, limit=5).hits:
        exp = idx.explain(query, hit.id)
        assert exp.score == hit.score and exp.term_total == pytest.approx(hit.score, abs=1e-3)


# --- CLI -------------------------------------------------------------------------------------


@pytest.fixture()
def run(built_index: Path):
    """Invoke the CLI on the shared index, 80 columns wide, colour allowed unless asked."""

    def invoke(*args: str, color: bool = False, env: dict[str, str | None] | None = None) -> Result:
        runner = CliRunner()
        base = {"COLUMNS": "80", "NO_COLOR": None}
        return runner.invoke(cli, [*args, "--index", str(built_index)], env={**base, **(env or {})},
                             color=color)

    return invoke


def test_cli_facets_sort_and_paging(run) -> None:
    result = run("search", "supervision", "--kind", "study", "--facets", "--sort", "year",
                 "--limit", "1", "--page", "3", "--no-color")
    assert result.exit_code == 0
    assert result.output == """\
kind     study (4)
type     K (2), G (1), R (1)
year     2002 (1), 2005 (1), 2008 (1), 2014 (1)
decade   2000s (3), 2010s (1)
matrix   alcohol (4)
cell     alcohol/B5 (4)

4 matching documents; showing 3-3 (page 3 of 4).

 3. [K 2008] Relationship with therapist seems more important for offenders than
    other clients
    alcohol/B5  alcohol/B5/k2008-relationship-therapist-seems  score 0.41
    At a Canadian substance use rehabilitation centre, seeing their therapist as
    understanding and involved was related to whether patients under criminal
    justice supervision/pressure completed treatment, and the relationship was
    stronger than for other clients. …

"""


def test_cli_json_keeps_total_over_all_pages(run) -> None:
    result = run("search", "supervision", "--limit", "5", "--page", "4", "--json")
    data = json.loads(result.output)
    assert (data["total"], data["page"], data["pages"], data["limit"]) == (16, 4, 4, 5)
    assert [h["rank"] for h in data["hits"]] == [16]
    assert data["sort"] == "relevance" and data["facets"] is None
    assert json.loads(run("search", "supervision", "--format", "json").output) == json.loads(
        run("search", "supervision", "--json").output)


def test_cli_filter_options_match_query_syntax(run) -> None:
    by_option = run("search", "supervision", "--type", "K", "--type", "R", "--year-from", "2005",
                    "--brief")
    by_query = run("search", "supervision type:K,R year:>=2005", "--brief")
    assert by_option.output == by_query.output == (
        "alcohol/B5/k2014-client-centred-supervision      0.57  [K 2014] Client-centred supervision "
        "motivates UK offenders\n"
        "alcohol/B5/k2008-relationship-therapist-seems    0.41  [K 2008] Relationship with therapist seems "
        "more important for offenders than other clients\n"
    )
    both = run("search", "offenders", "--matrix", "alcohol", "--cell", "B5", "--year-to", "2002",
               "--brief")
    assert both.output == (
        "alcohol/B5/r2002-supervising-offenders-quality    0.73  [R 2002] Supervising offenders is about "
        "the quality of the relationship\n"
    )


def test_cli_brief_is_one_line_per_hit(run) -> None:
    result = run("search", "supervision", "--brief", "--limit", "3", "--sort", "-year")
    assert result.output == """\
alcohol/B5/k2014-client-centred-supervision      0.57  [K 2014] Client-centred supervision motivates UK \
offenders
alcohol/B5/k2008-relationship-therapist-seems    0.41  [K 2008] Relationship with therapist seems more \
important for offenders than other clients
alcohol/B5/g2005-manual-research-based           0.66  [G 2005] Manual for research-based offender \
supervision
"""


def test_cli_jsonl_is_one_hit_per_line(run) -> None:
    lines = run("search", "supervision", "--format", "jsonl", "--limit", "3").output.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [
        S5, S8, P13]
    assert json.loads(lines[0])["rank"] == 1


def test_cli_csv_has_the_json_hit_columns(run) -> None:
    output = run("search", "supervision", "--format", "csv", "--limit", "2").output
    rows = list(csv.DictReader(io.StringIO(output)))
    assert output.splitlines()[0] == (
        "rank,score,id,kind,cell,title,section,study_type,year,organisation,role,links,snippet,text")
    assert [(r["rank"], r["id"], r["study_type"], r["year"]) for r in rows] == [
        ("1", S5, "R", "2002"), ("2", S8, "G", "2005")]
    assert rows[0]["links"] == (
        "Where should I start?; Are the practitioner's therapeutic skills really unimportant?")


def test_cli_ris_exports_studies_for_reference_managers(run) -> None:
    result = run("search", "supervision", "--type", "K", "--format", "ris", "--limit", "1")
    assert result.exit_code == 0
    assert result.stdout == """\
TY  - GEN
ID  - alcohol/B5/k2014-client-centred-supervision
TI  - Client-centred supervision motivates UK offenders
PY  - 2014
PB  - [UK] Ministry of Justice
AB  - Survey of offenders who started community sentences in 2009 to 2010 in England and Wales \
found they generally had good relationships with their offender manager. Nearly three-quarters \
with an identified alcohol-related need had discussed this with their offender manager; of these, \
just over half found the discussions "very useful", the highest of all the identified needs. \
Offender managers who holistically addressed offenders' multiple needs seemed to motivate them to \
make positive changes in their lives.
KW  - alcohol/B5
KW  - key study
N1  - Treatment Matrix cell alcohol/B5, type K
DB  - Drug and Alcohol Findings Treatment Matrices
ER  - \n
"""
    mixed = run("search", "supervision", "--format", "ris", "--limit", "3")
    assert mixed.stdout.count("TY  - GEN") == 2
    assert mixed.stderr == "note: left out 1 passage: RIS holds studies only (add --kind study)\n"


def test_cli_show_prints_related_documents(run) -> None:
    result = run("show", "alcohol/B5/k2008-relationship-therapist-seems")
    assert result.exit_code == 0
    assert result.output == """\
Relationship with therapist seems more important for offenders than other
clients
alcohol/B5/k2008-relationship-therapist-seems  study, type K  (2008)  alcohol/B5

At a Canadian substance use rehabilitation centre, seeing their therapist as
understanding and involved was related to whether patients under criminal
justice supervision/pressure completed treatment, and the relationship was
stronger than for other clients. Alcohol was the most common problem use
substance.

Discussed in: Are the practitioner's therapeutic skills really unimportant?

Passages that discuss it:
  alcohol/B5/are-the-practitioners-therapeutic/1  Research may be sparse, but…
  alcohol/B5/are-the-practitioners-therapeutic/2  The glue of the supervision…
  alcohol/B5/are-the-practitioners-therapeutic/3  Therapists in the Canadian…
  alcohol/B5/are-the-practitioners-therapeutic/4  The "deportment" she…
  alcohol/B5/are-the-practitioners-therapeutic/5  The starting point review…

Other studies discussed there:
  alcohol/B5/r2002-supervising-offenders-quality
    [R 2002] Supervising offenders is about the quality of the relationship
  alcohol/B5/r2005-motivational-interviewing-work
    [R 2005] Can motivational interviewing work in criminal justice settings?
"""
    data = json.loads(run("show", "alcohol/B5/are-the-practitioners-therapeutic/2", "--json").output)
    assert data["id"] == "alcohol/B5/are-the-practitioners-therapeutic/2"
    assert [s["id"] for s in data["related"]["studies"]] == [
        S1, S5, S7]
    assert data["related"]["passages"] == []


def test_cli_similar(run) -> None:
    result = run("similar", S7, "--kind", "study", "--limit", "2", "--brief")
    assert result.output == """\
alcohol/B5/k2014-client-centred-supervision    0.69  [K 2014] Client-centred supervision motivates UK \
offenders
alcohol/B5/k2016-job-perception-lack           0.49  [K 2016] 'Not my job' perception and lack of \
confidence impede assessment of domestic violence
"""
    text = run("similar", "alcohol/B5/r2005-motivational-interviewing-work", "--limit", "1").output
    assert text.splitlines()[:4] == [
        "Documents like alcohol/B5/r2005-motivational-interviewing-work (key terms: motivational, ethos, "
        "punishing, undermine, interviewing, arm, twisting, asks, contradictions, effectiveness, "
        "centred, time)",
        "12 matching documents; showing 1.",
        "",
        " 1. Are the practitioner's therapeutic skills really unimportant?",
    ]
    data = json.loads(run("similar", S7, "--json", "--limit", "1").output)
    assert (data["id"], data["total"], data["hits"][0]["id"]) == (S7, 12, P10)


def test_cli_explain(run) -> None:
    result = run("explain", "motivational interviewing prison", S7)
    assert result.exit_code == 0
    assert result.output == """\
alcohol/B5/r2005-motivational-interviewing-work matches 'motivational interviewing prison' with score 4.10.

  field        term             tf length weight   bm25f contribution
  title        motiv interview   1      6   3.00    0.32         0.95
  title        interview         1      6   3.00    0.27         0.80
  text         motiv             2     18   1.00    0.72         0.72
  title        motiv             1      6   3.00    0.21         0.62
  text         motiv interview   1     18   1.00    0.55         0.55
  text         interview         1     18   1.00    0.46         0.46

Not in the document: prison
"""
    excluded = run("explain", "motivational -interviewing", "alcohol/B5/r2005-motivational-interviewing-work")
    assert excluded.output.splitlines()[0] == (
        "alcohol/B5/r2005-motivational-interviewing-work does not match 'motivational -interviewing': "
        "it contains an excluded word.")
    data = json.loads(run("explain", "motivational interviewing", S7, "--json").output)
    assert data["matched"] is True and data["terms"][0] == {
        "field": "title", "term": "motiv interview", "frequency": 1, "field_length": 6, "weight": 3.0,
        "score": 0.3178, "contribution": 0.9533,
    }
    assert sum(t["contribution"] for t in data["terms"]) == pytest.approx(data["score"], abs=1e-3)


def test_cli_errors(run) -> None:
    bad_year = run("search", "supervision", "--year-from", "99")
    assert (bad_year.exit_code, bad_year.stderr) == (
        1, "Error: year 99 is out of range\nHint: years run from 1000 to 2999\n")
    missing = run("similar", "alcohol/B5/s99")
    assert (missing.exit_code, missing.stderr) == (
        1, "Error: no document with id 'alcohol/B5/s99'\n"
           "Hint: ids look like alcohol/B5/k2008-relationship-therapist-seems or "
           "alcohol/B5/where-should-i-start/1\n")
    clash = run("search", "supervision", "--json", "--format", "csv")
    assert clash.exit_code == 2
    assert clash.stderr.endswith("Error: --json is --format json; it cannot go with --format csv\n")
    assert run("search", "supervision", "--sort", "date").exit_code == 2
    assert run("search", "supervision", "--page", "0").exit_code == 2


def test_colour_only_when_allowed(run, built_index: Path) -> None:
    args = ("search", "supervision", "--limit", "1")
    coloured = run(*args, color=True).output
    assert click.style("supervision", fg="yellow", bold=True) in coloured
    assert "\x1b[" not in run(*args, color=True, env={"NO_COLOR": "1"}).output
    assert "\x1b[" not in run(*args, "--no-color", color=True).output
    assert "\x1b[" not in run(*args).output  # not a terminal
    plain = CliRunner().invoke(cli, ["--no-color", *args, "--index", str(built_index)],
                               env={"COLUMNS": "80", "NO_COLOR": None}, color=True)
    assert "\x1b[" not in plain.output


def test_text_wraps_to_the_terminal_width(run) -> None:
    narrow = run("search", "supervision", "--limit", "1", env={"COLUMNS": "40"}).output
    snippet_lines = [line for line in narrow.splitlines() if line.startswith("    ")][1:]
    # every line fits, but for a single word (an id) longer than the width
    assert snippet_lines and all(len(line) <= 40 or " " not in line.strip() for line in snippet_lines)


def test_every_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0 and "_EVSEARCH_COMPLETE=bash_source evsearch" in top.output
    assert set(cli.commands) >= {"index", "search", "show", "similar", "explain", "stats"}
    for name, command in cli.commands.items():
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert command.help and ("Example:" in result.output or "Examples:" in result.output), name
        assert f"evsearch {name}" in result.output, name


def test_version() -> None:
    from evsearch import __version__

    assert CliRunner().invoke(cli, ["--version"]).output == f"evsearch, version {__version__}\n"


def test_cli_explain_prints_no_contributions_for_a_document_that_does_not_match(run) -> None:
    result = run("explain", "probation officers", S7)
    assert result.output == (
        f"{S7} does not match 'probation officers': it does not match the query's words.\n"
        "Not in the document: probat, offic\n"
    )


@pytest.mark.parametrize("query", ["domestic abuse", "MI in the CJS", "Can motivational interviewing "
                                   "work in criminal justice settings?", "dropout"])
def test_cli_explain_contributions_add_up_to_the_score(run, query: str) -> None:
    data = json.loads(run("search", query, "--json", "--limit", "3").output)
    assert data["hits"]
    for hit in data["hits"]:
        exp = json.loads(run("explain", query, hit["id"], "--json").output)
        assert exp["score"] == hit["score"]
        assert sum(t["contribution"] for t in exp["terms"]) == pytest.approx(hit["score"], abs=2e-3)
