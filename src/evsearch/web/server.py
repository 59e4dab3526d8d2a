"""Running the web application: a socket bound before the server starts, then uvicorn.

Binding first gives a one-line error for a port in use (before any server machinery starts),
lets ``--port 0`` pick a free port whose number is then printed, and lets ``--open`` start
the browser at once: connections queue on the listening socket until uvicorn accepts them.
"""

from __future__ import annotations

import ipaddress
import socket
import webbrowser
from collections.abc import Callable
from pathlib import Path

from .._sanitize import escape_controls
from ..errors import EvsearchError, IndexMissingError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


class ServeError(EvsearchError):
    """The server cannot start (the address is taken or not this machine's)."""

    default_hint = "pass --port N for another port (--port 0: any free port)"


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: a free one)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"cannot listen on {host}: {exc.strerror}",
                         hint="pass --host with an address of this machine, e.g. 127.0.0.1") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(
    *,
    index: Path | str,
    corpus: Path | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    open_browser: bool = False,
    echo: Callable[[str], None] = print,
    build_missing: Callable[[], None] | None = None,
    partial: bool = False,
) -> None:
    """Serve the index at ``index`` (a directory, or remote shards ``xapian+tcp://...``)
    until interrupted (Ctrl-C). The server never writes the index; ``build_missing`` (when
    given) builds one first if there is none; ``partial``: see :func:`create_app`."""
    import uvicorn

    from .app import create_app

    sock = bind(host, port)  # first: a port in use is reported before anything is opened
    try:
        try:
            app = create_app(index=index, corpus=corpus, allowed_hosts=_allowed_hosts(host), partial=partial)
        except IndexMissingError:
            if build_missing is None:
                raise
            build_missing()
            app = create_app(index=index, corpus=corpus, allowed_hosts=_allowed_hosts(host), partial=partial)
    except BaseException:
        sock.close()
        raise
    url = url_of(sock)
    echo(f"evsearch is serving {url} (index {escape_controls(str(index))})")
    if is_loopback(host):
        echo("Only this computer can open it (--host ADDRESS to listen elsewhere). Ctrl-C stops it.")
    else:
        echo(f"Listening on {host}: other computers that can reach this one can open it too. "
             "Ctrl-C stops it.")
    if open_browser:
        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            server_header=False)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn stops cleanly on Ctrl-C, then raises it again
        pass
    finally:
        sock.close()
    echo("evsearch stopped serving.")


def _allowed_hosts(host: str) -> list[str] | None:
    """Host headers a loopback server answers to (against DNS rebinding); None: any."""
    if not is_loopback(host):
        return None
    return ["127.0.0.1", "localhost", "[::1]", "::1"]
