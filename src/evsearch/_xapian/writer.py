"""Writing Xapian shards: evsearch documents -> Xapian documents, whole builds and updates.

A full build writes every shard of a new generation (``shard_of(cell)`` decides where each
cell goes), or only shard ``i`` of ``N`` (``--shard i/N``: one machine builds its part).
An incremental update deletes and adds the documents of changed files in the shards that
hold them, and commits each shard with its part of the manifest in the same transaction.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..analysis import analyze
from ..errors import EvsearchError
from ..index.schema import stored_length
from . import load, sums
from .schema import (
    BOOL_PREFIX,
    FIELD_BM25F,
    FIELD_GAP,
    FIELD_PREFIX,
    MAX_TERM_BYTES,
    META_AVGLEN,
    META_CORPUS,
    META_FILES,
    META_INFO,
    SLOT_CELL,
    SLOT_KIND,
    SLOT_MATRIX,
    SLOT_SEQ,
    SLOT_TYPE,
    SLOT_UNDATED,
    SLOT_YEAR,
    SLOT_YEAR_ASC,
    SLOT_YEAR_DESC,
    average_lengths,
    bm25f_wdf,
    shard_name,
    shard_of,
    year_keys,
)
from .words import read_word_count, removed_words, shared_word_analyzer, spelling_words, write_word_counts

#: The stored fields (the document data), as the Whoosh engine stores them.
STORED = (
    "id", "kind", "cell_key", "study_type", "year", "order", "title", "doc_title", "section",
    "text", "organisation", "role", "source", "links",
)
#: Documents between two commits of a shard during a build. Xapian's default (10,000) costs
#: more CPU per document here: 35,600 passages took 18.9 CPU-s with 10,000 and 11.6 with
#: 1,000 (100,000: 42.6; 300 and 2,500 were no better). A build commits its scratch database
#: without fsync (``DB_NO_SYNC``) and syncs the compacted shard's files once at the end,
#: before the generation is switched to.
BUILD_COMMIT_EVERY = 1_000
#: Where a shard is written before it is compacted into place.
SCRATCH_SUFFIX = ".scratch"


def boolean_term(prefix: str, value: str) -> str:
    """A filter term; a value too long for a Xapian term is replaced by its hash."""
    term = prefix + value
    if len(term.encode("utf-8")) > MAX_TERM_BYTES:
        term = prefix + "#" + hashlib.sha1(value.encode("utf-8")).hexdigest()
    return term


def analysis(fields: dict[str, Any]) -> tuple[str, ...]:
    """What a document's Xapian terms are made from: each BM25F field's terms in order (as
    :func:`~evsearch.analysis.analyze` gives them, joined by spaces: a term never holds
    one), then the document's distinct unstemmed words. Compact, so a reading process can
    send it with the file's documents (:func:`prepare`)."""
    out = [" ".join(analyze(fields.get(name) or "")) for name in FIELD_BM25F]
    out.append(" ".join(set(shared_word_analyzer().terms(fields.get("words") or ""))))
    return tuple(out)


def prepare(
    batch: Any, document_fields: Callable[[Any, str], dict[str, Any]]
) -> list[tuple[str, ...]]:
    """The :func:`analysis` of each document of ``batch``: done where the file is read."""
    return [analysis(document_fields(doc, batch.source)) for doc in batch.documents]


def _analyses(
    batch: Any, document_fields: Callable[[Any, str], dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], tuple[str, ...]]]:
    """Each document's fields and analysis (done now unless the reading prepared it)."""
    prepared = batch.prepared
    for k, doc in enumerate(batch.documents):
        fields = document_fields(doc, batch.source)
        yield fields, prepared[k] if prepared is not None else analysis(fields)


def _terms(joined: str) -> list[str]:
    return joined.split(" ") if joined else []


def batch_totals(
    batch: Any, document_fields: Callable[[Any, str], dict[str, Any]]
) -> dict[str, list[int]]:
    """Each text field's total length (in analysed terms) over one file's documents, and how
    many of them have it: ``{field: [total, having]}``."""
    prepared = batch.prepared
    if prepared is None:
        prepared = [analysis(document_fields(doc, batch.source)) for doc in batch.documents]
    totals: dict[str, list[int]] = {}
    names = list(FIELD_BM25F)
    for analysed in prepared:
        for name, joined in zip(names, analysed[:-1], strict=True):
            if joined:
                got = totals.setdefault(name, [0, 0])
                got[0] += joined.count(" ") + 1
                got[1] += 1
    return totals


