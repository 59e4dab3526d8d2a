"""Checksums of a shard's files, so that ``evsearch check`` finds damage Xapian cannot see.

Xapian's glass databases carry no checksums: a changed byte that still parses (a frequency,
a position, a stored document's text) gives different results and passes Xapian's own
checker. After every commit evsearch makes to a shard (the build, each incremental update)
it records the sha256 of each of the shard's files, with the revision Xapian gave that
commit, in ``<shard>.sha256.json`` beside the shard (outside the shard directory that
``xapian-tcpsrv`` serves). ``evsearch check`` compares them. Checksums of another revision
(the process stopped between a commit and its checksums) are not evidence of damage: they
are reported as not verified, and the next update records them again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..index.integrity import file_sha256
from . import load

#: Files of a database that change without a commit (Xapian's lock file).
_NOT_DATA = frozenset({"flintlock"})


def sums_path(shard: Path) -> Path:
    """Where a shard's checksums are kept: beside it, in the generation directory."""
    return shard.with_name(shard.name + ".sha256.json")


def _revision(shard: Path) -> int:
    xapian = load()
    db = xapian.Database(str(shard))
    try:
        return int(db.get_revision())
    finally:
        db.close()


def _file_sums(shard: Path) -> dict[str, str]:
    return {
        p.name: file_sha256(p)
        for p in sorted(shard.iterdir())
        if p.is_file() and not p.is_symlink() and p.name not in _NOT_DATA
    }


def record(shard: Path) -> None:
    """Record the checksums of a shard's files as they are now (call it after a commit, with
    the write lock held): written to a temporary file, synced, then renamed into place."""
    body = json.dumps({"revision": _revision(shard), "files": _file_sums(shard)}, sort_keys=True)
    target = sums_path(shard)
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def verify(shard: Path) -> str | None:
    """What the checksums say is wrong with a shard, in a line (None: its files are as
    recorded, or there is nothing to compare them with: an index written before checksums,
    or checksums of another revision)."""
    try:
        recorded = json.loads(sums_path(shard).read_text(encoding="utf-8"))
        revision, files = int(recorded["revision"]), dict(recorded["files"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return f"its checksums ({sums_path(shard).name}) are damaged"
    if revision != _revision(shard):
        return None
    now = _file_sums(shard)
    changed = sorted(name for name in set(files) | set(now) if files.get(name) != now.get(name))
    if not changed:
        return None
    missing = [name for name in changed if name not in now]
    if missing:
        return f"{missing[0]} is missing (its checksum was recorded when the shard was written)"
    return f"{changed[0]} changed since it was written (its sha256 differs from the one recorded)"


__all__ = ["record", "sums_path", "verify"]
