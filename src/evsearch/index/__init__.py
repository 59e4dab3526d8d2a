"""The index: ParsedCell -> a committed generation (build, update, watch).

An index directory holds generations: ``gen-000001/``, ``gen-000002/`` ... each a complete
Whoosh index; the file ``CURRENT`` names the live one. A full build (``--rebuild``) writes a
new generation and switches ``CURRENT`` over with an atomic rename only once the new
generation is complete, so a reader sees the old index or the new one, never a mix.
An incremental update commits to the live generation with Whoosh's own (atomic) commit.

Each Whoosh commit ``N`` of a generation has its metadata in ``meta-N.json`` (schema and
evsearch versions, counts, and the file manifest ``{relpath: sha256, size, mtime, cell,
documents}``), written *before* the commit: a reader takes the metadata of the commit it
opened, so the manifest can never disagree with the committed segments, and a run killed
before its commit leaves only an unused file behind. ``write.lock`` keeps writers to one at
a time (see :mod:`evsearch.index.lock`). The file ``EVSEARCH_INDEX`` marks a directory as an
evsearch index: evsearch never deletes or overwrites a directory without it.

Modules: ``schema`` (fields of a document), ``store`` (generations, ``CURRENT``, manifests),
``sources`` (corpus files, hashes, the duplicate-cell rule), ``writer`` (full and incremental
writes), ``lock`` (one writer at a time). The write path never imports the query layer.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from .. import ingest
from ..config import DEFAULT_WAIT, ENGINES, MAX_SHARDS, remote_index, resolve_dirs, shown
from ..errors import CorpusError, EvsearchError, IndexMissingError, no_space
from ..model import Document
from ..results import IndexReport
from .integrity import verify
from .lock import WriteLock
from .schema import SCHEMA_VERSION, document_fields, make_schema
from .sources import SourceBatch, ingest_corpus
from .store import (
    MANIFEST_FORMAT,
    Generation,
    clear_unfinished,
    close_leaked_files,
    committed_meta,
    current_generation,
    open_searcher,
    open_whoosh,
    prepare_index_dir,
    remove_new_index_dir,
)
from .writer import (
    IndexProgress,
    ProgressCallback,
    _incremental,
    _rebuild,
    passage,
    write_generation,
)
from .writer import write_documents as _write_whoosh_documents

__all__ = [
    "Generation",
    "IndexProgress",
    "ProgressCallback",
    "SCHEMA_VERSION",
    "SourceBatch",
    "build_index",
    "check_index",
    "current_generation",
    "document_fields",
    "engine_choice",
    "index_is_stale",
    "ingest_corpus",
    "make_schema",
    "open_searcher",
    "open_whoosh",
    "parse_shard",
    "passage",
    "refuse_remote",
    "update_index",
    "watch_corpus",
    "write_documents",
    "write_generation",
]


_REMOTE_VERBS = {"index": "built", "watch": "updated", "check": "checked"}


def refuse_remote(index: Path | str | None, command: str) -> None:
    """The one-line error for ``evsearch index|watch|check`` given remote shards: each shard
    is written and checked on its own machine, never through ``xapian+tcp://``."""
    if remote_index(index) is not None:
        extra = " --shard i/N" if command == "index" else ""
        raise EvsearchError(
            f"remote shards are {_REMOTE_VERBS[command]} where they live, not through xapian+tcp://",
            hint=f"run evsearch {command}{extra} --index DIR on each shard's machine",
        )


def _resolve(corpus: Path | str | None, index: Path | str | None) -> tuple[Path, Path]:
    corpus_dir, index_dir = resolve_dirs(corpus, index)
    if not corpus_dir.is_dir():
        raise CorpusError(f"no corpus directory at {corpus_dir}")
    return corpus_dir, index_dir


