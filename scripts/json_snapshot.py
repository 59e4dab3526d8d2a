#!/usr/bin/env python3
"""The JSON contract on the bundled corpus, saved to files: a byte-identity check.

Builds a fresh index of ``corpus/`` in a temporary directory, runs a fixed set of CLI commands
(``search`` with filters, facets, sorts, pages and every machine format; ``show``, ``similar``,
``explain``, ``stats``, ``index``; error exits) and writes each command's output to a file.
Values that differ from run to run by nature (the temporary paths, timestamps, timings) are
replaced by placeholders, so two runs of the same code give the same bytes.

    python scripts/json_snapshot.py write OUT_DIR      # record
    python scripts/json_snapshot.py compare A_DIR B_DIR   # exit 1 and list what differs
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

#: name -> CLI arguments (the --index/--corpus options are added).
COMMANDS: dict[str, list[str]] = {
    "search_plain": ["search", "motivational interviewing", "--json"],
    "search_question": ["search", "Can motivational interviewing work in criminal justice settings?",
                        "--json"],
    "search_phrase": ["search", '"quality of the relationship"', "--json"],
    "search_prefix_field": ["search", "title:supervision supervis*", "--json"],
    "search_must_not": ["search", "+probation -alcohol treatment", "--json"],
    "search_filters_query": ["search", "counselling type:K year:[2000 TO 2015]", "--json"],
    "search_kind_study": ["search", "supervision", "--kind", "study", "--json"],
    "search_types": ["search", "supervision", "--type", "K", "--type", "R", "--json"],
    "search_cell_matrix": ["search", "treatment", "--cell", "B5", "--matrix", "alcohol", "--json"],
    "search_years": ["search", "treatment", "--year-from", "2005", "--year-to", "2012", "--json"],
    "search_facets": ["search", "supervision", "--facets", "--json"],
    "search_sort_year": ["search", "treatment", "--sort", "year", "--facets", "--json"],
    "search_sort_newest": ["search", "probation", "--sort", "-year", "--limit", "5", "--json"],
    "search_page2": ["search", "treatment", "--page", "2", "--limit", "5", "--json"],
    "search_past_last_page": ["search", "probation", "--page", "40", "--json"],
    "search_filter_only": ["search", "type:K", "--json"],
    "search_misspelt": ["search", "supervison probaton", "--json"],
    "search_synonym": ["search", "MI", "--json"],
    "search_nothing": ["search", "zzzqqqxxx", "--json"],
    "search_jsonl": ["search", "motivational interviewing", "--format", "jsonl", "--limit", "5"],
    "search_csv": ["search", "supervision", "--format", "csv", "--limit", "5"],
    "search_ris": ["search", "supervision", "--kind", "study", "--format", "ris"],
    "search_text": ["search", "supervision", "--limit", "3", "--facets"],
    "search_brief": ["search", "supervision", "--brief", "--limit", "5"],
    "search_unknown_field": ["search", "bogus:field words", "--json"],
    "show_study": ["show", "alcohol/B5/k2008-relationship-therapist-seems", "--json"],
    "show_passage": ["show", "alcohol/B5/are-the-practitioners-therapeutic/2", "--json"],
    "show_missing": ["show", "alcohol/B5/nope", "--json"],
    "similar": ["similar", "alcohol/B5/r2005-motivational-interviewing-work", "--json"],
    "similar_kind": ["similar", "alcohol/B5/r2005-motivational-interviewing-work", "--kind", "passage",
                     "--limit", "4", "--json"],
    "explain": ["explain", "motivational interviewing", "alcohol/B5/r2005-motivational-interviewing-work",
                "--json"],
    "explain_filtered_out": ["explain", "probation type:R", "alcohol/B5/k2008-relationship-therapist-seems",
                             "--json"],
    "explain_text": ["explain", "supervision probation", "alcohol/B5/k2008-relationship-therapist-seems"],
    "stats": ["stats", "--json"],
    "index_again": ["index", "--json"],
}

_VARIABLE_KEYS = ("built_at", "updated_at", "seconds")


def _normalise(text: str, index_dir: Path, corpus_dir: Path) -> str:
    text = text.replace(str(index_dir), "<INDEX>").replace(str(corpus_dir), "<CORPUS>")
    for key in _VARIABLE_KEYS:
        text = re.sub(rf'("{key}": )("[^"]*"|[0-9.]+)', rf'\1"<{key.upper()}>"', text)
    return text


def write(out: Path) -> None:
    from click.testing import CliRunner

    from evsearch.cli import cli

    out.mkdir(parents=True, exist_ok=True)
    corpus = (ROOT / "corpus").resolve()
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp).resolve() / "index"
        runner = CliRunner()
        common = ["--index", str(index), "--corpus", str(corpus)]
        built = runner.invoke(cli, ["index", *common, "--json"])
        if built.exit_code:
            raise SystemExit(f"indexing failed: {built.output}")
        for name, args in COMMANDS.items():
            result = runner.invoke(cli, [*args, *common], env={"COLUMNS": "100", "NO_COLOR": "1"})
            record: dict[str, Any] = {"exit_code": result.exit_code}
            text = _normalise(result.stdout + "\n--- stderr ---\n" + result.stderr, index, corpus)
            (out / f"{name}.out").write_text(f"exit {record['exit_code']}\n{text}", encoding="utf-8")
    print(f"wrote {len(COMMANDS)} outputs to {out}")


def compare(a: Path, b: Path) -> int:
    names = sorted({p.name for p in a.glob("*.out")} | {p.name for p in b.glob("*.out")})
    differ = [n for n in names if not ((a / n).is_file() and (b / n).is_file()
                                       and (a / n).read_bytes() == (b / n).read_bytes())]
    for name in differ:
        print(f"differs: {name}")
    print(json.dumps({"compared": len(names), "identical": len(names) - len(differ)}))
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("write").add_argument("out", type=Path)
    cmp = sub.add_parser("compare")
    cmp.add_argument("a", type=Path)
    cmp.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.command == "write":
        write(args.out)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
