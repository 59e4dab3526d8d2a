"""Ranking levers kept by the evaluation (scripts/evaluate.py): what a user would notice."""

from __future__ import annotations

from pathlib import Path

import pytest

import evsearch.config as config
from evsearch import SearchIndex, open_index
from evsearch.index import passage, write_documents


def test_a_word_typed_twice_counts_once(idx: SearchIndex) -> None:
    once = idx.search("supervision offenders")
    thrice = idx.search("supervision supervision offenders supervision")
    assert [(h.id, h.score) for h in thrice.hits] == [(h.id, h.score) for h in once.hits]


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 passages: ten about a topic that always co-occurs with 'methadone', one that says
    only 'methadone', the rest filler."""
    docs = [
        passage(f"on{i}", f"opioid treatment retention dosing clinic outcomes methadone study {i}")
        for i in range(10)
    ]
    docs.append(passage("feedback", "methadone methadone maintenance"))
    docs += [passage(f"f{i}", f"filler paragraph number {i} about weather gardens and trains")
             for i in range(589)]
    path = tmp_path_factory.mktemp("prf") / "index"
    write_documents(docs, index=path)
    return path


def test_feedback_finds_what_a_long_query_implies(collection: Path) -> None:
    with open_index(index=collection) as idx:
        long = idx.search("opioid treatment retention dosing clinic outcomes", limit=20)
        assert "feedback" in [h.id for h in long.hits]  # via 'methadone', from the top documents
        assert long.hits[0].id.startswith("on")  # the user's own words still rank first


def test_no_feedback_for_short_queries_or_when_turned_off(
    collection: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_index(index=collection) as idx:
        assert "feedback" not in [h.id for h in idx.search("opioid treatment", limit=20).hits]
        monkeypatch.setattr(config, "PRF_DOCS", 0)
        long = idx.search("opioid treatment retention dosing clinic outcomes", limit=20)
        assert "feedback" not in [h.id for h in long.hits]


def test_no_feedback_on_a_small_collection(idx: SearchIndex) -> None:
    # B5 has 37 documents: its top 10 would be a quarter of it, so feedback stays off
    question = idx.search("Can motivational interviewing work in criminal justice settings?")
    assert question.total == idx.search("motivational interviewing work criminal justice settings").total
