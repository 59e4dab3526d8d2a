"""The web pages, in-process through Starlette's TestClient: what a user gets for each URL.

Results, facets, filters in the URL, paging, document pages, downloads, the JSON API, error
pages, escaping of hostile corpus text, and the server's read-only promise. Browser-only
behaviour (typing, clicking, the keyboard, accessibility) is in ``test_web_browser.py``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from evsearch import build_index
from evsearch.cli import cli
from evsearch.web import app as web_app
from evsearch.web import create_app

from ._scripts import load_script
from ._webserver import known_ids
from .conftest import CORPUS

# --------------------------------------------------------------------------- helpers


class Page(HTMLParser):
    """The parts of an HTML page the tests look at: elements with attributes, and text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self._stack: list[str] = []
        self.marks: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._stack and self._stack[-1] == "mark":
            self.marks.append(data)

    def all(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    def links(self) -> list[str]:
        return [a["href"] for t, a in self.elements if t == "a" and "href" in a]

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.texts))


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


@pytest.fixture(scope="module")
def cli_run(built_index: Path) -> Any:
    """The CLI over the same index and corpus as the pages."""

    def run(command: str, *args: str) -> Any:
        where = ["--index", str(built_index), "--corpus", str(CORPUS)]
        return CliRunner().invoke(cli, [command, *where, *args], catch_exceptions=False)

    return run


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def ids(built_index: Path) -> dict[str, str]:
    return known_ids(built_index)


@pytest.fixture(scope="module")
def client(built_index: Path) -> Iterator[TestClient]:
    with TestClient(create_app(index=built_index, corpus=CORPUS)) as c:
        yield c


# --------------------------------------------------------------------------- results


def test_results_page_shows_ranked_highlighted_hits_and_facets(
    client: TestClient, ids: dict[str, str]
) -> None:
    r = client.get("/?q=supervision")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = Page(r.text)
    assert "16 matches; showing 1–10 (page 1 of 2)" in page.text
    titles = [a for a in page.all("a") if a.get("href", "").startswith("/doc/")]
    assert titles[0]["href"] == f"/doc/{ids['sup']}?q=supervision"
    assert "Supervising offenders is about the quality of the relationship" in page.text
    assert {m.lower() for m in page.marks} >= {"supervision"}
    # the result's metadata: type, year, cell with its own label
    assert "review 2002 alcohol/B5: Practitioners; Safeguarding the community" in page.text
    # facet counts over all 16 matches, not just this page
    assert "passages 12" in page.text and "studies 4" in page.text
    assert "key study (K) 2" in page.text
    # the search box keeps the query and is focused
    box = page.all("input", id="q")[0]
    assert box["value"] == "supervision" and "autofocus" in box


def test_every_page_has_a_content_security_policy_allowing_nothing_external(
    client: TestClient, ids: dict[str, str]
) -> None:
    urls = ("/", "/?q=supervision", f"/doc/{ids['rel']}", "/static/style.css", "/nope", "/api/search?q=x")
    for url in urls:
        csp = client.get(url).headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp, url
        assert "http" not in csp and "*" not in csp
    page = Page(client.get("/?q=supervision").text)
    for tag, attr in (("script", "src"), ("link", "href"), ("img", "src")):
        for el in page.all(tag):
            if attr in el:
                assert el[attr].startswith("/static/"), el
    assert not page.all("script", type="text/javascript")  # no inline scripts
    assert all("src" in el for el in page.all("script"))
    assert all("style" not in attrs for _, attrs in page.elements)  # CSP forbids inline styles


def test_a_filter_in_the_url_narrows_results_and_facets(client: TestClient) -> None:
    page = Page(client.get("/?q=supervision&type=K").text)
    assert "2 matches" in page.text
    selected = [a for a in page.all("a") if a.get("aria-current") == "true" and "/?" in a["href"]]
    # the selected type links to the search without it
    assert any(a["href"] == "/?q=supervision" for a in selected)
    # the kind facet now counts the two key studies only
    assert "studies 2" in page.text and "passages" not in page.text.split("Kind")[1].split("Study type")[0]
    # filters survive a new query: hidden inputs in the search form
    hidden = {(a["name"], a["value"]) for a in page.all("input", type="hidden")}
    assert ("type", "K") in hidden


