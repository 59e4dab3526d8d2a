"""Tests for the HTML ingester: the published page of B5 yields what its text form yields.

The fixture ``fixtures/alcohol-B5.htm`` is a rendering of the cell as the site serves it
(layout tables, ``<font>``, ``<br>`` runs, entities, Windows-1252 bytes). The variants below
rewrite its markup programmatically, keeping the content: every one must still be equivalent
to ``corpus/alcohol/B5.txt`` document by document.
"""

from __future__ import annotations

import html as html_lib
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import evsearch.ingest.html_dom as html_dom
from evsearch import build_index, open_index, parse_cell_html
from evsearch.cli import cli
from evsearch.errors import IngestError
from evsearch.index import ingest_corpus
from evsearch.ingest import decode_html, read_cell_file
from evsearch.model import ParsedCell

ROOT = Path(__file__).resolve().parents[1]
B5_TXT = ROOT / "corpus" / "alcohol" / "B5.txt"
B5_HTM = Path(__file__).resolve().parent / "fixtures" / "alcohol-B5.htm"

WHERE_START = "Where should I start?"
ARE_SKILLS = "Are the practitioner's therapeutic skills really unimportant?"
BEST_SPLIT = "Best to split therapy and supervision?"
TRICKIER = "The trickier the situation, the more the worker matters"

#: Study -> sections as the page links them (exact; the text form recovers a subset).
HTML_SECTIONS = {
    1: (ARE_SKILLS,),
    2: (ARE_SKILLS,),
    3: (TRICKIER,),
    4: (TRICKIER,),
    5: (WHERE_START, ARE_SKILLS),
    6: (),
    7: (ARE_SKILLS, BEST_SPLIT),
    8: (WHERE_START, ARE_SKILLS),
    9: (),
}


@pytest.fixture(scope="module")
def b5_text() -> ParsedCell:
    return read_cell_file(B5_TXT)


@pytest.fixture(scope="module")
def b5_html() -> ParsedCell:
    return read_cell_file(B5_HTM)


@pytest.fixture(scope="module")
def page() -> str:
    return decode_html(B5_HTM.read_bytes())


def _ws(text: str) -> str:
    return " ".join(text.split())


def assert_equivalent(text: ParsedCell, html: ParsedCell) -> None:
    """Same cell, studies and passages; the HTML links include the ones the text recovers."""
    assert html.cell == text.cell
    assert len(html.studies) == len(text.studies)
    for t, h in zip(text.studies, html.studies, strict=True):
        assert (h.id, h.cell, h.order, h.types, h.year) == (t.id, t.cell, t.order, t.types, t.year)
        assert (_ws(h.title), h.organisation) == (_ws(t.title), t.organisation), t.id
        assert _ws(h.summary) == _ws(t.summary), t.id
        assert h.sections[: len(t.sections)] == t.sections, t.id
    got = [(p.id, p.order, p.section, p.role, _ws(p.text)) for p in html.passages]
    want = [(p.id, p.order, p.section, p.role, _ws(p.text)) for p in text.passages]
    assert got == want


def assert_exact_links(html: ParsedCell) -> None:
    assert {s.order: s.sections for s in html.studies} == HTML_SECTIONS


# --------------------------------------------------------------------------- the fixture


def test_fixture_is_an_old_style_cp1252_page() -> None:
    data = B5_HTM.read_bytes()
    assert b'<meta charset="windows-1252">' in data
    assert b"\x96" in data  # a raw Windows-1252 en dash
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    for habit in (b"<font", b"<br><br>", b"&nbsp;", b"&ndash;", b"&rsquo;", b"<script", b"<style",
                  b"<form", b'<table width="100%"', b"<aside", b'class="box"', b'href="#s5"'):
        assert habit in data, habit


def test_html_equals_text_form(b5_text: ParsedCell, b5_html: ParsedCell) -> None:
    assert_equivalent(b5_text, b5_html)
    assert len(b5_html.studies) == 9 and len(b5_html.passages) == 28


def test_html_links_are_exact(b5_html: ParsedCell) -> None:
    assert_exact_links(b5_html)


