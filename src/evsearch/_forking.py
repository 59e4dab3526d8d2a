"""Ctrl-C while a worker process is being forked.

A Ctrl-C that lands while ``os.fork`` runs is noted in both processes (Python notes a signal
and handles it at its next step), and the child then handles it inside Python's own
after-fork code (threading's, random's), which prints "Exception ignored in ..." and a
traceback to the terminal. So while the main thread forks, SIGINT only sets a flag: the
child, which its parent stops, ignores it; the parent gets it back the moment the fork is
done (``signal.raise_signal``) and stops with its usual one line.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

_saved: list[Any] = []
_caught: list[bool] = []
_installed = False


def _note(signum: int, frame: Any) -> None:
    _caught.append(True)


def _before() -> None:
    if threading.current_thread() is threading.main_thread():
        _caught.clear()
        _saved.append(signal.signal(signal.SIGINT, _note))


def _after_in_parent() -> None:
    if _saved and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _saved.pop())
        if _caught:
            _caught.clear()
            signal.raise_signal(signal.SIGINT)


def _after_in_child() -> None:
    _saved.clear()  # the child keeps ignoring Ctrl-C (``_note``): its parent stops it


def guard_forks() -> None:
    """Install the handling above for every later fork of this process (once)."""
    global _installed
    if not _installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before, after_in_parent=_after_in_parent, after_in_child=_after_in_child)
        _installed = True
