"""The private parts of whoosh3 that ``evsearch._whoosh`` relies on are still where it expects.

Each check names one private attribute or function; an upgrade of whoosh3 that moves one fails
here, by name, rather than somewhere inside a search. ``evsearch._whoosh`` is the only package
that may touch them (checked last).
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from whoosh.codec import whoosh3
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher

import evsearch
from evsearch.index import open_searcher
from evsearch.search.rank import weighting

SRC = Path(evsearch.__file__).parent


@pytest.mark.parametrize(
    "name", ["_byteids", "_data", "_read_data", "_blocklength", "_next_block", "is_active"]
)
def test_the_w3_leaf_matcher_has(name: str) -> None:
    # attributes set in __init__/_read_part are checked on a live matcher below as well
    assert name in inspect.getsource(W3LeafMatcher), name


def test_the_w3_codec_module_has_the_length_column_helpers() -> None:
    assert callable(whoosh3._lenfield)
    assert whoosh3._lenfield("text") != "text"
    assert whoosh3.LENGTHS_COLUMN is not None
    assert FilterMatcher.__init__  # unwrapped to reach the leaf matcher


def test_a_live_index_exposes_what_the_postings_reader_reads(built_index: Path) -> None:
    _, _, searcher = open_searcher(built_index, weighting())
    try:
        sub, _ = searcher.leaf_searchers()[0]
        reader = sub.reader()
        m = reader.postings("text", "probat")
        if isinstance(m, FilterMatcher):
            m = m.child
        assert isinstance(m, W3LeafMatcher)
        for name in ("_byteids", "_data", "_blocklength"):
            assert hasattr(m, name), name
        for name in ("_read_data", "_next_block"):
            assert callable(getattr(m, name)), name
        column = reader._perdoc._cached_reader(whoosh3._lenfield("text"), whoosh3.LENGTHS_COLUMN)
        assert column is not None
        for name in ("_dbfile", "_basepos", "_count"):
            assert hasattr(column, name), name
        assert len(column._dbfile.get(column._basepos, column._count)) == reader.doc_count_all()
        # saved postings are named after the segment's files, so Whoosh removes them with it
        segid = reader.segment().segment_id()
        gen = next(p for p in built_index.glob("gen-*") if p.is_dir())
        assert any(p.name.startswith(segid + ".") for p in gen.iterdir() if "evpost" not in p.name)
    finally:
        searcher.close()


def _private_whoosh_uses(path: Path) -> list[str]:
    """``whoosh`` imports of private names in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("whoosh"):
            found += [a.name for a in node.names if a.name.startswith("_")]
    return found


def test_only_the_whoosh_package_touches_whoosh_internals() -> None:
    offenders = {}
    for path in SRC.rglob("*.py"):
        if "_whoosh" in path.relative_to(SRC).parts:
            continue
        text = path.read_text(encoding="utf-8")
        uses = _private_whoosh_uses(path) + [
            name for name in ("W3LeafMatcher", "_perdoc", "_dbfile", "_byteids", "_next_block",
                              "storage.folder", "_evsearch_scorer")
            if name in text
        ]
        if uses:
            offenders[str(path.relative_to(SRC))] = uses
    assert offenders == {}


def test_the_multiprocess_writer_keeps_its_workers_in_tasks() -> None:
    from whoosh.multiproc import MpWriter

    assert "self.tasks" in inspect.getsource(MpWriter)