def test_html_keeps_dashes_and_drops_chrome(b5_html: ParsedCell) -> None:
    texts = [p.text for p in b5_html.passages] + [p.section for p in b5_html.passages]
    texts += [f"{s.title} {s.organisation} {s.summary}" for s in b5_html.studies]
    assert any("community – some of the trickiest" in t for t in texts)  # &ndash;
    assert any("motivational interviewing – empathy" in t for t in texts)  # byte 0x96
    chrome = ("Mailing list", "Seminal studies", "Unfold", "DOWNLOAD PDF", "funded by", "Tweet",
              "your.email", "Comment/query", "Close Matrix Bite", "Tracking", "Enable JavaScript",
              "Privacy", "Last revised", "Findings’", "Drug Treatment Matrix", "Search the",
              "Retrieve all", "_gaq", "font-family", "Skills Consortium", "\x96", "�")
    for text in texts:
        for bit in chrome:
            assert bit not in text, (bit, text[:60])


def test_parse_cell_html_from_text_and_bytes(b5_html: ParsedCell, page: str) -> None:
    assert parse_cell_html(B5_HTM.read_bytes()) == b5_html
    assert parse_cell_html(page) == b5_html
    assert parse_cell_html(page, matrix="Alcohol", code="b5") == b5_html


# --------------------------------------------------------------------------- variants


def _sub(pattern: str, repl: str | Callable[[re.Match[str]], str], count: int = 0) -> Callable[[str], str]:
    def change(page: str) -> str:
        out, n = re.subn(pattern, repl, page, count=count, flags=re.S)
        assert n, pattern
        return out

    return change


def _chain(*changes: Callable[[str], str]) -> Callable[[str], str]:
    def change(page: str) -> str:
        for c in changes:
            page = c(page)
        return page

    return change


_TYPE_IMG = r'<img src="\.\./\.\./img/([SKRG])\.gif" alt="[SKRG]" width="14" height="14">'
_TYPE_NAMES = {"S": "Seminal study", "K": "Key study", "R": "Review", "G": "Guidance"}


def _bite(change: Callable[[str], str]) -> Callable[[str], str]:
    """Apply ``change`` to the Matrix Bite only."""

    def inner(page: str) -> str:
        start = page.index('<div id="bite"')
        end = page.index('<p class="close"><a href="#top"')
        return page[:start] + change(page[start:end]) + page[end:]

    return inner


def _studies_as_list(page: str) -> str:
    page = re.sub(r'<table class="studies"[^>]*>', '<ul class="studies">', page)
    page = re.sub(
        r'<tr( id="s\d")?>\s*<td[^>]*>(.*?)</td>\s*<td>(.*?)</td>\s*</tr>',
        r"<li\1>\2 \3</li>",
        page,
        flags=re.S,
    )
    return page.replace("</li>\n      </table>", "</li>\n      </ul>")


def _box_as_table(page: str) -> str:
    start = page.index('<div class="box"')
    end = page.index("</div>", start)
    inner = page[page.index(">", start) + 1 : end]
    inner = re.sub(r"<h5>(.*?)</h5>", r'<tr><th bgcolor="#ccccff">\1</th></tr><tr><td>', inner)
    table = f'<table align="right" width="40%" border="1">{inner}</td></tr></table>'
    return page[:start] + table + page[end + 6 :]


def _sidebar_after_studies(page: str) -> str:
    start = page.index('<td width="190"')
    end = page.index("</td>", start) + 5
    side = page[page.index(">", start) + 1 : end - 5]
    page = page[:start] + page[end:]
    mark = '<div id="bite" class="bite">'
    return page.replace(mark, f'<div id="sidebar">{side}</div>\n{mark}')


def _paragraphs_as_br_runs(bite: str) -> str:
    bite = bite.replace("<p>", "").replace("</p>", "<br><br>\n")
    return f"<font size=2>{bite}</font>"


