"""``evsearch serve`` as a user runs it: a real server on 127.0.0.1, many clients at once, the
CLI's start-up left untouched by the web stack, and one-line errors."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from evsearch import open_index
from evsearch.cli import cli
from evsearch.web import create_app

from ._webserver import RunningServer, known_ids
from .conftest import CORPUS, ROOT

WEB_MODULES = ("starlette", "uvicorn", "jinja2", "evsearch.web")


def _env() -> dict[str, str]:
    src = str(ROOT / "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


@pytest.mark.parametrize("args", [
    ["--help"],
    ["search", "supervision"],
    ["search", "supervision", "--json", "--facets"],
])
def test_cli_commands_other_than_serve_do_not_import_the_web_stack(
    built_index: Path, args: list[str]
) -> None:
    code = (
        "import sys\n"
        "from evsearch.cli import main\n"
        f"sys.argv = ['evsearch', *{args!r}, *(['--index', {str(built_index)!r}, '--corpus', "
        f"{str(CORPUS)!r}] if {args!r}[0] == 'search' else [])]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print('LOADED', [m for m in {WEB_MODULES!r} if m in sys.modules], file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stderr
    assert done.stdout  # the command did run


def test_serve_has_help_with_the_default_address() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host TEXT" in result.output and "127.0.0.1" in result.output and "--open" in result.output


def test_serve_on_a_port_in_use_is_a_one_line_error(built_index: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        result = CliRunner().invoke(cli, ["serve", "--index", str(built_index), "--corpus", str(CORPUS),
                                          "--port", str(port)])
    finally:
        taken.close()
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
        "Hint: pass --port N for another port (--port 0: any free port)\n")


def test_evsearch_serve_builds_a_missing_index_answers_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    index = tmp_path / "index"
    with subprocess.Popen(
        [sys.executable, "-m", "evsearch", "serve", "--index", str(index), "--corpus", str(CORPUS),
         "--port", "0"],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first.startswith("evsearch is serving http://127.0.0.1:"), first
            second = proc.stdout.readline()
            assert second.startswith("Only this computer can open it")
            port = int(first.split("http://127.0.0.1:")[1].split("/")[0])
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/?q=supervision")
            response = conn.getresponse()
            assert response.status == 200 and b"<strong>16</strong> matches" in response.read()
            conn.request("GET", "/", headers={"Host": "attacker.example"})  # DNS rebinding
            refused = conn.getresponse()
            refused.read()
            assert refused.status == 400
            conn.close()
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert out.endswith("evsearch stopped serving.\n") and "Traceback" not in err
    assert err.startswith(f"no index at {index} yet: building it from {CORPUS}")


CLIENTS = 50
REQUESTS_EACH = 4


def test_fifty_concurrent_clients_are_all_answered_correctly(built_index: Path) -> None:
    queries = ["supervision", "motivational interviewing", "domestic violence", "offenders", "relationship"]
    with open_index(index=built_index) as idx:
        expected = {q: [h.id for h in idx.search(q, limit=5).hits] for q in queries}
        ids = known_ids(built_index)
        docs = (ids["rel"], ids["glue"])
        titles = {d: idx.get(d).title for d in docs}
    assert all(expected.values())

    def client(n: int) -> list[str]:
        problems = []
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            for k in range(REQUESTS_EACH):
                if (n + k) % 3 == 2:
                    doc = docs[(n + k) % 2]
                    conn.request("GET", f"/doc/{doc}")
                    r = conn.getresponse()
                    body = r.read().decode("utf-8")
                    if r.status != 200 or titles[doc].replace("'", "&#39;") not in body:
                        problems.append(f"{n}/{k} doc {doc}: {r.status}")
                    continue
                q = queries[(n + k) % len(queries)]
                conn.request("GET", f"/api/search?q={q.replace(' ', '+')}&limit=5")
                r = conn.getresponse()
                data = json.loads(r.read())
                if r.status != 200 or [h["id"] for h in data["hits"]] != expected[q]:
                    problems.append(f"{n}/{k} {q}: {r.status}")
        finally:
            conn.close()
        return problems

    with RunningServer(create_app(index=built_index, corpus=CORPUS)) as server:
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            results = list(pool.map(client, range(CLIENTS)))
    assert [p for ps in results for p in ps] == []
    assert len(results) == CLIENTS


@pytest.mark.parametrize(("host", "status"), [
    ("127.0.0.1:8000", 200), ("localhost:8000", 200), ("[::1]:8000", 200), ("localhost", 200),
    ("evil.example", 400), ("127.0.0.1.evil.example", 400), ("", 400),
])
def test_a_loopback_server_answers_only_to_its_own_names(built_index: Path, host: str, status: int) -> None:
    from starlette.testclient import TestClient

    from evsearch.web.server import _allowed_hosts, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")
    assert _allowed_hosts("0.0.0.0") is None  # listening for others: any name
    app = create_app(index=built_index, corpus=CORPUS, allowed_hosts=_allowed_hosts("127.0.0.1"))
    with TestClient(app) as c:
        assert c.get("/", headers={"host": host}).status_code == status