def test_facet_links_add_one_filter_each(client: TestClient) -> None:
    page = Page(client.get("/?q=supervision").text)
    links = page.links()
    assert "/?q=supervision&kind=study" in links
    assert "/?q=supervision&type=G" in links
    assert "/?q=supervision&year_from=2000&year_to=2009" in links  # the 2000s
    assert "/?q=supervision&matrix=alcohol" in links
    assert "/?q=supervision&cell=alcohol%2FB5" in links
    two = Page(client.get("/?q=supervision&kind=study").text)
    assert "/?q=supervision&kind=study&type=R" in two.links()  # filters combine
    both = Page(client.get("/?q=supervision&type=K&type=R").text)
    assert "3 matches" in both.text and "/?q=supervision&type=R" in both.links()  # K off, R kept


def test_year_chart_is_svg_bars_each_a_filter_link(client: TestClient) -> None:
    r = client.get("/?q=supervision")
    svg = re.search(r"<svg class=\"chart\".*?</svg>", r.text, re.S)
    assert svg is not None
    bars = Page(svg.group(0))
    hrefs = [a["href"] for a in bars.all("a")]
    assert [query_of(h)["year_from"] for h in hrefs] == [["2002"], ["2005"], ["2008"], ["2014"]]
    assert all(query_of(h)["year_from"] == query_of(h)["year_to"] for h in hrefs)
    assert [a["aria-label"] for a in bars.all("a")][0] == "2002: 1 match"
    assert not bars.all("a", **{"aria-current": "true"})
    heights = [float(a["height"]) for a in bars.all("rect") if a.get("class", "").startswith("bar")]
    assert len(heights) == 4 and len(set(heights)) == 1  # one match a year: equal bars
    chosen = Page(client.get("/?q=supervision&year_from=2008&year_to=2008").text)
    assert "1 match" in chosen.text
    chart = Page(re.search(r"<svg class=\"chart\".*?</svg>", client.get(
        "/?q=supervision&year_from=2008&year_to=2008").text, re.S).group(0))
    assert [a["href"] for a in chart.all("a", **{"aria-current": "true"})] == ["/?q=supervision"]


def test_paging_and_sorting_links(client: TestClient) -> None:
    page = Page(client.get("/?q=supervision&page=2").text)
    assert "showing 11–16 (page 2 of 2)" in page.text
    assert page.all("ol")[0]["start"] == "11"
    prev = [a for a in page.all("a") if a.get("rel") == "prev"]
    assert prev[0]["href"] == "/?q=supervision"  # page 1 is the default: left out
    current = [a for a in page.all("a") if a.get("aria-current") == "page"]
    assert current[0]["href"] == "/?q=supervision&page=2"
    newest = Page(client.get("/?kind=study&sort=-year&limit=3").text)
    years = re.findall(r"(?:key study|review|guidance|seminal study) (\d{4})", newest.text)
    assert years == sorted(years, reverse=True) and len(years) == 3
    assert "/?kind=study&limit=3" in newest.links()  # back to relevance, page size kept
    past = client.get("/?q=supervision&page=9")
    assert past.status_code == 200 and "page 9 is past the last page (2)" in Page(past.text).text


def test_did_you_mean_is_a_link(client: TestClient) -> None:
    page = Page(client.get("/?q=motivatonal+intervewing").text)
    assert "Showing results for motivational interviewing" in page.text
    assert "some words of motivatonal intervewing are in no document" in page.text
    assert "/?q=motivational+interviewing" in page.links()


def test_home_page_without_a_query(client: TestClient) -> None:
    page = Page(client.get("/").text)
    assert "10 studies and" in page.text or "studies and" in page.text
    assert "autofocus" in page.all("input", id="q")[0]


def test_no_matches_says_so(client: TestClient) -> None:
    r = client.get("/?q=zzzzqqqq")
    assert r.status_code == 200 and "No matches for zzzzqqqq" in Page(r.text).text


# --------------------------------------------------------------------------- documents


def test_study_page_has_summary_commentary_other_studies_similar_and_back(
    client: TestClient, ids: dict[str, str]
) -> None:
    r = client.get(f"/doc/{ids['rel']}?q=supervision&type=K")
    assert r.status_code == 200
    page = Page(r.text)
    assert page.all("h1")[0] is not None
    assert "Relationship with therapist seems more important for offenders than other clients" in page.text
    assert "At a Canadian substance use rehabilitation centre" in page.text
    assert "Commentary that discusses it" in page.text
    assert "Are the practitioner's therapeutic skills really unimportant?" in page.text
    links = page.links()
    assert f"/doc/{ids['glue']}?q=supervision&type=K" in links  # a passage of that section
    assert f"/doc/{ids['sup']}?q=supervision&type=K" in links  # another study discussed there
    assert "Similar documents" in page.text
    back = [a for a in page.all("a") if a.get("class") == "back"][0]
    assert back["href"] == "/?q=supervision&type=K"
    plain = Page(client.get(f"/doc/{ids['rel']}").text)
    assert [a["href"] for a in plain.all("a") if a.get("class") == "back"] == ["/"]