def update_index(
    *,
    corpus: Path | str | None = None,
    index: Path | str | None = None,
    rebuild: bool = False,
    wait: float = DEFAULT_WAIT,
    progress: ProgressCallback | None = None,
    engine: str | None = None,
    shards: int | None = None,
    shard: tuple[int, int] | None = None,
) -> IndexReport:
    """Bring the index up to date with the corpus: only added, changed and removed files.

    Files are compared by content hash (size and modification time first, to skip hashing
    unchanged files). With ``rebuild`` (or when there is no index yet) the whole corpus is
    written to a new generation. Waits up to ``wait`` seconds for another writer, then raises
    :class:`IndexBusyError`.

    ``engine`` is ``"whoosh"`` or ``"xapian"`` (default: ``EVSEARCH_ENGINE``, else the
    engine the index was built with, else Whoosh); another engine than the index's rebuilds
    it, and the choice is recorded in the index. A Xapian index is written in ``shards``
    shards split by cell (default: 1, or the index's own number), or only shard ``i`` of
    ``n`` with ``shard=(i, n)``.

    >>> update_index(corpus="corpus", index="index").summary()   # doctest: +SKIP
    'added 0, updated 1, removed 0, unchanged 47 files'
    """
    refuse_remote(index, "index")
    if shards is not None and not (isinstance(shards, int) and 1 <= shards <= MAX_SHARDS):
        raise EvsearchError(f"bad number of shards {shards!r}",
                            hint=f"write --shards N with 1 <= N <= {MAX_SHARDS}")
    asked = engine_choice(engine)
    if shards or shard:  # shards are Xapian's
        asked = asked or "xapian"
    if (shards or shard) and asked != "xapian":
        raise EvsearchError("--shards and --shard need --engine xapian", hint="add --engine xapian")
    corpus_dir, target = _resolve(corpus, index)
    try:
        return _update(
            corpus_dir, target, rebuild=rebuild, wait=wait, progress=progress,
            asked=asked, shards=shards, shard=shard,
        )
    except OSError as exc:  # writing the index failed: a full disk, a read-only one ...
        error = no_space(exc, target) or EvsearchError(
            f"cannot write the index at {target} ({exc.strerror or exc})",
            hint="check the index directory's disk and permissions, then run the command again",
        )
        close_leaked_files(exc)
    raise error


def _update(
    corpus_dir: Path, target: Path, *, rebuild: bool, wait: float, progress: ProgressCallback | None,
    asked: str | None = None, shards: int | None = None, shard: tuple[int, int] | None = None,
) -> IndexReport:
    started = time.perf_counter()
    created = not target.exists()
    prepare_index_dir(target)
    with WriteLock(target, wait=wait):
        clear_unfinished(target)
        gen = None
        if not rebuild:
            try:
                gen = current_generation(target)
            except IndexMissingError:
                gen = None
        built_by = None if gen is None else str(gen.meta.get("engine", "whoosh"))
        if rebuild and asked is None:  # a rebuild keeps the engine (and shards) the index has
            asked, shards = _recorded_engine(target, shards)
        if (asked or built_by or "whoosh") == "xapian":
            from .._xapian import store as xapian_store

            return xapian_store.update(
                corpus_dir, target, gen if built_by == "xapian" else None, started, progress,
                shards=shards, shard=shard,
            )
        if gen is not None and built_by == "whoosh" and gen.meta.get("manifest") == MANIFEST_FORMAT:
            return _incremental(corpus_dir, target, gen, started, progress)
        try:
            return _rebuild(corpus_dir, target, started, progress)
        except BaseException:
            if created:  # the lock is held: nobody else is building in it
                remove_new_index_dir(target)
            raise


