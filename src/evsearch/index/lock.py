"""The write lock of an index directory: one indexing run at a time.

The lock is the file ``write.lock`` in the index directory. On POSIX systems it is held with
``flock``, which the kernel releases when the holder exits or is killed, so a lock can never
outlive its process; the file also records who holds it (pid, host, start time) for the
"busy" message. A file that still names a holder when the lock is free was left by a killed
process: it is reported as stale and overwritten. Where ``flock`` is missing the file is
created exclusively instead, and a file naming a pid that is not alive on this host is
cleared.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config import DEFAULT_WAIT
from ..errors import EvsearchError, IndexBusyError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "write.lock"
_POLL = 0.05


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    except OSError:
        return False
    return True


def read_holder(index_dir: Path) -> dict[str, Any] | None:
    """Who the lock file says holds the lock (``pid``, ``host``, ``started``), or None."""
    try:
        text = (Path(index_dir) / LOCK_FILE).read_text(encoding="utf-8").strip()
        holder = json.loads(text) if text else None
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


class WriteLock:
    """Exclusive right to write an index directory, waiting up to ``wait`` seconds for it.

    >>> with WriteLock(Path("index"), wait=5):   # doctest: +SKIP
    ...     ...  # write the index
    """

    def __init__(self, index_dir: Path, wait: float = DEFAULT_WAIT, *, use_flock: bool = True) -> None:
        self.index_dir = Path(index_dir)
        self.path = self.index_dir / LOCK_FILE
        self.wait = max(0.0, float(wait))
        self.use_flock = use_flock and fcntl is not None
        #: The holder recorded by a killed process whose lock this one cleared, if any.
        self.stale: dict[str, Any] | None = None
        self._fd: int | None = None

    # -- acquiring ----------------------------------------------------------------------------
    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait
        while True:
            if self._try_acquire():
                return
            if time.monotonic() >= deadline:
                raise IndexBusyError(self._busy_message())
            time.sleep(_POLL)  # polling for the lock, not hiding a race

    def _try_acquire(self) -> bool:
        try:
            return self._try_flock() if self.use_flock else self._try_exclusive()
        except OSError as exc:
            raise EvsearchError(
                f"cannot lock the index at {self.index_dir} ({exc.strerror or exc})",
                hint="pass --index DIR naming a writable directory",
            ) from None

    def _try_flock(self) -> bool:
        assert fcntl is not None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            raise
        # The lock is ours; a holder still named in the file was killed before it released.
        self.stale = read_holder(self.index_dir)
        self._fd = fd
        self._record(fd)
        return True

    def _try_exclusive(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = read_holder(self.index_dir)
            if holder is not None and self._is_stale(holder):
                self.stale = holder
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
                return self._try_exclusive()
            return False
        self._fd = fd
        self._record(fd)
        return True

    @staticmethod
    def _is_stale(holder: dict[str, Any]) -> bool:
        return holder.get("host") == socket.gethostname() and not pid_alive(int(holder.get("pid", 0)))

    def _record(self, fd: int) -> None:
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "thread": threading.get_ident(),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)

    def _busy_message(self) -> str:
        holder = read_holder(self.index_dir) or {}
        who = ""
        if holder:
            pid, host, started = (holder.get(k, "?") for k in ("pid", "host", "started"))
            who = f" (pid {pid} on {host} since {started})"
        return f"another indexing run holds the index at {self.index_dir}{who}"

    # -- releasing ----------------------------------------------------------------------------
    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if self.use_flock:
                os.ftruncate(fd, 0)  # an empty file: nobody holds it
            else:
                os.unlink(self.path)
        except OSError:
            pass
        finally:
            os.close(fd)  # closing releases the flock

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
