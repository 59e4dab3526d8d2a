"""The search page in a real browser (Debian's Chromium driven by Playwright): typing, clicking,
the URL, back and forward, the keyboard alone, JavaScript off, accessibility (axe), phone width,
print and dark mode. Screenshots go to ``tests/_artifacts/`` (git-ignored) for a person to look at.

``./scripts/check`` installs Chromium when it is missing (as root); without it these tests skip,
unless ``EVSEARCH_REQUIRE_BROWSER=1`` (set by the check script as root), when they fail.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evsearch.web import create_app

from ._webserver import RunningServer, known_ids
from .conftest import CORPUS, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path(os.environ.get("EVSEARCH_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "tests" / "_artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("EVSEARCH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
        pytest.skip(f"no Chromium at {CHROMIUM} (./scripts/check installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def ids(built_index: Path) -> dict[str, str]:
    return known_ids(built_index)


@pytest.fixture(scope="module")
def site(built_index: Path) -> Iterator[str]:
    with RunningServer(create_app(index=built_index, corpus=CORPUS)) as server:
        yield server.url


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield pg
    context.close()
    assert errors == []  # no script error, no CSP violation, no failed load


def summary(pg: Any) -> str:
    return re.sub(r"\s+", " ", pg.locator("#summary").inner_text()).strip()


def test_typing_a_query_shows_highlighted_results_and_puts_it_in_the_url(page: Any, site: str) -> None:
    page.goto(site + "/")
    assert page.evaluate("document.activeElement.id") == "q"  # focused on load
    page.keyboard.type("supervision", delay=20)
    page.wait_for_url(re.compile(r"\?q=supervision$"))
    page.locator("#results mark").first.wait_for()
    marks = {m.lower() for m in page.locator("#results mark").all_inner_texts()}
    assert "supervision" in marks
    assert summary(page).startswith("16 matches")
    assert page.locator("#live-status").inner_text().startswith("16 matches")  # announced
    assert page.evaluate("document.activeElement.id") == "q"  # typing goes on undisturbed


def test_clicking_a_facet_changes_the_url_and_the_count(page: Any, site: str) -> None:
    page.goto(site + "/?q=supervision")
    assert summary(page).startswith("16 matches")
    page.locator(".facets a", has_text="key study").click()
    page.wait_for_url(re.compile(r"type=K"))
    assert summary(page).startswith("2 matches")
    assert page.locator(".facets li.selected").count() == 1
    page.locator(".facets a.clear").click()
    page.wait_for_url(site + "/?q=supervision")
    assert summary(page).startswith("16 matches")
    page.locator(".chart a").first.click()  # a bar of the year chart
    page.wait_for_url(re.compile(r"year_from=2002&year_to=2002"))
    assert summary(page).startswith("1 match")


def test_open_a_document_and_come_back(page: Any, site: str) -> None:
    page.goto(site + "/?q=supervision&type=K")
    first = page.locator(".hit-title a").first
    title = first.inner_text()
    first.click()
    page.wait_for_url(re.compile(r"/doc/alcohol/B5/[^?]+\?q=supervision&type=K$"))
    assert page.locator("h1").inner_text() == title
    assert page.locator("text=Similar documents").count() == 1
    page.locator("a.back").click()
    page.wait_for_url(site + "/?q=supervision&type=K")
    assert summary(page).startswith("2 matches")
    page.go_back()
    page.wait_for_url(re.compile(r"/doc/"))
    page.go_back()
    page.wait_for_url(site + "/?q=supervision&type=K")


def test_back_and_forward_through_searches_typed(page: Any, site: str) -> None:
    page.goto(site + "/")
    page.keyboard.type("violence", delay=20)
    page.wait_for_url(re.compile(r"\?q=violence$"))
    page.locator("#results mark").first.wait_for()
    page.go_back()
    page.wait_for_url(site + "/")
    page.locator("text=Search the treatment evidence").wait_for()
    assert page.locator("#q").input_value() == ""
    page.go_forward()
    page.wait_for_url(re.compile(r"\?q=violence$"))
    page.locator("#results mark").first.wait_for()
    assert page.locator("#q").input_value() == "violence"


def test_keyboard_only(page: Any, site: str, ids: dict[str, str]) -> None:
    page.goto(site + f"/doc/{ids['rel']}")
    assert page.evaluate("document.activeElement.id") != "q"
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("supervision")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?q=supervision$"))
    for _ in range(40):  # Tab to the first result
        page.keyboard.press("Tab")
        href = page.evaluate("document.activeElement.getAttribute('href') || ''")
        if href.startswith("/doc/"):
            break
    else:
        pytest.fail("Tab never reached a result")
    page.keyboard.press("Enter")
    page.wait_for_url(site + f"/doc/{ids['sup']}?q=supervision")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"


def test_with_javascript_off_everything_still_works(browser: Any, site: str) -> None:
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    try:
        pg.goto(site + "/")
        pg.locator("#q").fill("supervision")
        pg.locator("#q").press("Enter")
        pg.wait_for_url(site + "/?q=supervision")
        assert summary(pg).startswith("16 matches")
        pg.locator(".facets a", has_text="studies").click()
        pg.wait_for_url(site + "/?q=supervision&kind=study")
        assert summary(pg).startswith("4 matches")
        pg.locator("#q").fill("relationship")  # a new query keeps the filter
        pg.locator("button[type=submit]").click()
        pg.wait_for_url(site + "/?q=relationship&kind=study")
        pg.locator(".sort a", has_text="newest").click()
        pg.wait_for_url(site + "/?q=relationship&kind=study&sort=-year")
        pg.locator(".hit-title a").first.click()
        pg.wait_for_url(re.compile(r"/doc/"))
        assert pg.locator("a.back").get_attribute("href") == "/?q=relationship&kind=study&sort=-year"
    finally:
        context.close()


def _axe_problems(pg: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(pg)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


@pytest.mark.parametrize("path", [
    "/", "/?q=supervision", "/?q=supervision&type=K&year_from=2014&year_to=2014",
    "/doc/{rel}?q=supervision", "/doc/{glue}", "/?page=-1",
])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(browser: Any, site: str, ids: dict[str, str], path: str,
                                             scheme: str) -> None:
    context = browser.new_context(viewport=DESKTOP, color_scheme=scheme)
    pg = context.new_page()
    try:
        pg.goto(site + path.format(**ids))
        assert _axe_problems(pg) == []
    finally:
        context.close()


def test_screenshots_at_desktop_and_phone_widths(browser: Any, site: str, ids: dict[str, str]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = []
    for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        for scheme in ("light", "dark"):
            context = browser.new_context(viewport=viewport, color_scheme=scheme)
            pg = context.new_page()
            try:
                pages = (("results", "/?q=supervision"), ("study", f"/doc/{ids['rel']}?q=supervision"))
                for name, path in pages:
                    pg.goto(site + path)
                    # nothing wider than the screen: no sideways scrolling on a phone
                    assert pg.evaluate("document.documentElement.scrollWidth") <= viewport["width"], (
                        name, width_name)
                    target = ARTIFACTS / f"{name}-{width_name}-{scheme}.png"
                    pg.screenshot(path=str(target), full_page=True)
                    shots.append(target)
            finally:
                context.close()
    assert all(p.stat().st_size > 10_000 for p in shots)


def test_phone_folds_the_filters_and_print_hides_the_controls(browser: Any, site: str) -> None:
    context = browser.new_context(viewport=PHONE)
    pg = context.new_page()
    try:
        pg.goto(site + "/?q=supervision")
        assert pg.locator("#filters").get_attribute("open") is None  # folded on a phone
        assert not pg.locator(".facets .facet").first.is_visible()
        pg.locator("#filters summary").click()
        assert pg.locator(".facets .facet").first.is_visible()
        pg.emulate_media(media="print")
        assert not pg.locator(".facets").is_visible() and not pg.locator("#q").is_visible()
        assert pg.locator(".hit").first.is_visible()
    finally:
        context.close()


def test_dark_mode_follows_the_system(browser: Any, site: str) -> None:
    colours = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport=DESKTOP, color_scheme=scheme)
        pg = context.new_page()
        pg.goto(site + "/?q=supervision")
        colours[scheme] = pg.evaluate("getComputedStyle(document.body).backgroundColor")
        context.close()
    assert colours == {"light": "rgb(255, 255, 255)", "dark": "rgb(21, 24, 28)"}


@pytest.fixture(scope="module")
def shard_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Any]]]:
    """The hostile corpus (the bundled cell and a cell of markup and escapes) in a Xapian index
    of two shards, each served by its own ``xapian-tcpsrv`` on 127.0.0.1."""
    from ._scripts import load_script
    from ._xapian import needs_xapian, serve, shard_paths

    needs_xapian()
    fuzz = load_script("fuzz", "fuzz_for_browser")
    index = fuzz.build_hostile_index(tmp_path_factory.mktemp("bx"), "xapian")
    with serve(shard_paths(index)) as servers:
        yield index, servers


def test_remote_shards_in_the_browser_typing_clicking_and_a_shard_going_away(
    browser: Any, shard_servers: tuple[Path, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over remote shards the page behaves as over a local index: search as you type, marks,
    the hits the library gives in its order, a document page; hostile text stays text. When a
    shard stops: with --partial the page says which shard is left out, without it the page
    is a 503 naming the shard; both serve fully again once it is back."""
    from evsearch import config, open_index
    from evsearch.web import create_app

    from ._xapian import remote_spec

    monkeypatch.setattr(config, "SHARD_RETRY_SECONDS", 0.0)
    index, servers = shard_servers
    with open_index(index=index) as idx:
        expected = idx.search("supervision")
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda exc: problems.append(str(exc)))
    pg.on("dialog", lambda d: (problems.append(f"dialog {d.message}"), d.dismiss()))
    pg.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    spec = remote_spec(servers)
    try:
        with RunningServer(create_app(index=spec, partial=True)) as partial, \
                RunningServer(create_app(index=spec)) as strict:
            pg.goto(partial.url + "/")
            pg.keyboard.type("supervision", delay=20)
            pg.wait_for_url(re.compile(r"\?q=supervision$"))
            pg.locator("#results mark").first.wait_for()
            assert summary(pg).startswith(f"{expected.total} matches")
            hrefs = pg.locator(".hit-title a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
            assert [h.split("?")[0] for h in hrefs] == [render_path(h.id) for h in expected.hits]
            assert pg.locator("#missing-shards").count() == 0
            pg.goto(partial.url + "/?q=hostile+red+title")
            titles = pg.locator(".hit-title a").all_inner_texts()
            assert any("<<mark>mark>" in t or "Hostile" in t for t in titles), titles
            first = pg.locator(".hit-title a").first
            title = first.inner_text()
            first.click()
            pg.wait_for_url(re.compile(r"/doc/"))
            assert pg.locator("h1").inner_text() == title

            gone = servers[1]
            gone.stop()
            pg.goto(partial.url + "/?q=supervision")
            notice = pg.locator("#missing-shards")
            assert gone.address in notice.inner_text() and "did not answer" in notice.inner_text()
            response = pg.goto(strict.url + "/?q=supervision")
            assert response is not None and response.status == 503
            assert pg.locator("p.message").inner_text() == (
                f"Error: 1 of 2 shards of the index did not answer: {gone.address}")
            problems[:] = [p for p in problems if "503" not in p]  # the browser logs the status
            gone.start(same_port=True)
            for site in (partial, strict):
                response = pg.goto(site.url + "/?q=supervision")
                assert response is not None and response.status == 200
                assert summary(pg).startswith(f"{expected.total} matches")
                assert pg.locator("#missing-shards").count() == 0
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            pg.screenshot(path=str(ARTIFACTS / "remote-shards.png"), full_page=True)
    finally:
        context.close()
    assert problems == []


def render_path(doc_id: str) -> str:
    from evsearch.web.render import doc_path

    return doc_path(doc_id)