def test_passage_page_has_section_neighbours_and_studies(client: TestClient, ids: dict[str, str]) -> None:
    page = Page(client.get(f"/doc/{ids['glue']}").text)
    assert "Section: Are the practitioner's therapeutic skills really unimportant?" in page.text
    assert "The glue of the supervision process is the manner of being" in page.text
    links = page.links()
    assert f"/doc/{ids['before']}" in links and f"/doc/{ids['after']}" in links  # neighbours
    assert "Studies this section discusses" in page.text
    for study in ("rel", "sup", "mi"):
        assert f"/doc/{ids[study]}" in links


# --------------------------------------------------------------------------- downloads and API


def test_exports_are_the_cli_formats_as_downloads(client: TestClient, cli_run: Any) -> None:
    for fmt, ext in (("ris", "ris"), ("csv", "csv"), ("json", "json"), ("bibtex", "bib")):
        r = client.get(f"/export/{fmt}?q=supervision&type=K&page=2")
        assert r.status_code == 200
        assert r.headers["content-disposition"] == f'attachment; filename="evsearch-supervision.{ext}"'
    cli_args = ("search", "supervision", "--type", "K", "--limit", "1000")
    assert client.get("/export/ris?q=supervision&type=K").text == cli_run(*cli_args, "--format", "ris").stdout
    assert client.get("/export/csv?q=supervision").text == cli_run(
        "search", "supervision", "--limit", "1000", "--format", "csv").stdout
    web_json = json.loads(client.get("/export/json?q=supervision").text)
    assert web_json == json.loads(cli_run("search", "supervision", "--limit", "1000", "--json").stdout)
    assert len(list(csv.DictReader(io.StringIO(client.get("/export/csv?q=supervision").text)))) == 16


def test_bibtex_export_holds_the_studies(client: TestClient) -> None:
    text = client.get("/export/bibtex?q=supervision").text
    entries = re.findall(r"@misc\{([^,]+),", text)
    studies = [h["id"] for h in client.get("/api/search?q=supervision&kind=study").json()["hits"]]
    assert entries == [re.sub(r"[^A-Za-z0-9]+", "_", i) for i in studies] and len(entries) == 4
    assert "  title = {{Client-centred supervision motivates UK offenders}},\n" in text
    assert "  publisher = {[UK] Ministry of Justice},\n" in text
    assert "  year = {2014},\n" in text
    assert text.count("{") == text.count("}")


def test_bibtex_escapes_tex_specials() -> None:
    from evsearch.results import Hit
    from evsearch.web.export import render_bibtex

    hit = Hit(1, 1.0, "x/A1/s1", "study", "x/A1", "50% of {a} & b_c #1 ~ ^ \\", None, "K", 2001, "", "t")
    out = render_bibtex([hit])
    assert r"50\% of \{a\} \& b\_c \#1 \~{} \^{} \textbackslash{}" in out
    assert out.count("{") - out.count(r"\{") == out.count("}") - out.count(r"\}")


def test_api_search_is_the_cli_json_with_a_url_per_hit(
    client: TestClient, ids: dict[str, str], cli_run: Any
) -> None:
    r = client.get("/api/search?q=supervision&type=K&limit=5&facets=1")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    data = r.json()
    cli_data = json.loads(cli_run("search", "supervision", "--type", "K", "--limit", "5", "--facets",
                                  "--json").stdout)
    assert [h.pop("url") for h in data["hits"]] == [f"/doc/{ids['client']}", f"/doc/{ids['rel']}"]
    assert data == cli_data
    assert client.get("/api/search?q=supervision").json()["facets"] is None


def test_api_doc_is_the_cli_show_json_with_a_url(
    client: TestClient, ids: dict[str, str], cli_run: Any
) -> None:
    data = client.get(f"/api/doc/{ids['rel']}").json()
    assert data.pop("url") == f"/doc/{ids['rel']}"
    assert data == json.loads(cli_run("show", ids["rel"], "--json").stdout)


# --------------------------------------------------------------------------- errors


