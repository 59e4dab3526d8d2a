"""Hostile and broken input: fuzzed ingest and queries, escaped output, bounded work, safe paths.

The property tests share their strategies and checks with ``scripts/fuzz.py`` (which runs
them at scale); each bug the fuzzer found has a regression test here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from evsearch import build_index, open_index  # noqa: E402
from evsearch.cli import clean, cli  # noqa: E402
from evsearch.errors import CorpusError, IngestError, QueryError  # noqa: E402
from evsearch.ingest import (  # noqa: E402
    MAX_CELL_FILE_BYTES,
    discover_cell_files,
    parse_cell_text,
    read_cell_file,
)
from evsearch.search.query import MAX_CLAUSES, MAX_QUERY_CHARS  # noqa: E402
from tests._bounds import assert_scales_linearly  # noqa: E402
from tests._scripts import load_script  # noqa: E402
from tests.conftest import B5, CORPUS  # noqa: E402


def _load_fuzz() -> ModuleType:
    return load_script("fuzz", "evsearch_fuzz")


fuzz = _load_fuzz()
FAST = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled cell plus a cell full of markup, entities and terminal escapes."""
    return fuzz.build_hostile_index(tmp_path_factory.mktemp("hostile"))


@pytest.fixture()
def hidx(hostile_index: Path) -> Iterator[Any]:
    with open_index(index=hostile_index) as index:
        yield index


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- properties


@FAST
@given(fuzz.cell_bytes())
def test_any_text_file_is_parsed_or_refused_cleanly(tmp_path_factory: Any, data: bytes) -> None:
    assert fuzz.check_text(data, tmp_path_factory.mktemp("t")) in ("ok", "refused")


@FAST
@given(fuzz.cell_text())
def test_parsed_text_never_holds_control_characters(text: str) -> None:
    try:
        parsed = parse_cell_text(text, matrix="alcohol", code="B5")
    except IngestError:
        return
    fuzz.assert_clean_documents(parsed)


@FAST
@given(fuzz.query_text)
def test_any_query_is_answered_or_refused(hidx: Any, query: str) -> None:
    assert fuzz.check_query(query, hidx) in ("ok", "refused")


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fuzz.html_bytes())
def test_any_html_file_is_parsed_or_refused_cleanly(tmp_path_factory: Any, data: bytes) -> None:
    pytest.importorskip("evsearch.ingest.html")
    assert fuzz.check_html(data, tmp_path_factory.mktemp("h")) in ("ok", "refused")


# --------------------------------------------------------------------------- ingest: files


def test_an_oversized_file_is_refused_at_the_documented_limit(tmp_path: Path) -> None:
    big = tmp_path / "alcohol" / "B5.txt"
    big.parent.mkdir()
    with open(big, "wb") as fh:  # a sparse 50 MB file: refused from its size, never read
        fh.truncate(50 * 1024 * 1024)
    with pytest.raises(IngestError) as err:
        read_cell_file(big)
    assert err.value.message == (
        f"{big} is 52,428,800 bytes; the limit for a cell file is {MAX_CELL_FILE_BYTES:,} bytes"
    )


def test_an_oversized_file_is_skipped_and_reported_while_the_rest_is_indexed(corpus_copy: Path,
                                                                             tmp_path: Path) -> None:
    with open(corpus_copy / "alcohol" / "B6.txt", "wb") as fh:
        fh.truncate(MAX_CELL_FILE_BYTES + 1)
    code, out, err = run("index", "--corpus", str(corpus_copy), "--index", str(tmp_path / "ix"))
    assert code == 0
    assert f"skipped alcohol/B6.txt: {corpus_copy / 'alcohol' / 'B6.txt'} is 2,097,153 bytes" in err
    assert "added 1," in out


def test_a_fifo_is_refused_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "B5.txt"
    os.mkfifo(fifo)
    with pytest.raises(IngestError, match="is not a regular file"):
        read_cell_file(fifo)


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "holds no text"), (b"\x00" * 1000, "holds binary data"),
    (bytes(range(256)) * 10, "holds binary data"),
    (b"\xff\xfe", "holds no text"), (b"\xfe\xff\x00", "holds binary data"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "holds a PNG image"),
])
def test_binary_and_truncated_files_are_refused_per_file(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(data)
    with pytest.raises(IngestError, match=rf"^.*notes\.txt: {reason}"):
        read_cell_file(path)


def test_a_truncated_utf8_file_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"\xef\xbb\xbfAlcohol Treatment Matrix cell B5\n\n\xc3")
    parsed = read_cell_file(path)
    assert (parsed.cell.key, parsed.studies, parsed.passages) == ("alcohol/B5", (), ())


def test_truncated_utf16_is_decoded_not_a_crash(tmp_path: Path) -> None:
    # fuzz bug 1: an odd byte at the end of a UTF-16 file raised UnicodeDecodeError
    path = tmp_path / "B5.txt"
    path.write_bytes(b"\xff\xfe" + "Alcohol Treatment Matrix cell B5\n\nX; Y\n".encode("utf-16-le") + b"\x00")
    assert read_cell_file(path).cell.key == "alcohol/B5"


def test_mixed_encodings_and_nul_bytes(tmp_path: Path) -> None:
    path = tmp_path / "alcohol" / "B5.txt"
    path.parent.mkdir()
    path.write_bytes(B5.read_bytes() + b"\n\nCaf\xe9 \x00na\xefve paragraph of the text.\n")
    parsed = read_cell_file(path, root=tmp_path)
    assert parsed.passages[-1].text == "Café naïve paragraph of the text."


def test_a_file_with_no_studies_and_no_commentary(tmp_path: Path) -> None:
    parsed = parse_cell_text("Alcohol Treatment Matrix cell C3\n")
    assert (parsed.cell.key, parsed.studies, parsed.passages) == ("alcohol/C3", (), ())


def test_study_lines_with_no_year_or_year_99999() -> None:
    parsed = parse_cell_text(
        "Alcohol Treatment Matrix cell B5\n\nK No year here. A summary.\n\n"
        "K Silly year (99999). A summary.\n\nMORE\n"
    )
    assert [(s.title, s.year) for s in parsed.studies] == [
        ("No year here", None), ("Silly year (99999)", None),
    ]


