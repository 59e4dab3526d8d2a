"""The index: its schema, where it lives, and how it is written.

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
a time (see :mod:`evsearch.lock`). The file ``EVSEARCH_INDEX`` marks a directory as an
evsearch index: evsearch never deletes or overwrites a directory without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.index import LockError

from . import ingest
from ._version import __version__
from .analysis import preload_stems, stem_table, stopwords, text_analyzer, word_analyzer, words
from .errors import (
    CorpusError,
    EvsearchError,
    IndexBusyError,
    IndexCorruptError,
    IndexMissingError,
    IndexVersionError,
)
from .lock import DEFAULT_WAIT, LOCK_FILE, O_NOFOLLOW, WriteLock, symlink_refused
from .model import Document, ParsedCell, Passage, Study
from .results import FileProblem, IndexReport

#: Bumped whenever the schema or the analysis changes in a way old indexes cannot serve.
SCHEMA_VERSION = 3
MARKER = "EVSEARCH_INDEX"
CURRENT = "CURRENT"
META = "meta.json"  # the metadata of indexes written before per-commit metadata
#: The manifest format of ``meta-N.json``; an index without it is rebuilt, not updated.
MANIFEST_FORMAT = 2
_META_RE = re.compile(r"^meta-(\d+)\.json$")
GEN_NAME = re.compile(r"^gen-\d+$")
#: A file modified this recently may change again within the same mtime: hash it next time.
_RACY_NS = 2_000_000_000


_STUDY_TYPE_NAMES = {"S": "seminal", "K": "key", "R": "review", "G": "guidance"}


def make_schema() -> Schema:
    """The Whoosh schema of every evsearch index."""
    analyzer = text_analyzer()
    return Schema(
        id=ID(stored=True, unique=True),
        kind=ID(stored=True, sortable=True),
        cell=KEYWORD(lowercase=True),
        cell_key=ID(stored=True, sortable=True),  # "alcohol/B5": sortable for facet counts
        matrix=ID(sortable=True),
        type=KEYWORD(lowercase=True),
        study_type=STORED(),
        year=NUMERIC(int, bits=32, stored=True, sortable=True, signed=True),
        order=NUMERIC(int, bits=32, stored=True, sortable=True),
        seq=ID(sortable=True),  # "alcohol/B5|0|000001": cell, studies first, then order
        title=TEXT(analyzer=analyzer, stored=True),  # a study's own title
        doc_title=TEXT(analyzer=analyzer, stored=True),  # the title of a passage's document
        section=TEXT(analyzer=analyzer, stored=True),
        text=TEXT(analyzer=analyzer, stored=True),
        organisation=TEXT(analyzer=analyzer, stored=True),
        meta=TEXT(analyzer=analyzer),
        words=TEXT(analyzer=word_analyzer(), phrase=False),
        role=ID(stored=True),
        source=ID(stored=True),
        links=STORED(),
    )


# --- where things live -----------------------------------------------------------------------

def _checkout_root() -> Path | None:
    """The source checkout evsearch runs from, if it runs from one (``pip install -e .``)."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "src" / "evsearch").is_dir():
        return root
    return None


def default_corpus_dir() -> Path:
    """The bundled corpus: ``corpus/`` in a checkout, else the copy inside the package."""
    root = _checkout_root()
    if root is not None and (root / "corpus").is_dir():
        return root / "corpus"
    return Path(__file__).resolve().parent / "corpus"


def default_index_dir() -> Path:
    """``index/`` in a checkout; otherwise the per-user data directory (never site-packages)."""
    root = _checkout_root()
    if root is not None:
        return root / "index"
    from platformdirs import user_data_path

    return user_data_path("evsearch", appauthor=False) / "index"


# --- reading an index directory --------------------------------------------------------------

@dataclass(frozen=True)
class Generation:
    """One complete Whoosh index inside an index directory, with its metadata."""

    path: Path
    meta: dict[str, Any]


def is_evsearch_index(index_dir: Path) -> bool:
    return (index_dir / MARKER).is_file()


