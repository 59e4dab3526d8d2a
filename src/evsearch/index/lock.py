"""The write lock of an index directory: one indexing run at a time.

The lock is the file ``write.lock`` in the index directory. On POSIX systems it is held with
``flock``, which the kernel releases when the holder exits or is killed, so a lock can never
outlive its process; the file also records who holds it (pid, host, start time) for the
"busy" message. A file that still names a holder when the lock is free was left by a killed
process: it is reported as stale and overwritten. Where ``flock`` is missing the file is
created exclusively instead, and a file naming a pid that is not alive on this host is
cleared.

A process forked while this process holds a lock (Whoosh's multiprocess writer forks its
sub-writers) closes its copy of the lock's descriptor at once, so the lock is released when
its holder dies even if a worker lives on; and on Linux such a worker is killed when its
parent dies, instead of waiting for work for ever. The lock file is never opened through a
symlink (a symlinked ``write.lock`` is refused, so its target is never truncated).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config import DEFAULT_WAIT
from ..errors import EvsearchError, IndexBusyError, IndexCorruptError, no_space

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "write.lock"
_POLL = 0.05
#: Open a file in the index directory without following a symlink in its last component.
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: The locks this process holds, by descriptor: a forked child must not keep them.
_HELD: dict[int, WriteLock] = {}


def _after_fork_in_child() -> None:
    """In a process just forked from a lock holder: drop the lock's descriptors (the lock
    stays with the parent) and die with the parent (Linux), as Whoosh's workers never exit
    by themselves when their parent is killed."""
    if not _HELD:
        return
    # Ctrl-C reaches the whole process group: the parent cancels the run and reports it in
    # one line; a worker would print its own traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for fd, lock in list(_HELD.items()):
        lock._fd = None
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()
    _die_with_parent()


def _die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent exits (Linux only; else nothing)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() == 1:  # the parent died before the request: do not outlive it
            os._exit(1)
    except (OSError, AttributeError):
        pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def open_nofollow(path: Path, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that refuses a symlink at ``path`` (a one-line error naming it)."""
    try:
        return os.open(path, flags | O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EEXIST and path.is_symlink()):
            raise symlink_refused(path) from None
        raise


def symlink_refused(path: Path) -> IndexCorruptError:
    return IndexCorruptError(
        f"{path.name} in the index at {path.parent} is a symlink; evsearch does not write "
        "through symlinks in an index",
        hint=f"remove the symlink {path}, then run `evsearch index --rebuild`",
    )


def _hostname() -> str:
    import socket  # only a writer needs it (10 ms of a search's start-up otherwise)

    return socket.gethostname()


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
        fd = os.open(Path(index_dir) / LOCK_FILE, os.O_RDONLY | O_NOFOLLOW)
    except OSError:
        return None
    try:
        return _read_fd(fd)
    finally:
        os.close(fd)


def _read_fd(fd: int) -> dict[str, Any] | None:
    """The holder recorded in the open lock file ``fd`` (see :func:`read_holder`)."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8").strip()
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
            full = no_space(exc, self.index_dir)
            if full is not None:
                raise full from None
            raise EvsearchError(
                f"cannot lock the index at {self.index_dir} ({exc.strerror or exc})",
                hint="pass --index DIR naming a writable directory",
            ) from None

    def _try_flock(self) -> bool:
        assert fcntl is not None
        fd = open_nofollow(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            raise
        # The lock is ours; a holder still named in the file was killed before it released.
        self.stale = _read_fd(fd)
        self._hold(fd)
        return True

    def _hold(self, fd: int) -> None:
        """Record this process as the holder of the lock on ``fd``; if that fails (a full
        disk), let go of the lock before the error goes up."""
        try:
            self._record(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        _HELD[fd] = self

    def _try_exclusive(self) -> bool:
        try:
            fd = open_nofollow(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
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
        try:
            self._hold(fd)
        except BaseException:
            os.unlink(self.path)
            raise
        return True

    @staticmethod
    def _is_stale(holder: dict[str, Any]) -> bool:
        return holder.get("host") == _hostname() and not pid_alive(int(holder.get("pid", 0)))

    def _record(self, fd: int) -> None:
        info = {
            "pid": os.getpid(),
            "host": _hostname(),
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
            try:
                dead = self._is_stale(holder)
            except (TypeError, ValueError):
                dead = False
            if dead:  # a process the dead holder started keeps the lock's descriptor open
                who += (f"; pid {pid} is no longer running, but a process it started still holds "
                        f"{self.path.name} open (see `fuser {self.path}`)")
        return f"another indexing run holds the index at {self.index_dir}{who}"

    # -- releasing ----------------------------------------------------------------------------
    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _HELD.pop(fd, None)
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