def test_unicode_rtl_and_zero_width_text_is_kept_and_searchable(tmp_path: Path) -> None:
    text = ("Drug Treatment Matrix cell A1\n\nK İstanbul STRASSE straße \u200fشارع\u200f "
            "zero\u200bwidth ﬁnal (2008). Summary.\n")
    parsed = parse_cell_text(text)
    assert parsed.studies[0].title == "İstanbul STRASSE straße \u200fشارع\u200f zerowidth ﬁnal"


def test_a_100000_line_file_is_parsed_in_linear_time() -> None:
    def parse(paragraphs: int) -> Callable[[], Any]:
        lines = "\n\n".join(f"and more text of the {i}" for i in range(paragraphs))
        return lambda: parse_cell_text("Alcohol Treatment Matrix cell B5\n\nSome text of the\n\n" + lines)

    parsed = assert_scales_linearly(parse, 50_000)  # 100,000 lines against 10,000
    assert parsed.cell.key == "alcohol/B5"
    assert parsed.passages[-1].text.endswith("and more text of the 49999")


def test_long_text_without_full_stops_does_not_make_cross_reference_patterns_quadratic() -> None:
    # fuzz bug 2: "For discussion ..." with no full stop made the cross-reference regexes O(n^2)
    def parse(n: int) -> Callable[[], Any]:
        text = ("Alcohol Treatment Matrix cell B5\n\nK T (2008). " + "For discussion " * n
                + "Discussion in bite's " * n)
        return lambda: parse_cell_text(text)

    parsed = assert_scales_linearly(parse, 20_000)
    assert [s.title for s in parsed.studies] == ["T"]


def test_many_back_references_and_studies_stay_bounded() -> None:
    # fuzz bug 3: every "listed above" sentence was scored against every study
    def parse(n: int) -> Callable[[], Any]:
        studies = "\n\n".join(f"K Study w{i} title (2008). For discussion click here." for i in range(n))
        refs = " ".join(f"The study w{i} listed above." for i in range(n))
        text = f"Alcohol Treatment Matrix cell B5\n\n{studies}\n\nMORE\n\n{refs}"
        return lambda: parse_cell_text(text)

    parsed = assert_scales_linearly(parse, 3000)
    assert len(parsed.studies) == 3000


# --------------------------------------------------------------------------- HTML (after merge)