def refuse_symlinks(*paths: Path) -> None:
    """Raise when one of ``paths`` (files evsearch writes in an index) is a symlink: evsearch
    never reads its state through one nor writes or truncates its target."""
    for path in paths:
        if path.is_symlink():
            raise symlink_refused(path)


def _control_files(index_dir: Path) -> tuple[Path, ...]:
    return (index_dir / MARKER, index_dir / CURRENT, index_dir / LOCK_FILE)


def damaged(path: Path, why: object) -> IndexCorruptError:
    """The one-line error about a damaged file of an index (its name, then what is wrong)."""
    if isinstance(why, UnicodeDecodeError):
        why = "not UTF-8 text"
    elif isinstance(why, OSError):
        why = why.strerror or why
    elif isinstance(why, ValueError):
        why = "unreadable"
    return IndexCorruptError(f"the index file {path} is damaged ({why})")


def live_name(index_dir: Path) -> str:
    """What ``CURRENT`` names, or "" when it is missing, a symlink or damaged."""
    try:
        name = _read_text(index_dir / CURRENT).strip()
    except (OSError, ValueError):
        return ""
    return name if GEN_NAME.match(name) else ""


def _read_text(path: Path) -> str:
    """A small file of the index, read without following a symlink."""
    fd = os.open(path, os.O_RDONLY | O_NOFOLLOW)
    with open(fd, encoding="utf-8") as fh:
        return fh.read()


def current_generation(index_dir: Path) -> Generation:
    """The live generation of ``index_dir``, checked for existence and schema version."""
    index_dir = Path(index_dir)
    if not index_dir.exists() or (index_dir.is_dir() and not any(index_dir.iterdir())):
        raise IndexMissingError(f"no index at {index_dir}")
    if not index_dir.is_dir():
        raise IndexCorruptError(
            f"{index_dir} is not a directory", hint="pass --index DIR naming a directory"
        )
    refuse_symlinks(*_control_files(index_dir))
    if not is_evsearch_index(index_dir):
        raise IndexCorruptError(
            f"{index_dir} is not an evsearch index",
            hint="pass --index with an empty or new directory; evsearch will not overwrite it",
        )
    try:
        name = _read_text(index_dir / CURRENT).strip()
    except FileNotFoundError:
        # Marked but never switched to: the first build has not finished (or was killed).
        raise IndexMissingError(f"no complete index at {index_dir} yet") from None
    except (OSError, ValueError) as exc:
        raise damaged(index_dir / CURRENT, exc) from None
    if not (GEN_NAME.match(name) and (index_dir / name).is_dir()):  # never a path elsewhere
        raise damaged(index_dir / CURRENT, f"it names {name[:40]!r}, not a generation of the index")
    path = index_dir / name
    try:
        meta = _latest_meta(path)
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"the index at {index_dir} is damaged ({exc})") from None
    _check_version(index_dir, meta)
    return Generation(path=path, meta=meta)


def _check_version(index_dir: Path, meta: dict[str, Any]) -> None:
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise IndexVersionError(
            f"the index at {index_dir} was written by evsearch "
            f"{meta.get('evsearch_version', '?')} (schema {meta.get('schema_version')}), "
            f"this evsearch needs schema {SCHEMA_VERSION}",
        )


def _meta_name(toc_generation: int) -> str:
    return f"meta-{toc_generation:06d}.json"


def _meta_numbers(path: Path) -> list[int]:
    return sorted(int(m.group(1)) for p in path.iterdir() if (m := _META_RE.match(p.name)))


def _latest_meta(path: Path) -> dict[str, Any]:
    """Any metadata of a generation (for its schema version, which no commit changes)."""
    numbers = _meta_numbers(path)
    name = _meta_name(numbers[-1]) if numbers else META
    refuse_symlinks(path / name)
    return json.loads(_read_text(path / name))


def committed_meta(path: Path, toc_generation: int | None) -> dict[str, Any]:
    """The metadata of Whoosh commit ``toc_generation`` of a generation directory."""
    candidates = [] if toc_generation is None else [path / _meta_name(toc_generation)]
    candidates.append(path / META)
    for candidate in candidates:
        refuse_symlinks(candidate)
        try:
            return json.loads(_read_text(candidate))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"the index at {path} is damaged ({exc})") from None
    raise IndexCorruptError(f"the index at {path} has no metadata for commit {toc_generation}")


