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

import threading
import time
from collections.abc import Callable
from pathlib import Path

from whoosh import index as whoosh_index

from .. import ingest
from ..config import DEFAULT_WAIT, resolve_dirs
from ..errors import CorpusError, EvsearchError, IndexMissingError
from ..results import IndexReport
from .lock import WriteLock
from .schema import SCHEMA_VERSION, document_fields, make_schema
from .sources import SourceBatch, ingest_corpus
from .store import (
    MANIFEST_FORMAT,
    Generation,
    committed_meta,
    current_generation,
    open_searcher,
    open_whoosh,
    prepare_index_dir,
)
from .writer import (
    IndexProgress,
    ProgressCallback,
    _incremental,
    _rebuild,
    passage,
    write_documents,
    write_generation,
)

__all__ = [
    "Generation",
    "IndexProgress",
    "ProgressCallback",
    "SCHEMA_VERSION",
    "SourceBatch",
    "build_index",
    "current_generation",
    "document_fields",
    "index_is_stale",
    "ingest_corpus",
    "make_schema",
    "open_searcher",
    "open_whoosh",
    "passage",
    "update_index",
    "watch_corpus",
    "write_documents",
    "write_generation",
]


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
) -> IndexReport:
    """Bring the index up to date with the corpus: only added, changed and removed files.

    Files are compared by content hash (size and modification time first, to skip hashing
    unchanged files). With ``rebuild`` (or when there is no index yet) the whole corpus is
    written to a new generation. Waits up to ``wait`` seconds for another writer, then raises
    :class:`IndexBusyError`.

    >>> update_index(corpus="corpus", index="index").summary()   # doctest: +SKIP
    'added 0, updated 1, removed 0, unchanged 47 files'
    """
    corpus_dir, target = _resolve(corpus, index)
    started = time.perf_counter()
    prepare_index_dir(target)
    with WriteLock(target, wait=wait):
        gen = None
        if not rebuild:
            try:
                gen = current_generation(target)
            except IndexMissingError:
                gen = None
        if gen is None or gen.meta.get("manifest") != MANIFEST_FORMAT:
            return _rebuild(corpus_dir, target, started, progress)
        return _incremental(corpus_dir, target, gen, started, progress)


def index_is_stale(*, corpus: Path | str, index: Path | str) -> bool:
    """Whether the corpus looks changed since the last commit, by size and mtime only (cheap).

    False when the index was built from another corpus directory, or is missing or unreadable
    (opening it reports those).
    """
    corpus, target = Path(corpus), Path(index)
    try:
        gen = current_generation(target)
        toc = whoosh_index.open_dir(str(gen.path)).latest_generation()
        meta = committed_meta(gen.path, toc)
    except Exception:  # missing, damaged or incompatible: not for this check to report
        return False
    if meta.get("manifest") != MANIFEST_FORMAT or meta.get("corpus_dir") != str(corpus.resolve()):
        return False
    files = meta.get("files", {})
    try:
        paths = ingest.discover_cell_files(corpus)
    except EvsearchError:
        return False
    if len(paths) != len(files):
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

