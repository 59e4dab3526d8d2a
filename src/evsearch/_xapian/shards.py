"""Opening the shards of a Xapian index, local or remote, as one database.

A local index names its shard directories; a remote one is ``xapian+tcp://host:port,...``,
each address a ``xapian-tcpsrv`` serving one shard. Xapian merges the shards' statistics, so
the combined database ranks as one index would. Every remote call is bounded by a timeout;
when one fails, the shards are probed one by one and the error names those that do not
answer. With ``partial`` the shards that do not answer are left out, and said to be.
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .. import config
from ..config import REMOTE_SCHEME, SHARD_TIMEOUT_RANGE, shown
from ..errors import IndexCorruptError, QueryError, ShardUnavailableError
from ..index.lock import symlink_refused
from . import load

SCHEME = REMOTE_SCHEME
#: A probe after a failure: short, so naming the dead shards never hangs either.
PROBE_TIMEOUT = 1.0
#: How long naming the damaged shard after a failure may check each local shard, seconds.
DIAGNOSE_TIMEOUT = 60.0
#: Host names are at most 253 characters (RFC 1035).
MAX_HOST = 253

T = TypeVar("T")
_ADDR_RE = re.compile(r"^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.\-]+)):(\d{1,5})$")
_USAGE = f"write --index '{SCHEME}host1:33333,host2:33333'"


def is_remote_spec(spec: str | Path) -> bool:
    return isinstance(spec, str) and spec.startswith(SCHEME)


@dataclass(frozen=True)
class ShardAddress:
    """One shard: a local database directory, or a remote ``host:port``."""

    path: Path | None = None
    host: str = ""
    port: int = 0

    @property
    def name(self) -> str:
        if self.path is not None:
            return str(self.path)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_remote_spec(spec: str) -> list[ShardAddress]:
    """``xapian+tcp://h1:33333,h2:33333`` -> the shards' addresses (a usage error if bad:
    no address, a malformed one, a port outside 1-65535, or the same shard twice).

    >>> [a.name for a in parse_remote_spec("xapian+tcp://h1:33333,[::1]:33334")]
    ['h1:33333', '[::1]:33334']
    """
    body = spec[len(SCHEME):].strip().rstrip("/")
    if not body.strip(" ,"):
        raise QueryError(f"no shard address in {shown(spec)!r}", hint=_USAGE)
    out: list[ShardAddress] = []
    for part in (p.strip() for p in body.split(",")):
        m = _ADDR_RE.match(part)
        host = (m.group(1) or m.group(2)) if m else ""
        if not m or not 0 < int(m.group(3)) < 65536 or len(host) > MAX_HOST or host.strip(".-") != host:
            why = "the port must be 1-65535" if m and not 0 < int(m.group(3)) < 65536 else "write host:port"
            raise QueryError(f"bad shard address {shown(part, 60)!r} in --index ({why})", hint=_USAGE)
        addr = ShardAddress(host=host.lower(), port=int(m.group(3)))
        if addr in out:
            raise QueryError(
                f"the shard {addr.name} is named twice in --index",
                hint="name each shard's server once (a shard counted twice would count its documents twice)",
            )
        out.append(addr)
    return out


def timeout() -> float:
    """The exchange timeout, seconds: ``EVSEARCH_SHARD_TIMEOUT`` or the default (a usage
    error when it is not a number within :data:`~evsearch.config.SHARD_TIMEOUT_RANGE`)."""
    raw = os.environ.get("EVSEARCH_SHARD_TIMEOUT")
    if raw is None or not raw.strip():
        return config.SHARD_TIMEOUT
    lo, hi = SHARD_TIMEOUT_RANGE
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not lo <= value <= hi:  # NaN fails too
        raise QueryError(
            f"EVSEARCH_SHARD_TIMEOUT must be a number of seconds from {lo:g} to {hi:g}, "
            f"not {shown(raw, 40)!r}",
            hint=f"unset it for the default ({config.SHARD_TIMEOUT:g} s), "
                 "or set e.g. EVSEARCH_SHARD_TIMEOUT=5",
        )
    return value


def _open_one(xapian: Any, addr: ShardAddress, exchange: float, connect: float) -> Any:
    if addr.path is not None:
        return xapian.Database(str(addr.path))
    return xapian.remote_open(addr.host, addr.port, int(exchange * 1000), int(connect * 1000))


def refuse_symlinks(paths: Sequence[Path]) -> None:
    """A one-line error when a local shard directory, or a file in one, is a symlink:
    evsearch never reads or writes an index through one (an update would write its target)."""
    for path in paths:
        if path.is_symlink():
            raise symlink_refused(path)
        if path.is_dir():
            for item in path.iterdir():
                if item.is_symlink():
                    raise symlink_refused(item)


_CHECKER = """
import sys, xapian
try:
    xapian.Database.check(sys.argv[1])
except Exception as exc:
    print(exc.get_msg() if isinstance(exc, xapian.Error) else str(exc) or type(exc).__name__)
    sys.exit(3)
