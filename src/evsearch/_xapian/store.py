"""Xapian generations in an evsearch index directory: full builds and incremental updates.

The directory conventions are the Whoosh engine's (``EVSEARCH_INDEX`` marker, ``gen-N``
generations switched by renaming ``CURRENT``, the write lock held by the caller); a Xapian
generation holds ``shard-NNN`` databases and a ``meta-000001.json`` naming the engine and the
shards. The file manifest is kept per shard inside each database (committed with its
documents), so an update touches only the shards whose cells changed.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import ingest
from .._version import __version__
from ..errors import EvsearchError, IndexCorruptError
from ..index import schema as ix_schema
from ..index import store as ix
from ..index import writer as ix_writer
from ..index.integrity import file_sha256
from ..index.sources import ingest_corpus, read_procs
from ..results import IndexReport
from . import load, sums
from .schema import META_CORPUS, RANKING, shard_name, shard_of
from .shards import check_shard, refuse_symlinks
from .writer import (
    _offset,
    add_totals,
    batch_shard,
    batch_totals,
    build_procs,
    prepare,
    read_files,
    shard_info,
    update_shard,
    write_shards,
)

ENGINE = "xapian"


def is_xapian(meta: dict[str, Any]) -> bool:
    return meta.get("engine") == ENGINE


def write_generation(
    index_dir: Path,
    batches: Sequence[Any],
    *,
    shards: int = 1,
    only: int | None = None,
    corpus_dir: str = "",
    progress: Callable[[int], None] | None = None,
    unread: dict[str, list[int]] | None = None,
    corpus_map: str = "",
) -> tuple[ix.Generation, int]:
    """Write a complete new Xapian generation (every shard, or shard ``only``) and switch
    ``CURRENT`` to it. The caller holds the write lock."""
    load()
    if shards < 1 or (only is not None and not 0 <= only < shards):
        raise EvsearchError(f"bad shard {only}/{shards}", hint="write --shard i/N with 0 <= i < N")
    index_dir = Path(index_dir)
    ix.prepare_index_dir(index_dir)
    for leftover in index_dir.glob("gen-*.building"):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        was_live = (index_dir / ix.CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):  # missing or damaged: the rebuild replaces it
        was_live = ""
    name = ix._next_generation_name(index_dir)
    path = index_dir / name
    building = index_dir / (name + ".building")
    building.mkdir()
    try:
        n_docs = sum(len(b.documents) for b in batches if only is None or batch_shard(b, shards) == only)
        n = write_shards(
            building, batches, shards=shards, only=only,
            info=lambda i: shard_info(i, shards, ix_schema.SCHEMA_VERSION, corpus_dir),
            document_fields=ix_schema.document_fields,
            procs=build_procs(n_docs, shards if only is None else 1),
            progress=progress, unread=unread, corpus_map=corpus_map,
        )
        files = {
            b.source: b.manifest_entry() for b in batches
            if only is None or batch_shard(b, shards) == only
        }
        meta = ix._meta(files, corpus_dir=corpus_dir)
        del meta["files"]  # the manifest lives in the shards
        meta.update(
            engine=ENGINE, ranking=RANKING, shards=shards,
            built=[only] if only is not None else list(range(shards)),
            manifest=ix.MANIFEST_FORMAT,
        )
        ix._write_meta(building, 1, meta)
        os.replace(building, path)
        ix._fsync_write(index_dir / ix.CURRENT, name + "\n")
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    ix._remove_old_generations(index_dir, keep={name, was_live})
    return ix.Generation(path=path, meta=meta), n


def shard_paths(gen: ix.Generation) -> list[Path]:
    """The shard databases of a Xapian generation."""
    return [gen.path / shard_name(int(i)) for i in gen.meta.get("built", [])]


def manifest(gen: ix.Generation) -> tuple[dict[str, Any], dict[str, int]]:
    """The whole file manifest of a generation, and which shard holds each file."""
    xapian = load()
    files: dict[str, Any] = {}
    holder: dict[str, int] = {}
    for i in gen.meta.get("built", []):
        path = gen.path / shard_name(int(i))
        try:
            db = xapian.Database(str(path))
            try:
                part = read_files(db)
            finally:
                db.close()
        except (xapian.Error, RuntimeError, ValueError) as exc:
            raise _damaged_shard(path, exc) from None
        files.update(part)
        holder.update(dict.fromkeys(part, int(i)))
    return files, holder


def _damaged_shard(path: Path, exc: Exception) -> IndexCorruptError:
    """The one-line error naming a shard Xapian cannot read or write (or whose manifest does
    not parse), with the rebuild hint."""
    why = exc.get_msg() if hasattr(exc, "get_msg") else (
        "its manifest does not parse" if isinstance(exc, ValueError) else str(exc) or type(exc).__name__)
    return IndexCorruptError(
        f"the Xapian shard {path} is damaged or unreadable ({' '.join(str(why).split())[:160]})"
    )


def check(gen: ix.Generation) -> tuple[int, list[tuple[str, str]]]:
    """``evsearch check`` on a Xapian generation: every shard's every block and table checked
    by Xapian itself, and its files against the checksums recorded when they were written
    (:mod:`.sums`); returns the number of files checked and the damaged shards as
    ``(path, what is wrong)``."""
    xapian = load()
    files = 0
    problems = []
    for path in shard_paths(gen):
        if path.is_symlink() or not path.is_dir():
            problems.append((str(path), "not a shard directory (missing, or a symlink)"))
            continue
        files += sum(1 for p in path.iterdir() if p.is_file())
        found = check_shard(path)  # in a child process: the checker can crash on damage
        if found is not None:
            problems.append((str(path), found))
            continue
        try:
            db = xapian.Database(str(path))
            try:
                read_files(db)
            finally:
                db.close()
            found = sums.verify(path)  # what Xapian cannot see: a changed byte that parses
        except (xapian.Error, RuntimeError, ValueError, OSError) as exc:  # RuntimeError: a C++ error
            why = exc.get_msg() if isinstance(exc, xapian.Error) else str(exc)
            problems.append((str(path), " ".join(str(why).split())[:160] or type(exc).__name__))
            continue
        if found is not None:
            problems.append((str(path), found))
    return files, problems


def _prepare(batch: Any) -> list[tuple[str, ...]]:
    """A file's documents analysed where the file is read (see :func:`.writer.prepare`)."""
    return prepare(batch, ix_schema.document_fields)