def _recorded_engine(target: Path, shards: int | None) -> tuple[str | None, int | None]:
    """The engine and shard count of the index at ``target`` as it was last committed, for a
    rebuild that names neither. With ``CURRENT`` damaged, the newest generation whose meta
    reads says; ``(None, shards)`` when there is no readable record (the default engine)."""
    meta: dict[str, Any] | None
    try:
        meta = current_generation(target).meta
    except (EvsearchError, OSError, ValueError):
        meta = _newest_readable_meta(target)
    if meta is None:
        return None, shards
    engine = str(meta.get("engine", "whoosh"))
    if engine == "xapian" and shards is None:
        recorded = meta.get("shards")
        shards = recorded if isinstance(recorded, int) and recorded > 0 else None
    return engine, shards


def _newest_readable_meta(target: Path) -> dict[str, Any] | None:
    """The meta of the newest generation directory of ``target`` that reads (never through a
    symlink), or None."""
    from .store import GEN_NAME, _latest_meta

    try:
        names = sorted((p.name for p in target.iterdir() if GEN_NAME.match(p.name)), reverse=True)
    except OSError:
        return None
    for name in names:
        path = target / name
        if path.is_symlink() or not path.is_dir():
            continue
        try:
            return _latest_meta(path)
        except (EvsearchError, OSError, ValueError):
            shards = sorted(p.name for p in path.glob("shard-*") if p.is_dir() and not p.is_symlink())
            if shards:  # a Xapian generation whose meta is damaged: its shards say what it was
                return {"engine": "xapian", "shards": len(shards)}
    return None


def engine_choice(engine: str | None) -> str | None:
    """The engine asked for (the argument, else ``EVSEARCH_ENGINE``), checked; None if none."""
    engine = engine or os.environ.get("EVSEARCH_ENGINE") or None
    if engine is None:
        return None
    engine = engine.strip().lower()
    if engine not in ENGINES:
        raise EvsearchError(f"unknown engine {engine!r}", hint="the engines are " + ", ".join(ENGINES))
    return engine


def parse_shard(value: str) -> tuple[int, int]:
    """``"1/4"`` -> ``(1, 4)``: shard 1 of 4 (numbered from 0)."""
    try:
        i, n = (int(p) for p in value.split("/", 1))
    except ValueError:
        raise EvsearchError(f"bad shard {shown(value, 40)!r}",
                            hint="write --shard i/N, e.g. --shard 0/4") from None
    if not 1 <= n <= MAX_SHARDS or not 0 <= i < n:
        raise EvsearchError(f"bad shard {value!r}",
                            hint=f"write --shard i/N with 0 <= i < N <= {MAX_SHARDS}")
    return i, n


def write_documents(
    documents: Iterable[Document], *, index: Path | str, source: str = "", engine: str = "whoosh"
) -> int:
    """Index ready-made documents (no corpus files) with ``engine``: used by the evaluation
    scripts. Passages keep their ``title``; returns the number of documents written."""
    if engine_choice(engine) != "xapian":
        return _write_whoosh_documents(documents, index=index, source=source)
    from .._xapian import store as xapian_store

    target = Path(index)
    prepare_index_dir(target)
    with WriteLock(target):
        _, n = xapian_store.write_generation(target, [SourceBatch(source, "", None, list(documents))])
    return n


def index_is_stale(*, corpus: Path | str, index: Path | str) -> bool:
    """Whether the corpus looks changed since the last commit, by size and mtime only (cheap).

    False when the index was built from another corpus directory, or is missing or unreadable
    (opening it reports those).
    """
    try:
        if remote_index(index) is not None:
            return False  # remote shards: each is updated where it lives
    except EvsearchError:
        return False  # not an index this check can read: opening it says why
    corpus, target = Path(corpus), Path(index)
    try:
        gen = current_generation(target)
        if gen.meta.get("engine") == "xapian":
            from .._xapian import store as xapian_store

            meta = {**gen.meta, "files": xapian_store.manifest(gen)[0]}
        else:
            toc = whoosh_index.open_dir(str(gen.path)).latest_generation()
            meta = committed_meta(gen.path, toc)
    except Exception as exc:  # missing, damaged or incompatible: not for this check to report
        close_leaked_files(exc)
        return False
    if meta.get("manifest") != MANIFEST_FORMAT or meta.get("corpus_dir") != str(corpus.resolve()):
        return False
    files = meta.get("files", {})
    try:
        found = ingest.discover(corpus)
    except EvsearchError:
        return False
    paths = found.paths
    if len(paths) != sum(1 for rel in files if not found.hides(rel)):
        return True
    for path in paths:
        entry = files.get(path.relative_to(corpus).as_posix())
        try:
            st = path.stat()
        except OSError:
            return True
        if entry is None or entry.get("mtime_ns") != st.st_mtime_ns or entry.get("size") != st.st_size:
            return True
    return False