def add_totals(into: dict[str, list[int]], more: dict[str, list[int]]) -> None:
    """Add the field totals ``more`` (``{field: [total, having]}``) to ``into``."""
    for name, (total, having) in more.items():
        got = into.setdefault(name, [0, 0])
        got[0] += total
        got[1] += having


def field_averages(
    batches: Iterable[Any], document_fields: Callable[[Any, str], dict[str, Any]],
    more: dict[str, list[int]] | None = None,
) -> dict[str, float]:
    """Each text field's average length (in analysed terms) over the documents of ``batches``
    that have it (plus the totals ``more`` of files not read): BM25F's ``avg_f``, as the
    Whoosh engine computes it over its index."""
    totals: dict[str, list[int]] = {}
    for batch in batches:
        add_totals(totals, batch_totals(batch, document_fields))
    add_totals(totals, more or {})
    return average_lengths(
        {f: t for f, (t, _) in totals.items()}, {f: h for f, (_, h) in totals.items()}
    )


def read_averages(db: Any) -> dict[str, float] | None:
    """The field average lengths a shard was built with."""
    raw = db.get_metadata(META_AVGLEN)
    if not raw:
        return None
    stored = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    return {str(k): float(v) for k, v in stored.items()}


class DocumentMaker:
    """Turns the engine-neutral fields of a document (``index.document_fields``) into a
    Xapian document, its terms' wdf BM25F's normalised frequencies by the field average
    lengths ``avglen`` (see :mod:`.schema`)."""

    def __init__(self, avglen: dict[str, float]) -> None:
        self.xapian = load()
        self.avglen = avglen
        self._fields = [(name, w, b, FIELD_PREFIX[name]) for name, (w, b) in FIELD_BM25F.items()]

    def __call__(self, fields: dict[str, Any], analysed: tuple[str, ...] | None = None) -> Any:
        """The Xapian document of ``fields``, whose :func:`analysis` is ``analysed`` (made
        now when not given)."""
        xapian = self.xapian
        if analysed is None:
            analysed = analysis(fields)
        doc = xapian.Document()
        add_posting, add_term = doc.add_posting, doc.add_term
        pos = 0
        weighted: dict[str, float] = {}
        placed: list[tuple[list[str], Iterable[int]]] = []
        for (name, weight, b, prefix), joined in zip(self._fields, analysed[:-1], strict=True):
            terms = _terms(joined)
            n = len(terms)
            if not n:
                continue
            share = weight / ((1 - b) + b * stored_length(n) / self.avglen.get(name, 1.0))
            positions: Iterable[int] = range(pos + 1, pos + 1 + n)
            if max(map(len, terms)) * 4 > MAX_TERM_BYTES:  # rare: a term may be too long to index
                kept = [(t, at) for t, at in zip(terms, positions, strict=True)
                        if len(t.encode("utf-8")) <= MAX_TERM_BYTES]
                terms, positions = [t for t, _ in kept], [at for _, at in kept]
            for term, count in Counter(terms).items():  # in order of first occurrence
                weighted[term] = weighted.get(term, 0.0) + share * count
                add_term(prefix + term, bm25f_wdf(share * count))  # this field's share
            placed.append((terms, positions))
            pos += n + FIELD_GAP
        # Each term's wdf goes with its first position (one call per position, none more).
        wdf = {term: bm25f_wdf(tf) for term, tf in weighted.items()}
        for terms, positions in placed:
            for term, at in zip(terms, positions, strict=True):
                add_posting(term, at, wdf.pop(term, 0))
        doc.add_boolean_term(boolean_term(BOOL_PREFIX["id"], fields["id"]))
        doc.add_boolean_term(BOOL_PREFIX["kind"] + fields["kind"])
        for t in (fields.get("type") or "").lower().split():
            doc.add_boolean_term(BOOL_PREFIX["type"] + t)
        for c in fields["cell"].lower().split():
            doc.add_boolean_term(boolean_term(BOOL_PREFIX["cell"], c))
        doc.add_boolean_term(boolean_term(BOOL_PREFIX["matrix"], fields["matrix"]))
        doc.add_boolean_term(boolean_term(BOOL_PREFIX["source"], fields["source"]))
        year = fields.get("year")
        if year is not None:
            doc.add_value(SLOT_YEAR, xapian.sortable_serialise(year))
        doc.add_value(SLOT_UNDATED, "0" if year is not None else "1")
        ascending, descending = year_keys(year)
        doc.add_value(SLOT_YEAR_ASC, ascending)
        doc.add_value(SLOT_YEAR_DESC, descending)
        doc.add_value(SLOT_KIND, fields["kind"])
        if fields.get("type"):
            doc.add_value(SLOT_TYPE, fields["type"].lower())
        doc.add_value(SLOT_CELL, fields["cell_key"])
        doc.add_value(SLOT_MATRIX, fields["matrix"])
        doc.add_value(SLOT_SEQ, fields["seq"])
        stored = {k: fields[k] for k in STORED if fields.get(k) not in (None, "")}
        doc.set_data(json.dumps(stored, ensure_ascii=False))
        return doc