def _map_key(shards: int) -> dict[str, Any]:
    """What a corpus map is valid for: files parse and analyse alike under the same evsearch,
    schema and ranking, and fall in the same shards of the same number."""
    return {
        "evsearch": __version__, "schema": ix_schema.SCHEMA_VERSION, "ranking": RANKING,
        "shards": shards,
    }


def known_files(target: Path, shards: int) -> dict[str, list[Any]]:
    """The corpus map of the live generation of ``target`` when it is a ``--shard`` build
    of ``shards`` shards by this evsearch: ``{rel: [sha256, cell, field totals]}`` for every
    corpus file that build saw (``{}`` when there is none to trust)."""
    try:
        gen = ix.current_generation(target)
    except (EvsearchError, OSError):
        return {}
    built = gen.meta.get("built", [])
    if not is_xapian(gen.meta) or int(gen.meta.get("shards", 0)) != shards or len(built) != 1:
        return {}
    xapian = load()
    try:
        db = xapian.Database(str(gen.path / shard_name(int(built[0]))))
        try:
            raw = db.get_metadata(META_CORPUS)
        finally:
            db.close()
        stored = json.loads(raw.decode("utf-8")) if raw else {}
    except (xapian.Error, ValueError):
        return {}
    if stored.get("key") != json.loads(json.dumps(_map_key(shards))):
        return {}
    return dict(stored.get("files", {}))


def _others_unchanged(
    corpus: Path, known: dict[str, list[Any]], shards: int, only: int
) -> dict[str, list[Any]]:
    """The corpus files that hold another shard's cells and are unchanged since the build
    that mapped them (same path, same content hash): a ``--shard`` build need not read them.
    Which shard a file feeds is decided by the cell its content names, so only a file
    whose content is known can be skipped; its field totals still count in the averages."""
    if not known:
        return {}
    out: dict[str, list[Any]] = {}
    for path in ingest.discover(corpus).paths:
        rel = path.relative_to(corpus).as_posix()
        entry = known.get(rel)
        if entry is None or shard_of(str(entry[1]), shards) == only:
            continue
        try:
            if file_sha256(path) != entry[0]:
                continue
        except OSError:
            continue
        out[rel] = entry
    return out


def rebuild(
    corpus: Path, target: Path, started: float, progress: Any, *, shards: int = 1, only: int | None = None
) -> IndexReport:
    """A full build into a new generation. ``--shard i/N`` (``only``) skips the files of
    other shards' cells that are unchanged since the last ``--shard i/N`` build here (see
    :func:`_others_unchanged`) and maps every file it saw for the next one."""
    tracker = ix_writer._Progress(progress, started)
    skipped = _others_unchanged(corpus, known_files(target, shards), shards, only) if only is not None else {}
    batches, problems = ingest_corpus(
        corpus, progress=tracker.reading, procs=read_procs(), prepare=_prepare, skip=skipped
    )
    if problems and not batches and not skipped:
        raise ix_writer._nothing_readable(corpus, problems)
    unread: dict[str, list[int]] = {}
    corpus_map = ""
    if only is not None:
        files = dict(skipped)
        for entry in skipped.values():
            add_totals(unread, entry[2])
        for b in batches:
            if b.parsed is not None:
                files[b.source] = [b.sha256, b.parsed.cell.key, batch_totals(b, ix_schema.document_fields)]
        corpus_map = json.dumps({"key": _map_key(shards), "files": files}, sort_keys=True)
    _, n_docs = write_generation(
        target, batches, shards=shards, only=only, corpus_dir=str(corpus.resolve()),
        progress=tracker.writing, unread=unread, corpus_map=corpus_map,
    )
    mine = [b for b in batches if only is None or batch_shard(b, shards) == only]
    return ix_writer.rebuild_report(target, corpus, mine, n_docs, started, problems)