def _htm(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "alcohol" / "B5.htm"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


_CELL_HEAD = "<html><head><title>Alcohol Treatment Matrix cell B5: X; Y</title></head><body>"
_DEEP_TEXT = "Deep text of the page about supervision of offenders in the community."


@pytest.mark.parametrize(("opened", "closed", "repeats"), [
    ("<div>", "</div>", 10_000),
    ("<span>", "</span>", 10_000),
    ("<b><i>", "", 5_000),  # never closed
    ("<table><tr><td>", "</td></tr></table>", 3_000),
    ("<ul><li>", "", 5_000),
    ("<aside class='side'>", "", 10_000),
])
def test_html_nested_10000_levels_is_read_not_refused(tmp_path: Path, opened: str, closed: str,
                                                       repeats: int) -> None:
    # fuzz bug 5: past ~330 levels the walker hit RecursionError and the page was refused
    # (and took 20-40 s: bs4's tag.decomposed searches the subtree, so pruning was quadratic)
    pytest.importorskip("evsearch.ingest.html")

    def read(n: int) -> Callable[[], Any]:
        path = _htm(tmp_path / str(n), _CELL_HEAD + opened * n + f"<p>{_DEEP_TEXT}</p>" + closed * n)
        return lambda: read_cell_file(path, root=tmp_path / str(n))

    parsed = assert_scales_linearly(read, repeats)
    assert [p.text for p in parsed.passages] == [_DEEP_TEXT]


def test_html_below_the_depth_limit_keeps_blocks_and_drops_scripts() -> None:
    from evsearch.ingest import parse_cell_html
    from evsearch.ingest.html_dom import MAX_DEPTH

    deep = "<div>" * (MAX_DEPTH + 50)
    parsed = parse_cell_html(
        _CELL_HEAD + deep + "<p>First paragraph of the deep page.</p><script>alert('x')</script>"
        "<p>Second <!-- hidden --> paragraph<br>of it.</p><style>p {}</style><nav>Home</nav>"
    )
    assert [p.text for p in parsed.passages] == [
        "First paragraph of the deep page.", "Second paragraph of it.",
    ]


def test_html_deep_pages_are_linear_time() -> None:
    from evsearch.ingest import parse_cell_html

    unit = "<div><p>Text of the page, a line.</p>"  # every <div> left open: the page nests

    def parse(n: int) -> Callable[[], Any]:
        page = _CELL_HEAD + unit * n
        return lambda: parse_cell_html(page)

    parsed = assert_scales_linearly(parse, 4_000, factor=4)  # 4x the input: under 12x the time
    assert len(parsed.passages) == 4_000


def test_undecodable_html_is_read_without_logging(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # fuzz bug 6: bs4's UnicodeDammit logged "Some characters could not be decoded" to stderr
    pytest.importorskip("evsearch.ingest.html")
    caplog.set_level("DEBUG")
    path = _htm(tmp_path, "")
    path.write_bytes(b"<title>Alcohol Treatment Matrix cell B5</title><p>Caf\xe9 \x81\x8d\x00 text.</p>")
    parsed = read_cell_file(path, root=tmp_path)
    assert [p.text for p in parsed.passages] == ["Café text."]
    assert caplog.records == []


@pytest.mark.parametrize(("data", "text"), [
    (b'<meta charset="utf-16"><title>Alcohol Treatment Matrix cell B5</title><p>caf\xe9 text.</p>',
     "café text."),
    (b'<meta charset="shift_jis"><title>Alcohol Treatment Matrix cell B5</title><p>\x93caf\xe9\x94.</p>',
     "田af髞."),  # valid Shift JIS, so read as such: mojibake, not a crash
    (b'<?xml version="1.0" encoding="utf-32"?><title>Alcohol Treatment Matrix cell B5</title><p>caf\xe9.</p>',
     "café."),
    (b'<meta charset="bogus"><title>Alcohol Treatment Matrix cell B5</title><p>caf\xc3\xa9 \xe9.</p>',
     "cafÃ é."),  # not UTF-8, unknown label: windows-1252
])
def test_html_declared_charsets_that_lie(tmp_path: Path, data: bytes, text: str) -> None:
    pytest.importorskip("evsearch.ingest.html")
    path = _htm(tmp_path, "")
    path.write_bytes(data)
    assert [p.text for p in read_cell_file(path, root=tmp_path).passages] == [text]


def test_html_100000_lines_and_no_studies_or_commentary(tmp_path: Path) -> None:
    pytest.importorskip("evsearch.ingest.html")

    def read(n: int) -> Callable[[], Any]:
        lines = "\n".join(f"line {i}" for i in range(n))
        path = _htm(tmp_path / str(n), _CELL_HEAD + "<p>" + lines + "</p>")
        return lambda: read_cell_file(path, root=tmp_path / str(n))

    parsed = assert_scales_linearly(read, 100_000)
    assert len(parsed.passages) == 1
    empty = read_cell_file(_htm(tmp_path, _CELL_HEAD + "</body></html>"), root=tmp_path)
    assert (empty.cell.key, empty.studies, empty.passages) == ("alcohol/B5", (), ())


def test_html_huge_attributes_and_scripts(tmp_path: Path) -> None:
    pytest.importorskip("evsearch.ingest.html")
    body = ("<html><head><title>Alcohol Treatment Matrix cell B5: X; Y</title>"
            "<script>document.write('<p>K Injected (2008).</p>')</script></head><body>"
            f"<p title=\"{'a' * 1_000_000}\">What is this cell about? Text &lt;script&gt;.</p></body></html>")
    parsed = read_cell_file(_htm(tmp_path, body), root=tmp_path)
    assert not any("Injected" in d.text for d in parsed.documents)


# --------------------------------------------------------------------------- queries


HOSTILE_QUERIES = [
    "", "   ", "\t\n", "*", "*a*", "?????", "title:", "text:", "org:", "foo:bar", "unknown:field x",
    "year:[2010 TO 2005]", '"unbalanced', 'a "b', "(((", ")))", "[", "]", "{", "}", "AND", "OR", "NOT",
    "+", "-", "AND OR NOT", "NOT NOT NOT", "a* b* c*", "year:", "type:", "cell:", "kind:", "matrix:",
    "\\", "~", "^", "a:b:c", "\x00", "\x1b[31mred", "\u202eevil", "\u200b", "İSTANBUL ß ﬁ",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_queries_are_answered_by_the_cli(hostile_index: Path, query: str) -> None:
    code, out, err = run("search", "--index", str(hostile_index), "--json", "--", query)
    assert (code, err) == (0, "")
    json.loads(out)


@pytest.mark.parametrize(("query", "message"), [
    ("x" * 10_000, f"Error: the query is 10,000 characters long; the limit is {MAX_QUERY_CHARS:,}"),
    (" ".join(["+w"] * 600), "Error: the query has 600 phrases, prefixes, fielded or required words; "
     f"the limit is {MAX_CLAUSES}"),
    ("year:99999", "Error: year:99999 is out of range"),
    ("type:\udcff", "Error: unknown study type '\ufffd'"),
])
def test_refused_queries_are_one_error_line_and_a_hint(hostile_index: Path, query: str,
                                                       message: str) -> None:
    code, out, err = run("search", "--index", str(hostile_index), "--", query)
    lines = err.splitlines()
    assert (code, out, len(lines)) == (1, "", 2)
    assert lines[0] == message
    assert lines[1].startswith("Hint: ")


def test_a_flood_of_plain_words_is_answered_not_refused(hostile_index: Path) -> None:
    # a pasted paragraph is a question: its most informative words are searched
    code, out, err = run("search", "--index", str(hostile_index), "--json", "--", " ".join(["w"] * 1000))
    assert (code, err) == (0, "")
    assert json.loads(out)["query"].startswith("w w")


def test_a_query_may_start_with_a_minus_after_double_dash(hostile_index: Path) -> None:
    code, out, _ = run("search", "--index", str(hostile_index), "--json", "--", "-probation supervision")
    assert code == 0
    assert json.loads(out)["query"] == "-probation supervision"


@pytest.mark.parametrize("as_json", [True, False])
def test_lone_surrogates_in_a_query_give_valid_output(hostile_index: Path, as_json: bool) -> None:
    # fuzz bug 4: json.dumps(ensure_ascii=False) kept the surrogate; writing it raised
    args = ["search", "supervision \udcff\ud800", "--index", str(hostile_index)]
    result = CliRunner().invoke(cli, args + (["--json"] if as_json else []), catch_exceptions=False)
    assert result.exit_code == 0
    text = result.stdout_bytes.decode("utf-8")  # strict: valid UTF-8
    if as_json:
        assert json.loads(text)["query"] == "supervision \ufffd\ufffd"


def test_show_with_a_surrogate_id_is_a_clean_error(hostile_index: Path) -> None:
    code, _, err = run("show", "alcohol/B5/s\udcff", "--index", str(hostile_index))
    assert code == 1
    assert err.splitlines()[0] == "Error: no document with id 'alcohol/B5/s\ufffd'"


#: name: (a query of size n, its size at the limits)
EXPENSIVE_QUERIES: dict[str, tuple[Callable[[int], str], int]] = {
    "40 prefixes": (lambda n: " ".join([f"{a}{b}*" for a in "abcdefgh" for b in "aeiou"][:n]), 40),
    "64 long words": (lambda n: " ".join(["abcdefghijklmnopqrstuvwxy"] * n), MAX_CLAUSES),
    "64 misspelt words": (lambda n: " ".join(f"misspelt{i}wordz" for i in range(n)), MAX_CLAUSES),
    "one 2000-letter word": (lambda n: "z" * n, MAX_QUERY_CHARS),
    "a 150-word phrase": (lambda n: '"' + " ".join(["supervision"] * n) + '"', 150),
}


@pytest.mark.parametrize("name", list(EXPENSIVE_QUERIES))
def test_expensive_queries_cost_in_proportion_to_their_size(hidx: Any, name: str) -> None:
    # the size of a query is capped (MAX_QUERY_CHARS, MAX_CLAUSES), so work in proportion to it
    # is bounded work: the query at the limits costs at most 3x its share of one an eighth its size
    make_query, size = EXPENSIVE_QUERIES[name]
    assert len(make_query(size)) <= MAX_QUERY_CHARS

    def search(n: int) -> Callable[[], Any]:
        query = make_query(n)
        return lambda: hidx.search(query, limit=1000)

    result = assert_scales_linearly(search, size, factor=8)
    assert result.query == make_query(size)


def test_failing_queries_leave_the_index_unchanged(hostile_index: Path, hidx: Any) -> None:
    before = tree_digest(hostile_index)
    for query in HOSTILE_QUERIES + ["x" * 10_000, "year:abc", "type:Q", "\udcff"]:
        try:
            hidx.search(query)
        except QueryError:
            pass
    assert tree_digest(hostile_index) == before


# --------------------------------------------------------------------------- escaping


def test_json_snippets_escape_corpus_markup_and_only_mark_is_a_tag(hostile_index: Path) -> None:
    for query in ("script", "mark", "hostile", "supervision", "entities", "highlight", "description"):
        code, out, _ = run("search", query, "--index", str(hostile_index), "--json", "-n", "50")
        assert code == 0
        hits = [h for h in json.loads(out)["hits"] if h["cell"] == "drug/B5"]
        assert hits, query
        for hit in hits:
            snippet = hit["snippet"]
            assert set(re.findall(r"<[^>]*>", snippet)) <= {"<mark>", "</mark>"}, snippet
            assert "<" not in re.sub(r"</?mark>", "", snippet), snippet


def test_snippets_escape_script_mark_and_entity_like_text(hidx: Any) -> None:
    snippets = " ".join(h.snippet for h in hidx.search("script", cell="drug/B5", limit=50).hits)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in re.sub(r"</?mark>", "", snippets)
    fake = " ".join(h.snippet for h in hidx.search("fake highlight", limit=50).hits)
    assert "&lt;mark&gt;" in fake  # the corpus's own <mark>, escaped
    assert "&amp;lt;mark&amp;gt;" in fake  # the corpus's "&lt;mark&gt;", escaped once more


def test_terminal_output_strips_escapes_from_corpus_text(hostile_index: Path) -> None:
    outputs = [run("search", q, "--index", str(hostile_index), "-n", "50")[1]
               for q in ("hostile red title", "supervision", "cleared screens", "bell csi")]
    outputs += [run("show", f"drug/B5/{d}", "--index", str(hostile_index))[1] for d in ("s1", "s2", "p2")]
    for out in outputs:
        assert not CONTROL.search(out.replace("\n", "")), repr(out)
        assert "]8;;" not in out and "evil.example" not in out
        assert "\u202e" not in out


HOSTILE_HTM = (
    "<html><head><title>Drug Treatment Matrix cell B5: Practitioners; Safeguarding</title></head><body>"
    "<p>A description of the cell with &lt;script&gt;alert(1)&lt;/script&gt; and more words here.</p>"
    '<p><b>K</b> <a href="#sup">Hostile \x1b[31mred\x1b[0m &lt;script&gt;alert(1)&lt;/script&gt; '
    "&lt;mark&gt;fake&lt;/mark&gt; <mark>marked</mark> &amp;lt;mark&amp;gt; "
    "\x1b]8;;http://evil.example/\x07link\x1b]8;;\x07 &#27;[2J title</a> (2008). A hostile summary "
    "with <script>alert(2)</script>&lt;img src=x onerror=alert(1)&gt; and \x07bell. For discussion click "
    "here.</p><p>MORE</p><h2 id='sup'>Supervision &lt;script&gt;</h2>"
    "<p>What is this cell about? A paragraph about hostile supervision with &lt;script&gt;alert(3)&lt;/"
    "script&gt;, <mark>marked</mark> words, &lt;mark&gt;fake&lt;/mark&gt; highlight, &amp;lt;mark&amp;gt; "
    "entity, \x1b[31mred\x1b[0m and \x1b]8;;http://evil.example/\x07link\x1b]8;;\x07 escapes.</p>"
    "</body></html>"
)


def test_html_cell_markup_and_escapes_never_reach_output(tmp_path: Path) -> None:
    pytest.importorskip("evsearch.ingest.html")
    corpus = tmp_path / "corpus" / "drug"
    corpus.mkdir(parents=True)
    (corpus / "B5.htm").write_text(HOSTILE_HTM, encoding="utf-8")
    index = str(tmp_path / "ix")
    assert run("index", "--corpus", str(corpus.parent), "--index", index)[0] == 0
    snippets = []
    for query in ("hostile", "script", "mark", "fake", "supervision", "red", "link", "bell"):
        code, out, _ = run("search", query, "--index", index, "--json", "-n", "50")
        assert code == 0
        hits = json.loads(out)["hits"]
        assert hits, query
        for hit in hits:
            snippet = hit["snippet"]
            assert set(re.findall(r"<[^>]*>", snippet)) <= {"<mark>", "</mark>"}, snippet
            assert "<" not in re.sub(r"</?mark>", "", snippet), snippet
            assert not CONTROL.search(out), out
            snippets.append(snippet)
        code, out, _ = run("search", query, "--index", index, "-n", "50")
        assert code == 0
        assert not CONTROL.search(out.replace("\n", "")) and "evil.example" not in out, repr(out)
    text = " ".join(snippets)
    assert "&lt;<mark>script</mark>&gt;alert(3)&lt;/<mark>script</mark>&gt;" in text
    assert "&lt;mark&gt;<mark>fake</mark>&lt;/mark&gt;" in text  # the page's "<mark>" text, escaped
    assert "&amp;lt;<mark>mark</mark>&amp;gt;" in text  # its "&lt;mark&gt;" text, escaped once more
    assert "alert(2)" not in text  # a real <script> element is dropped
    with open_index(index=Path(index)) as opened:
        ids = [d.id for d in opened.documents()]
    assert len(ids) == 3  # a study, the description and a paragraph
    for doc in ids:
        code, out, _ = run("show", doc, "--index", index)
        assert code == 0 and not CONTROL.search(out.replace("\n", "")), repr(out)


@pytest.mark.parametrize(("raw", "shown"), [
    ("a\x1b[31mred\x1b[0m b", "ared b"),
    ("\x1b]8;;http://evil.example/\x07link\x1b]8;;\x07", "link"),
    ("\x1b]0;window title\x1b\\x", "x"),
    ("bell\x07 back\x08space \x9b31mcsi \x9d0;osc\x9c end", "bell backspace csi  end"),
    ("\x1bPdcs payload\x1b\\ok", "ok"),
    ("\u202eevil\u202c \u2066iso\u2069", "evil iso"),
    ("lone \udcff", "lone \ufffd"),
    ("keep\ttab\nand newline", "keep\ttab\nand newline"),
])
def test_clean_removes_terminal_controls(raw: str, shown: str) -> None:
    assert clean(raw) == shown


# --------------------------------------------------------------------------- paths and the index


def test_symlinks_out_of_the_corpus_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "drug").mkdir(parents=True)
    (outside / "drug" / "E1.txt").write_text("Drug Treatment Matrix cell E1\n", encoding="utf-8")
    corpus = tmp_path / "corpus"
    (corpus / "alcohol").mkdir(parents=True)
    (corpus / "alcohol" / "B5.txt").write_bytes(B5.read_bytes())
    (corpus / "alcohol" / "E1.txt").symlink_to(outside / "drug" / "E1.txt")
    (corpus / "drug").symlink_to(outside / "drug", target_is_directory=True)
    (corpus / "alcohol" / "inside.txt").symlink_to(corpus / "alcohol" / "B5.txt")
    assert [p.relative_to(corpus).as_posix() for p in discover_cell_files(corpus)] == [
        "alcohol/B5.txt", "alcohol/inside.txt",
    ]
    code, out, _ = run("index", "--corpus", str(corpus), "--index", str(tmp_path / "ix"), "--json")
    assert code == 0
    assert json.loads(out)["added"] == 1  # inside.txt is the same cell again, reported


@pytest.mark.parametrize("flags", [[], ["--rebuild"]])
def test_a_directory_that_is_not_an_index_is_never_overwritten(tmp_path: Path, flags: list[str]) -> None:
    target = tmp_path / "precious"
    target.mkdir()
    (target / "thesis.txt").write_text("years of work", encoding="utf-8")
    (target / "gen-000001").mkdir()
    before = tree_digest(target)
    code, out, err = run("index", "--corpus", str(CORPUS), "--index", str(target), *flags)
    assert (code, out) == (1, "")
    assert err.splitlines()[0] == (
        f"Error: {target} is not empty and is not an evsearch index; not touching it"
    )
    assert tree_digest(target) == before


def test_the_index_may_not_live_inside_the_corpus(corpus_copy: Path) -> None:
    code, _, err = run("index", "--corpus", str(corpus_copy), "--index", str(corpus_copy / "ix"))
    assert code == 1
    assert err.splitlines()[0] == (
        f"Error: the index directory {corpus_copy.resolve() / 'ix'} is inside the corpus directory "
        f"{corpus_copy.resolve()}"
    )
    assert not (corpus_copy / "ix").exists()


def test_paths_are_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("index", "--corpus", str(CORPUS), "--index", "sub/../ix", "--json")
    assert code == 0
    assert json.loads(out)["index_dir"] == str(tmp_path.resolve() / "ix")


def test_a_corpus_where_every_file_fails_leaves_the_index_unchanged(tmp_path: Path) -> None:
    index = tmp_path / "ix"
    build_index(corpus=CORPUS, index=index)
    before = tree_digest(index)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "notes.txt").write_bytes(b"\x00\x01 binary junk")
    code, _, err = run("index", "--corpus", str(bad), "--index", str(index))
    assert code == 1
    assert err.startswith(f"Error: none of the 1 cell files in {bad} could be read, so the index is "
                          "left unchanged; notes.txt: ")
    assert tree_digest(index) == before


def test_current_may_not_point_outside_the_index(tmp_path: Path) -> None:
    index = tmp_path / "ix"
    build_index(corpus=CORPUS, index=index)
    (index / "CURRENT").write_text("../../etc\n", encoding="utf-8")
    code, _, err = run("stats", "--index", str(index))
    assert code == 1
    assert err.startswith(f"Error: the index file {index / 'CURRENT'} is damaged (it names '../../etc'")
    with pytest.raises(CorpusError):  # and a failed build is still a clean error
        build_index(corpus=tmp_path / "missing", index=index)


# --------------------------------------------------------------------------- the Xapian engine

@pytest.fixture(scope="module")
def xapian_hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(index, corpus): the hostile corpus in a Xapian index of two local shards."""
    from tests._xapian import needs_xapian

    needs_xapian()
    work = tmp_path_factory.mktemp("xhostile")
    return fuzz.build_hostile_index(work, "xapian"), work / "corpus"


def _xapian_copy(xapian_hostile: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path, list[Path]]:
    """A copy of the Xapian index to damage: (index, corpus, its shard directories)."""
    import shutil

    index, corpus = xapian_hostile
    target = tmp_path / "index"
    shutil.copytree(index, target, symlinks=True)
    with open_index(index=target) as idx:
        shards = [Path(p) for p in idx.stats().shards]
    return target, corpus, shards


def _one_error(err: str) -> str:
    """The error line of a one-line error with its hint (and nothing else)."""
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Error: ") and lines[1].startswith("Hint: "), lines
    assert "Traceback" not in err and "internal error" not in err and len(lines[0]) < 400, lines
    return lines[0]


def _dead_port() -> int:
    from tests._xapian import free_port

    return free_port()


@pytest.mark.parametrize(("spec", "message"), [
    ("xapian+tcp://", "no shard address in 'xapian+tcp://'"),
    ("xapian+tcp://, ,", "no shard address in"),
    ("xapian+tcp://host", "bad shard address 'host' in --index (write host:port)"),
    ("xapian+tcp://:33333", "bad shard address ':33333'"),
    ("xapian+tcp://127.0.0.1:0", "bad shard address '127.0.0.1:0' in --index (the port must be 1-65535)"),
    ("xapian+tcp://127.0.0.1:65536", "(the port must be 1-65535)"),
    ("xapian+tcp://127.0.0.1:99999999", "bad shard address '127.0.0.1:99999999'"),
    ("xapian+tcp://127.0.0.1:-1", "bad shard address '127.0.0.1:-1'"),
    ("xapian+tcp://-bad-:33333", "bad shard address '-bad-:33333'"),
    ("xapian+tcp://hôst:33333", "bad shard address 'hôst:33333'"),
    ("xapian+tcp://h\x1b[31m:1", "bad shard address 'h\\x1b[31m:1'"),
    ("xapian+tcp://" + "a" * 5000 + ":1", "bad shard address 'aaaa"),
    ("xapian+tcp://127.0.0.1:{dead},127.0.0.1:{dead}",
     "the shard 127.0.0.1:{dead} is named twice in --index"),
    ("xapian+tcp://LocalHost:{dead},localhost:{dead}", "the shard localhost:{dead} is named twice"),
    ("xapian+tcp://127.0.0.1:{dead}", "1 of 1 shard of the index did not answer: 127.0.0.1:{dead}"),
    ("XAPIAN+TCP://127.0.0.1:{dead}/", "1 of 1 shard of the index did not answer: 127.0.0.1:{dead}"),
    ("xapian+tcp://[::1]:{dead}", "1 of 1 shard of the index did not answer: [::1]:{dead}"),
    ("xapian+tcp:/127.0.0.1:{dead}", "cannot open an index at 'xapian+tcp:/127.0.0.1:{dead}'"),
    ("http://127.0.0.1:{dead}",
     "cannot open an index at 'http://127.0.0.1:{dead}': remote indexes are named"),
    ("xapian+tcp://" + "a" * 300 + ":1", "bad shard address"),
])
def test_hostile_index_addresses_are_one_line_errors_and_build_nothing(
    spec: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad ``--index`` address, an address nobody serves, the same shard twice, a scheme
    typed wrong: one line with a hint, exit 1, from every command, and no index built at a
    directory named like the address (``watch`` built one there before)."""
    pytest.importorskip("xapian")
    port = _dead_port()
    spec, message = spec.format(dead=port), message.format(dead=port)
    monkeypatch.chdir(tmp_path)
    commands = [["search", "supervision"], ["show", "x/y"], ["stats"], ["similar", "--text", "therapy"],
                ["explain", "therapy", "x/y"], ["index"], ["check"], ["watch"]]
    for command in commands:
        code, _, err = run(*command, "--index", spec)
        assert code == 1, (command, err)
        line = _one_error(err)
        if command[0] in ("index", "check", "watch") and "cannot open" not in message:
            assert "remote shards are " in line and " where they live" in line, (command, line)
        else:
            assert message in line, (command, line)
    assert list(tmp_path.iterdir()) == []  # nothing built or written where it ran


@pytest.mark.parametrize("shard", ["3/2", "x/y", "0/0", "-1/2", "1/99999999999", "", "1/2/3", "½/2"])
def test_bad_shard_options_are_refused_before_anything_is_written(shard: str, tmp_path: Path) -> None:
    pytest.importorskip("xapian")
    code, _, err = run("index", "--corpus", str(CORPUS), "--index", str(tmp_path / "ix"), "--shard", shard)
    assert code == 1
    assert _one_error(err).startswith("Error: bad shard ")
    assert not (tmp_path / "ix").exists()


@pytest.mark.parametrize("shards", ["0", "-1", "99999999999", "x"])
def test_bad_shard_counts_are_usage_errors(shards: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["index", "--corpus", str(CORPUS), "--index", str(tmp_path / "ix"),
                                      "--engine", "xapian", "--shards", shards])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith("Error: Invalid value for '--shards'")
    assert not (tmp_path / "ix").exists()
    from evsearch.errors import EvsearchError
    from evsearch.index import update_index

    with pytest.raises(EvsearchError, match="bad number of shards"):
        update_index(corpus=CORPUS, index=tmp_path / "ix", engine="xapian", shards=0)


@pytest.mark.parametrize("value", ["abc", "-5", "0", "nan", "inf", "-inf", "1e300", "5s", "\x1b[31m"])
def test_a_bad_shard_timeout_is_one_line_naming_the_variable(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``inf`` used to overflow into an internal error; ``abc`` was silently the default."""
    pytest.importorskip("xapian")
    monkeypatch.setenv("EVSEARCH_SHARD_TIMEOUT", value)
    code, _, err = run("search", "x", "--index", f"xapian+tcp://127.0.0.1:{_dead_port()}")
    assert code == 1
    line = _one_error(err)
    assert line.startswith("Error: EVSEARCH_SHARD_TIMEOUT must be a number of seconds from 0.1 to 3600, not ")
    assert "\x1b" not in line


def test_a_damaged_shard_is_named_checked_and_repaired_by_a_rebuild(
    xapian_hostile: tuple[Path, Path], tmp_path: Path
) -> None:
    index, corpus, shards = _xapian_copy(xapian_hostile, tmp_path)
    good = run("search", "supervision", "--index", str(index), "--json")[1]
    postlist = shards[1] / "postlist.glass"
    postlist.write_bytes(postlist.read_bytes()[:100])  # truncated
    code, _, err = run("search", "supervision", "--index", str(index))
    assert code == 1
    assert _one_error(err).startswith(f"Error: the Xapian shard {shards[1]} is damaged or unreadable (")
    assert "evsearch index --rebuild" in err
    code, out, _ = run("check", "--index", str(index))
    assert code == 1 and str(shards[1]) in out
    code, _, err = run("index", "--rebuild", "--index", str(index), "--corpus", str(corpus))
    assert code == 0, err
    assert run("search", "supervision", "--index", str(index), "--json")[1] == good
    with open_index(index=index) as idx:
        assert (idx.stats().engine, len(idx.stats().shards)) == ("xapian", 2)


@pytest.mark.parametrize("name", ["iamglass", "termlist.glass", "docdata.glass", "postlist.glass"])
def test_a_deleted_shard_file_is_named(xapian_hostile: tuple[Path, Path], tmp_path: Path, name: str) -> None:
    index, _, shards = _xapian_copy(xapian_hostile, tmp_path)
    if not (shards[0] / name).exists():
        pytest.skip(f"this shard has no {name}")
    (shards[0] / name).unlink()
    code, _, err = run("search", "supervision", "--index", str(index))
    if code == 0:  # a table Xapian does without (docdata of a shard whose documents have none)
        return
    assert code == 1 and str(shards[0]) in _one_error(err)


def test_a_damaged_stored_document_is_named_not_a_crash(
    xapian_hostile: tuple[Path, Path], tmp_path: Path
) -> None:
    """Found by the fuzzer: a stored document that is not JSON was an internal JSONDecodeError."""
    import xapian

    index, _, shards = _xapian_copy(xapian_hostile, tmp_path)
    for shard in shards:
        db = xapian.WritableDatabase(str(shard), xapian.DB_OPEN)
        for docid in range(1, db.get_lastdocid() + 1):
            doc = db.get_document(docid)
            doc.set_data(b"{broken")
            db.replace_document(docid, doc)
        db.commit()
        db.close()
    code, _, err = run("search", "supervision", "--index", str(index))
    assert code == 1
    line = _one_error(err)
    assert line.startswith("Error: a stored document in the Xapian shard ") and line.endswith(" is damaged")
    assert any(str(s) in line for s in shards)


@pytest.mark.parametrize("damage", ["garbled CURRENT", "truncated meta"])
def test_a_rebuild_of_a_damaged_xapian_index_stays_xapian(
    xapian_hostile: tuple[Path, Path], tmp_path: Path, damage: str
) -> None:
    """Found by the fuzzer: a CURRENT of invalid UTF-8 made the rebuild an internal
    UnicodeDecodeError, and a damaged CURRENT or meta rebuilt the index with Whoosh."""
    index, corpus, shards = _xapian_copy(xapian_hostile, tmp_path)
    good = run("search", "supervision", "--index", str(index), "--json")[1]
    if damage == "garbled CURRENT":
        (index / "CURRENT").write_bytes(b"gen-00\x94001\n")
    else:
        meta = next(shards[0].parent.glob("meta-*.json"))
        meta.write_bytes(meta.read_bytes()[:20])
    code, _, err = run("search", "supervision", "--index", str(index))
    assert code == 1 and "evsearch index --rebuild" in err
    _one_error(err)
    code, _, err = run("index", "--rebuild", "--index", str(index), "--corpus", str(corpus))
    assert code == 0, err
    with open_index(index=index) as idx:
        assert (idx.stats().engine, len(idx.stats().shards)) == ("xapian", 2)
    assert run("search", "supervision", "--index", str(index), "--json")[1] == good


def test_a_symlinked_shard_is_refused_and_its_target_never_written(
    xapian_hostile: tuple[Path, Path], tmp_path: Path
) -> None:
    import shutil

    index, corpus, shards = _xapian_copy(xapian_hostile, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(shards[0], elsewhere)
    shards[0].symlink_to(elsewhere, target_is_directory=True)
    before = tree_digest(elsewhere)
    code, _, err = run("search", "supervision", "--index", str(index))
    assert code == 1
    assert _one_error(err) == (f"Error: {shards[0].name} in the index at {shards[0].parent} is a symlink; "
                               "evsearch does not write through symlinks in an index")
    (corpus / "drug" / "B5.txt").write_text(
        (corpus / "drug" / "B5.txt").read_text(encoding="utf-8") + "\nA new paragraph.\n", encoding="utf-8")
    try:
        code, _, err = run("index", "--index", str(index), "--corpus", str(corpus))
        assert code == 1 and "is a symlink" in _one_error(err)
        assert tree_digest(elsewhere) == before
        code, _, err = run("index", "--rebuild", "--index", str(index), "--corpus", str(corpus))
        assert code == 0, err
        assert tree_digest(elsewhere) == before
    finally:
        original = fuzz.HOSTILE_CELL.replace("Alcohol Treatment", "Drug Treatment")
        (corpus / "drug" / "B5.txt").write_text(original, encoding="utf-8")


@FAST
@given(fuzz.query_text)
def test_any_query_on_xapian_shards_is_answered_or_refused(xidx: Any, query: str) -> None:
    assert fuzz.check_query(query, xidx) in ("ok", "refused")


@pytest.fixture(scope="module")
def xidx(xapian_hostile: tuple[Path, Path]) -> Iterator[Any]:
    """The hostile Xapian index served remotely, paired with the same shards opened locally
    (the fuzzer's check compares their answers)."""
    from tests._xapian import needs_server

    needs_server()
    remote = fuzz._Remote(xapian_hostile[0])
    try:
        with open_index(index=remote.spec) as far, open_index(index=xapian_hostile[0]) as near:
            yield (far, near)
    finally:
        remote.close()


@pytest.mark.parametrize(("kind", "message"), [
    ("DatabaseCorruptError", "Freelist corrupt"),
    ("DatabaseError", "EOF reading block 4"),
    ("RuntimeError", "basic_string::append"),  # a C++ error Xapian does not wrap
])
def test_a_shard_xapian_cannot_write_is_named_and_the_last_commit_still_searched(
    xapian_hostile: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str,
    message: str,
) -> None:
    """Found by the fuzzer: a damaged shard whose manifest looked stale made ``search`` start
    an update that died on Xapian's ``DatabaseCorruptError: Freelist corrupt`` (an internal
    error). The update's failure is now the one line naming the shard; ``search`` says the
    update was skipped and answers from the last commit."""
    import shutil

    import xapian

    from evsearch._xapian import store

    index, corpus, _ = _xapian_copy(xapian_hostile, tmp_path)
    work = tmp_path / "corpus"
    shutil.copytree(corpus, work)
    assert run("index", "--rebuild", "--index", str(index), "--corpus", str(work))[0] == 0  # from the copy
    with open_index(index=index) as idx:
        shards = [Path(p) for p in idx.stats().shards]
    good = run("search", "supervision", "--index", str(index), "--corpus", str(work), "--json")[1]

    def corrupt(path: Path, **_: Any) -> int:
        raise (RuntimeError if kind == "RuntimeError" else getattr(xapian, kind))(message)

    monkeypatch.setattr(store, "update_shard", corrupt)
    for cell in (work / "alcohol" / "B5.txt", work / "drug" / "B5.txt"):
        cell.write_text(cell.read_text(encoding="utf-8") + "\nA new paragraph.\n", encoding="utf-8")
    before = tree_digest(index)
    code, _, err = run("index", "--index", str(index), "--corpus", str(work))
    assert code == 1
    line = _one_error(err)
    assert line.startswith("Error: the Xapian shard ")
    assert line.endswith(f"is damaged or unreadable ({message})")
    assert any(str(s) in line for s in shards) and "evsearch index --rebuild" in err
    assert tree_digest(index) == before
    code, out, err = run("search", "supervision", "--index", str(index), "--corpus", str(work), "--json")
    assert code == 0 and out == good
    assert err.startswith("note: searching the last update of the index; "
                          "it could not be brought up to date: the Xapian shard ")


@pytest.mark.parametrize("engine", ["whoosh", "xapian"])
def test_a_manifest_whose_checksum_key_is_damaged_is_named(engine: str, tmp_path: Path) -> None:
    """Found by the fuzzer: one flipped byte in the key ``meta_sha256`` made the manifest look
    like one written before manifests carried a checksum, so its damage went unnoticed."""
    if engine == "xapian":
        pytest.importorskip("xapian")
    index = fuzz.build_hostile_index(tmp_path, engine)
    meta = sorted(index.glob("gen-*/meta-*.json"))[-1]
    meta.write_bytes(meta.read_bytes().replace(b'"meta_sha256"', b'"meta_sh`256"'))
    for command in (["search", "supervision"], ["check"]):
        code, out, err = run(*command, "--index", str(index))
        assert code == 1
        assert f"the index file {meta} is damaged (its checksum is missing)" in out + err


def test_a_shard_on_which_xapians_checker_crashes_is_named_by_check(
    xapian_hostile: tuple[Path, Path], tmp_path: Path
) -> None:
    """Found by the fuzzer: one flipped bit in a shard's ``iamglass`` made Xapian's own checker
    die of a segmentation fault, taking ``evsearch check`` with it. The checker now runs in a
    child process, and its crash is the finding."""
    import subprocess
    import sys

    index, _, shards = _xapian_copy(xapian_hostile, tmp_path)
    target = shards[0] / "iamglass"
    data = bytearray(target.read_bytes())
    data[int(len(data) * 0.7322502353186264)] ^= 1
    target.write_bytes(bytes(data))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run([sys.executable, "-m", "evsearch", "check", "--index", str(index)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith(f"damaged: {shards[0]}: ")
    assert _one_error(done.stderr).startswith(f"Error: the index at {index} is damaged (1 of ")
    code, _, err = run("search", "supervision", "--index", str(index))  # answered or named
    assert code == 0 or str(shards[0]) in _one_error(err)


@pytest.mark.parametrize("name", ["postlist.glass", "termlist.glass", "docdata.glass", "position.glass"])
@pytest.mark.parametrize("keep", [0.25, 0.5, 0.7633, 0.9])
def test_a_shard_file_cut_short_is_answered_or_named(
    xapian_hostile: tuple[Path, Path], tmp_path: Path, name: str, keep: float
) -> None:
    """Found by the fuzzer: a shard's postlist cut at 76% opened fine and failed in the middle
    of a search (``DatabaseError: EOF reading block 12``, an internal error): Xapian's errors
    are its own ``xapian.RuntimeError``, not Python's. Every cut is now the correct answer or
    one line naming the shard."""
    index, _, shards = _xapian_copy(xapian_hostile, tmp_path)
    good = run("search", "supervision", "--index", str(index), "--json", "--limit", "50")[1]
    for shard in shards:
        target = shard / name
        if not target.exists():
            continue
        data = target.read_bytes()
        target.write_bytes(data[: int(len(data) * keep)])
        code, out, err = run("search", "supervision", "--index", str(index), "--json", "--limit", "50")
        if code == 0:  # read without noticing (glass keeps no checksums): still a whole answer
            assert json.loads(out)["query"] == json.loads(good)["query"]
        else:
            line = _one_error(err)
            assert str(shard) in line and "evsearch index --rebuild" in err, line
        target.write_bytes(data)


def test_a_flipped_byte_xapian_cannot_see_is_found_by_check(
    xapian_hostile: tuple[Path, Path], tmp_path: Path
) -> None:
    """Xapian's databases carry no checksums: the fuzzer found flipped bytes that still parse,
    pass Xapian's own checker and change results. ``evsearch check`` now also compares each
    shard's files with the checksums recorded when they were written: every flip is found."""
    from evsearch._xapian.shards import check_shard

    index, _, shards = _xapian_copy(xapian_hostile, tmp_path)
    assert run("check", "--index", str(index))[0] == 0
    unseen_by_xapian = 0
    for name in ("postlist.glass", "termlist.glass", "position.glass", "docdata.glass"):
        target = shards[0] / name
        if not target.exists():
            continue
        good = target.read_bytes()
        for at in (0.2, 0.4, 0.6, 0.8):
            data = bytearray(good)
            data[int(len(data) * at)] ^= 0x10
            target.write_bytes(bytes(data))
            unseen_by_xapian += check_shard(shards[0]) is None
            code, out, err = run("check", "--index", str(index))
            assert code == 1, (name, at, out)
            assert out.startswith(f"damaged: {shards[0]}: ")
            assert _one_error(err).startswith(f"Error: the index at {index} is damaged (1 of ")
        target.write_bytes(good)
    assert unseen_by_xapian  # some of these flips only the checksums find
    assert run("check", "--index", str(index))[0] == 0


def test_checksums_follow_each_update_and_an_interrupted_one_is_not_damage(
    xapian_hostile: tuple[Path, Path], tmp_path: Path
) -> None:
    import shutil

    from evsearch._xapian import sums

    index, corpus, shards = _xapian_copy(xapian_hostile, tmp_path)
    mine = tmp_path / "corpus"
    shutil.copytree(corpus, mine)
    cell = next(p for p in sorted(mine.rglob("*.txt")) if "supervision" in p.read_text(encoding="utf-8"))
    cell.write_text(cell.read_text(encoding="utf-8").replace("supervision", "oversight"), encoding="utf-8")
    before = {s: sums.sums_path(s).read_text(encoding="utf-8") for s in shards}
    code, _, err = run("index", "--index", str(index), "--corpus", str(mine))
    assert code == 0, err
    changed = [s for s in shards if sums.sums_path(s).read_text(encoding="utf-8") != before[s]]
    assert changed  # the shards the update committed to (their manifests, at least)
    assert run("check", "--index", str(index))[0] == 0
    # the process stopped between a commit and its checksums: those of the revision before
    sums.sums_path(changed[0]).write_text(before[changed[0]], encoding="utf-8")
    assert run("check", "--index", str(index))[0] == 0
    sums.sums_path(changed[0]).write_text("{not json", encoding="utf-8")
    code, out, _ = run("check", "--index", str(index))
    assert code == 1 and "checksums" in out
