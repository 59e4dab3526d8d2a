"""Checksums of the files of a commit, recorded in its manifest and verified before use.

After each commit, the size and SHA-256 of every file of the generation (Whoosh's segment
files and table of contents, the saved stems, the saved postings) are added to the commit's
``meta-N.json`` under ``checksums``. Opening an index verifies them (small files by content,
within :data:`evsearch.config.VERIFY_AT_OPEN_BYTES`; the rest by size); ``evsearch index`` and
``evsearch check`` verify every byte. A damaged file of the index itself is an error naming
it, with the ``--rebuild`` hint; a damaged cache (stems, saved postings) is not used: a
search then does without it, and an update rewrites it, never extends it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Files evsearch writes beside Whoosh's as caches: not trusted unless verified.
STEMS = "stems.json"
CACHE_SUFFIXES = (".evpost.json", ".evpost_ids", ".evpost_tf")
_SKIP_SUFFIXES = (".tmp", ".json")  # the manifests themselves; unfinished files
_SKIP_NAMES = {"MAIN_WRITELOCK"}


def is_cache(name: str) -> bool:
    return name == STEMS or name.endswith(CACHE_SUFFIXES)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _recorded_files(gen_path: Path) -> list[Path]:
    out = []
    for path in sorted(gen_path.iterdir()):
        name = path.name
        if name in _SKIP_NAMES or not path.is_file() or path.is_symlink():
            continue
        if name.endswith(_SKIP_SUFFIXES) and name != STEMS and not name.endswith(".evpost.json"):
            continue
        out.append(path)
    return out


def checksums(gen_path: Path) -> dict[str, dict[str, Any]]:
    """``{name: {"size": n, "sha256": hex}}`` of the files of a generation, as now on disk
    (called by the writer, holding the lock, right after a commit and its caches)."""
    return {
        p.name: {"size": p.stat().st_size, "sha256": file_sha256(p)} for p in _recorded_files(gen_path)
    }


@dataclass
class Verification:
    """What verifying a generation found."""

    damaged: dict[str, str] = field(default_factory=dict)  # index file -> what is wrong
    bad_caches: dict[str, str] = field(default_factory=dict)  # cache file -> what is wrong
    recorded: bool = True  # False: the manifest has no checksums (nothing could be verified)
    files: int = 0  # files verified (by content or size)

    def trusted(self, name: str) -> bool:
        """Whether the cache file ``name`` may be used."""
        return self.recorded and name not in self.bad_caches


def verify(gen_path: Path, meta: dict[str, Any], budget: int | None = None) -> Verification:
    """Compare a generation's files with the checksums of ``meta``: all of them by content
    when ``budget`` is None, else the smallest by content up to ``budget`` bytes and the
    others by size."""
    recorded = meta.get("checksums")
    if not isinstance(recorded, dict):
        return Verification(recorded=False)
    out = Verification()
    # Nothing in a generation is ever a symlink: Whoosh would read and write through one.
    with os.scandir(gen_path) as listing:
        for found in listing:
            if found.is_symlink():
                (out.bad_caches if is_cache(found.name) else out.damaged)[found.name] = "it is a symlink"
    spent = 0
    entries = sorted(recorded.items(), key=lambda kv: (_size(kv[1]), kv[0]))
    for name, entry in entries:
        path = gen_path / name
        if name in out.damaged or name in out.bad_caches:
            continue
        why = None
        try:
            if path.is_symlink():
                why = "it is a symlink"
            else:
                size = path.stat().st_size
                if not isinstance(entry, dict) or size != entry.get("size"):
                    why = f"its size is {size} bytes, {_size(entry)} were written"
                elif budget is None or spent + size <= budget:
                    spent += size
                    if file_sha256(path) != entry.get("sha256"):
                        why = "its checksum differs from the one recorded when it was written"
        except FileNotFoundError:
            why = "it is missing"
        except OSError as exc:
            why = f"cannot read it ({exc.strerror or exc})"
        out.files += 1
        if why is not None:
            (out.bad_caches if is_cache(name) else out.damaged)[name] = why
    return out


def _size(entry: Any) -> int:
    size = entry.get("size") if isinstance(entry, dict) else None
    return size if isinstance(size, int) else -1
