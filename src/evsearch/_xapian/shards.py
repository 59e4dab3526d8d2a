"""Opening the shards of a Xapian index, local or remote, as one database.

A local index names its shard directories; a remote one is ``xapian+tcp://host:port,...``,
each address a ``xapian-tcpsrv`` serving one shard. Xapian merges the shards' statistics, so
the combined database ranks as one index would. Every remote call is bounded by a timeout;
when one fails, the shards are probed one by one and the error names those that do not
answer. With ``partial`` the shards that do not answer are left out, and said to be.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import IndexCorruptError, QueryError, ShardUnavailableError
from . import load

SCHEME = "xapian+tcp://"
#: Bounds on a remote shard, in seconds: connecting, and any one exchange once connected.
#: ``EVSEARCH_SHARD_TIMEOUT`` sets the exchange timeout.
CONNECT_TIMEOUT = 2.0
TIMEOUT = 10.0
#: A probe after a failure: short, so naming the dead shards never hangs either.
PROBE_TIMEOUT = 1.0

T = TypeVar("T")
_ADDR_RE = re.compile(r"^\[?([A-Za-z0-9.\-:]+?)\]?:(\d{1,5})$")


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
        return str(self.path) if self.path is not None else f"{self.host}:{self.port}"


def parse_remote_spec(spec: str) -> list[ShardAddress]:
    """``xapian+tcp://h1:33333,h2:33333`` -> the shards' addresses (a usage error if bad)."""
    body = spec[len(SCHEME):].strip().rstrip("/")
    out = []
    for part in body.split(","):
        m = _ADDR_RE.match(part.strip())
        if not m or not 0 < int(m.group(2)) < 65536:
            raise QueryError(
                f"bad shard address {part.strip()!r} in {spec!r}",
                hint="write --index 'xapian+tcp://host1:33333,host2:33333'",
            )
        out.append(ShardAddress(host=m.group(1), port=int(m.group(2))))
    if not out:
        raise QueryError(f"no shard address in {spec!r}", hint="write xapian+tcp://host:port,...")
    return out


def timeout() -> float:
    try:
        return max(0.1, float(os.environ.get("EVSEARCH_SHARD_TIMEOUT", TIMEOUT)))
    except ValueError:
        return TIMEOUT


def _open_one(xapian: Any, addr: ShardAddress, exchange: float, connect: float) -> Any:
    if addr.path is not None:
        return xapian.Database(str(addr.path))
    return xapian.remote_open(addr.host, addr.port, int(exchange * 1000), int(connect * 1000))


class ShardSet:
    """The shards of one index opened as one Xapian database."""

    def __init__(self, shards: Sequence[ShardAddress], *, partial: bool = False) -> None:
        self.xapian = load()
        self.shards = list(shards)
        self.partial = partial
        self.missing: tuple[str, ...] = ()
        self.db: Any = None
        #: The shards opened, each on its own (sharing the combined database's connections):
        #: what per-shard reads use (a combined database's metadata is its first shard's).
        self.parts: list[Any] = []
        self.open()

    def open(self) -> None:
        xapian = self.xapian
        db = xapian.Database()
        missing = []
        parts = []
        for addr in self.shards:
            try:
                part = _open_one(xapian, addr, timeout(), CONNECT_TIMEOUT)
                db.add_database(part)
                parts.append(part)
            except xapian.Error as exc:
                if addr.path is not None and not isinstance(exc, xapian.NetworkError):
                    raise IndexCorruptError(
                        f"cannot open the Xapian shard {addr.name} ({exc.get_msg()})"
                    ) from None
                missing.append(addr.name)
        if missing and (not self.partial or len(missing) == len(self.shards)):
            raise _unavailable(missing, len(self.shards))
        self.db, self.parts, self.missing = db, parts, tuple(missing)

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
        (or, with ``partial``, retried once without them)."""
        xapian = self.xapian
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

    def reopen(self) -> bool:
        """See the shards' latest commits; True if any changed."""
        try:
            return bool(self.db.reopen())
        except self.xapian.Error:
            self.open()
            return True

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
            self.parts = []


def _unavailable(names: Sequence[str], total: int) -> ShardUnavailableError:
    which = ", ".join(names)
    noun = "shard" if len(names) == 1 else "shards"
    return ShardUnavailableError(
        f"{len(names)} of {total} {noun} of the index did not answer: {which}",
        hint="start the shard's xapian-tcpsrv again, or search with --partial to leave it out",
        shards=tuple(names),
    )
