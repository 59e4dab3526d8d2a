"""The architecture holds: data flows one way, Whoosh stays below the seam, modules stay small."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import evsearch

from ._scripts import load_script

SRC = Path(evsearch.__file__).parent
graph = load_script("import_cycles")


def _edges() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    edges: dict[str, set[str]]
    outside: dict[str, set[str]]
    edges, outside = graph.graph(graph.modules(SRC))
    return edges, outside


def _reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in edges[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_no_import_cycles() -> None:
    edges, _ = _edges()
    assert graph.cycles(edges) == []


def test_the_write_path_never_imports_the_query_layer() -> None:
    edges, _ = _edges()
    for start in ("evsearch.index", "evsearch.index.writer", "evsearch._whoosh.postcache"):
        assert not {m for m in _reachable(edges, start) if m.startswith("evsearch.search")}, start


def test_the_outer_layers_never_import_whoosh_themselves() -> None:
    _, outside = _edges()
    for name, libraries in outside.items():
        if name.startswith(("evsearch.cli", "evsearch.ingest", "evsearch.model", "evsearch.results",
                            "evsearch.errors", "evsearch.config")):
            assert "whoosh" not in libraries, name


def test_no_module_over_500_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}


def test_import_and_help_load_neither_whoosh_nor_numpy() -> None:
    code = (
        "import sys, evsearch, evsearch.cli\n"
        "from click.testing import CliRunner\n"
        "assert CliRunner().invoke(evsearch.cli.cli, ['--help']).exit_code == 0\n"
        "assert CliRunner().invoke(evsearch.cli.cli, ['search', '--help']).exit_code == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'whoosh', 'numpy', 'bs4', 'nltk'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
