"""Writing an index: a full build into a new generation, or an incremental commit.

The caller holds the write lock (:mod:`evsearch.index.lock`). After every commit the stems of
the vocabulary and the decoded postings of frequent terms are saved beside the segments
(caches: a missing one only makes searches slower).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.index import LockError

from .. import ingest
from .._whoosh.writing import stop_workers
from ..errors import CorpusError, IndexBusyError
from ..model import Document, Passage
from ..results import FileProblem, IndexReport
from .integrity import STEMS, checksums, file_sha256
from .lock import WriteLock
from .schema import document_fields, make_schema
from .sources import SourceBatch, _read_file, _stat_key, ingest_corpus, read_procs
from .store import (
    CURRENT,
    Generation,
    _fsync_write,
    _meta,
    _next_generation_name,
    _remove_old_generations,
    _remove_old_metas,
    _write_meta,
    add_stems,
    clear_unfinished,
    committed_meta,
    live_name,
    open_whoosh,
    prepare_index_dir,
    save_stems,
    verified,
)


@dataclass(frozen=True)
class IndexProgress:
    """How far an indexing run is, for a progress display."""

    phase: str  # "reading" corpus files or "writing" documents
    files_done: int
    files_total: int
    documents: int
    elapsed: float  # seconds since the run started

    @property
    def rate(self) -> float:
        """Files per second so far."""
        return self.files_done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, or None before there is a rate."""
        if not self.files_done or self.elapsed <= 0:
            return None
        return (self.files_total - self.files_done) / self.rate


ProgressCallback = Callable[[IndexProgress], None]



def _writer(ix: Any, **kwargs: Any) -> Any:
    """A Whoosh writer; evsearch's own lock is held, so Whoosh's lock only meets strangers."""
    try:
        return ix.writer(**kwargs)
    except LockError:
        raise IndexBusyError(
            "another program is writing the index (Whoosh's write lock is taken)"
        ) from None


