"""The command line through click's CliRunner: outputs, the JSON contract, error paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evsearch.cli import cli
from tests.conftest import CORPUS

# B5's ids (see evsearch.ingest.documents)
S7 = "alcohol/B5/r2005-motivational-interviewing-work"

HIT_KEYS = {"rank", "score", "id", "kind", "cell", "title", "section", "study_type", "year",
            "snippet", "text"}


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, *args: str, index: Path | None = None) -> tuple[int, str, str]:
    argv = list(args)
    if index is not None:
        argv += ["--index", str(index), "--corpus", str(CORPUS)]
    result = runner.invoke(cli, argv, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_search_builds_the_index_on_first_use(runner: CliRunner, tmp_path: Path) -> None:
    index = tmp_path / "index"
    code, out, _ = run(runner, "search", "domestic violence", "--json", index=index)
    assert code == 0
    data = json.loads(out)
    assert data["hits"][0]["id"] == "alcohol/B5/k2016-job-perception-lack"
    assert (index / "CURRENT").is_file()


def test_search_json_contract(runner: CliRunner, built_index: Path) -> None:
    code, out, _ = run(runner, "search", "motivational interviewing", "--json", "--limit", "3",
                       index=built_index)
    assert code == 0
    data = json.loads(out)
    assert {"query", "total", "suggestion", "hits"} <= set(data)
    assert data["query"] == "motivational interviewing" and data["suggestion"] is None
    assert len(data["hits"]) == 3 and data["total"] > 3
    for rank, hit in enumerate(data["hits"], start=1):
        assert HIT_KEYS <= set(hit)
        assert hit["rank"] == rank and hit["cell"] == "alcohol/B5"
        assert "<mark>" in hit["snippet"]
    study = data["hits"][0]
    assert study == {**study, "id": S7, "kind": "study", "study_type": "R",
                     "year": 2005, "section": None,
                     "title": "Can motivational interviewing work in criminal justice settings?"}
    passages = [h for h in data["hits"] if h["kind"] == "passage"]
    assert passages and all(h["study_type"] is None and h["year"] is None for h in passages)
    assert all(h["title"] == h["section"] for h in passages)


def test_zero_hits_is_exit_0_with_empty_hits(runner: CliRunner, built_index: Path) -> None:
    code, out, _ = run(runner, "search", "xylophone", "--json", index=built_index)
    assert code == 0
    assert json.loads(out) == {"query": "xylophone", "total": 0, "suggestion": None,
                               "corrected": False, "hits": [], "page": 1, "pages": 0,
                               "limit": 10, "sort": "relevance", "facets": None}
    code, out, _ = run(runner, "search", "xylophone", index=built_index)
    assert code == 0 and out == "No matches.\n"


def test_search_options_filter(runner: CliRunner, built_index: Path) -> None:
    code, out, _ = run(runner, "search", "offenders", "--type", "k", "--json", index=built_index)
    assert code == 0
    hits = json.loads(out)["hits"]
    assert hits and {h["study_type"] for h in hits} == {"K"}
    code, out, _ = run(runner, "search", "offenders", "--kind", "passage", "--cell", "B5",
                       "--json", index=built_index)
    assert {h["kind"] for h in json.loads(out)["hits"]} == {"passage"}


def test_search_text_output(runner: CliRunner, built_index: Path) -> None:
    code, out, _ = run(runner, "search", "Welsh mothers", "--limit", "2", index=built_index)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "2 matching documents; showing 2."
    assert lines[2:4] == [  # the heading wraps like the snippet (at 100 columns here)
        " 1. [K 2008] Mothers in Wales see staff support as critical to child welfare and keeping families",
        "    together (Welsh Assembly Government)",
    ]
    assert lines[4].startswith("    alcohol/B5  alcohol/B5/k2008-mothers-wales-staff  score ")
    assert "\x1b[" not in out  # no colour when not a terminal


@pytest.mark.parametrize(
    "options", [[], ["--brief"], ["--format", "csv"], ["--format", "jsonl"], ["--format", "ris"]]
)
def test_misspelt_query_says_what_it_searched(
    runner: CliRunner, built_index: Path, options: list[str]
) -> None:
    code, out, err = run(runner, "search", "motivatonal intervewing", *options, index=built_index)
    assert code == 0 and "alcohol/B5/r2005-motivational-interviewing-work" in out
    assert err.splitlines()[0] == (
        "note: showing results for 'motivational interviewing' instead of 'motivatonal intervewing', "
        "which found nothing (--no-correct: search as typed)"
    )


def test_no_correct_searches_as_typed(runner: CliRunner, built_index: Path) -> None:
    code, out, err = run(runner, "search", "motivatonal intervewing", "--no-correct", "--json",
                         index=built_index)
    data = json.loads(out)
    assert code == 0 and data["total"] == 0 and data["corrected"] is False
    assert data["suggestion"] == "motivational interviewing"
    code, out, err = run(runner, "search", "offender supervison", "--brief", index=built_index)
    assert err.strip() == "note: did you mean 'offender supervision'?"


def test_show_and_stats(runner: CliRunner, built_index: Path) -> None:
    code, out, _ = run(runner, "show", "alcohol/B5/r2002-supervising-offenders-quality", index=built_index)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Supervising offenders is about the quality of the relationship"
    assert lines[1] == "alcohol/B5/r2002-supervising-offenders-quality  study, type R  (2002)  alcohol/B5"
    assert ("Discussed in: Where should I start?; "
            "Are the practitioner's therapeutic skills really unimportant?") in lines
    code, out, _ = run(runner, "stats", "--json", index=built_index)
    stats = json.loads(out)
    assert (stats["cells"], stats["studies"], stats["passages"]) == (1, 9, 28)
    assert stats["index_dir"] == str(built_index)


def test_error_unknown_document(runner: CliRunner, built_index: Path) -> None:
    code, out, err = run(runner, "show", "alcohol/B5/s99", index=built_index)
    assert code == 1 and out == ""
    assert err == ("Error: no document with id 'alcohol/B5/s99'\n"
                   "Hint: ids look like alcohol/B5/k2008-relationship-therapist-seems or "
                   "alcohol/B5/where-should-i-start/1\n")


def test_error_bad_query_filter(runner: CliRunner, built_index: Path) -> None:
    code, _, err = run(runner, "search", "type:X", index=built_index)
    assert code == 1
    assert err == ("Error: unknown study type 'X'\n"
                   "Hint: study types are S (seminal), K (key), R (review), G (guidance)\n")


def test_error_no_index_for_stats(runner: CliRunner, tmp_path: Path) -> None:
    code, _, err = run(runner, "stats", index=tmp_path / "nothing")
    assert code == 1
    assert err.splitlines() == [f"Error: no index at {tmp_path / 'nothing'}",
                                "Hint: run `evsearch index` to build it, or pass --index DIR"]


def test_error_index_path_is_a_file(runner: CliRunner, tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    code, _, err = run(runner, "search", "x", index=f)
    assert code == 1 and err.startswith(f"Error: {f} is not a directory\n")


def test_error_foreign_directory_is_left_alone(runner: CliRunner, tmp_path: Path) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"\xff\xd8")
    code, _, err = run(runner, "index", index=foreign)
    assert code == 1
    assert "is not empty and is not an evsearch index; not touching it" in err
    assert [p.name for p in foreign.iterdir()] == ["holiday.jpg"]


def test_error_missing_corpus(runner: CliRunner, tmp_path: Path) -> None:
    code, _, err = run(runner, "index", "--corpus", str(tmp_path / "none"),
                       "--index", str(tmp_path / "ix"))
    assert code == 1
    assert err.splitlines()[0] == f"Error: no corpus directory at {tmp_path / 'none'}"
    assert err.splitlines()[1].startswith("Hint: ")
    assert not (tmp_path / "ix").exists()


def test_usage_errors_exit_2(runner: CliRunner, built_index: Path) -> None:
    code, _, err = run(runner, "search", "x", "--limit", "0", index=built_index)
    assert code == 2 and "Invalid value for '-n' / '--limit'" in err
    code, _, _ = run(runner, "search", "x", "--type", "Z", index=built_index)
    assert code == 2
    assert run(runner, "frobnicate")[0] == 2


def test_index_command_reports(runner: CliRunner, tmp_path: Path) -> None:
    code, out, _ = run(runner, "index", "--json", index=tmp_path / "ix")
    assert code == 0
    report = json.loads(out)
    assert report["documents"] == 37 and report["problems"] == []


def test_every_command_has_help_with_an_example(runner: CliRunner) -> None:
    code, out, _ = run(runner, "--help")
    assert code == 0 and "Example:" in out
    for name, command in cli.commands.items():
        code, out, _ = run(runner, name, "--help")
        assert code == 0, name
        assert command.help and "Example" in out, name


def test_version(runner: CliRunner) -> None:
    code, out, _ = run(runner, "--version")
    assert code == 0 and out.startswith("evsearch, version ")
