"""The web page over the Xapian engine: a local Xapian index and remote shards served by real
``xapian-tcpsrv`` processes on 127.0.0.1 answer as the Whoosh engine's page does; a shard that
dies or hangs while the server runs is a 503 page naming it (or, with ``partial``, a page
saying which shard is missing), never a traceback or a hang, and the server serves again once
the shard is back; ``evsearch serve`` over remote shards never builds an index."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from evsearch import config, open_index
from evsearch.cli import cli
from evsearch.index import update_index
from evsearch.web import create_app

from ._scripts import load_script
from ._webserver import RunningServer, known_ids
from ._xapian import Server, free_port, needs_xapian, remote_spec, serve, shard_paths
from .conftest import B5, ROOT

needs_xapian()

#: Queries a user types, with page options: words, phrases, filters, prefixes, sorts, pages.
PAGES = [
    "q=supervision",
    "q=motivational+interviewing&limit=5&page=2",
    "q=treatment+outcomes&sort=-year&limit=6&page=2",
    "q=alcohol&sort=year&limit=8",
    "q=%22brief+intervention%22",
    "q=patients&type=K&type=R&year_from=2000",
    "q=drug*+-alcohol&limit=5",
    "q=offenders&kind=study",
    "q=therapist&cell=alcohol/B5",
    "q=&kind=study&sort=-year",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 cells of synthetic passages, the real B5 cell, and a hostile drug/B5 cell."""
    make_corpus = load_script("make_corpus", "make_corpus_for_web_xapian")
    fuzz = load_script("fuzz", "fuzz_for_web_xapian")
    out = tmp_path_factory.mktemp("wxcorpus") / "corpus"
    make_corpus.write_corpus(600, out, seed=11, training=[B5])
    (out / "alcohol" / "B5.txt").write_bytes(B5.read_bytes())
    (out / "drug" / "B5.txt").write_text(
        fuzz.HOSTILE_CELL.replace("Alcohol Treatment", "Drug Treatment"), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def whoosh_index(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("wxw") / "index"
    update_index(corpus=corpus, index=target)
    return target


@pytest.fixture(scope="module")
def xapian_index(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("wxx") / "index"
    update_index(corpus=corpus, index=target, engine="xapian", shards=3)
    return target


@pytest.fixture()
def shards(xapian_index: Path) -> Iterator[list[Server]]:
    """A server per shard, for one test (tests that kill one get their own)."""
    with serve(shard_paths(xapian_index)) as servers:
        yield servers


def get(url: str, path: str, timeout: float = 60.0) -> tuple[int, str, dict[str, str]]:
    """GET ``path`` (status, body, headers); the client's own timeout is only a safety net."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8"), {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


def page_hits(html: str) -> list[str]:
    """The document ids of a results page's hits, in order."""
    return [quote_back(m) for m in re.findall(r'<h2 class="hit-title"><a href="/doc/([^"?]+)', html)]


def quote_back(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path)


def summary(html: str) -> str:
    m = re.search(r'<p id="summary" class="summary">(.*?)</p>', html, re.S)
    assert m, html[:500]
    return " ".join(re.sub(r"<[^>]+>", "", m.group(1)).split())


def api(url: str, query: str) -> dict[str, Any]:
    status, body, _ = get(url, f"/api/search?{query}&facets=1")
    assert status == 200, body
    data: dict[str, Any] = json.loads(body)
    return data


def test_pages_over_remote_shards_are_the_local_xapian_pages_and_match_whoosh(
    whoosh_index: Path, xapian_index: Path, shards: list[Server]
) -> None:
    """Results, order, totals, facets, snippets, sorting, paging, exports and document pages:
    remote shards give the local Xapian index's pages byte for byte; the Whoosh engine's page
    on the same corpus has the same matches, totals and facet counts."""
    with RunningServer(create_app(index=remote_spec(shards))) as remote, \
            RunningServer(create_app(index=xapian_index)) as local, \
            RunningServer(create_app(index=whoosh_index)) as whoosh:
        for query in PAGES:
            r_status, r_html, _ = get(remote.url, f"/?{query}")
            l_status, l_html, _ = get(local.url, f"/?{query}")
            w_status, w_html, _ = get(whoosh.url, f"/?{query}")
            assert r_status == l_status == w_status == 200, query
            assert r_html == l_html, query  # the same page, snippets, facets and links
            assert page_hits(r_html), query
            assert summary(r_html) == summary(w_html), query  # totals and "showing 6-10 of"
            rx, rw = api(remote.url, query), api(whoosh.url, query)
            assert (rx["total"], rx["facets"]) == (rw["total"], rw["facets"]), query
            assert [h["id"] for h in rx["hits"]] == page_hits(r_html), query
            if "sort=" in query:  # by year then score: the years of a page agree
                assert [h["year"] for h in rx["hits"]] == [h["year"] for h in rw["hits"]], query
            if "q=supervision" == query:  # ranked alike where the scores are far apart
                assert [h["id"] for h in rx["hits"]][:3] == [h["id"] for h in rw["hits"]][:3]
        everything = "q=treatment&limit=1000"
        assert {h["id"] for h in api(remote.url, everything)["hits"]} == {
            h["id"] for h in api(whoosh.url, everything)["hits"]}
        assert "<mark>" in get(remote.url, "/?q=supervision")[1]
        labelled = get(remote.url, "/?q=therapist&cell=alcohol/B5")[1]  # labels come from the shards
        assert '<span class="cell">alcohol/B5: Practitioners; Safeguarding the community</span>' in labelled
        for fmt in ("csv", "ris", "bibtex", "json"):
            path = f"/export/{fmt}?q=supervision"
            r, w = get(remote.url, path), get(local.url, path)
            assert r[0] == 200 and r[1] == w[1], fmt
            assert r[2]["content-disposition"].startswith("attachment"), fmt
        ids = known_ids(xapian_index)
        for doc in (ids["rel"], ids["glue"]):
            r_status, r_html, _ = get(remote.url, f"/doc/{quote(doc)}?q=supervision")
            assert r_status == 200 and r_html == get(local.url, f"/doc/{quote(doc)}?q=supervision")[1]
            assert 'class="similar"' in r_html or "Similar" in r_html
        assert get(remote.url, "/doc/alcohol/B5/no-such-document")[0] == 404
        home = get(remote.url, "/")[1]
        with open_index(index=xapian_index) as idx:
            studies = idx.stats().studies
        assert f"{studies:,}" in home or str(studies) in home


def test_hostile_text_over_remote_shards_is_escaped(shards: list[Server]) -> None:
    with RunningServer(create_app(index=remote_spec(shards))) as site:
        status, html, headers = get(site.url, "/?q=hostile+red+title+%3Cscript%3E")
        assert status == 200 and "content-security-policy" in headers
        assert "drug/B5" in html
        assert "<script>alert" not in html and "<<script>" not in html
        assert "\x1b" not in html and "\x07" not in html
        for fmt in ("csv", "json"):
            assert "\x1b" not in get(site.url, f"/export/{fmt}?q=hostile")[1]


def _error_lines(html: str) -> tuple[str, str]:
    message = re.search(r'<p class="message">(.*?)</p>', html, re.S)
    hint = re.search(r'<p class="hint-line">(.*?)</p>', html, re.S)
    assert message and hint, html[:500]
    return message.group(1), hint.group(1)


def test_a_shard_killed_while_serving_is_a_503_naming_it_then_served_again(shards: list[Server]) -> None:
    with RunningServer(create_app(index=remote_spec(shards))) as site:
        before = get(site.url, "/?q=supervision")[1]
        assert page_hits(before)
        dead = shards[1]
        dead.stop()
        status, html, _ = get(site.url, "/?q=%3Cscript%3Ealert(1)%3C/script%3E+supervision")
        assert status == 503
        message, hint = _error_lines(html)
        assert message == f"Error: 1 of 3 shards of the index did not answer: {dead.address}"
        assert hint.startswith("Hint: start the shard&#39;s xapian-tcpsrv again")
        assert "Traceback" not in html and "<script>alert" not in html  # the box's text is escaped
        status, body, _ = get(site.url, "/api/search?q=supervision")
        assert status == 503 and json.loads(body)["error"].endswith(dead.address)
        assert get(site.url, f"/doc/{quote(page_hits(before)[0])}")[0] == 503
        dead.start(same_port=True)
        status, html, _ = get(site.url, "/?q=supervision")
        assert status == 200 and html == before


def test_with_partial_the_page_says_which_shard_is_missing(
    shards: list[Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "SHARD_RETRY_SECONDS", 0.0)  # try a missing shard on every page
    with RunningServer(create_app(index=remote_spec(shards), partial=True)) as site:
        full = get(site.url, "/?q=treatment")[1]
        assert 'id="missing-shards"' not in full
        dead = shards[2]
        with open_index(index=f"xapian+tcp://{dead.address}") as alone:
            on_dead = alone.documents()[0].id
        dead.stop()
        status, html, _ = get(site.url, f"/doc/{quote(on_dead)}")
        assert status == 404
        expected = (f"Error: no document with id {on_dead!r} in the shards that answered "
                    f"(left out: {dead.address})")
        assert _error_lines(html)[0] == expected.replace("'", "&#39;")
        status, html, _ = get(site.url, "/?q=treatment")
        assert status == 200
        notice = re.search(r'<div id="missing-shards".*?</div>', html, re.S)
        assert notice and f"<code>{dead.address}</code>" in notice.group(0)
        assert "1\n    shard of the index did not answer" in notice.group(0)
        total = int(re.search(r"<strong>(\d+)</strong>", html).group(1))  # type: ignore[union-attr]
        assert 0 < total < int(re.search(r"<strong>(\d+)</strong>", full).group(1))  # type: ignore[union-attr]
        assert api(site.url, "q=treatment")["missing_shards"] == [dead.address]
        dead.start(same_port=True)
        assert get(site.url, "/?q=treatment")[1] == full


def test_a_hung_shard_times_out_in_the_page(shards: list[Server], monkeypatch: pytest.MonkeyPatch) -> None:
    """A shard that accepts but never answers (stopped mid-conversation): the page is a 503
    naming it once the bounded timeout passes, not a page that never comes."""
    monkeypatch.setenv("EVSEARCH_SHARD_TIMEOUT", "1")
    with RunningServer(create_app(index=remote_spec(shards))) as site:
        before = get(site.url, "/?q=supervision")[1]
        hung = shards[0]
        hung.signal(signal.SIGSTOP)
        try:
            status, html, _ = get(site.url, "/?q=alcohol+services", timeout=120)
            assert status == 503
            message = _error_lines(html)[0]
            assert message == f"Error: 1 of 3 shards of the index did not answer: {hung.address}"
            status, _, _ = get(site.url, "/api/search?q=supervision", timeout=120)
            assert status == 503
        finally:
            hung.signal(signal.SIGCONT)
        assert get(site.url, "/?q=supervision")[1] == before


def _env() -> dict[str, str]:
    src = str(ROOT / "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


def test_evsearch_serve_over_remote_shards_answers_and_never_builds(
    shards: list[Server], xapian_index: Path, tmp_path: Path
) -> None:
    """``evsearch serve --index xapian+tcp://...`` serves the shards as they are: nothing is
    written where it runs, the corpus is neither read nor compared."""
    work = tmp_path / "cwd"
    work.mkdir()
    with subprocess.Popen(
        [sys.executable, "-m", "evsearch", "serve", "--index", remote_spec(shards), "--port", "0",
         "--corpus", str(tmp_path / "no-corpus-here")],
        env=_env(), cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first == f"evsearch is serving {first.split()[3]} (index {remote_spec(shards)})\n", first
            url = first.split()[3].rstrip("/")
            status, html, _ = get(url, "/?q=supervision")
            assert status == 200 and page_hits(html)
            assert "out of date" not in html
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
    assert proc.returncode == 0 and "Traceback" not in err and err == ""
    assert list(work.iterdir()) == [] and not (tmp_path / "no-corpus-here").exists()


@pytest.mark.parametrize("spec", [
    "xapian+tcp://127.0.0.1:{dead}",
    "XAPIAN+TCP://127.0.0.1:{dead}",
    "xapian+tcp:/127.0.0.1:{dead}",
    "xapian+tcp://",
    "http://127.0.0.1:{dead}",
])
def test_serve_over_shards_that_cannot_be_opened_is_a_one_line_error(
    spec: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()  # nothing listens there
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.iterdir())
    result = CliRunner().invoke(cli, ["serve", "--index", spec.format(dead=port), "--port", "0"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Error: ") and lines[1].startswith("Hint: "), lines
    assert "evsearch is serving" not in result.output
    assert sorted(tmp_path.iterdir()) == before  # no index was built anywhere
