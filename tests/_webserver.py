"""A real uvicorn server for the tests: in a thread, on a free port of 127.0.0.1, stopped on exit."""

from __future__ import annotations

import threading
from typing import Any

import uvicorn

from evsearch.web.server import bind


class RunningServer:
    """``with RunningServer(app) as server:`` serves ``app`` at ``server.url`` until the block ends.

    The socket listens before the server thread starts, so clients may connect at once: they
    wait in the socket's queue until uvicorn accepts them (no start-up race, no polling)."""

    def __init__(self, app: Any) -> None:
        self.sock = bind("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> RunningServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()
        assert not self.thread.is_alive(), "the server did not stop"


def known_ids(index_dir: Any) -> dict[str, str]:
    """Ids of documents of the bundled cell the web tests look at, found by their text (so the
    tests do not depend on how ids are formed)."""
    from evsearch import open_index

    with open_index(index=index_dir) as idx:
        docs = [d for d in idx.documents() if d.cell == "alcohol/B5"]

    def study(prefix: str) -> str:
        return next(d.id for d in docs if d.kind == "study" and d.title.startswith(prefix))

    passages = [d for d in docs if d.kind == "passage"]  # in cell order
    glue = next(i for i, d in enumerate(passages)
                if d.text.startswith("The glue of the supervision process is the manner"))
    return {
        "rel": study("Relationship with therapist"),  # K 2008
        "client": study("Client-centred supervision"),  # K 2014
        "sup": study("Supervising offenders"),  # R 2002
        "mi": study("Can motivational interviewing"),  # R 2005
        "manual": study("Manual for research-based"),  # G 2005
        "glue": passages[glue].id,  # a pull quote
        "before": passages[glue - 1].id,
        "after": passages[glue + 1].id,
    }