def write_generation(
    index_dir: Path,
    batches: Iterable[SourceBatch],
    *,
    corpus_dir: str = "",
    procs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> tuple[Generation, int]:
    """Write a complete new generation from ``batches`` and switch ``CURRENT`` to it.

    The caller holds the write lock. Returns the generation and the number of documents
    written. The generation that was live is kept (a reader may still be on it); older
    ones, and unfinished ones left by killed runs, are removed.
    """
    index_dir = Path(index_dir)
    prepare_index_dir(index_dir)
    clear_unfinished(index_dir)
    was_live = live_name(index_dir)
    name = _next_generation_name(index_dir)
    path = index_dir / name
    building = index_dir / (name + ".building")
    building.mkdir()
    files: dict[str, Any] = {}
    n_docs = 0
    try:
        ix = whoosh_index.create_in(str(building), make_schema())
        if procs > 1:
            writer = _writer(ix, limitmb=256, procs=procs, multisegment=True, compound=False)
        else:
            writer = _writer(ix, limitmb=256, compound=False)
        try:
            for batch in batches:
                for doc in batch.documents:
                    writer.add_document(**document_fields(doc, batch.source))
                n_docs += len(batch.documents)
                files[batch.source] = batch.manifest_entry()
                if progress is not None:
                    progress(n_docs)
            meta = _meta(files, corpus_dir=corpus_dir)
            _write_meta(building, writer.generation, meta)
            writer.commit()
        except BaseException:
            _cancel(writer)
            raise
        save_stems(ix, building)
        save_posting_caches(ix)
        meta = {**meta, "checksums": checksums(building)}
        _write_meta(building, writer.generation, meta)
        os.replace(building, path)
        _fsync_write(index_dir / CURRENT, name + "\n")
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    _remove_old_generations(index_dir, keep={name, was_live})
    return Generation(path=path, meta=meta), n_docs



def _cancel(writer: Any) -> None:
    """Cancel a Whoosh writer after a failure without hiding that failure: a writer whose
    commit failed is already closed, and says so instead of the real error."""
    stop_workers(writer)
    try:
        writer.cancel()
    except Exception:  # the error that made us cancel is the one to report
        pass


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _remove_new_files(folder: Path, before: set[str]) -> None:
    """Remove the files a failed commit wrote into a generation (not part of any commit)."""
    for name in _names(folder) - before:
        path = folder / name
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()
        except OSError:
            pass


def save_posting_caches(ix: Any) -> None:
    """Save the decoded postings of frequent terms beside each new segment (see
    :mod:`evsearch._whoosh.postcache`).

    A cache, written after the commit: if it cannot be written, searches decode the postings."""
    from .._whoosh.postcache import write_caches  # numpy: not loaded by a Xapian update

    try:
        write_caches(ix)
    except OSError:
        pass



PARALLEL_BUILD_DOCUMENTS = 20_000


def build_procs(batches: Sequence[SourceBatch]) -> int:
    """Writer processes for a full build: one per CPU (at most 4) for a large corpus, else 1.

    Each process writes its own segment (``multisegment``: no single-threaded merge at the
    end). Documents with equal scores may then rank in a different (still fixed) order than
    in a one-process build, so small corpora, the bundled one included, stay on one process.
    """
    if sum(len(b.documents) for b in batches) < PARALLEL_BUILD_DOCUMENTS:
        return 1
    return max(1, min(4, os.cpu_count() or 1))



class _Progress:
    """Turns per-file and per-document counts into :class:`IndexProgress` reports."""

    def __init__(self, callback: ProgressCallback | None, started: float) -> None:
        self.callback = callback
        self.started = started
        self.files_total = 0
        self.files_done = 0

    def reading(self, done: int, total: int) -> None:
        self.files_done, self.files_total = done, total
        self._emit("reading", 0)

    def writing(self, documents: int) -> None:
        self._emit("writing", documents)

    def _emit(self, phase: str, documents: int) -> None:
        if self.callback is not None:
            elapsed = time.perf_counter() - self.started
            self.callback(IndexProgress(phase, self.files_done, self.files_total, documents, elapsed))



def _nothing_readable(corpus: Path, problems: list[FileProblem]) -> CorpusError:
    return CorpusError(
        f"none of the {len(problems)} cell files in {corpus} could be read, so the index "
        f"is left unchanged; {problems[0].path}: {problems[0].reason}",
        hint="fix or remove the files that cannot be read",
    )


def _no_cell_files(corpus: Path) -> CorpusError:
    return CorpusError(
        f"{corpus} holds no cell files (.txt, .htm, .html); the index is left unchanged",
        hint="pass --corpus DIR naming the folder of cell files",
    )


def _rebuild(corpus: Path, target: Path, started: float, progress: ProgressCallback | None) -> IndexReport:
    tracker = _Progress(progress, started)
    batches, problems = ingest_corpus(corpus, progress=tracker.reading, procs=read_procs())
    if problems and not batches:
        raise _nothing_readable(corpus, problems)
    if not batches:
        raise _no_cell_files(corpus)
    _, n_docs = write_generation(
        target, batches, corpus_dir=str(corpus.resolve()), progress=tracker.writing,
        procs=build_procs(batches),
    )
    return rebuild_report(target, corpus, batches, n_docs, started, problems)


@dataclass
class _Plan:
    """What an incremental update will do."""

    files: dict[str, Any]  # the new manifest
    add: list[SourceBatch]
    update: list[SourceBatch]
    remove: list[str]
    unchanged: int
    problems: list[FileProblem]
    touched: bool  # only size/mtime records changed: rewrite the metadata, no commit
    conflict: bool = False  # which file holds a cell must be decided again: rebuild


def _plan(corpus: Path, old: dict[str, Any], tracker: _Progress) -> _Plan:
    found = ingest.discover(corpus)
    rels = {p.relative_to(corpus).as_posix(): p for p in found.paths}
    # A file behind an unreadable folder (or name) keeps its documents and its entry.
    kept = {rel for rel in old if rel not in rels and found.hides(rel)}
    files = {rel: dict(e) for rel, e in old.items() if rel in rels or rel in kept}
    remove = sorted(rel for rel in old if rel not in rels and rel not in kept)
    owner = {e["cell"]: rel for rel, e in files.items() if e.get("cell") and not e.get("shadowed_by")}
    problems = [FileProblem(rel, why) for rel, why in found.unreadable.items()]
    plan = _Plan(files, [], [], remove, 0, problems, False)
    if any(e.get("shadowed_by") in remove for e in old.values()):
        plan.conflict = True  # a cell's winning file is gone: the other file takes over
        return plan
    for i, (rel, path) in enumerate(rels.items(), start=1):
        tracker.reading(i, len(rels))
        entry = files.get(rel)
        try:
            size, mtime_ns = _stat_key(path.stat())
            recorded = (entry.get("size"), entry.get("mtime_ns")) if entry else None
            if recorded is not None and recorded[1] is not None and recorded == (size, mtime_ns):
                plan.unchanged += 1
                continue
            if entry and file_sha256(path) == entry.get("sha256"):
                plan.unchanged += 1
                if recorded != (size, mtime_ns):
                    entry.update(size=size, mtime_ns=mtime_ns)
                    plan.touched = True
                continue
        except OSError as exc:
            plan.problems.append(FileProblem(rel, f"cannot read it ({exc.strerror or exc})"))
            continue
        got = _read_file(path, rel, corpus)
        if isinstance(got, FileProblem):  # a changed file keeps its old documents and entry
            plan.problems.append(got)
            continue
        assert got.parsed is not None
        plan.problems.extend(FileProblem(rel, n, skipped=False) for n in got.parsed.notes)
        key = got.parsed.claim
        holder = owner.get(key)
        if (holder is not None and holder != rel) or (entry and entry.get("shadowed_by")):
            plan.conflict = True  # two files hold one cell: the duplicate rule decides
            return plan
        if entry and entry.get("cell") and owner.get(entry["cell"]) == rel:
            del owner[entry["cell"]]
        owner[key] = rel
        files[rel] = got.manifest_entry()
        (plan.update if entry else plan.add).append(got)
    return plan


def _incremental(
    corpus: Path, target: Path, gen: Generation, started: float, progress: ProgressCallback | None
) -> IndexReport:
    tracker = _Progress(progress, started)
    ix = open_whoosh(gen)
    toc = ix.latest_generation()
    meta = committed_meta(gen.path, toc)
    # Every byte is verified before the index is written to; damaged caches are rewritten.
    gen = verified(Generation(gen.path, meta), None)
    assert gen.verified is not None
    if not gen.verified.recorded:  # a run killed before it recorded the checksums
        return _rebuild(corpus, target, started, progress)
    for name in gen.verified.bad_caches:
        (gen.path / name).unlink(missing_ok=True)
    plan = _plan(corpus, meta.get("files", {}), tracker)
    if plan.conflict:
        return _rebuild(corpus, target, started, progress)
    if plan.problems and not plan.files:  # every file fails: keep the index as it is
        raise _nothing_readable(corpus, plan.problems)
    if not plan.files:  # an empty (or mistyped) corpus does not empty the index
        raise _no_cell_files(corpus)
    changed = plan.add or plan.update or plan.remove
    n_docs = 0
    if changed:
        before = _names(gen.path)
        writer = _writer(ix, limitmb=128, compound=False)
        try:
            for rel in [*plan.remove, *(b.source for b in plan.update)]:
                writer.delete_by_term("source", rel)
            texts: list[str] = []
            for batch in [*plan.add, *plan.update]:
                for doc in batch.documents:
                    fields = document_fields(doc, batch.source)
                    texts.append(fields["words"])
                    writer.add_document(**fields)
                n_docs += len(batch.documents)
                tracker.writing(n_docs)
            new_meta = _meta(plan.files, corpus_dir=str(corpus.resolve()), built_at=meta.get("built_at"))
            # The metadata of commit N is on disk before commit N exists (see the module doc).
            _write_meta(gen.path, writer.generation, new_meta)
            writer.commit()
        except BaseException:
            _cancel(writer)
            _remove_new_files(gen.path, before)  # what the failed commit wrote (a full disk)
            raise
        _remove_old_metas(gen.path, keep={writer.generation, toc})
        add_stems(ix, gen.path, texts, trusted=gen.trusts(STEMS))
        save_posting_caches(ix)
        _write_meta(gen.path, writer.generation, {**new_meta, "checksums": checksums(gen.path)})
    elif plan.touched or gen.verified.bad_caches:
        if gen.verified.bad_caches:  # rewrite the damaged caches
            if not gen.trusts(STEMS):
                save_stems(ix, gen.path)
            save_posting_caches(ix)
        new_meta = {**meta, "files": dict(sorted(plan.files.items())), "checksums": checksums(gen.path)}
        _write_meta(gen.path, toc, new_meta)
    return incremental_report(target, corpus, plan, n_docs, started)



def write_documents(documents: Iterable[Document], *, index: Path | str, source: str = "") -> int:
    """Index ready-made documents (no corpus files): used by the evaluation scripts.

    Passages keep their ``title``; returns the number of documents written.
    """
    docs = list(documents)
    target = Path(index)
    prepare_index_dir(target)
    with WriteLock(target):
        _, n = write_generation(target, [SourceBatch(source, "", None, docs)])
    return n


def passage(doc_id: str, text: str, title: str = "", cell: str = "collection/all") -> Passage:
    """A free-standing passage, for collections that are not Treatment Matrix cells."""
    return Passage(id=doc_id, cell=cell, order=0, section="", role="paragraph", text=text, title=title)


def incremental_report(target: Path, corpus: Path, plan: _Plan, n_docs: int, started: float) -> IndexReport:
    """What an incremental update did, from its plan (any engine's writer)."""
    return IndexReport(
        index_dir=str(target),
        corpus_dir=str(corpus),
        added=len(plan.add),
        updated=len(plan.update),
        removed=len(plan.remove),
        unchanged=plan.unchanged,
        documents=n_docs,
        rebuilt=False,
        seconds=round(time.perf_counter() - started, 3),
        problems=tuple(plan.problems),
    )


def rebuild_report(
    target: Path, corpus: Path, batches: Sequence[SourceBatch], n_docs: int, started: float,
    problems: Sequence[FileProblem],
) -> IndexReport:
    """What a full build did (any engine's writer): ``batches`` are the files it wrote."""
    return IndexReport(
        index_dir=str(target),
        corpus_dir=str(corpus),
        added=sum(1 for b in batches if b.shadowed_by is None),
        documents=n_docs,
        rebuilt=True,
        seconds=round(time.perf_counter() - started, 3),
        problems=tuple(problems),
    )
