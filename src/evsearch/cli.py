"""The command line: a thin layer that parses options, calls the library, formats results."""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ._sanitize import clean_terminal, scrub_surrogates
from ._version import __version__
from .errors import CorpusError, EvsearchError

F = TypeVar("F", bound=Callable[..., Any])


def clean(text: str) -> str:
    """Corpus text made safe for a terminal: escape sequences, control characters, bidi
    overrides and lone surrogates removed."""
    return clean_terminal(text)


def _use_color(ctx_color: bool | None) -> bool | None:
    if ctx_color is False or os.environ.get("NO_COLOR"):
        return False
    return None  # click decides: colour on a TTY only


def index_options(f: F) -> F:
    """The options every command shares: where the index and the corpus are."""
    f = click.option(
        "--corpus",
        "corpus_dir",
        type=click.Path(path_type=Path, file_okay=False),
        envvar="EVSEARCH_CORPUS",
        show_envvar=True,
        help="Directory of cell files [default: the bundled corpus].",
    )(f)
    f = click.option(
        "--index",
        "index_dir",
        type=click.Path(path_type=Path),
        envvar="EVSEARCH_INDEX",
        show_envvar=True,
        help="Index directory [default: index/ in a checkout, else the user data dir].",
    )(f)
    return f


def _dirs(corpus_dir: Path | None, index_dir: Path | None) -> tuple[Path, Path]:
    from .index import default_corpus_dir, default_index_dir

    corpus = Path(corpus_dir or default_corpus_dir()).expanduser().resolve()
    index = Path(index_dir or default_index_dir()).expanduser().resolve()
    if index == corpus or index.is_relative_to(corpus):
        raise CorpusError(
            f"the index directory {index} is inside the corpus directory {corpus}",
            hint="pass --index DIR outside the corpus directory",
        )
    return corpus, index


def _emit_json(data: Any) -> None:
    """JSON as UTF-8 bytes whatever the locale; lone surrogates become U+FFFD, so the output
    is always valid."""
    text = scrub_surrogates(json.dumps(data, ensure_ascii=False, indent=2))
    click.echo(text.encode("utf-8"))


