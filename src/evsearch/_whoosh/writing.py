"""What evsearch needs to know about Whoosh's writers beyond their public API.

Whoosh's multiprocess writer (``MpWriter``) keeps its worker processes in ``tasks``; its own
``cancel()`` only flags the parent's copies of them, so after a failure or Ctrl-C the workers
would go on writing into a folder that is being removed, and print tracebacks.
"""

from __future__ import annotations

from typing import Any

#: Seconds a terminated worker is given to exit.
_JOIN_SECONDS = 5.0


def stop_workers(writer: Any) -> None:
    """Terminate the worker processes of a multiprocess writer (nothing for others)."""
    for task in list(getattr(writer, "tasks", ()) or ()):
        try:
            if task.is_alive():
                task.terminate()
            task.join(_JOIN_SECONDS)
        except (AttributeError, OSError, ValueError, AssertionError):
            continue