VARIANTS: dict[str, Callable[[str], str]] = {
    "type-spans": _sub(_TYPE_IMG, r'<span class="type">\1</span>'),
    "type-alt-names": _sub(_TYPE_IMG, lambda m: f'<img src="t.gif" alt="{_TYPE_NAMES[m[1]]}">'),
    "type-src-only": _sub(_TYPE_IMG, r'<img src="../../img/type_\1.png" alt="">'),
    "headings-bold-paragraphs": _sub(r"<h[345]([^>]*)>(.*?)</h[345]>", r"<p\1><b>\2</b></p>"),
    "headings-bold-lead-ins": _chain(
        _sub(r"<h[34]([^>]*)>(.*?)</h[34]>\s*<p>", r"<p\1><strong>\2</strong> "),
        _sub(r"<h2>Matrix Bite</h2>", ""),
    ),
    "headings-h2": _sub(r"<h[345]([^>]*)>(.*?)</h[345]>", r"<h2\1>\2</h2>"),
    "asides-as-tables": _chain(
        _sub(
            r'<aside class="pullquote"><p>(.*?)</p></aside>',
            r'<table align="right"><tr><td>\1</td></tr></table>',
        ),
        _box_as_table,
    ),
    "asides-as-blockquotes": _chain(
        _sub(r'<aside class="pullquote"><p>(.*?)</p></aside>', r"<blockquote><i>\1</i></blockquote>"),
        _sub(r'<div class="pq" style="float:right"><b>(.*?)</b></div>', r"<blockquote>\1</blockquote>"),
        _sub(r'<div class="box" style="float:right; width:40%">(.*?)</div>', r"<aside>\1</aside>"),
    ),
    "html5-semantic": _chain(
        _sub(r'<div id="topnav">', '<nav class="site">'),
        _sub(r"</font></div>\s*<form", "</font></nav><form"),
        _sub(r'<div id="footer">(.*?)</div>', r"<footer>\1</footer>"),
        _studies_as_list,
        _sub(r'<div id="bite" class="bite">', '<main><article id="bite">'),
    ),
    "type-in-own-block": _chain(
        _studies_as_list,
        _sub(r'<li( id="s\d")?><img[^>]*alt="([SKRG])"[^>]*> ', r'<li\1><div class="mark">\2</div><div>'),
        _sub(r"</li>", "</div></li>"),
    ),
    "pull-quote-inline-span": _chain(
        _sub(r'<aside class="pullquote"><p>(.*?)</p></aside>\s*<p>', r'<p><span class="pullquote">\1</span>'),
        _sub(
            r'<div class="pq" style="float:right"><b>(.*?)</b></div>\s*<p>',
            r'<p><span style="float: right">\1</span>',
        ),
    ),
    "unknown-elements": _bite(
        _chain(_sub(r"<p>", "<x-para>"), _sub(r"</p>", "</x-para>"), _sub(r"<aside ", "<matrix-quote "))
    ),
    "javascript-links": _sub(
        r'href="#(skills|start|split|tricky)" onclick="[^"]*"',
        lambda m: f"href=\"javascript:hilite('{m[1]}')\"",
    ),
    "sidebar-after-studies": _sidebar_after_studies,
    "paragraphs-as-br-runs": _bite(_paragraphs_as_br_runs),
    "no-title-tag": _sub(r"<title>.*?</title>", ""),
    "title-only-header": _chain(
        _sub(r'<h1 class="cell">.*?</h1>', ""), _sub(r'<h2 class="label">.*?</h2>', "")
    ),
    "split-header": _sub(
        r'<h1 class="cell">.*?</h1>\s*<h2 class="label">(.*?)</h2>',
        r"<h1>Alcohol Treatment Matrix</h1><h2>Cell B5: \1</h2>",
    ),
}


@pytest.mark.parametrize("parser", ["lxml", "html.parser"])
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_equals_text_form(
    name: str, parser: str, page: str, b5_text: ParsedCell, monkeypatch: pytest.MonkeyPatch
) -> None:
    if parser == "html.parser":
        real = html_dom.BeautifulSoup

        def no_lxml(text: str, features: str) -> object:
            if features == "lxml":
                raise ValueError("no lxml here")
            return real(text, features)

        monkeypatch.setattr(html_dom, "BeautifulSoup", no_lxml)
    variant = VARIANTS[name](page)
    assert variant != page
    parsed = parse_cell_html(variant, matrix="alcohol", code="B5")
    assert_equivalent(b5_text, parsed)
    assert_exact_links(parsed)