"""


def check_shard(path: Path, timeout: float | None = None) -> str | None:
    """What Xapian's own checker finds wrong with a local shard, in a line (None: nothing).
    It runs in a child process: on some damaged blocks the checker itself crashes (a
    segmentation fault), which is then the finding instead of the end of evsearch."""
    try:
        done = subprocess.run([sys.executable, "-c", _CHECKER, str(path)], capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"Xapian's checker did not finish in {timeout:g} s"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        return f"Xapian's checker crashed on it ({signal.Signals(-done.returncode).name})"
    return " ".join(done.stdout.split())[:160] or f"Xapian's checker failed ({done.stderr.strip()[-120:]})"


def _damaged(addr: ShardAddress, exc: Any) -> IndexCorruptError:
    msg = exc.get_msg() if hasattr(exc, "get_msg") else str(exc)
    why = " ".join(str(msg).split())[:160] or type(exc).__name__
    return IndexCorruptError(f"the Xapian shard {addr.name} is damaged or unreadable ({why})")


class ShardSet:
    """The shards of one index opened as one Xapian database."""

    def __init__(self, shards: Sequence[ShardAddress], *, partial: bool = False) -> None:
        self.xapian = load()
        self.shards = list(shards)
        self.partial = partial
        self.missing: tuple[str, ...] = ()
        self.opened: list[ShardAddress] = []
        self.db: Any = None
        self._opened_at = 0.0
        #: The shards opened, each on its own (sharing the combined database's connections):
        #: what per-shard reads use (a combined database's metadata is its first shard's).
        self.parts: list[Any] = []
        self.open()

    def open(self) -> None:
        """(Re)open every shard; the ones that do not answer are an error, or with
        ``partial`` left out (all of them missing is an error still)."""
        xapian = self.xapian
        exchange = timeout() if any(a.path is None for a in self.shards) else config.SHARD_TIMEOUT
        db = xapian.Database()
        missing = []
        parts = []
        for addr in self.shards:
            try:
                part = _open_one(xapian, addr, exchange, config.SHARD_CONNECT_TIMEOUT)
                db.add_database(part)
                parts.append(part)
            except xapian.Error as exc:
                if addr.path is not None and not isinstance(exc, xapian.NetworkError):
                    raise _damaged(addr, exc) from None
                missing.append(addr.name)
        if missing and (not self.partial or len(missing) == len(self.shards)):
            raise _unavailable(missing, len(self.shards))
        old, self.db, self.parts, self.missing = self.db, db, parts, tuple(missing)
        self.opened = [a for a in self.shards if a.name not in missing]
        self._opened_at = time.monotonic()
        if old is not None:
            _close_quietly(xapian, old)

    def holder(self, docid: int) -> str:
        """The shard holding a document of the combined database (Xapian interleaves ids)."""
        return self.opened[(docid - 1) % len(self.opened)].name if self.opened else "?"

    def probe(self) -> list[str]:
        """The shards that do not answer now (each asked once, briefly)."""
        xapian = self.xapian
        dead = []
        for addr in self.shards:
            try:
                _open_one(xapian, addr, PROBE_TIMEOUT, PROBE_TIMEOUT).get_doccount()
            except xapian.Error:
                dead.append(addr.name)
        return dead

    def run(self, fn: Callable[[Any], T]) -> T:
        """``fn(db)``, with a remote failure turned into an error naming the shards at fault
        (or, with ``partial``, retried once without them), and a damaged local shard into
        the one-line error naming it."""
        xapian = self.xapian
        try:
            try:
                return fn(self.db)
            except xapian.DatabaseModifiedError:
                self.db.reopen()
                return fn(self.db)
        except xapian.NetworkError as exc:
            dead = self.probe()
            if self.partial and dead and len(dead) < len(self.shards):
                self.open()
                return fn(self.db)
            if dead:
                raise _unavailable(dead, len(self.shards)) from None
            raise ShardUnavailableError(
                f"a shard of the index failed to answer ({exc.get_msg()})", shards=()
            ) from None
        except (RecursionError, NotImplementedError):
            raise  # Python's own RuntimeErrors: a bug, not a shard
        except (xapian.RuntimeError, RuntimeError, ValueError) as exc:
            # a damaged shard: Xapian's DatabaseError and its kin (xapian.RuntimeError), a
            # bare C++ error from damaged blocks (Python's RuntimeError), or a shard's
            # metadata that does not parse (ValueError)
            raise self._diagnose(exc) from None

    def _diagnose(self, exc: Any) -> IndexCorruptError:
        """The error naming the damaged shard (checked one by one when they are local)."""
        xapian = self.xapian
        for addr in self.shards:
            if addr.path is None:
                continue
            found = check_shard(addr.path, DIAGNOSE_TIMEOUT)
            if found is not None:
                return IndexCorruptError(f"the Xapian shard {addr.name} is damaged or unreadable ({found})")
        names = ", ".join(a.name for a in self.shards)
        msg = exc.get_msg() if isinstance(exc, xapian.Error) else f"{type(exc).__name__}: {exc}"
        why = shown(" ".join(str(msg).split()), 160)
        return IndexCorruptError(
            f"a shard of the index is damaged or unreadable ({why}): one of {shown(names)}"
        )

    def reopen(self) -> bool:
        """See the shards' latest commits; True if any changed. With ``partial``, the shards
        left out are tried again every :data:`~evsearch.config.SHARD_RETRY_SECONDS`."""
        if self.missing and time.monotonic() - self._opened_at >= config.SHARD_RETRY_SECONDS:
            self.open()
            return True
        try:
            return bool(self.db.reopen())
        except self.xapian.Error:
            self.open()
            return True

    def close(self) -> None:
        if self.db is not None:
            _close_quietly(self.xapian, self.db)
            self.db = None
            self.parts = []


def _close_quietly(xapian: Any, db: Any) -> None:
    """Close a database whose remote shards may be gone (closing says goodbye to each)."""
    try:
        db.close()
    except xapian.Error:
        pass


def _unavailable(names: Sequence[str], total: int) -> ShardUnavailableError:
    which = shown(", ".join(names))
    return ShardUnavailableError(
        f"{len(names)} of {total} {'shard' if total == 1 else 'shards'} of the index did not answer: {which}",
        hint="start the shard's xapian-tcpsrv again, or search with --partial to leave it out",
        shards=tuple(names),
    )