def check_index(*, index: Path | str | None = None) -> tuple[int, list[tuple[str, str]]]:
    """Verify every byte of the live commit against the checksums of its manifest and read
    every stored document: returns the number of files verified and the damaged ones as
    ``(path, what is wrong)``. A damaged ``CURRENT`` or manifest raises the one-line error
    naming it.

    >>> check_index(index="index")   # doctest: +SKIP
    (23, [])
    """
    refuse_remote(index, "check")
    _, target = resolve_dirs(None, index)
    gen = current_generation(target)
    if gen.meta.get("engine") == "xapian":
        from .._xapian import store as xapian_store

        return xapian_store.check(gen)
    ix = open_whoosh(gen)
    meta = committed_meta(gen.path, ix.latest_generation())
    found = verify(gen.path, meta)
    problems = [(str(gen.path / n), why) for n, why in {**found.damaged, **found.bad_caches}.items()]
    if not found.recorded:
        problems.append((str(gen.path / "meta"), "no checksums recorded (an older evsearch, or a "
                                                 "run killed before it recorded them)"))
    if not found.damaged:
        try:
            with ix.searcher() as searcher:
                for _ in searcher.reader().iter_docs():
                    pass
        except Exception as exc:  # whoosh raises many kinds on damaged files
            why = " ".join(str(exc).split())[:120] or type(exc).__name__
            close_leaked_files(exc)
            problems.append((str(gen.path), f"cannot read it ({why})"))
    return found.files, problems


def build_index(*, corpus: Path | str | None = None, index: Path | str | None = None) -> IndexReport:
    """Build the index of ``corpus`` in ``index`` from scratch (a new generation).

    >>> report = build_index(corpus="corpus", index="index")   # doctest: +SKIP
    >>> report.summary()                                        # doctest: +SKIP
    'added 1, updated 0, removed 0, unchanged 0 files'
    """
    return update_index(corpus=corpus, index=index, rebuild=True)


def watch_corpus(
    *,
    corpus: Path | str | None = None,
    index: Path | str | None = None,
    on_report: Callable[[IndexReport], None],
    on_error: Callable[[EvsearchError], None] | None = None,
    stop_event: threading.Event | None = None,
    debounce_ms: int = 1600,
    wait: float = 60.0,
    force_polling: bool | None = None,
) -> None:
    """Update the index now and after each burst of changes in the corpus, until stopped.

    ``on_report`` receives the report of every update; an update that fails goes to
    ``on_error`` (or is raised when there is none). Stops when ``stop_event`` is set.
    """
    from watchfiles import watch

    refuse_remote(index, "watch")
    corpus_dir, target = _resolve(corpus, index)

    def run() -> None:
        try:
            on_report(update_index(corpus=corpus_dir, index=target, wait=wait))
        except EvsearchError as exc:
            if on_error is None:
                raise
            on_error(exc)

    # The first update runs once the watcher is up (its first timeout), so that no change
    # made after that update's report can be missed.
    first = True
    for changes in watch(
        corpus_dir,
        watch_filter=lambda _change, path: path.lower().endswith(ingest.CELL_SUFFIXES),
        debounce=debounce_ms,
        stop_event=stop_event,
        force_polling=force_polling,
        yield_on_timeout=True,
        rust_timeout=200,
    ):
        if first or changes:
            first = False
            run()

