"""Xapian generations in an evsearch index directory: full builds and incremental updates.

The directory conventions are the Whoosh engine's (``EVSEARCH_INDEX`` marker, ``gen-N``
generations switched by renaming ``CURRENT``, the write lock held by the caller); a Xapian
generation holds ``shard-NNN`` databases and a ``meta-000001.json`` naming the engine and the
shards. The file manifest is kept per shard inside each database (committed with its
documents), so an update touches only the shards whose cells changed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import EvsearchError
from ..index import schema as ix_schema
from ..index import store as ix
from ..index import writer as ix_writer
from ..index.sources import ingest_corpus
from ..results import IndexReport
from . import load
from .schema import RANKING, shard_name, shard_of
from .writer import _offset, batch_shard, build_procs, read_files, shard_info, update_shard, write_shards

ENGINE = "xapian"


def is_xapian(meta: dict[str, Any]) -> bool:
    return meta.get("engine") == ENGINE


def read_procs() -> int:
    """Processes reading the corpus in a full build: one per CPU, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def write_generation(
    index_dir: Path,
    batches: Sequence[Any],
    *,
    shards: int = 1,
    only: int | None = None,
    corpus_dir: str = "",
    progress: Callable[[int], None] | None = None,
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
    except OSError:
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
            progress=progress,
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
        db = xapian.Database(str(gen.path / shard_name(int(i))))
        try:
            part = read_files(db)
        finally:
            db.close()
        files.update(part)
        holder.update(dict.fromkeys(part, int(i)))
    return files, holder


def rebuild(
    corpus: Path, target: Path, started: float, progress: Any, *, shards: int = 1, only: int | None = None
) -> IndexReport:
    tracker = ix_writer._Progress(progress, started)
    batches, problems = ingest_corpus(corpus, progress=tracker.reading, procs=read_procs())
    if problems and not batches:
        raise ix_writer._nothing_readable(corpus, problems)
    _, n_docs = write_generation(
        target, batches, shards=shards, only=only, corpus_dir=str(corpus.resolve()),
        progress=tracker.writing,
    )
    mine = [b for b in batches if only is None or batch_shard(b, shards) == only]
    return ix_writer.rebuild_report(target, corpus, mine, n_docs, started, problems)


def incremental(
    corpus: Path, target: Path, gen: ix.Generation, started: float, progress: Any
) -> IndexReport:
    """Bring a Xapian generation up to date: only the shards whose files changed commit.

    A generation holding one shard of several (``--shard i/N``) is rebuilt instead (its
    part of the corpus is decided by the cells, which only a full read shows)."""
    shards = int(gen.meta.get("shards", 1))
    built = [int(i) for i in gen.meta.get("built", [])]
    if sorted(built) != list(range(shards)):
        only = built[0] if len(built) == 1 else None
        return rebuild(corpus, target, started, progress, shards=shards, only=only)
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
    for i in sorted(touched):
        part = {rel: plan.files[rel] for rel, h in new_holder.items() if h == i and rel in plan.files}
        n_docs += update_shard(
            gen.path / shard_name(i), remove=remove.get(i, ()), add=add.get(i, ()), files=part,
            document_fields=ix_schema.document_fields,
            progress=_offset(tracker.writing, n_docs),
        )
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


__all__ = ["ENGINE", "incremental", "is_xapian", "rebuild", "shard_of", "update", "write_generation"]