@pytest.mark.parametrize(
    ("encoding", "prefix", "meta"),
    [
        ("utf-8", b"", '<meta charset="windows-1252">'),  # re-saved as UTF-8, meta left stale
        ("utf-8", b"\xef\xbb\xbf", '<meta charset="utf-8">'),
        ("cp1252", b"", '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'),
        ("cp1252", b"", ""),  # undeclared: detected
    ],
)
def test_encodings(encoding: str, prefix: bytes, meta: str, page: str, b5_text: ParsedCell) -> None:
    page = page.replace('<meta charset="windows-1252">', meta)
    page = page.replace("contradicts the offender's ambitions", "contradicts the offender’s ambitions")
    data = prefix + page.encode(encoding, errors="xmlcharrefreplace")
    parsed = parse_cell_html(data)
    deportment = next(p for p in parsed.passages if p.text.startswith('The "deportment"'))
    assert "the offender’s ambitions" in deportment.text  # a curly quote survives
    assert "motivational interviewing – empathy" in deportment.text
    folded = parsed.passages[deportment.order - 1].text.replace("’", "'")
    assert folded == b5_text.passages[deportment.order - 1].text


def test_decode_html() -> None:
    assert decode_html('<p>“Hi” – there</p>'.encode("cp1252")) == "<p>“Hi” – there</p>"
    assert decode_html(b'<meta charset="latin1"><p>caf\xe9 \x92') == '<meta charset="latin1"><p>café ’'
    assert decode_html("<p>ok</p>".encode("utf-16")) == "<p>ok</p>"
    assert decode_html(b'<meta charset="nonsense-42"><p>\x93x\x94') == '<meta charset="nonsense-42"><p>“x”'


# --------------------------------------------------------------------------- cell identity


def test_page_and_path_disagree(tmp_path: Path) -> None:
    path = tmp_path / "drug" / "E1.htm"
    path.parent.mkdir()
    path.write_bytes(B5_HTM.read_bytes())
    parsed = read_cell_file(path, root=tmp_path)  # indexed under the page's own cell, with a note
    assert (parsed.cell.key, len(parsed.studies)) == ("alcohol/B5", 9)
    assert parsed.notes == (
        "the text names cell alcohol/B5 but the path says drug/E1: indexed as alcohol/B5",
    )


def test_title_and_heading_disagree_the_heading_wins_with_a_note(page: str) -> None:
    parsed = parse_cell_html(page.replace("cell B5</font></h1>", "cell B4</font></h1>"))
    assert parsed.cell.key == "alcohol/B4"
    assert parsed.notes == (
        "the page's title says alcohol/B5 but its heading says alcohol/B4: indexed as alcohol/B4",)


def test_path_is_the_fallback(tmp_path: Path, page: str, b5_html: ParsedCell) -> None:
    anonymous = re.sub(r"<title>.*?</title>", "", page)
    anonymous = re.sub(r'<h1 class="cell">.*?</h1>', "", anonymous, flags=re.S)
    path = tmp_path / "Alcohol" / "B5.html"
    path.parent.mkdir()
    path.write_text(anonymous, encoding="utf-8")
    parsed = read_cell_file(path, root=tmp_path)
    assert parsed.cell == b5_html.cell
    assert parsed.passages == b5_html.passages
    with pytest.raises(IngestError, match="cannot tell which cell"):
        parse_cell_html(anonymous)