def _message(html: str) -> tuple[str, str]:
    page = Page(html)
    error = next(t.strip() for t in page.texts if t.strip().startswith("Error:"))
    hint = next(t.strip() for t in page.texts if t.strip().startswith("Hint:"))
    return error, hint


@pytest.mark.parametrize(("url", "status", "error"), [
    ("/?q=x&page=-1", 400, "Error: page must be 1 or more, not -1"),
    ("/?q=x&page=0", 400, "Error: page must be 1 or more, not 0"),
    ("/?q=x&page=abc", 400, "Error: page must be a whole number, not 'abc'"),
    ("/?q=x&limit=100000", 400, "Error: limit must be between 1 and 1000"),
    ("/?q=x&limit=0", 400, "Error: limit must be between 1 and 1000"),
    ("/?q=x&type=Z", 400, "Error: unknown study type 'Z'"),
    ("/?q=x&kind=book", 400, "Error: unknown kind 'book'"),
    ("/?q=x&cell=Z9", 400, "Error: unknown cell 'Z9'"),
    ("/?q=x&matrix=tea", 400, "Error: unknown matrix 'tea'"),
    ("/?q=x&year_from=abc", 400, "Error: year_from must be a whole number, not 'abc'"),
    ("/?q=x&year_from=99999", 400, "Error: year 99999 is out of range"),
    ("/?q=x&sort=size", 400, "Error: unknown sort 'size'"),
    ("/?q=x&colour=red", 400, "Error: unknown parameter 'colour'"),
    ("/?q=" + "x" * 3000, 400, None),
    ("/?q=type:Q", 400, "Error: unknown study type 'Q'"),
    ("/doc/alcohol/B5/zz", 404, "Error: no document with id 'alcohol/B5/zz'"),
    ("/doc/%2e%2e/%2e%2e/etc/passwd", 404, "Error: no document with id '../../etc/passwd'"),
    ("/doc/{rel}?bogus=1", 400, "Error: unknown parameter 'bogus'"),
    ("/static/..%2f..%2f..%2fpyproject.toml", 404, None),
    ("/static/%2e%2e/%2e%2e/app.py", 404, None),
    ("/static/../app.py", 404, None),
    ("/static/", 404, None),
    ("/export/pdf?q=x", 404, None),
    ("/export/ris?q=x&type=Z", 400, "Error: unknown study type 'Z'"),
    ("/nowhere", 404, "Error: no page at '/nowhere'"),
])
def test_bad_requests_get_an_error_page_with_one_line_message(
    client: TestClient, ids: dict[str, str], url: str, status: int, error: str | None
) -> None:
    r = client.get(url.format(**ids))
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("text/html")
    line, hint = _message(r.text)
    if error is not None:
        assert line == error
    assert hint.startswith("Hint: ") and len(hint) > 10
    assert "Traceback" not in r.text


def test_error_messages_are_the_clis(client: TestClient, cli_run: Any) -> None:
    shown = cli_run("show", "alcohol/B5/zz")
    assert shown.exit_code == 1
    assert "\n".join(_message(client.get("/doc/alcohol/B5/zz").text)) + "\n" == shown.stderr
    typed = cli_run("search", "x type:Z")
    assert "\n".join(_message(client.get("/?q=x+type:Z").text)) + "\n" == typed.stderr


def test_api_errors_are_json(client: TestClient, ids: dict[str, str]) -> None:
    r = client.get("/api/search?q=x&limit=100000")
    assert r.status_code == 400
    assert r.json() == {"error": "limit must be between 1 and 1000",
                        "hint": "pass --limit N with 1 <= N", "status": 400}
    assert client.get("/api/doc/alcohol/B5/zz").status_code == 404
    assert client.get(f"/api/doc/{ids['rel']}?x=1").status_code == 400
    assert client.get("/api/nothing").json()["status"] == 404


def test_only_get_is_allowed(client: TestClient) -> None:
    r = client.post("/?q=supervision")
    assert r.status_code == 405 and "Error: POST is not allowed here" in Page(r.text).text


