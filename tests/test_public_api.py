from __future__ import annotations

import dataclasses

import evsearch


def test_all_is_sorted_and_complete() -> None:
    assert evsearch.__all__ == sorted(evsearch.__all__)
    public = {n for n in dir(evsearch) if not n.startswith("_")} - {"annotations"}
    modules = {
        "analysis", "cli", "errors", "index", "ingest", "lock", "model", "query",
        "results", "search", "snippets",
    }
    assert public - modules == set(evsearch.__all__) - {"__version__", "parse_cell_html"}
    for name in evsearch.__all__:  # every exported name resolves, the lazy ones included
        assert getattr(evsearch, name) is not None


def test_result_types_are_frozen_dataclasses() -> None:
    for cls in (evsearch.Hit, evsearch.SearchResult, evsearch.DocumentView, evsearch.IndexStats,
                evsearch.Study, evsearch.Passage, evsearch.Cell, evsearch.IndexReport):
        assert dataclasses.is_dataclass(cls)
        assert cls.__dataclass_params__.frozen, cls


def test_every_error_is_an_evsearch_error_with_a_hint() -> None:
    for name in evsearch.__all__:
        obj = getattr(evsearch, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, evsearch.EvsearchError)
            assert obj("x").hint