def open_writable(path: Path, create: bool, sync: bool = True) -> Any:
    xapian = load()
    flags = xapian.DB_CREATE_OR_OVERWRITE if create else xapian.DB_OPEN
    if not sync:
        flags |= xapian.DB_NO_SYNC
    try:
        return xapian.WritableDatabase(str(path), flags)
    except xapian.DatabaseLockError:
        from ..errors import IndexBusyError

        raise IndexBusyError(f"another program is writing the Xapian shard {path}") from None
    except xapian.Error as exc:
        raise EvsearchError(
            f"cannot write the Xapian shard {path} ({exc.get_msg()})",
            hint="pass --index DIR naming a writable directory",
        ) from None


def shard_info(i: int, shards: int, schema_version: int, corpus_dir: str) -> str:
    return json.dumps(
        {"shard": i, "shards": shards, "schema_version": schema_version, "corpus_dir": corpus_dir}
    )


def write_shard(
    path: Path,
    i: int,
    shards: int,
    batches: Iterable[Any],
    *,
    info: str,
    document_fields: Callable[[Any, str], dict[str, Any]],
    avglen: dict[str, float],
    progress: Callable[[int], None] | None = None,
    corpus_map: str = "",
) -> int:
    """Write shard ``i`` of ``shards`` at ``path`` afresh from the batches whose cell hashes
    to it (a batch with no parsed cell, from a collection, goes to shard 0), normalising
    field lengths by ``avglen`` (the whole build's averages). Returns the number of
    documents written.

    The shard is written into a scratch database beside ``path``, then compacted into
    ``path`` (:func:`compact`) and the scratch removed: both inside the generation being
    built, which is switched to only once every shard is complete."""
    scratch = path.with_name(path.name + SCRATCH_SUFFIX)
    db = open_writable(scratch, create=True, sync=False)
    make = DocumentMaker(avglen)
    files: dict[str, Any] = {}
    words: Counter[str] = Counter()
    n = 0
    try:
        for batch in batches:
            if batch_shard(batch, shards) != i:
                continue
            for fields, analysed in _analyses(batch, document_fields):
                db.add_document(make(fields, analysed))
                words.update(spelling_words(analysed))
                n += 1
                if n % BUILD_COMMIT_EVERY == 0:
                    db.commit()
            if batch.sha256 or batch.parsed is not None:
                files[batch.source] = batch.manifest_entry()
            if progress is not None:
                progress(n)
        db.set_metadata(META_FILES, json.dumps(files, ensure_ascii=False, sort_keys=True))
        db.set_metadata(META_INFO, info)
        db.set_metadata(META_AVGLEN, json.dumps(avglen, sort_keys=True))
        if corpus_map:
            db.set_metadata(META_CORPUS, corpus_map)
        write_word_counts(db, words)
        db.commit()
    finally:
        db.close()
    compact(scratch, path)
    shutil.rmtree(scratch)
    _sync_files(path)
    sums.record(path)
    return n


def compact(source: Path, target: Path) -> None:
    """Write the database at ``source`` compacted at ``target`` (a new directory): B-tree
    blocks filled, so the shard is about a third smaller (96,000 passages in 2 shards:
    384 MB written, 240 MB compacted, for about 1 % more CPU). The documents, their
    numbers and the metadata are the same."""
    xapian = load()
    db = xapian.Database(str(source))
    try:
        db.compact(str(target), xapian.DBCOMPACT_NO_RENUMBER)
    except xapian.Error as exc:
        raise EvsearchError(
            f"cannot write the Xapian shard {target} ({exc.get_msg()})",
            hint="check there is free space where the index is",
        ) from None
    finally:
        db.close()


def _sync_files(path: Path) -> None:
    """fsync every file of a database written without syncing."""
    for f in path.iterdir():
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def batch_shard(batch: Any, shards: int) -> int:
    """The shard of a corpus file's documents: its cell's, or shard 0 without a cell."""
    if batch.parsed is not None:
        return shard_of(batch.parsed.cell.key, shards)
    if batch.documents:
        return shard_of(batch.documents[0].cell, shards)
    return 0