def test_drug_cell_page() -> None:
    html = """<html><head><title>Drug Treatment Matrix cell E1: Local and national systems;
    Reducing harm</title></head><body><nav><a href="/">Home</a></nav>
    <h1>Drug Treatment Matrix cell E1</h1><p>Local and national systems; Reducing harm</p>
    <p>Key studies on how national policy shapes harm reduction. Asks who pays.</p>
    <ul><li><img alt="S"><img alt="G"> <a href="x">Watershed moment for harm reduction</a>
    ([UK] Advisory Council on the Misuse of Drugs, 2003). Argued that needle exchange had
    <em>contained</em> HIV in Britain. Discussion in bite's Issues section.</li>
    <li><span>R</span> Naloxone for all (2012). Review of take-home naloxone. For discussion
    <a href="#pays">click</a> and scroll down to highlighted heading.</li></ul>
    <h3>Issues to consider and discuss</h3>
    <h4 id="pays">Who pays for naloxone</h4><p>Local budgets are tight.</p></body></html>"""
    parsed = parse_cell_html(html, matrix="drugs", code="E1")
    assert parsed.cell.key == "drug/E1"
    assert parsed.cell.label == "Local and national systems; Reducing harm"
    s1, s2 = parsed.studies
    assert (s1.types, s1.organisation, s1.summary) == (
        ("S", "G"),
        "[UK] Advisory Council on the Misuse of Drugs",
        "Argued that needle exchange had contained HIV in Britain.",
    )
    assert s1.sections == ("Issues to consider and discuss",)  # named in the wording
    assert s2.sections == ("Who pays for naloxone",)  # the link's anchor
    assert [(p.role, p.section, p.text) for p in parsed.passages][1:] == [
        ("paragraph", "Who pays for naloxone", "Local budgets are tight.")
    ]


# --------------------------------------------------------------------------- other pages

HOT_TOPIC = """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Hot topic: the influence of treatment staff</title>
<meta name="description" content="Why the worker matters."><style>p{}</style></head>
<body><header><nav><a href="/">Home</a> <a href="/s">Search</a> <a href="/m">Matrices</a></nav></header>
<h1>The influence of treatment staff</h1>
<p>Who delivers treatment can matter as much as which treatment is delivered.</p>
<h2>Therapist effects</h2><p>Some counsellors get consistently better results – whatever the method.</p>
<ul><li>Empathy predicts retention.</li><li>Confrontation predicts drop-out.</li></ul>
<form><input name="q"></form><script>track()</script>
<footer>© Drug and Alcohol Findings</footer></body></html>"""


def test_page_that_is_not_a_cell(tmp_path: Path) -> None:
    path = tmp_path / "hot" / "staff.htm"
    path.parent.mkdir()
    path.write_text(HOT_TOPIC, encoding="utf-8")
    parsed = read_cell_file(path, root=tmp_path)
    title = "Hot topic: the influence of treatment staff"
    assert parsed.cell.key == "page/hot-staff"
    assert (parsed.cell.matrix, parsed.cell.title, parsed.cell.label) == ("page", title, title)
    assert parsed.cell.description == "Why the worker matters."
    assert parsed.studies == ()
    assert [(p.id, p.section, p.role, p.text, p.title) for p in parsed.passages] == [
        ("page/hot-staff/the-influence-of-treatment/1", "The influence of treatment staff", "paragraph",
         "Who delivers treatment can matter as much as which treatment is delivered.", title),
        ("page/hot-staff/therapist-effects/1", "Therapist effects", "paragraph",
         "Some counsellors get consistently better results – whatever the method.", title),
        ("page/hot-staff/therapist-effects/2", "Therapist effects", "paragraph",
         "Empathy predicts retention.", title),
        ("page/hot-staff/therapist-effects/3", "Therapist effects", "paragraph",
         "Confrontation predicts drop-out.", title),
    ]
    assert parse_cell_html(HOT_TOPIC).cell.key == "page/hot-topic-the-influence-of-treatment-staff"


def test_empty_page_is_an_error() -> None:
    with pytest.raises(IngestError, match="no text to index"):
        parse_cell_html("<html><head><title>Empty</title><script>x()</script></head><body></body></html>")


# --------------------------------------------------------------------------- corpus and CLI


def _corpus(tmp_path: Path, files: dict[str, bytes | str]) -> Path:
    corpus = tmp_path / "corpus"
    for rel, data in files.items():
        path = corpus / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    return corpus


