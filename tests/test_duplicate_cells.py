"""One cell in two files, as the corpus changes: the duplicate rule holds in incremental runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from evsearch import open_index
from evsearch.index import update_index
from tests.conftest import CORPUS, ROOT

B5_HTM = ROOT / "tests" / "fixtures" / "alcohol-B5.htm"


def _links(index: Path) -> tuple[str, ...]:
    with open_index(index=index) as idx:
        return idx.get("alcohol/B5/g2005-manual-research-based").links


def test_html_form_added_then_removed(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    first = update_index(corpus=corpus, index=index)
    assert (first.added, first.documents) == (1, 37)
    text_links = _links(index)

    shutil.copy(B5_HTM, corpus / "alcohol" / "B5.htm")
    second = update_index(corpus=corpus, index=index)
    assert second.rebuilt and second.added == 1 and second.documents == 37
    assert [p.path for p in second.problems] == ["alcohol/B5.txt"]
    assert len(_links(index)) > len(text_links)  # the page's exact links won

    third = update_index(corpus=corpus, index=index)  # nothing changed: no rebuild, nothing re-read
    assert not third.rebuilt and third.unchanged == 2 and third.documents == 0

    (corpus / "alcohol" / "B5.htm").unlink()
    fourth = update_index(corpus=corpus, index=index)
    assert fourth.rebuilt and fourth.documents == 37 and fourth.problems == ()
    assert _links(index) == text_links
    with open_index(index=index) as idx:
        assert idx.stats().studies == 9
