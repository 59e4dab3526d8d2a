"""Real ``xapian-tcpsrv`` processes for the tests: one per shard on 127.0.0.1, each in its own
process group, stopped (with the children it forks per connection) when the test ends."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REQUIRED = os.environ.get("EVSEARCH_REQUIRE_XAPIAN") == "1"
TCPSRV = shutil.which("xapian-tcpsrv")


def needs_xapian() -> None:
    """Skip the calling module without the bindings (fail under ``EVSEARCH_REQUIRE_XAPIAN=1``)."""
    if not REQUIRED:
        pytest.importorskip("xapian")
    else:
        import xapian  # noqa: F401  (scripts/check installs it: a missing one fails)


def needs_server() -> str:
    if TCPSRV is None:
        if REQUIRED:
            pytest.fail("xapian-tcpsrv is not installed (Debian: apt-get install xapian-tools)")
        pytest.skip("xapian-tcpsrv is not installed")
    return TCPSRV


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on (until something binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One ``xapian-tcpsrv`` serving one shard on 127.0.0.1, in its own process group (it
    forks a child per connection: stopping the group stops those too)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, *, same_port: bool = False) -> None:
        """Start serving (on a free port, or again on this server's own with ``same_port``)."""
        tcpsrv = needs_server()
        for _ in range(5):
            if not same_port:
                self.port = free_port()
            self.proc = subprocess.Popen(
                [tcpsrv, "--interface", "127.0.0.1", "--port", str(self.port), str(self.path)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )
            if self._wait_listening():
                return
            self.stop()
        raise RuntimeError(f"xapian-tcpsrv did not start for {self.path}")

    def _wait_listening(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False  # the port was taken meanwhile: try again
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        if self.proc is None:
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None


@contextmanager
def serve(paths: list[Path]) -> Iterator[list[Server]]:
    """One running server per shard directory, stopped when the block ends."""
    servers = [Server(p) for p in paths]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def remote_spec(servers: list[Server]) -> str:
    return "xapian+tcp://" + ",".join(s.address for s in servers)


def shard_paths(index_dir: Path) -> list[Path]:
    from evsearch import open_index

    with open_index(index=index_dir) as idx:
        return [Path(p) for p in idx.stats().shards]
