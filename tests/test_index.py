"""The index directory: generations, atomic switch-over, version checks, where things live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evsearch import (
    IndexCorruptError,
    IndexMissingError,
    IndexVersionError,
    build_index,
    default_corpus_dir,
    default_index_dir,
    ensure_index,
    open_index,
)
from tests.conftest import CORPUS, ROOT


def test_build_writes_a_generation_and_switches_to_it(tmp_path: Path) -> None:
    ix = tmp_path / "ix"
    first = build_index(corpus=CORPUS, index=ix)
    assert first.documents == 37 and first.added == 1
    assert (ix / "CURRENT").read_text().strip() == "gen-000001"
    with open_index(index=ix) as reader:
        before = [h.id for h in reader.search("supervision").hits]
        build_index(corpus=CORPUS, index=ix)
        assert (ix / "CURRENT").read_text().strip() == "gen-000002"
        # the open reader follows the switch on its next search
        assert [h.id for h in reader.search("supervision").hits] == before
    build_index(corpus=CORPUS, index=ix)
    assert sorted(p.name for p in ix.glob("gen-*")) == ["gen-000002", "gen-000003"]
    assert not list(ix.glob("*.building"))


def test_opening_a_missing_index(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError):
        open_index(index=tmp_path / "nope")


def test_a_foreign_directory_is_not_an_index(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(IndexCorruptError, match="is not an evsearch index"):
        open_index(index=tmp_path)
    with pytest.raises(IndexCorruptError, match="not touching it"):
        build_index(corpus=CORPUS, index=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_an_incompatible_schema_asks_for_a_rebuild(tmp_path: Path) -> None:
    ix = tmp_path / "ix"
    build_index(corpus=CORPUS, index=ix)
    (meta_path,) = (ix / "gen-000001").glob("meta-*.json")
    meta = json.loads(meta_path.read_text())
    meta["schema_version"] = 0
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(IndexVersionError) as err:
        open_index(index=ix)
    assert err.value.hint == "run `evsearch index --rebuild` to build the index again"
    build_index(corpus=CORPUS, index=ix)
    with open_index(index=ix) as reader:
        assert reader.stats().studies == 9


def test_damaged_pointer_is_a_clear_error(tmp_path: Path) -> None:
    ix = tmp_path / "ix"
    build_index(corpus=CORPUS, index=ix)
    (ix / "CURRENT").write_text("gen-999999\n")
    with pytest.raises(IndexCorruptError, match="damaged"):
        open_index(index=ix)


def test_ensure_index_builds_once(tmp_path: Path) -> None:
    ix = tmp_path / "ix"
    with ensure_index(index=ix, corpus=CORPUS) as reader:
        assert reader.stats().passages == 28
    with ensure_index(index=ix, corpus=CORPUS):
        pass
    assert (ix / "CURRENT").read_text().strip() == "gen-000001"


def test_a_bad_file_is_reported_and_skipped(corpus_copy: Path, tmp_path: Path) -> None:
    (corpus_copy / "alcohol" / "C1.txt").write_bytes(b"\x00\x01\x02 binary junk\xff" * 20)
    report = build_index(corpus=corpus_copy, index=tmp_path / "ix")
    assert report.documents == 37
    assert [p.path for p in report.problems] == ["alcohol/C1.txt"]


def test_defaults_in_a_checkout() -> None:
    assert default_corpus_dir() == ROOT / "corpus"
    assert default_index_dir() == ROOT / "index"


@pytest.mark.slow
def test_the_wheel_ships_the_corpus_and_the_word_lists(tmp_path: Path) -> None:
    """`pip install .` must give a working default corpus from any directory."""
    import subprocess
    import sys
    import zipfile

    pytest.importorskip("hatchling")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("evsearch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"evsearch/corpus/alcohol/B5.txt", "evsearch/data/stopwords.txt",
            "evsearch/cli/__init__.py", "evsearch/py.typed"} <= names
