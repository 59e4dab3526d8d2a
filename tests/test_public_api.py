from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

import evsearch


def test_all_is_sorted_and_complete() -> None:
    assert evsearch.__all__ == sorted(evsearch.__all__)
    public = {n for n in dir(evsearch) if not n.startswith("_")} - {"annotations"}
    modules = {
        "analysis", "cli", "config", "errors", "index", "ingest", "model",
        "results", "search", "web",
    }
    assert public - modules == set(evsearch.__all__) - {"__version__"}
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


def test_library_calls_take_their_folders_by_keyword_only(built_index: Path) -> None:
    # one argument order everywhere: a swapped (corpus, index) pair cannot be passed by position
    for call in (evsearch.build_index, evsearch.update_index, evsearch.ensure_index,
                 evsearch.open_index):
        params = inspect.signature(call).parameters
        for name in ("corpus", "index"):
            if name in params:
                assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, (call, name)
        with pytest.raises(TypeError):
            call(built_index)  # type: ignore[misc]
    with evsearch.open_index(index=built_index) as idx:
        assert idx.search("supervision").total


@pytest.mark.parametrize("kind", ["studies", "study", "passages"])
def test_a_known_kind_is_accepted_in_any_spelling(built_index: Path, kind: str) -> None:
    with evsearch.open_index(index=built_index) as idx:
        result = idx.search("supervision", kind=kind)
        assert result.total and {h.kind for h in result.hits} == {kind.rstrip("s").replace("studie", "study")}


@pytest.mark.parametrize("kind", ["paper", "all", "s"])
def test_an_unknown_kind_is_a_query_error_not_an_empty_result(built_index: Path, kind: str) -> None:
    with evsearch.open_index(index=built_index) as idx:
        for call in (lambda: idx.search("supervision", kind=kind),
                     lambda: idx.documents(kind=kind),
                     lambda: idx.similar("alcohol/B5/r2005-motivational-interviewing-work", kind=kind)):
            with pytest.raises(evsearch.QueryError, match="unknown kind"):
                call()
