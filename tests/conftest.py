"""Shared fixtures: the bundled corpus, and indexes built from it in temporary directories."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from evsearch import SearchIndex, build_index, open_index

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
B5 = CORPUS / "alcohol" / "B5.txt"


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's own settings never reach a test (or the CLI processes it starts): default
    folders, colour and terminal width are what the tests set."""
    for name in ("EVSEARCH_INDEX", "EVSEARCH_CORPUS", "NO_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def b5_text() -> str:
    return B5.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index of the bundled corpus, shared by read-only tests."""
    index_dir = tmp_path_factory.mktemp("idx") / "index"
    build_index(corpus=CORPUS, index=index_dir)
    return index_dir


@pytest.fixture()
def idx(built_index: Path) -> Iterator[SearchIndex]:
    with open_index(index=built_index) as index:
        yield index


@pytest.fixture()
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target