def handle_errors(f: F) -> F:
    """Turn every evsearch error into one line on stderr with a hint, and exit 1."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except EvsearchError as exc:
            click.echo(f"Error: {clean(exc.message)}", err=True)
            click.echo(f"Hint: {exc.hint}", err=True)
            sys.exit(1)
        except OSError as exc:
            click.echo(f"Error: {clean(str(exc))}", err=True)
            click.echo("Hint: check the paths given with --corpus and --index", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="evsearch")
def cli() -> None:
    """Search the Drug and Alcohol Findings Treatment Matrices.

    \b
    Example:
      evsearch search "motivational interviewing in criminal justice"
    """


@cli.command("index")
@index_options
@click.option("--rebuild", is_flag=True, help="Rebuild the index from scratch.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handle_errors
def index_cmd(corpus_dir: Path | None, index_dir: Path | None, rebuild: bool, as_json: bool) -> None:
    """Build the index from the corpus.

    \b
    Example:
      evsearch index --corpus corpus --index index
    """
    from .index import build_index

    corpus, index = _dirs(corpus_dir, index_dir)
    report = build_index(corpus, index)
    if as_json:
        _emit_json(report.to_dict())
        return
    for problem in report.problems:
        click.echo(f"skipped {clean(problem.path)}: {clean(problem.reason)}", err=True)
    click.echo(f"{report.summary()}; {report.documents} documents in {report.seconds:.2f}s")
    click.echo(f"index: {report.index_dir}")


@cli.command("search")
@click.argument("query")
@index_options
@click.option("-n", "--limit", default=10, show_default=True, type=click.IntRange(1, 1000),
              help="How many hits to show.")
@click.option("--kind", type=click.Choice(["study", "passage"], case_sensitive=False),
              help="Only studies or only passages.")
@click.option("--type", "study_type", type=click.Choice(["S", "K", "R", "G"], case_sensitive=False),
              help="Only studies of this type: S seminal, K key, R review, G guidance.")
@click.option("--cell", help="Only this cell, e.g. B5 or alcohol/B5.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handle_errors
def search_cmd(
    query: str,
    corpus_dir: Path | None,
    index_dir: Path | None,
    limit: int,
    kind: str | None,
    study_type: str | None,
    cell: str | None,
    as_json: bool,
) -> None:
    """Search the index (building it first if there is none).

    \b
    Query syntax:
      motivational interviewing     words (more matches rank higher)
      "quality of the relationship" a phrase
      title:supervision  supervis*  a field; a prefix
      +must  -exclude               required and excluded words
      type:K  kind:study  cell:B5  year:[2005 TO 2010]   filters
    \b
    Example:
      evsearch search "Can motivational interviewing work in criminal justice settings?"
      evsearch search 'counselling type:K' --json
    """
    from .search import ensure_index

    corpus, index = _dirs(corpus_dir, index_dir)
    with ensure_index(index, corpus) as idx:
        result = idx.search(query, limit=limit, kind=kind, study_type=study_type, cell=cell)
    if as_json:
        _emit_json(result.to_dict())
        return
    _print_result(result)


def _print_result(result: Any) -> None:
    width = min(shutil.get_terminal_size((100, 20)).columns, 120)
    if result.corrected:
        click.echo(f"No results for {clean(result.query)!r}; showing results for "
                   f"{clean(result.suggestion)!r}.")
    elif result.suggestion:
        click.echo(f"Did you mean: {clean(result.suggestion)}")
    if not result.hits:
        click.echo("No matches.")
        return
    click.echo(f"{result.total} matching documents; showing {len(result.hits)}.\n")
    for hit in result.hits:
        if hit.kind == "study":
            tag = f"[{hit.study_type} {hit.year or 'n.d.'}]"
            head = click.style(clean(hit.title), bold=True)
            org = f" ({clean(hit.organisation)})" if hit.organisation else ""
            click.echo(f"{hit.rank:>2}. {tag} {head}{org}")
        else:
            head = click.style(clean(hit.title or "(untitled)"), bold=True)
            role = "" if hit.role in (None, "paragraph") else f" [{hit.role}]"
            click.echo(f"{hit.rank:>2}. {head}{role}")
        click.echo(f"    {hit.cell}  {hit.id}  score {hit.score:.2f}")
        for line in _wrap(_terminal_snippet(hit.snippet), width - 4):
            click.echo("    " + line)
        click.echo()


def _terminal_snippet(snippet: str) -> str:
    parts = re.split(r"(<mark>.*?</mark>)", snippet)
    out = []
    for part in parts:
        if part.startswith("<mark>"):
            word = clean(html.unescape(part[6:-7]))
            out.append(click.style(word, fg="yellow", bold=True))
        else:
            out.append(clean(html.unescape(part)))
    return "".join(out)


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    line, visible = "", 0
    for word in text.split():
        size = len(click.unstyle(word))
        if visible and visible + 1 + size > width:
            lines.append(line)
            line, visible = "", 0
        line = f"{line} {word}" if visible else word
        visible += size + (1 if visible else 0)
    if line:
        lines.append(line)
    return lines


@cli.command("show")
@click.argument("doc_id", metavar="ID")
@index_options
@click.option("--json", "as_json", is_flag=True, help="Print the document as JSON.")
@handle_errors
def show_cmd(doc_id: str, corpus_dir: Path | None, index_dir: Path | None, as_json: bool) -> None:
    """Print one document by id.

    \b
    Example:
      evsearch show alcohol/B5/s1
    """
    from .search import ensure_index

    corpus, index = _dirs(corpus_dir, index_dir)
    with ensure_index(index, corpus) as idx:
        doc = idx.get(doc_id)
    if as_json:
        _emit_json(doc.to_dict())
        return
    click.echo(click.style(clean(doc.title), bold=True))
    if doc.kind == "study":
        org = f"{clean(doc.organisation)}, " if doc.organisation else ""
        click.echo(f"{doc.id}  study, type {doc.study_type}  ({org}{doc.year or 'n.d.'})  {doc.cell}")
    else:
        click.echo(f"{doc.id}  passage ({doc.role}) in section {clean(doc.section or '')!r}  {doc.cell}")
    click.echo()
    width = min(shutil.get_terminal_size((100, 20)).columns, 120)
    for line in _wrap(clean(doc.text), width):
        click.echo(line)
    if doc.links:
        click.echo()
        click.echo("Discussed in: " + "; ".join(clean(s) for s in doc.links))


@cli.command("stats")
@index_options
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@handle_errors
def stats_cmd(corpus_dir: Path | None, index_dir: Path | None, as_json: bool) -> None:
    """Show what the index holds and where it is.

    \b
    Example:
      evsearch stats --json
    """
    from .search import open_index

    _, index = _dirs(corpus_dir, index_dir)
    with open_index(index) as idx:
        stats = idx.stats()
    if as_json:
        _emit_json(stats.to_dict())
        return
    click.echo(f"index:    {stats.index_dir}")
    click.echo(f"corpus:   {clean(stats.corpus_dir)}")
    click.echo(f"cells:    {stats.cells}")
    click.echo(f"studies:  {stats.studies}")
    click.echo(f"passages: {stats.passages}")
    click.echo(f"files:    {stats.files}")
    click.echo(f"built:    {stats.built_at} by evsearch {stats.evsearch_version} "
               f"(schema {stats.schema_version})")


def main() -> None:
    """Console entry point: never lets a traceback reach the user."""
    try:
        cli.main(prog_name="evsearch", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so in one line
        click.echo(f"Error: internal error: {type(exc).__name__}: {clean(str(exc))[:200]}", err=True)
        click.echo("Hint: this is a bug in evsearch; please report it with the command you ran",
                   err=True)
        sys.exit(1)