def open_searcher(index_dir: Path, weighting: Any, attempts: int = 3) -> tuple[Generation, Any, Any]:
    """Open the live generation's latest commit: its metadata, Whoosh index and searcher.

    Internal to the library. A writer may switch generations or commit while this runs;
    the open is retried a few times, so a reader sees the old state or the new one.
    """
    for attempt in range(attempts):
        gen = current_generation(index_dir)
        ix = open_whoosh(gen)
        searcher = None
        try:
            searcher = ix.searcher(weighting=weighting)
            toc = searcher.reader().generation()
            if toc is None:  # an empty index: no segments, no reader generation
                toc = ix.latest_generation()
            meta = committed_meta(gen.path, toc)
            _check_version(Path(index_dir), meta)
            return Generation(path=gen.path, meta=meta), ix, searcher
        except (IndexCorruptError, OSError) as exc:
            if searcher is not None:
                searcher.close()
            if attempt == attempts - 1:
                if isinstance(exc, IndexCorruptError):
                    raise
                raise IndexCorruptError(f"cannot open the index at {gen.path} ({exc})") from None
    raise AssertionError("unreachable")


def open_whoosh(gen: Generation) -> Any:
    """Open the Whoosh index of a generation (internal: no Whoosh object leaves the library)."""
    preload_stems(gen.path / STEMS)
    try:
        return whoosh_index.open_dir(str(gen.path))
    except Exception as exc:  # whoosh raises many kinds on damaged files
        raise IndexCorruptError(f"cannot open the index at {gen.path} ({exc})") from None


# --- writing ---------------------------------------------------------------------------------

def document_fields(doc: Document, source: str) -> dict[str, Any]:
    """The Whoosh fields of one document."""
    matrix, _, code = doc.cell.partition("/")
    fields: dict[str, Any] = {
        "id": doc.id,
        "cell": f"{doc.cell} {code}" if code else doc.cell,
        "cell_key": doc.cell,
        "matrix": matrix.lower(),
        "order": doc.order,
        "seq": f"{doc.cell}|{0 if isinstance(doc, Study) else 1}|{doc.order:06d}",
        "source": source,
    }
    if isinstance(doc, Study):
        names = " ".join(_STUDY_TYPE_NAMES.get(t, t) for t in doc.types)
        year = "" if doc.year is None else str(doc.year)
        fields.update(
            kind="study",
            type=" ".join(doc.types),
            study_type=doc.study_type,
            title=doc.title,
            text=doc.summary,
            organisation=doc.organisation or "",
            meta=f"{names} {year}".strip(),
            words=" ".join((doc.title, doc.summary, doc.organisation or "")),
            links=list(doc.sections),
        )
        if doc.year is not None:
            fields["year"] = doc.year
    else:
        fields.update(
            kind="passage",
            doc_title=doc.title,
            section=doc.section,
            text=doc.text,
            role=doc.role,
            words=" ".join((doc.title, doc.section, doc.text)),
        )
    return fields


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

    def manifest_entry(self) -> dict[str, Any]:
        """What the manifest records about this file."""
        studies = sum(1 for d in self.documents if isinstance(d, Study))
        return {
            "sha256": self.sha256,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "cell": self.parsed.cell.key if self.parsed else None,
            "documents": len(self.documents),
            "studies": studies,
            "shadowed_by": self.shadowed_by,
        }