def test_both_forms_of_b5_index_once(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, {"alcohol/B5.txt": B5_TXT.read_bytes(), "alcohol/B5.htm": B5_HTM.read_bytes()})
    batches, problems = ingest_corpus(corpus)
    assert [b.source for b in batches if b.shadowed_by is None] == ["alcohol/B5.htm"]
    assert [(p.path, p.reason) for p in problems] == [
        ("alcohol/B5.txt",
         "cell alcohol/B5 is indexed from alcohol/B5.htm instead (the HTML page wins over the text form)")
    ]


def test_same_form_twice_newest_wins(tmp_path: Path) -> None:
    data = B5_HTM.read_bytes()
    corpus = _corpus(tmp_path, {"a/B5.htm": data, "alcohol/B5.htm": data, "old/alcohol-B5.html": data})
    os.utime(corpus / "a" / "B5.htm", (1_000_000, 1_000_000))
    os.utime(corpus / "alcohol" / "B5.htm", (3_000_000, 3_000_000))
    os.utime(corpus / "old" / "alcohol-B5.html", (2_000_000, 2_000_000))
    batches, problems = ingest_corpus(corpus)
    assert [b.source for b in batches if b.shadowed_by is None] == ["alcohol/B5.htm"]
    assert sorted(p.reason.split("(")[1] for p in problems) == ["the newer file wins)"] * 2


