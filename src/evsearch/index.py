"""The index: its schema, where it lives, and how it is written.

An index directory holds generations: ``gen-000001/``, ``gen-000002/`` ... each a complete
Whoosh index with a ``meta.json``; the file ``CURRENT`` names the live one. A full build
writes a new generation and switches ``CURRENT`` over with an atomic rename only once the
new generation is complete, so a reader sees the old index or the new one, never a mix.
The file ``EVSEARCH_INDEX`` marks a directory as an evsearch index: evsearch never deletes
or overwrites a directory without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from . import ingest
from ._version import __version__
from .analysis import preload_stems, stem_table, text_analyzer, word_analyzer
from .errors import (
    CorpusError,
    EvsearchError,
    IndexCorruptError,
    IndexMissingError,
    IndexVersionError,
)
from .model import Document, ParsedCell, Passage, Study
from .results import FileProblem, IndexReport

#: Bumped whenever the schema or the analysis changes in a way old indexes cannot serve.
SCHEMA_VERSION = 2
MARKER = "EVSEARCH_INDEX"
CURRENT = "CURRENT"
META = "meta.json"

#: The fields searched by plain words (the query layer applies per-field weights).
TEXT_FIELDS: tuple[str, ...] = ("title", "section", "text", "organisation", "meta")

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
        title=TEXT(analyzer=analyzer, stored=True),
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


def current_generation(index_dir: Path) -> Generation:
    """The live generation of ``index_dir``, checked for existence and schema version."""
    index_dir = Path(index_dir)
    if not index_dir.exists() or (index_dir.is_dir() and not any(index_dir.iterdir())):
        raise IndexMissingError(f"no index at {index_dir}")
    if not index_dir.is_dir():
        raise IndexCorruptError(
            f"{index_dir} is not a directory", hint="pass --index DIR naming a directory"
        )
    if not is_evsearch_index(index_dir):
        raise IndexCorruptError(
            f"{index_dir} is not an evsearch index",
            hint="pass --index with an empty or new directory; evsearch will not overwrite it",
        )
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
        path = index_dir / name
        meta = json.loads((path / META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"the index at {index_dir} is damaged ({exc})") from None
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise IndexVersionError(
            f"the index at {index_dir} was written by evsearch "
            f"{meta.get('evsearch_version', '?')} (schema {meta.get('schema_version')}), "
            f"this evsearch needs schema {SCHEMA_VERSION}",
        )
    return Generation(path=path, meta=meta)


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
            title=doc.title,
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


def _next_generation_name(index_dir: Path) -> str:
    numbers = [
        int(p.name[4:]) for p in index_dir.glob("gen-*") if p.name[4:].isdigit()
    ]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def _fsync_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
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


def write_generation(
    index_dir: Path,
    batches: Iterable[SourceBatch],
    *,
    corpus_dir: str = "",
    procs: int = 1,
) -> tuple[Generation, int]:
    """Write a complete new generation from ``batches`` and switch ``CURRENT`` to it.

    Returns the generation and the number of documents written. The previous generation
    is kept (a reader may still be on it); older ones are removed.
    """
    index_dir = Path(index_dir)
    prepare_index_dir(index_dir)
    name = _next_generation_name(index_dir)
    path = index_dir / name
    building = index_dir / (name + ".building")
    if building.exists():
        shutil.rmtree(building)
    building.mkdir()
    files: dict[str, Any] = {}
    counts = {"studies": 0, "passages": 0}
    cells: set[str] = set()
    try:
        ix = whoosh_index.create_in(str(building), make_schema())
        writer = (
            ix.writer(limitmb=256, procs=procs, multisegment=True) if procs > 1 else ix.writer(limitmb=256)
        )
        try:
            for batch in batches:
                for doc in batch.documents:
                    writer.add_document(**document_fields(doc, batch.source))
                    counts["studies" if isinstance(doc, Study) else "passages"] += 1
                    cells.add(doc.cell)
                files[batch.source] = {
                    "sha256": batch.sha256,
                    "cell": batch.parsed.cell.key if batch.parsed else None,
                    "documents": len(batch.documents),
                }
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
        meta = {
            "schema_version": SCHEMA_VERSION,
            "evsearch_version": __version__,
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "corpus_dir": corpus_dir,
            "files": files,
            "cells": sorted(cells),
            **counts,
        }
        save_stems(ix, building)
        _fsync_write(building / META, json.dumps(meta, indent=1, ensure_ascii=False))
        os.replace(building, path)
        _fsync_write(index_dir / CURRENT, name + "\n")
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    _remove_old_generations(index_dir, keep={name, _previous(index_dir, name)})
    return Generation(path=path, meta=meta), counts["studies"] + counts["passages"]


STEMS = "stems.json"


def save_stems(ix: Any, gen_path: Path) -> None:
    """Save the stem of every word the index holds, so searches need not import NLTK."""
    with ix.reader() as reader:
        vocabulary = [
            w.decode("utf-8") if isinstance(w, bytes) else w for w in reader.lexicon("words")
        ]
    _fsync_write(gen_path / STEMS, json.dumps(stem_table(vocabulary), ensure_ascii=False))


def _previous(index_dir: Path, name: str) -> str:
    names = sorted(p.name for p in index_dir.glob("gen-*") if p.name[4:].isdigit())
    before = [n for n in names if n < name]
    return before[-1] if before else ""


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


#: Which form of a cell wins when a corpus holds it twice: the published page carries exact
#: study -> section links and whole sentences, the PDF text recovers them by heuristics.
FORM_RANK = {".htm": 1, ".html": 1, ".txt": 0}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def ingest_corpus(corpus_dir: Path) -> tuple[list[SourceBatch], list[FileProblem]]:
    """Ingest every cell file under ``corpus_dir``; a file that fails is reported, not fatal.

    The same cell (matrix + code) in two files is indexed once, and the other file reported.
    The rule: the HTML page (``.htm``/``.html``) wins over the text form; between two files
    of the same form, the one modified last wins (a newer saved version of the cell); on a
    tie, the first in path order. Winners keep their path order in the index.
    """
    corpus_dir = Path(corpus_dir)
    problems: list[FileProblem] = []
    found: list[tuple[Path, str, str, ParsedCell]] = []
    for path in ingest.discover_cell_files(corpus_dir):
        rel = path.relative_to(corpus_dir).as_posix()
        try:
            parsed = ingest.read_cell_file(path, root=corpus_dir)
            digest = sha256_file(path)
        except EvsearchError as exc:
            problems.append(FileProblem(rel, exc.message))
            continue
        except OSError as exc:
            problems.append(FileProblem(rel, f"cannot read it ({exc.strerror or exc})"))
            continue
        found.append((path, rel, digest, parsed))
    winners: dict[str, int] = {}
    for n, (path, _, _, parsed) in enumerate(found):
        key = parsed.cell.key
        best = winners.get(key)
        if best is None or _rank(path) > _rank(found[best][0]):
            winners[key] = n
    batches: list[SourceBatch] = []
    for n, (path, rel, digest, parsed) in enumerate(found):
        key = parsed.cell.key
        win = winners[key]
        if win == n:
            batches.append(SourceBatch(rel, digest, parsed, parsed.documents))
            continue
        won_by = found[win][0]
        why = (
            "the HTML page wins over the text form"
            if FORM_RANK.get(won_by.suffix.lower(), 0) > FORM_RANK.get(path.suffix.lower(), 0)
            else "the newer file wins" if _mtime(won_by) > _mtime(path) else "the first in path order wins"
        )
        problems.append(FileProblem(rel, f"cell {key} is indexed from {found[win][1]} instead ({why})"))
    return batches, problems


def _rank(path: Path) -> tuple[int, float]:
    """Higher wins: the form first, then the modification time (ties keep path order)."""
    return FORM_RANK.get(path.suffix.lower(), 0), _mtime(path)


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


def build_index(corpus_dir: Path | str | None = None, index_dir: Path | str | None = None) -> IndexReport:
    """Build the index of ``corpus_dir`` in ``index_dir`` from scratch.

    >>> report = build_index("corpus", "index")   # doctest: +SKIP
    >>> report.summary()                          # doctest: +SKIP
    'added 1, updated 0, removed 0, unchanged 0 files'
    """
    corpus = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
    target = Path(index_dir) if index_dir is not None else default_index_dir()
    if not corpus.is_dir():
        raise CorpusError(f"no corpus directory at {corpus}")
    started = time.perf_counter()
    batches, problems = ingest_corpus(corpus)
    _, n_docs = write_generation(
        target, batches, corpus_dir=str(corpus.resolve()), procs=build_procs(batches)
    )
    return IndexReport(
        index_dir=str(target),
        corpus_dir=str(corpus),
        added=len(batches),
        documents=n_docs,
        rebuilt=True,
        seconds=round(time.perf_counter() - started, 3),
        problems=tuple(problems),
    )


def write_documents(index_dir: Path | str, documents: Iterable[Document], source: str = "") -> int:
    """Index ready-made documents (no corpus files): used by the evaluation scripts.

    Passages keep their ``title``; returns the number of documents written.
    """
    docs = list(documents)
    _, n = write_generation(Path(index_dir), [SourceBatch(source, "", None, docs)])
    return n


def passage(doc_id: str, text: str, title: str = "", cell: str = "collection/all") -> Passage:
    """A free-standing passage, for collections that are not Treatment Matrix cells."""
    return Passage(id=doc_id, cell=cell, order=0, section="", role="paragraph", text=text, title=title)