def _next_generation_name(index_dir: Path) -> str:
    numbers = [
        int(p.name[4:]) for p in index_dir.glob("gen-*") if p.name[4:].isdigit()
    ]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def _fsync_write(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | O_NOFOLLOW
    with open(os.open(tmp, flags, 0o644), "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def prepare_index_dir(index_dir: Path) -> None:
    """Create ``index_dir`` as an evsearch index directory, refusing foreign directories."""
    if index_dir.exists():
        if not index_dir.is_dir():
            raise IndexCorruptError(
                f"{index_dir} is not a directory", hint="pass --index DIR naming a directory"
            )
        refuse_symlinks(*_control_files(index_dir))
        if not is_evsearch_index(index_dir) and any(index_dir.iterdir()):
            raise IndexCorruptError(
                f"{index_dir} is not empty and is not an evsearch index; not touching it",
                hint="pass --index with an empty or new directory",
            )
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        if not is_evsearch_index(index_dir):
            _fsync_write(
                index_dir / MARKER,
                json.dumps({"format": "evsearch-index", "created_by": __version__}) + "\n",
            )
    except OSError as exc:
        raise EvsearchError(
            f"cannot write the index at {index_dir} ({exc.strerror or exc})",
            hint="pass --index DIR naming a writable directory",
        ) from None


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


def _meta(
    files: dict[str, Any], *, corpus_dir: str, built_at: str | None = None
) -> dict[str, Any]:
    """The metadata of one commit, with counts derived from the manifest."""
    documents = sum(int(e.get("documents", 0)) for e in files.values())
    studies = sum(int(e.get("studies", 0)) for e in files.values())
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {
        "schema_version": SCHEMA_VERSION,
        "evsearch_version": __version__,
        "manifest": MANIFEST_FORMAT,
        "built_at": built_at or now,
        "updated_at": now,
        "corpus_dir": corpus_dir,
        "files": dict(sorted(files.items())),
        "cells": sorted({e["cell"] for e in files.values() if e.get("cell")}),
        "studies": studies,
        "passages": documents - studies,
    }


def _write_meta(path: Path, toc_generation: int, meta: dict[str, Any]) -> None:
    _fsync_write(path / _meta_name(toc_generation), json.dumps(meta, indent=1, ensure_ascii=False))


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
            writer.cancel()
            raise
        save_stems(ix, building)
        save_posting_caches(ix)
        os.replace(building, path)
        _fsync_write(index_dir / CURRENT, name + "\n")
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    _remove_old_generations(index_dir, keep={name, was_live})
    return Generation(path=path, meta=meta), n_docs


STEMS = "stems.json"


def save_stems(ix: Any, gen_path: Path) -> None:
    """Save the stem of every word the index holds, so searches need not import NLTK.

    A cache, not part of a commit: a missing or older table only makes a search stem the
    words it lacks itself."""
    with ix.reader() as reader:
        vocabulary = [
            w.decode("utf-8") if isinstance(w, bytes) else w for w in reader.lexicon("words")
        ]
    _fsync_write(gen_path / STEMS, json.dumps(stem_table(vocabulary), ensure_ascii=False))


def add_stems(ix: Any, gen_path: Path, texts: Iterable[str]) -> None:
    """After an incremental commit: add the stems of the new documents' words (``texts``) to
    the saved table, rewriting it only when some are new (a full :func:`save_stems` when
    there is no readable table). Words of removed documents may stay: they do no harm."""
    try:
        table = json.loads((gen_path / STEMS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        table = None
    if not isinstance(table, dict):
        save_stems(ix, gen_path)
        return
    fresh = {w for text in texts for w in words(text)} - table.keys() - stopwords()
    new = {k: v for k, v in stem_table(sorted(fresh)).items() if k not in table}
    if new:
        table.update(new)
        _fsync_write(gen_path / STEMS, json.dumps(table, ensure_ascii=False))


def save_posting_caches(ix: Any) -> None:
    """Save the decoded postings of frequent terms beside each new segment (see ``_postcache``).

    A cache, written after the commit: if it cannot be written, searches decode the postings."""
    from ._postcache import write_caches

    try:
        write_caches(ix)
    except OSError:
        pass


def _remove_old_generations(index_dir: Path, keep: set[str]) -> None:
    for p in index_dir.glob("gen-*"):
        if p.name not in keep and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stat_key(st: os.stat_result) -> tuple[int, int | None]:
    """(size, mtime) as the manifest records them; a very recent mtime is not trusted."""
    racy = time.time_ns() - st.st_mtime_ns < _RACY_NS
    return st.st_size, None if racy else st.st_mtime_ns


def _read_file(path: Path, rel: str, corpus_dir: Path) -> SourceBatch | FileProblem:
    """Hash and ingest one corpus file (the stat is taken first, so a later edit shows)."""
    try:
        size, mtime_ns = _stat_key(path.stat())
        digest = sha256_file(path)
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


def ingest_corpus(
    corpus_dir: Path, progress: Callable[[int, int], None] | None = None
) -> tuple[list[SourceBatch], list[FileProblem]]:
    """Ingest every cell file under ``corpus_dir``; a file that fails is reported, not fatal.

    The same cell (matrix + code) in two files is indexed once, and the other file reported
    and kept in the manifest as ``shadowed_by`` the winner, with no documents. The rule: the
    HTML page (``.htm``/``.html``) wins over the text form; between two files of the same
    form, the one modified last wins (a newer saved version of the cell); on a tie, the first
    in path order. ``progress(files_done, files_total)`` is called after each file.
    """
    corpus_dir = Path(corpus_dir)
    found: list[SourceBatch] = []
    problems: list[FileProblem] = []
    found_files = ingest.discover(corpus_dir)
    problems.extend(FileProblem(rel, why) for rel, why in found_files.unreadable.items())
    paths = found_files.paths
    for i, path in enumerate(paths, start=1):
        rel = path.relative_to(corpus_dir).as_posix()
        got = _read_file(path, rel, corpus_dir)
        if progress is not None:
            progress(i, len(paths))
        if isinstance(got, FileProblem):
            problems.append(got)
        else:
            found.append(got)
    winners: dict[str, SourceBatch] = {}
    ranks = {batch.source: _rank(corpus_dir, batch) for batch in found}
    for batch in found:
        assert batch.parsed is not None
        key = batch.parsed.cell.key
        if key not in winners or ranks[batch.source] > ranks[winners[key].source]:
            winners[key] = batch
    batches: list[SourceBatch] = []
    for batch in found:
        assert batch.parsed is not None
        key = batch.parsed.cell.key
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
        batches.append(replace(batch, documents=(), shadowed_by=win.source))
    return batches, problems


#: A full build of at least this many documents uses Whoosh's multiprocess writer.
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


def _resolve(corpus_dir: Path | str | None, index_dir: Path | str | None) -> tuple[Path, Path]:
    corpus = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
    target = Path(index_dir) if index_dir is not None else default_index_dir()
    if not corpus.is_dir():
        raise CorpusError(f"no corpus directory at {corpus}")
    return corpus, target


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


def update_index(
    corpus_dir: Path | str | None = None,
    index_dir: Path | str | None = None,
    *,
    rebuild: bool = False,
    wait: float = DEFAULT_WAIT,
    progress: ProgressCallback | None = None,
) -> IndexReport:
    """Bring the index up to date with the corpus: only added, changed and removed files.

    Files are compared by content hash (size and modification time first, to skip hashing
    unchanged files). With ``rebuild`` (or when there is no index yet) the whole corpus is
    written to a new generation. Waits up to ``wait`` seconds for another writer, then raises
    :class:`IndexBusyError`.

    >>> update_index("corpus", "index").summary()   # doctest: +SKIP
    'added 0, updated 1, removed 0, unchanged 47 files'
    """
    corpus, target = _resolve(corpus_dir, index_dir)
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
        if gen is not None and gen.meta.get("manifest") == MANIFEST_FORMAT:
            return _incremental(corpus, target, gen, started, progress)
        try:
            return _rebuild(corpus, target, started, progress)
        except BaseException:
            if created:  # the lock is held: nobody else is building in it
                _remove_new_index_dir(target)
            raise


def clear_unfinished(index_dir: Path) -> None:
    """Remove the unfinished generations (``gen-*.building``) of runs that were killed; the
    caller holds the write lock, so no run is writing them."""
    for leftover in index_dir.glob("gen-*.building"):
        shutil.rmtree(leftover, ignore_errors=True)


def _remove_new_index_dir(index_dir: Path) -> None:
    """Remove an index directory this run created and failed to finish (nothing but what
    evsearch put there: the marker, the lock, unfinished generations)."""
    if not (index_dir / CURRENT).exists() and is_evsearch_index(index_dir):
        shutil.rmtree(index_dir, ignore_errors=True)


def _no_cell_files(corpus: Path) -> CorpusError:
    return CorpusError(
        f"{corpus} holds no cell files (.txt, .htm, .html); the index is left unchanged",
        hint="pass --corpus DIR naming the folder of cell files",
    )


def _nothing_readable(corpus: Path, problems: list[FileProblem]) -> CorpusError:
    return CorpusError(
        f"none of the {len(problems)} cell files in {corpus} could be read, so the index "
        f"is left unchanged; {problems[0].path}: {problems[0].reason}",
        hint="fix or remove the files that cannot be read",
    )


def _rebuild(corpus: Path, target: Path, started: float, progress: ProgressCallback | None) -> IndexReport:
    tracker = _Progress(progress, started)
    batches, problems = ingest_corpus(corpus, progress=tracker.reading)
    if problems and not batches:
        raise _nothing_readable(corpus, problems)
    if not batches:
        raise _no_cell_files(corpus)
    _, n_docs = write_generation(
        target, batches, corpus_dir=str(corpus.resolve()), progress=tracker.writing,
        procs=build_procs(batches),
    )
    return IndexReport(
        index_dir=str(target),
        corpus_dir=str(corpus),
        added=sum(1 for b in batches if b.shadowed_by is None),
        documents=n_docs,
        rebuilt=True,
        seconds=round(time.perf_counter() - started, 3),
        problems=tuple(problems),
    )


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
            if entry and sha256_file(path) == entry.get("sha256"):
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
        key = got.parsed.cell.key
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
            writer.cancel()
            raise
        _remove_old_metas(gen.path, keep={writer.generation, toc})
        add_stems(ix, gen.path, texts)
        save_posting_caches(ix)
    elif plan.touched:
        new_meta = {**meta, "files": dict(sorted(plan.files.items()))}
        _write_meta(gen.path, toc, new_meta)
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


def _remove_old_metas(path: Path, keep: set[int]) -> None:
    for n in _meta_numbers(path):
        if n not in keep:
            (path / _meta_name(n)).unlink(missing_ok=True)


def index_is_stale(corpus_dir: Path | str, index_dir: Path | str) -> bool:
    """Whether the corpus looks changed since the last commit, by size and mtime only (cheap).

    False when the index was built from another corpus directory, or is missing or unreadable
    (opening it reports those).
    """
    corpus, target = Path(corpus_dir), Path(index_dir)
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


def build_index(corpus_dir: Path | str | None = None, index_dir: Path | str | None = None) -> IndexReport:
    """Build the index of ``corpus_dir`` in ``index_dir`` from scratch (a new generation).

    >>> report = build_index("corpus", "index")   # doctest: +SKIP
    >>> report.summary()                          # doctest: +SKIP
    'added 1, updated 0, removed 0, unchanged 0 files'
    """
    return update_index(corpus_dir, index_dir, rebuild=True)


def watch_corpus(
    corpus_dir: Path | str | None = None,
    index_dir: Path | str | None = None,
    *,
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

    corpus, target = _resolve(corpus_dir, index_dir)

    def run() -> None:
        try:
            on_report(update_index(corpus, target, wait=wait))
        except EvsearchError as exc:
            if on_error is None:
                raise
            on_error(exc)

    # The first update runs once the watcher is up (its first timeout), so that no change
    # made after that update's report can be missed.
    first = True
    for changes in watch(
        corpus,
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


def write_documents(index_dir: Path | str, documents: Iterable[Document], source: str = "") -> int:
    """Index ready-made documents (no corpus files): used by the evaluation scripts.

    Passages keep their ``title``; returns the number of documents written.
    """
    docs = list(documents)
    target = Path(index_dir)
    prepare_index_dir(target)
    with WriteLock(target):
        _, n = write_generation(target, [SourceBatch(source, "", None, docs)])
    return n


def passage(doc_id: str, text: str, title: str = "", cell: str = "collection/all") -> Passage:
    """A free-standing passage, for collections that are not Treatment Matrix cells."""
    return Passage(id=doc_id, cell=cell, order=0, section="", role="paragraph", text=text, title=title)