def test_mixed_corpus_cli(tmp_path: Path) -> None:
    drug_e1 = (
        "Drug Treatment Matrix cell E1\n\nLocal and national systems; Reducing harm\n\n"
        "Key studies on national policy.\n\nR Naloxone for all (2012). Review of take-home naloxone.\n"
    )
    corpus = _corpus(
        tmp_path,
        {
            "alcohol/B5.txt": B5_TXT.read_bytes(),
            "alcohol/B5.htm": B5_HTM.read_bytes(),
            "drugs/E1.txt": drug_e1,
            "pages/staff.html": HOT_TOPIC,
        },
    )
    index = tmp_path / "index"
    runner = CliRunner()
    result = runner.invoke(cli, ["index", "--corpus", str(corpus), "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert (
        "skipped alcohol/B5.txt: cell alcohol/B5 is indexed from alcohol/B5.htm instead "
        "(the HTML page wins over the text form)"
    ) in result.output
    with open_index(index=index) as idx:
        docs = idx.documents()
        ids = [d.id for d in docs]
        assert len(ids) == len(set(ids)) == 9 + 28 + 2 + 4  # B5 once, E1 (a study, a description), the page
        assert {d.cell for d in docs} == {"alcohol/B5", "drug/E1", "page/pages-staff"}
        s2 = next(d for d in docs if d.id == "alcohol/B5/k2014-client-centred-supervision")
        assert s2.links == (ARE_SKILLS,) and s2.source == "alcohol/B5.htm"
        hit = idx.search("counsellors consistently better results").hits[0]
        assert (hit.id, hit.title) == (
            "page/pages-staff/therapist-effects/1", "Hot topic: the influence of treatment staff")
        assert not idx.search("glue supervision", matrix="page").hits
        top = idx.search('"manner of being between offender and agent"', kind="passage").hits
        assert top and top[0].role == "quote" and top[0].cell == "alcohol/B5"
    result = runner.invoke(cli, ["search", "naloxone", "--corpus", str(corpus), "--index", str(index)])
    assert result.exit_code == 0 and "drug/E1/r2012-naloxone" in result.output


def test_build_index_reports_duplicate(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, {"alcohol/B5.htm": B5_HTM.read_bytes(), "B5.txt": B5_TXT.read_bytes()})
    report = build_index(corpus=corpus, index=tmp_path / "index")
    assert report.added == 1 and report.documents == 37
    assert [p.path for p in report.problems] == ["B5.txt"]


# --------------------------------------------------------------------------- another writer


def _render(cell: ParsedCell, sections: dict[int, tuple[str, ...]]) -> str:
    """B5 as a different site build would write it: HTML5, a study list, sections with ids,
    bold lead-ins, pull quotes in blockquotes, the panel in an aside, a prose sidebar."""
    esc = html_lib.escape
    ids = {}
    for p in cell.passages:
        ids.setdefault(p.section, f"sec-{len(ids) + 1}")
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(cell.cell.title)}: {esc(cell.cell.label)} | Findings</title></head><body>",
        "<header><a class='logo' href='/'>Effectiveness Bank</a><ul class='menu'><li><a href='/'>Home</a>",
        "<li><a href='/m'>Matrices</a><li><a href='/s'>Search</a></ul>",
        f"<p class='kicker'>{esc(cell.cell.title)}</p><h1>{esc(cell.cell.label)}</h1>",
        f"<p class='standfirst'>{esc(cell.cell.description)}</p></header>",
        "<div class='legend'><span>S</span> Seminal studies <span>K</span> Key studies <span>R</span>",
        " Reviews <span>G</span> Guidance</div><button>Unfold extra text</button>",
        "<ol class='docs'>",
    ]
    for st in cell.studies:
        marks = "".join(f"<abbr title='{_TYPE_NAMES[t]}'>{t}</abbr>" for t in st.types)
        org = f"{esc(st.organisation)}, " if st.organisation else ""
        links = sections[st.order]
        xref = ""
        if len(links) == 1:
            click = f"<a href='#{ids[links[0]]}'>click</a>"
            xref = f" For discussion {click} and scroll down to highlighted heading."
        elif links:
            heres = " and ".join(f"<a href='#{ids[s]}'>here</a>" for s in links)
            xref = f" For discussions click {heres} and scroll down to highlighted headings."
        out.append(
            f"<li>{marks} <strong><a href='/doc/{st.order}'>{esc(st.title)}</a></strong> ({org}{st.year})."
            f" {esc(st.summary)}{xref}</li>"
        )
    out += [
        "<li><strong>MORE</strong> Retrieve all relevant analyses.</li></ol>",
        "<aside id='sidebar'><p>2020/21 update funded by the Society for the Study of Addiction,",
        " which supports research and practice across the addiction field in the UK.</p>",
        "<p><a href='/d'>Drug Treatment Matrix</a></p></aside>",
        "<section class='bite'><h2>Matrix Bite</h2>",
    ]
    section, panel_open = None, False
    for p in cell.passages[1:]:
        if p.role == "panel":
            if not panel_open:
                out.append(f"<aside class='panel'><h4>{esc(p.section)}</h4>")
                panel_open = True
            out.append(f"<p>{esc(p.text)}</p>")
            continue
        if panel_open:
            out.append("</aside>")
            panel_open = False
        if p.role == "quote":
            out.append(f"<blockquote class='pullquote'><p>{esc(p.text)}</p></blockquote>")
            continue
        if p.section != section:
            section = p.section
            out.append(f"<p id='{ids[section]}'><strong>&#9658; {esc(section)}</strong> {esc(p.text)}</p>")
        else:
            out.append(f"<p>{esc(p.text)}</p>")
    out += ["</section><footer><p>&copy; Findings</p></footer></body></html>"]
    return "\n".join(out)


def test_another_writers_rendering(b5_text: ParsedCell) -> None:
    page = _render(b5_text, HTML_SECTIONS)
    parsed = parse_cell_html(page.encode("utf-8"))
    assert_equivalent(b5_text, parsed)
    assert_exact_links(parsed)


def test_a_study_line_in_the_commentary_is_a_study() -> None:
    page = (
        "<title>Alcohol Treatment Matrix cell B5</title><p>K First study (2008). Found things.</p>"
        "<p>MORE</p><h2>Highlighted study</h2><p>K Second study (Home Office, 2011). Also found.</p>"
        "<p>This paragraph discusses both of them at some length.</p>"
    )
    parsed = parse_cell_html(page)
    assert [(s.title, s.year, s.organisation) for s in parsed.studies] == [
        ("First study", 2008, None), ("Second study", 2011, "Home Office")]
    assert [p.text for p in parsed.passages] == ["This paragraph discusses both of them at some length."]