def write_shards(
    gen_path: Path,
    batches: Sequence[Any],
    *,
    shards: int,
    only: int | None,
    info: Callable[[int], str],
    document_fields: Callable[[Any, str], dict[str, Any]],
    procs: int = 1,
    progress: Callable[[int], None] | None = None,
    unread: dict[str, list[int]] | None = None,
    corpus_map: str = "",
) -> int:
    """Write the shards of a new generation (all of them, or shard ``only``); with ``procs``
    above 1, shards are written by that many forked processes at once. Every shard's
    lengths are normalised by the field averages over all of ``batches`` and the field
    totals ``unread`` of the corpus files not read (other shards' files known unchanged),
    so a document gets the same wdf whatever the number of shards, or the shard built.
    ``corpus_map`` is kept in the shards written (see :mod:`.store`)."""
    avglen = field_averages(batches, document_fields, unread)
    todo = list(range(shards)) if only is None else [only]
    procs = max(1, min(procs, len(todo)))
    if procs == 1 or "fork" not in multiprocessing.get_all_start_methods():
        n = 0
        for i in todo:
            n += write_shard(
                gen_path / shard_name(i), i, shards, batches, info=info(i),
                document_fields=document_fields, avglen=avglen,
                progress=_offset(progress, n) if progress else None, corpus_map=corpus_map,
            )
        return n
    ctx = multiprocessing.get_context("fork")
    groups = [todo[k::procs] for k in range(procs)]
    queue = ctx.SimpleQueue()

    def work(group: list[int]) -> None:
        try:
            total = 0
            for i in group:
                total += write_shard(
                    gen_path / shard_name(i), i, shards, batches, info=info(i),
                    document_fields=document_fields, avglen=avglen, corpus_map=corpus_map,
                )
            queue.put(("ok", total))
        except BaseException as exc:  # reported by the parent as one line
            queue.put(("error", str(exc)))
            raise

    children = [ctx.Process(target=work, args=(g,)) for g in groups]
    for child in children:
        child.start()
    results = [queue.get() for _ in children]
    for child in children:
        child.join()
    errors = [msg for status, msg in results if status != "ok"]
    if errors or any(child.exitcode != 0 for child in children):
        raise EvsearchError(f"writing a Xapian shard failed ({errors[0] if errors else 'a writer died'})")
    n = sum(int(v) for _, v in results)
    if progress is not None:
        progress(n)
    return n


def _offset(progress: Callable[[int], None], done: int) -> Callable[[int], None]:
    """``progress`` of a later part: counts on from ``done``."""

    def report(k: int) -> None:
        progress(done + k)

    return report


def build_procs(documents: int, shards: int) -> int:
    """Writer processes for a build: one per CPU (at most the number of shards) for a large
    corpus, else 1."""
    if documents < 20_000 or shards < 2:
        return 1
    return max(1, min(shards, os.cpu_count() or 1))


def read_files(db: Any) -> dict[str, Any]:
    """A shard's part of the file manifest."""
    raw = db.get_metadata(META_FILES)
    if not raw:
        return {}
    return dict(json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw))


def update_shard(
    path: Path,
    *,
    remove: Iterable[str],
    add: Iterable[Any],
    files: dict[str, Any],
    document_fields: Callable[[Any, str], dict[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Delete the documents of the files ``remove``, add the batches ``add``, and commit them
    with this shard's new part of the manifest ``files`` in one transaction. Added documents
    are normalised by the field averages stored at build time (fixed until a rebuild)."""
    db = open_writable(path, create=False)
    avglen = read_averages(db)
    if avglen is None:
        add = list(add)
        avglen = field_averages(add, document_fields)
    make = DocumentMaker(avglen)
    n = 0
    try:
        db.begin_transaction()
        words: Counter[str] = Counter()
        for rel in remove:
            term = boolean_term(BOOL_PREFIX["source"], rel)
            for docid in [int(item.docid) for item in db.postlist(term)]:
                words.subtract(removed_words(db.get_document(docid)))
            db.delete_document(term)
        for batch in add:
            for fields, analysed in _analyses(batch, document_fields):
                db.add_document(make(fields, analysed))
                words.update(spelling_words(analysed))
                n += 1
            if progress is not None:
                progress(n)
        write_word_counts(db, words, functools.partial(read_word_count, db))
        db.set_metadata(META_FILES, json.dumps(files, ensure_ascii=False, sort_keys=True))
        db.set_metadata(META_AVGLEN, json.dumps(avglen, sort_keys=True))
        db.commit_transaction()
    except BaseException:
        try:
            db.cancel_transaction()
        except Exception:  # the database may already be closed by the error
            pass
        raise
    finally:
        db.close()
    return n