def test_static_assets_are_served_with_types(client: TestClient) -> None:
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    js = client.get("/static/search.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "http" not in js.text.replace("https://", "")  # fetches its own pages only


# --------------------------------------------------------------------------- escaping


HOSTILE_WEB_CELL = (
    "Drug Treatment Matrix cell C2\n\n"
    "Management; \"><img src=x onerror=alert(1)> label\n\n"
    "A description of the cell about supervision.\n\n"
    "K Attribute breaker \"><img src=x onerror=alert(7)> and <script>alert(3)</script> title "
    "(\"><svg onload=alert(4)> Org, 2011). A summary about supervision with </textarea><script>alert(5)"
    "</script> and \u202eevil\u202c bidi and \x1b[31mred\x1b[0m escapes and \x07bell. "
    "For discussion click here.\n\n"
    "What is this cell about? A paragraph about supervision and \"><img src=x onerror=alert(6)> "
    "offenders with ' single \" double & ampersands.\n"
)


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    fuzz = load_script("fuzz", "evsearch_fuzz")
    work = tmp_path_factory.mktemp("web-hostile")
    corpus = work / "corpus"
    (corpus / "drug").mkdir(parents=True)
    (corpus / "drug" / "B5.txt").write_text(
        fuzz.HOSTILE_CELL.replace("Alcohol Treatment", "Drug Treatment"), encoding="utf-8")
    (corpus / "drug" / "C2.txt").write_text(HOSTILE_WEB_CELL, encoding="utf-8")
    (corpus / "drug" / "C3.htm").write_text(HOSTILE_WEB_HTM, encoding="utf-8")
    build_index(corpus=corpus, index=work / "index")
    with TestClient(create_app(index=work / "index", corpus=corpus)) as c:
        yield c


def assert_inert(html: str) -> None:
    """No markup from the corpus or the query became an element, an attribute or a control."""
    page = Page(html)
    scripts = page.all("script")
    assert [s.get("src", "").split("?")[0] for s in scripts] == ["/static/search.js"]
    assert not page.all("img") and not page.all("svg", onload="alert(4)") and not page.all("textarea")
    for tag, attrs in page.elements:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    for mark in re.findall(r"<mark>(.*?)</mark>", html, re.S):
        assert "<" not in mark
    for ch in ("\u202e", "\u202c", "\x1b", "\x07"):
        assert ch not in html


HOSTILE_WEB_HTM = (
    "<html><head><title>Drug Treatment Matrix cell C3: Management; &quot;&gt;&lt;img src=x "
    "onerror=alert(1)&gt; label</title></head><body>"
    "<p>A description of the cell about supervision &lt;/title&gt;&lt;script&gt;alert(9)&lt;/script&gt;.</p>"
    '<p><b>K</b> <a href="#sup">Breaker &quot;&gt;&lt;img src=x onerror=alert(7)&gt; '
    "&lt;script&gt;alert(3)&lt;/script&gt; \u202eevil\u202c title</a> (&quot;&gt;&lt;svg onload=alert(4)&gt; "
    "Org, 2011). A summary about supervision with &lt;/textarea&gt;&lt;script&gt;alert(5)&lt;/script&gt; "
    "and \x1b[31mred\x1b[0m. For discussion click here.</p><p>MORE</p>"
    "<h2 id='sup'>Supervision &quot;&gt;&lt;script&gt;alert(8)&lt;/script&gt;</h2>"
    "<p>What is this cell about? A paragraph about supervision and &quot;&gt;&lt;img src=x "
    "onerror=alert(6)&gt; offenders with ' single &quot; double &amp; ampersands.</p>"
    "</body></html>"
)

HOSTILE_QUERIES = [
    "supervision", "script", "img onerror", "alert", "mark", "evil", "title",
    '"><img src=x onerror=alert(1)>', "<script>alert(1)</script>", "\u202eevil\u202c", "red \x1b[31m",
    "' or 1=1 --", "&lt;script&gt;",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_text_and_queries_are_escaped_in_results(hostile_client: TestClient, query: str) -> None:
    r = hostile_client.get("/", params={"q": query, "limit": 50})
    assert r.status_code in (200, 400)
    assert_inert(r.text)


def test_hostile_documents_and_facets_are_escaped(hostile_client: TestClient) -> None:
    ids = []
    for cell in ("drug/C2", "drug/C3"):
        params = {"q": "supervision", "limit": 50, "cell": cell}
        data = hostile_client.get("/api/search", params=params).json()
        ids += [h["id"] for h in data["hits"]]
        assert data["hits"], f"the hostile cell {cell} is searchable"
    ids += [h["id"] for h in hostile_client.get(
        "/api/search", params={"q": "supervision", "limit": 50, "cell": "drug/B5"}).json()["hits"]]
    assert len(ids) >= 6
    for doc_id in ids:
        r = hostile_client.get(f"/doc/{doc_id}", params={"q": '"><img src=x onerror=alert(1)>'})
        assert r.status_code in (200, 404)
        assert_inert(r.text)
    facets = hostile_client.get("/", params={"q": "supervision", "matrix": "drug"})
    assert_inert(facets.text)
    assert "Management; &#34;&gt;&lt;img src=x onerror=alert(1)&gt; label" in facets.text  # label, escaped
    study = hostile_client.get("/api/search", params={"q": "breaker", "kind": "study", "cell": "drug/C3"})
    r = hostile_client.get(study.json()["hits"][0]["url"])
    assert "Breaker &#34;&gt;&lt;img src=x onerror=alert(7)&gt; &lt;script&gt;alert(3)" in r.text
    assert "evil title" in Page(r.text).text and "Supervision &#34;&gt;&lt;script&gt;alert(8)" in r.text


def test_hostile_exports_and_api_are_valid(hostile_client: TestClient) -> None:
    for fmt in ("ris", "bibtex", "csv", "json"):
        r = hostile_client.get(f"/export/{fmt}", params={"q": "supervision"})
        assert r.status_code == 200
        r.content.decode("utf-8")
        assert "\x1b" not in r.text or fmt in ("csv", "json")  # CSV and JSON keep the text as it is
    json.loads(hostile_client.get("/export/json", params={"q": "supervision"}).text)
    name = hostile_client.get("/export/ris", params={"q": '"; evil\r\nx'}).headers["content-disposition"]
    assert name == 'attachment; filename="evsearch-evil-x.ris"'


# --------------------------------------------------------------------------- read-only, out of date


def test_the_server_never_writes_and_says_when_the_corpus_changed(
    corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_app, "STALE_CHECK_SECONDS", 0.0)
    index = tmp_path / "index"
    build_index(corpus=corpus_copy, index=index)
    before = tree_digest(index)
    with TestClient(create_app(index=index, corpus=corpus_copy)) as c:
        assert "out of date" not in c.get("/?q=supervision").text
        cell = corpus_copy / "alcohol" / "B5.txt"
        cell.write_text(cell.read_text(encoding="utf-8") + "\n\nA new paragraph about zebras.\n",
                        encoding="utf-8")
        page = Page(c.get("/?q=zebras").text)
        assert "The index is out of date" in page.text
        assert f"evsearch index --corpus {corpus_copy} --index {index}" in page.text
        assert "No matches for zebras" in page.text  # nothing re-indexed behind the user's back
        study = "/doc/" + known_ids(index)["rel"]
        for url in ("/", study, "/export/json?q=x", "/api/search?q=x", "/?page=-1"):
            c.get(url)
    assert tree_digest(index) == before


def test_a_missing_index_is_an_error_not_a_build(tmp_path: Path) -> None:
    from evsearch import IndexMissingError

    with pytest.raises(IndexMissingError):
        create_app(index=tmp_path / "none", corpus=CORPUS)
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("url", [
    "/?q=%ff%fe", "/?q=%00", "/?q=%E2%80%AEevil%E2%80%AC", "/?q=%0d%0aSet-Cookie:+x=1", "/?q=a&q=supervision",
    "/doc/%ff", "/doc/", "/doc/" + "a" * 5000, "/doc/{rel}%00", "/api/search?q=%ed%b3%bf",
    "/api/doc/%ff%fe", "/export/csv?q=%ff", "/?type=K,R&q=supervision", "/?q=" + "%22" * 500,
    "/?q=" + "a%20" * 70,
])
def test_odd_urls_are_answered_never_with_a_server_error(client: TestClient, ids: dict[str, str],
                                                          url: str) -> None:
    r = client.get(url.replace("{rel}", ids["rel"]))
    assert r.status_code in (200, 400, 404), url
    assert "set-cookie" not in r.headers
    if r.headers["content-type"].startswith("text/html"):
        assert_inert(r.text)
    r.content.decode("utf-8")  # always valid UTF-8


def test_a_bug_is_one_line_without_a_traceback(built_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(index=built_index, corpus=CORPUS)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret /internal/path")

    monkeypatch.setattr(app.state.web.index, "search", broken)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/?q=supervision")
        assert r.status_code == 500
        assert r.text == ("Error: internal error: RuntimeError\n"
                          "Hint: this is a bug in evsearch; please report it with the address you opened\n")
        assert c.get("/api/search?q=x").json()["error"] == "internal error: RuntimeError"
        assert c.get("/doc/" + known_ids(built_index)["rel"]).status_code == 200  # the rest works