def incremental(
    corpus: Path, target: Path, gen: ix.Generation, started: float, progress: Any
) -> IndexReport:
    """Bring a Xapian generation up to date: only the shards whose files changed commit.

    A generation holding one shard of several (``--shard i/N``) is rebuilt instead (its
    part of the corpus is decided by the cells the files name, and its field averages by
    every file): other shards' unchanged files are skipped by their content hash."""
    shards = int(gen.meta.get("shards", 1))
    built = [int(i) for i in gen.meta.get("built", [])]
    if sorted(built) != list(range(shards)):
        only = built[0] if len(built) == 1 else None
        return rebuild(corpus, target, started, progress, shards=shards, only=only)
    refuse_symlinks(shard_paths(gen))  # an update writes in place: never through a symlink
    tracker = ix_writer._Progress(progress, started)
    old, holder = manifest(gen)
    plan = ix_writer._plan(corpus, old, tracker)
    if plan.conflict:
        return rebuild(corpus, target, started, progress, shards=shards)
    if plan.problems and not plan.files:
        raise ix_writer._nothing_readable(corpus, plan.problems)
    remove: dict[int, list[str]] = {}
    add: dict[int, list[Any]] = {}
    for rel in plan.remove:
        remove.setdefault(holder[rel], []).append(rel)
    for batch in plan.update:
        remove.setdefault(holder[batch.source], []).append(batch.source)
    for batch in [*plan.add, *plan.update]:
        add.setdefault(batch_shard(batch, shards), []).append(batch)
    new_holder = {rel: i for rel, i in holder.items() if rel in plan.files}
    for batch in [*plan.add, *plan.update]:
        new_holder[batch.source] = batch_shard(batch, shards)
    touched = set(remove) | set(add)
    if plan.touched:  # only sizes and times changed: rewrite the manifests, no documents
        touched |= set(new_holder.values())
    n_docs = 0
    xapian = load()
    for i in sorted(touched):
        part = {rel: plan.files[rel] for rel, h in new_holder.items() if h == i and rel in plan.files}
        path = gen.path / shard_name(i)
        try:
            n_docs += update_shard(
                path, remove=remove.get(i, ()), add=add.get(i, ()), files=part,
                document_fields=ix_schema.document_fields,
                progress=_offset(tracker.writing, n_docs),
            )
        except xapian.DatabaseLockError:
            raise
        except (xapian.DatabaseError, RuntimeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            # Xapian cannot read or write the shard (RuntimeError: a C++ error from damaged
            # blocks), or its own metadata does not parse; its transaction was cancelled
            raise _damaged_shard(path, exc) from None
        try:
            sums.record(path)
        except (OSError, xapian.Error):  # the update is committed; checksums of the older
            pass  # revision are then not compared (see _xapian.sums), never taken for damage
    return ix_writer.incremental_report(target, corpus, plan, n_docs, started)


def update(
    corpus: Path, target: Path, gen: ix.Generation | None, started: float, progress: Any, *,
    shards: int | None = None, shard: tuple[int, int] | None = None,
) -> IndexReport:
    """Bring a Xapian index up to date (the caller holds the write lock): incrementally when
    ``gen`` is a complete Xapian generation with the shard count and ranking asked for (its
    documents' wdfs are written as new ones would be), else a rebuild
    (all ``shards`` shards, or only shard ``i`` of ``n`` with ``shard=(i, n)``)."""
    if shard is not None:
        return rebuild(corpus, target, started, progress, shards=shard[1], only=shard[0])
    have = int(gen.meta.get("shards", 1)) if gen is not None else None
    n = shards or have or 1
    if (gen is None or n != have or gen.meta.get("manifest") != ix.MANIFEST_FORMAT
            or gen.meta.get("ranking") != RANKING):  # wdfs written another way: all again
        return rebuild(corpus, target, started, progress, shards=n)
    return incremental(corpus, target, gen, started, progress)


__all__ = ["ENGINE", "check", "incremental", "is_xapian", "rebuild", "shard_of", "update", "write_generation"]
