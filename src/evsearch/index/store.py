"""Where an index lives: generations, ``CURRENT``, per-commit metadata (manifests), stems.

An index directory holds generations: ``gen-000001/``, ``gen-000002/`` ... each a complete
Whoosh index; the file ``CURRENT`` names the live one. Each Whoosh commit ``N`` of a
generation has its metadata in ``meta-N.json``, written *before* the commit (see
:mod:`evsearch.index`). The file ``EVSEARCH_INDEX`` marks a directory as an evsearch index:
evsearch never deletes or overwrites a directory without it.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import shutil
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from .._version import __version__
from ..analysis import preload_stems, stem_table, stopwords, words
from ..config import VERIFY_AT_OPEN_BYTES
from ..errors import EvsearchError, IndexCorruptError, IndexMissingError, IndexVersionError
from .integrity import STEMS, Verification, verify
from .lock import LOCK_FILE, O_NOFOLLOW, symlink_refused
from .schema import SCHEMA_VERSION

MARKER = "EVSEARCH_INDEX"
CURRENT = "CURRENT"
META = "meta.json"  # the metadata of indexes written before per-commit metadata
#: The manifest format of ``meta-N.json``; an index without it is rebuilt, not updated.
MANIFEST_FORMAT = 2
_META_RE = re.compile(r"^meta-(\d+)\.json$")
GEN_NAME = re.compile(r"^gen-\d+$")


@dataclass(frozen=True)
class Generation:
    """One complete Whoosh index inside an index directory, with its metadata (and, once
    verified, what the verification found: which caches may be used)."""

    path: Path
    meta: dict[str, Any]
    verified: Verification | None = None

    def trusts(self, name: str) -> bool:
        """Whether the cache file ``name`` of this generation passed verification."""
        return self.verified is not None and self.verified.trusted(name)


def verified(gen: Generation, budget: int | None) -> Generation:
    """``gen`` with its files verified against its manifest's checksums: raises the one-line
    error naming a damaged file of the index; damaged caches are only marked unusable (and
    the stem table is preloaded only when it passed)."""
    found = verify(gen.path, gen.meta, budget)
    if found.damaged:
        name, why = next(iter(found.damaged.items()))
        raise damaged(gen.path / name, why)
    if found.trusted(STEMS):
        preload_stems(gen.path / STEMS)
    return Generation(gen.path, gen.meta, found)


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
    except FileNotFoundError as exc:
        raise damaged(Path(exc.filename or path), "it is missing") from None
    except OSError as exc:
        raise damaged(Path(exc.filename or path), exc) from None
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
    return _load_meta(path / name)


def _meta_digest(meta: dict[str, Any]) -> str:
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _load_meta(path: Path) -> dict[str, Any]:
    """A manifest, checked against the checksum it carries (raises the damaged-file error)."""
    try:
        meta = json.loads(_read_text(path))
    except ValueError as exc:
        raise damaged(path, exc) from None
    if not isinstance(meta, dict):
        raise damaged(path, "it is not a manifest")
    if meta.get("schema_version") != SCHEMA_VERSION:
        return meta  # another evsearch's index: the version check says to rebuild it
    if "meta_sha256" not in meta and ("checksums" in meta or "engine" in meta):
        # written since manifests carry their own checksum: the key itself was damaged
        raise damaged(path, "its checksum is missing")
    if meta.get("meta_sha256", _meta_digest(meta)) != _meta_digest(meta):
        raise damaged(path, "its checksum differs from the one recorded when it was written")
    return meta


def committed_meta(path: Path, toc_generation: int | None) -> dict[str, Any]:
    """The metadata of Whoosh commit ``toc_generation`` of a generation directory."""
    candidates = [] if toc_generation is None else [path / _meta_name(toc_generation)]
    candidates.append(path / META)
    for candidate in candidates:
        refuse_symlinks(candidate)
        try:
            return _load_meta(candidate)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise damaged(candidate, exc) from None
    raise IndexCorruptError(f"the index at {path} has no metadata for commit {toc_generation}")


def open_searcher(index_dir: Path, weighting: Any, attempts: int = 3) -> tuple[Generation, Any, Any]:
    """Open the live generation's latest commit: its metadata, Whoosh index and searcher.

    Internal to the library. A writer may switch generations or commit while this runs;
    the open is retried a few times, so a reader sees the old state or the new one.
    """
    for attempt in range(attempts):
        gen = current_generation(index_dir)
        searcher = None
        try:
            # The latest commit's files are verified before Whoosh reads them.
            checked = verified(gen, VERIFY_AT_OPEN_BYTES)
            ix = open_whoosh(gen)
            try:
                searcher = ix.searcher(weighting=weighting)
            except Exception as exc:  # whoosh raises many kinds on damaged files
                raise diagnose(gen.path, exc) from None
            toc = searcher.reader().generation()
            if toc is None:  # an empty index: no segments, no reader generation
                toc = ix.latest_generation()
            meta = committed_meta(gen.path, toc)
            _check_version(Path(index_dir), meta)
            if meta != gen.meta:  # a commit came in between: verify the one opened
                checked = verified(Generation(gen.path, meta), VERIFY_AT_OPEN_BYTES)
            return checked, ix, searcher
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
    try:
        return whoosh_index.open_dir(str(gen.path))
    except Exception as exc:  # whoosh raises many kinds on damaged files
        raise diagnose(gen.path, exc) from None


def close_leaked_files(failure: BaseException) -> None:
    """Close the files a failed Whoosh write left open (Whoosh does not close them when a
    write fails; on a full disk, the space of a removed file comes back only once it is
    closed). Called by the handler of ``failure``: its tracebacks, which keep the failed
    writer reachable, are dropped first."""
    seen: set[int] = set()
    exc: BaseException | None = failure
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            exc.__traceback__ = None  # this alone may free the writer and close its files
            exc = exc.__context__
        gc.collect()


def diagnose(gen_path: Path, exc: BaseException) -> IndexCorruptError:
    """The error for a generation Whoosh failed to read: the damaged file named when the
    checksums of the latest manifest find it, else what Whoosh said. Called by the handler
    of ``exc``: the files Whoosh left open are closed."""
    close_leaked_files(exc)
    try:
        found = verify(gen_path, _latest_meta(gen_path))
    except (OSError, ValueError, EvsearchError):
        found = None
    if found is not None and found.damaged:
        name, why = next(iter(found.damaged.items()))
        return damaged(gen_path / name, why)
    text = " ".join(str(exc).split())[:160] or type(exc).__name__
    return IndexCorruptError(f"cannot open the index at {gen_path} ({text})")


def _next_generation_name(index_dir: Path) -> str:
    numbers = [
        int(p.name[4:]) for p in index_dir.glob("gen-*") if p.name[4:].isdigit()
    ]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def _fsync_write(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | O_NOFOLLOW
    try:
        with open(os.open(tmp, flags, 0o644), "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no partial file behind
        raise


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
        # a record's claim is "alcohol/B5#record": the cell is the part before "#"
        "cells": sorted({e["cell"].partition("#")[0] for e in files.values() if e.get("cell")}),
        "studies": studies,
        "passages": documents - studies,
    }


def _write_meta(path: Path, toc_generation: int, meta: dict[str, Any]) -> None:
    meta = {**meta, "meta_sha256": _meta_digest(meta)}
    _fsync_write(path / _meta_name(toc_generation), json.dumps(meta, indent=1, ensure_ascii=False))




def save_stems(ix: Any, gen_path: Path) -> None:
    """Save the stem of every word the index holds, so searches need not import NLTK.

    A cache, not part of a commit: a missing or older table only makes a search stem the
    words it lacks itself."""
    with ix.reader() as reader:
        vocabulary = [
            w.decode("utf-8") if isinstance(w, bytes) else w for w in reader.lexicon("words")
        ]
    _fsync_write(gen_path / STEMS, json.dumps(stem_table(vocabulary), ensure_ascii=False))


def add_stems(ix: Any, gen_path: Path, texts: Iterable[str], *, trusted: bool) -> None:
    """After an incremental commit: add the stems of the new documents' words (``texts``) to
    the saved table, rewriting it only when some are new (a full :func:`save_stems` when
    the table did not pass verification, ``trusted``, or cannot be read). Words of removed
    documents may stay: they do no harm."""
    try:
        table = json.loads(_read_text(gen_path / STEMS)) if trusted else None
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


def clear_unfinished(index_dir: Path) -> None:
    """Remove the unfinished generations (``gen-*.building``) of runs that were killed; the
    caller holds the write lock, so no run is writing them."""
    for leftover in index_dir.glob("gen-*.building"):
        shutil.rmtree(leftover, ignore_errors=True)


def remove_new_index_dir(index_dir: Path) -> None:
    """Remove an index directory this run created and failed to finish (nothing but what
    evsearch put there: the marker, the lock, unfinished generations)."""
    if not (index_dir / CURRENT).exists() and is_evsearch_index(index_dir):
        shutil.rmtree(index_dir, ignore_errors=True)


def _remove_old_generations(index_dir: Path, keep: set[str]) -> None:
    for p in index_dir.glob("gen-*"):
        if p.name not in keep and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)



def _remove_old_metas(path: Path, keep: set[int]) -> None:
    for n in _meta_numbers(path):
        if n not in keep:
            (path / _meta_name(n)).unlink(missing_ok=True)

