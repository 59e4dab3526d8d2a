"""The README's examples are what the commands print (on the bundled corpus)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from evsearch.cli import cli
from tests.conftest import CORPUS, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _transcripts() -> list[tuple[str, list[str]]]:
    """Each indented ``$ evsearch ...`` line of the README with the output lines shown under it."""
    found = []
    lines = README.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^    \$ (evsearch .*)$", line)
        if not m:
            continue
        shown = []
        for after in lines[i + 1 :]:
            if not after.startswith("    ") or after.startswith("    $ "):
                break
            shown.append(after[4:])
        found.append((m.group(1), shown))
    return found


def _run(command: str, index: Path) -> str:
    args = shlex.split(command)[1:] + ["--index", str(index), "--corpus", str(CORPUS)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_readme_has_transcripts() -> None:
    assert _transcripts(), "no `$ evsearch ...` examples found in README.md"


@pytest.mark.parametrize(("command", "shown"), _transcripts(), ids=lambda v: str(v)[:40])
def test_readme_transcript(command: str, shown: list[str], built_index: Path) -> None:
    out = _run(command, built_index).splitlines()
    if shown and shown[-1] in ("...", "…"):  # the README leaves the rest out on purpose
        shown = shown[:-1]
    else:  # else it shows a whole paragraph of the output
        assert len(out) == len(shown) or out[len(shown)] == "", out[: len(shown) + 1]
    assert out[: len(shown)] == shown


def test_readme_json_example(built_index: Path) -> None:
    block = re.search(r"`evsearch search QUERY --json` prints one object.*?```json\n(.*?)```", README, re.S)
    assert block is not None
    example = json.loads(block.group(1))
    data = json.loads(_run(f"evsearch search {shlex.quote(example['query'])} --json", built_index))
    for key in ("query", "total", "suggestion", "corrected"):
        assert data[key] == example[key], key
    want, got = example["hits"][0], data["hits"][0]
    assert set(want) <= set(got)
    for key, value in want.items():
        if key == "score":
            assert round(got[key], 2) == value
        elif key in ("snippet", "text"):  # shortened in the README with "…"
            for part in value.split("…"):
                assert part.strip() in got[key]
        else:
            assert got[key] == value, key
