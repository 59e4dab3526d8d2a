"""The corpus as the index sees it: files found, hashed and ingested, and the duplicate-cell rule."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import ingest
from ..errors import EvsearchError
from ..model import Document, ParsedCell, Study
from ..results import FileProblem
from .integrity import file_sha256

#: A file modified this recently may change again within the same mtime: hash it next time.
_RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class SourceBatch:
    """The documents of one corpus file, with the file's content hash."""

    source: str  # path relative to the corpus directory
    sha256: str
    parsed: ParsedCell | None
    documents: Sequence[Document]
    size: int | None = None
    mtime_ns: int | None = None  # None: decide by the hash next time (modified very recently)
    shadowed_by: str | None = None  # another file holds the same cell and wins (no documents)
    #: What a writer's ``prepare`` made of the documents while the file was read (in the
    #: reading process, so in parallel with other files); None when not asked for.
    prepared: Any = field(default=None, compare=False, repr=False)

    def manifest_entry(self) -> dict[str, Any]:
        """What the manifest records about this file."""
        studies = sum(1 for d in self.documents if isinstance(d, Study))
        return {
            "sha256": self.sha256,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "cell": self.parsed.claim if self.parsed else None,  # the duplicate rule's key
            "label": self.parsed.cell.label if self.parsed else None,
            "documents": len(self.documents),
            "studies": studies,
            "shadowed_by": self.shadowed_by,
        }



def _stat_key(st: os.stat_result) -> tuple[int, int | None]:
    """(size, mtime) as the manifest records them; a very recent mtime is not trusted."""
    racy = time.time_ns() - st.st_mtime_ns < _RACY_NS
    return st.st_size, None if racy else st.st_mtime_ns


def _read_file(path: Path, rel: str, corpus_dir: Path) -> SourceBatch | FileProblem:
    """Hash and ingest one corpus file (the stat is taken first, so a later edit shows)."""
    try:
        size, mtime_ns = _stat_key(path.stat())
        digest = file_sha256(path)
        parsed = ingest.read_cell_file(path, root=corpus_dir)
    except EvsearchError as exc:
        return FileProblem(rel, exc.message)
    except OSError as exc:
        return FileProblem(rel, f"cannot read it ({exc.strerror or exc})")
    return SourceBatch(rel, digest, parsed, parsed.documents, size=size, mtime_ns=mtime_ns)


#: Which form of a cell wins when a corpus holds it twice: the published page carries exact
#: study -> section links and whole sentences, the PDF text recovers them by heuristics.
FORM_RANK = {".htm": 1, ".html": 1, ".txt": 0}


def _rank(corpus_dir: Path, batch: SourceBatch) -> tuple[int, int]:
    """Higher wins: the form first, then the modification time (ties keep path order)."""
    try:
        mtime = (corpus_dir / batch.source).stat().st_mtime_ns
    except OSError:
        mtime = 0
    return FORM_RANK.get(Path(batch.source).suffix.lower(), 0), mtime


#: Files read by one worker at a time when a corpus is read by several processes.
_CHUNK = 16


def read_procs() -> int:
    """Processes reading the corpus in a full build: one per CPU, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


#: A writer's work on a file's documents done as the file is read (see ``ingest_corpus``).
Prepare = Callable[[SourceBatch], Any]


def _read_one(item: tuple[Path, str, Path, Prepare | None]) -> SourceBatch | FileProblem:
    path, rel, corpus_dir, prepare = item
    got = _read_file(path, rel, corpus_dir)
    if prepare is not None and isinstance(got, SourceBatch):
        got = replace(got, prepared=prepare(got))
    return got


def _read_all(
    corpus_dir: Path, paths: list[Path], procs: int, prepare: Prepare | None = None
) -> Iterator[SourceBatch | FileProblem]:
    """Every file read, in path order: by ``procs`` forked processes for a large corpus."""
    items = [(path, path.relative_to(corpus_dir).as_posix(), corpus_dir, prepare) for path in paths]
    if procs <= 1 or len(items) < 4 * _CHUNK or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(_read_one, items)
        return
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        yield from pool.imap(_read_one, items, chunksize=_CHUNK)


def ingest_corpus(
    corpus_dir: Path, progress: Callable[[int, int], None] | None = None, *, procs: int = 1,
    prepare: Prepare | None = None, skip: Container[str] = (),
) -> tuple[list[SourceBatch], list[FileProblem]]:
    """Ingest every cell file under ``corpus_dir``; a file that fails is reported, not fatal.

    The same cell (matrix + code) in two files is indexed once, and the other file reported
    and kept in the manifest as ``shadowed_by`` the winner, with no documents. The rule: the
    HTML page (``.htm``/``.html``) wins over the text form; between two files of the same
    form, the one modified last wins (a newer saved version of the cell); on a tie, the first
    in path order. ``progress(files_done, files_total)`` is called after each file. With
    ``procs`` above 1, files are read by that many processes (the result is the same).
    ``prepare(batch)``, a module-level function (it is sent to the reading processes), is run
    on each file's batch where the file is read and its result kept as ``batch.prepared``: a
    writer's per-document work done in parallel with the reading. Files whose path (relative
    to ``corpus_dir``) is in ``skip`` are not read: the caller knows them already.
    """
    corpus_dir = Path(corpus_dir)
    found: list[SourceBatch] = []
    problems: list[FileProblem] = []
    found_files = ingest.discover(corpus_dir)
    problems.extend(FileProblem(rel, why) for rel, why in found_files.unreadable.items())
    paths = [p for p in found_files.paths if p.relative_to(corpus_dir).as_posix() not in skip]
    for i, got in enumerate(_read_all(corpus_dir, paths, procs, prepare), start=1):
        if progress is not None:
            progress(i, len(paths))
        if isinstance(got, FileProblem):
            problems.append(got)
        else:
            found.append(got)
            notes = got.parsed.notes if got.parsed else ()
            problems.extend(FileProblem(got.source, note, skipped=False) for note in notes)
    winners: dict[str, SourceBatch] = {}
    ranks = {batch.source: _rank(corpus_dir, batch) for batch in found}
    for batch in found:
        assert batch.parsed is not None
        key = batch.parsed.claim
        if key not in winners or ranks[batch.source] > ranks[winners[key].source]:
            winners[key] = batch
    batches: list[SourceBatch] = []
    for batch in found:
        assert batch.parsed is not None
        key = batch.parsed.claim
        win = winners[key]
        if win is batch:
            batches.append(batch)
            continue
        if ranks[win.source][0] > ranks[batch.source][0]:
            why = "the HTML page wins over the text form"
        elif ranks[win.source] > ranks[batch.source]:
            why = "the newer file wins"
        else:
            why = "the first in path order wins"
        problems.append(FileProblem(batch.source, f"cell {key} is indexed from {win.source} instead ({why})"))
        batches.append(replace(batch, documents=(), shadowed_by=win.source, prepared=None))
    return batches, problems


