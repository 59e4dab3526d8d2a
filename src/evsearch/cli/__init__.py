"""The command line: a thin layer that parses options, calls the library, and hands the
results to :mod:`.render`.

Only ``search`` may write the index (building it when there is none, bringing an index built
from the same corpus up to date when it looks stale; see :func:`evsearch.ensure_index`), and
``index`` and ``watch`` whose job it is; ``show``, ``similar``, ``explain`` and ``stats`` only read.
"""

from __future__ import annotations

import functools
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import config
from .._forking import guard_forks
from .._sanitize import escape_controls
from .._version import __version__
from ..config import DEFAULT_LIMIT, DEFAULT_WAIT, KINDS, MAX_LIMIT, SORTS, remote_index, resolve_dirs
from ..errors import CorpusError, EvsearchError
from ..model import STUDY_TYPES
from . import render
from .parsing import QueryCommand, format_options, say_if_new
from .parsing import output_format as _format
from .render import (
    FORMATS,
    clean,
    emit_hits,
    emit_json,
    print_report,
    print_result,
    progress_display,
)

__all__ = ["clean", "cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])


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
        type=str,
        envvar="EVSEARCH_INDEX",
        show_envvar=True,
        help="Index directory [default: index/ in a checkout, else the user data dir], "
             "or remote Xapian shards: xapian+tcp://host1:33333,host2:33333.",
    )(f)
    return f


def _dirs(corpus_dir: Path | None, index_dir: Path | str | None) -> tuple[Path, Any]:
    """The corpus and index directories as absolute paths (remote shards as they are)."""
    remote = remote_index(index_dir)
    if remote is not None:
        return resolve_dirs(corpus_dir, None)[0].expanduser().resolve(), remote
    corpus, index = (p.expanduser().resolve() for p in resolve_dirs(corpus_dir, index_dir))
    if index == corpus or index.is_relative_to(corpus):
        raise CorpusError(f"the index directory {index} is inside the corpus directory {corpus}",
                          hint="pass --index DIR outside the corpus directory")
    return corpus, index


def handle_errors(f: F) -> F:
    """Turn every evsearch error into one line on stderr with a hint, and exit 1."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except EvsearchError as exc:
            click.echo(f"Error: {escape_controls(exc.message)}", err=True)
            click.echo(f"Hint: {exc.hint}", err=True)
            sys.exit(1)
        except BrokenPipeError:
            _quiet_broken_pipe()
        except OSError as exc:
            click.echo(f"Error: {escape_controls(str(exc))}", err=True)
            click.echo("Hint: check the paths given with --corpus and --index", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="evsearch")
@click.option("--no-color", is_flag=True, help="No colour or bold, even on a terminal (also: NO_COLOR=1).")
@click.pass_context
def cli(ctx: click.Context, no_color: bool) -> None:
    """Search the Drug and Alcohol Findings Treatment Matrices.

    Colour and bold appear on a terminal only, never with NO_COLOR set or --no-color.

    \b
    Example:
      evsearch search "motivational interviewing in criminal justice"
    \b
    Shell completion (bash; use zsh_source or fish_source for those shells):
      eval "$(_EVSEARCH_COMPLETE=bash_source evsearch)"
    """
    color = _use_color(False if no_color else None)
    if color is False:
        ctx.color = False


@cli.command("index")
@index_options
@click.option("--rebuild", is_flag=True, help="Rebuild the index from scratch (a new generation).")
@click.option("--wait", "wait", default=DEFAULT_WAIT, show_default=True, type=click.FloatRange(0),
              metavar="SECONDS", help="How long to wait for another indexing run to finish.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--engine", type=click.Choice(["whoosh", "xapian"]), envvar="EVSEARCH_ENGINE", show_envvar=True,
              help="Engine [default: the index's own, else whoosh]; xapian: the evsearch[xapian] extra.")
@click.option("--shards", type=click.IntRange(1, config.MAX_SHARDS), metavar="N",
              help="xapian: N shards, split by cell.")
@click.option("--shard", metavar="I/N", help="xapian: only shard I of N (from 0), e.g. on one machine of N.")
@handle_errors
def index_cmd(
    corpus_dir: Path | None, index_dir: str | None, rebuild: bool, wait: float, as_json: bool,
    engine: str | None, shards: int | None, shard: str | None,
) -> None:
    """Bring the index up to date with the corpus (only changed files are re-read).

    \b
    Example:
      evsearch index --corpus corpus --index index
      evsearch index --rebuild
      evsearch index --engine xapian --shards 4      (--shard 0/4: one machine's part)
    """
    from ..index import parse_shard, update_index

    which = parse_shard(shard) if shard is not None else None
    corpus, index = _dirs(corpus_dir, index_dir)
    say_if_new(index, corpus)
    with progress_display() as progress:
        report = update_index(
            corpus=corpus, index=index, rebuild=rebuild, wait=wait, progress=progress,
            engine=engine, shards=shards, shard=which,
        )
    if as_json:
        emit_json(report.to_dict())
        return
    print_report(report)


@cli.command("watch")
@index_options
@click.option("--debounce", default=1600, show_default=True, type=click.IntRange(50),
              metavar="MS", help="Wait for this many quiet milliseconds before updating.")
@handle_errors
def watch_cmd(corpus_dir: Path | None, index_dir: Path | None, debounce: int) -> None:
    """Keep the index up to date while cell files are edited (Ctrl-C to stop).

    \b
    Example:
      evsearch watch --corpus corpus
    """
    import time

    from ..index import refuse_remote, watch_corpus

    refuse_remote(index_dir, "watch")
    corpus, index = _dirs(corpus_dir, index_dir)

    def stamp() -> str:
        return time.strftime("%H:%M:%S ")

    def on_report(report: Any) -> None:
        print_report(report, prefix=stamp())

    def on_error(exc: EvsearchError) -> None:
        click.echo(f"{stamp()}Error: {escape_controls(exc.message)}", err=True)

    click.echo(f"watching {clean(str(corpus))}, index {index} (Ctrl-C to stop)", err=True)
    try:
        watch_corpus(corpus=corpus, index=index, on_report=on_report, on_error=on_error, debounce_ms=debounce)
    except KeyboardInterrupt:
        pass


def hit_filter_options(f: F) -> F:
    """The filters of ``search``: each may also be written in the query (``type:K`` ...)."""
    for decorator in reversed([
        click.option("--kind", type=click.Choice(KINDS, case_sensitive=False),
                     help="Only studies, passages or records (query: kind:study)."),
        click.option("--type", "study_types", multiple=True,
                     type=click.Choice(STUDY_TYPES, case_sensitive=False),
                     help="Only studies of this type: S seminal, K key, R review, G guidance; "
                          "repeat for several (query: type:K or type:S,G)."),
        click.option("--cell", help="Only this cell, e.g. B5 or alcohol/B5 (query: cell:B5)."),
        click.option("--matrix", type=click.Choice(["alcohol", "drug", "page"], case_sensitive=False),
                     help="Only this matrix (query: matrix:alcohol)."),
        click.option("--year-from", type=int, metavar="YEAR",
                     help="Only documents of this year or later (query: year:>=2005)."),
        click.option("--year-to", type=int, metavar="YEAR",
                     help="Only documents of this year or earlier (query: year:<=2010)."),
    ]):
        f = decorator(f)
    return f


@cli.command("search", cls=QueryCommand)
@click.argument("query")
@index_options
@hit_filter_options
@click.option("-n", "--limit", default=DEFAULT_LIMIT, show_default=True,
              type=click.IntRange(1, MAX_LIMIT),
              help="Hits per page.")
@click.option("-p", "--page", default=1, show_default=True, type=click.IntRange(min=1),
              help="Which page of --limit hits to show.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance",
              show_default=True, help="Order: relevance, year (oldest first) or -year (newest first).")
@click.option("--facets", is_flag=True,
              help="Also count all matches by kind, type, year, decade, matrix and cell.")
@click.option("--brief", is_flag=True, help="One line per hit: id, score, type and year, title.")
@click.option("--partial", is_flag=True,
              help="Sharded (Xapian) index: leave out shards that do not answer, and say which.")
@click.option("--no-correct", "no_correct", is_flag=True,
              help="Never replace a misspelt query by its suggestion (it is still offered).")
@format_options(FORMATS)
@handle_errors
def search_cmd(
    query: str,
    corpus_dir: Path | None,
    index_dir: Path | None,
    kind: str | None,
    study_types: tuple[str, ...],
    cell: str | None,
    matrix: str | None,
    year_from: int | None,
    year_to: int | None,
    limit: int,
    page: int,
    sort: str,
    facets: bool,
    brief: bool,
    partial: bool,
    no_correct: bool,
    fmt: str,
    as_json: bool,
) -> None:
    """Search the index (building it first if there is none).

    \b
    Query syntax:
      motivational interviewing     words (more matches rank higher)
      "quality of the relationship" a phrase
      title:supervision  supervis*  a field; a prefix
      +must  -exclude               required and excluded words
      type:K  kind:study  cell:B5  matrix:alcohol  year:[2005 TO 2010]   filters
    \b
    Formats: text (default), json (--json), jsonl (one hit per line),
    csv (one row per hit), ris (studies only, for a reference manager).
    \b
    Examples:
      evsearch search "Can motivational interviewing work in criminal justice settings?"
      evsearch search supervision --type K --type R --sort -year --facets
      evsearch search 'counselling type:K' --page 2 --limit 5 --json
      evsearch search supervision --kind study --format ris > studies.ris
    """
    from ..search import ensure_index

    fmt = _format(fmt, as_json)
    corpus, index = _dirs(corpus_dir, index_dir)
    say_if_new(index, corpus)
    with ensure_index(index=index, corpus=corpus, partial=partial) as idx:
        if idx.update_skipped:
            click.echo(f"note: searching the last update of the index; it could not be brought "
                       f"up to date: {escape_controls(idx.update_skipped)}", err=True)
        result = idx.search(
            query, limit=limit, page=page, sort=sort, facets=facets, kind=kind,
            study_type=",".join(study_types) or None, cell=cell, matrix=matrix,
            year_from=year_from, year_to=year_to, correct=not no_correct,
        )
    if fmt == "json":
        emit_json(result.to_dict())
        return
    render.note_spelling(result)
    if fmt == "text" and not brief:
        print_result(result)
    else:
        emit_hits(result.hits, fmt, brief)


@cli.command("show")
@click.argument("doc_id", metavar="ID")
@index_options
@format_options(("text", "json"))
@handle_errors
def show_cmd(doc_id: str, corpus_dir: Path | None, index_dir: Path | None, fmt: str,
             as_json: bool) -> None:
    """Print one document by id, with the documents the commentary links to it.

    For a study: the commentary passages that discuss it, and the other studies discussed
    in the same sections. For a passage: the studies its section discusses.

    \b
    Examples:
      evsearch show alcohol/B5/k2008-relationship-therapist-seems
      evsearch show alcohol/B5/are-the-practitioners-therapeutic/2 --json
    """
    from ..search import open_index

    fmt = _format(fmt, as_json)
    _, index = _dirs(corpus_dir, index_dir)
    with open_index(index=index) as idx:
        doc = idx.get(doc_id)
        related = idx.related(doc_id)
    if fmt == "json":
        emit_json(render.document_json(doc, related))
        return
    render.print_document(doc, related)

@cli.command("similar")
@click.argument("doc_id", metavar="[ID]", required=False)
@click.option("--text", "text", metavar="TEXT",
              help="Find documents like this text (a pasted paragraph or abstract) instead of an ID.")
@index_options
@click.option("-n", "--limit", default=DEFAULT_LIMIT, show_default=True,
              type=click.IntRange(1, MAX_LIMIT),
              help="How many documents to show.")
@click.option("--kind", type=click.Choice(KINDS, case_sensitive=False),
              help="Only studies, passages or records.")
@click.option("--brief", is_flag=True, help="One line per hit: id, score, type and year, title.")
@format_options(FORMATS)
@handle_errors
def similar_cmd(doc_id: str | None, text: str | None, corpus_dir: Path | None, index_dir: Path | None,
                limit: int, kind: str | None, brief: bool, fmt: str, as_json: bool) -> None:
    """Documents like one document, or like a pasted text (more like this), found from its
    key terms.

    \b
    Examples:
      evsearch similar alcohol/B5/r2005-motivational-interviewing-work
      evsearch similar alcohol/B5/r2005-motivational-interviewing-work --kind study --brief
      evsearch similar --text "Probation officers trained in motivational interviewing ..."
    """
    from ..search import open_index

    fmt = _format(fmt, as_json)
    _, index = _dirs(corpus_dir, index_dir)
    with open_index(index=index) as idx:
        result = idx.similar(doc_id, text=text, limit=limit, kind=kind)
    if fmt == "json":
        emit_json(result.to_dict())
    elif fmt == "text" and not brief:
        render.print_similar(result)
    else:
        emit_hits(result.hits, fmt, brief)


@cli.command("explain")
@click.argument("query")
@click.argument("doc_id", metavar="ID")
@index_options
@format_options(("text", "json"))
@handle_errors
def explain_cmd(query: str, doc_id: str, corpus_dir: Path | None, index_dir: Path | None, fmt: str,
                as_json: bool) -> None:
    """Why a document scored as it did for a query: its BM25F score per field and term.

    Each row is one term of the query (a word typed, a phrase, an expansion, a feedback
    term) found in one field of the document: how often it occurs there (tf), the field's
    length, the weight, and the row's contribution: its field's share of the term's BM25F
    score (bm25f x weight). The contributions add up to the score.

    \b
    Example:
      evsearch explain "motivational interviewing" alcohol/B5/r2005-motivational-interviewing-work
    """
    from ..search import open_index

    fmt = _format(fmt, as_json)
    _, index = _dirs(corpus_dir, index_dir)
    with open_index(index=index) as idx:
        exp = idx.explain(query, doc_id)
    if fmt == "json":
        emit_json(exp.to_dict())
        return
    render.print_explanation(exp)

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
    from ..search import open_index

    _, index = _dirs(corpus_dir, index_dir)
    with open_index(index=index) as idx:
        stats = idx.stats()
    if as_json:
        emit_json(stats.to_dict())
        return
    render.print_stats(stats)

@cli.command("check")
@index_options
@handle_errors
def check_cmd(corpus_dir: Path | None, index_dir: Path | None) -> None:
    """Verify every file of the index against its recorded checksums (exit 1 on damage).

    \b
    Example:
      evsearch check --index index
    """
    from ..index import check_index

    _, index = _dirs(corpus_dir, index_dir)
    render.print_check(index, *check_index(index=index))


@cli.command("serve")
@index_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; the default lets only this computer connect.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--open", "open_browser", is_flag=True, help="Open the search page in a web browser.")
@click.option("--partial", is_flag=True,
              help="Sharded (Xapian) index: leave out shards that do not answer, and say which on the page.")
@handle_errors
def serve_cmd(corpus_dir: Path | None, index_dir: Path | None, host: str, port: int,
              open_browser: bool, partial: bool) -> None:
    """Search in a web browser: a local server over the index (Ctrl-C to stop).

    The server only reads the index; when the corpus changes, its pages say so and how
    to update. With no index yet, one is built from the corpus first. Remote Xapian shards
    (--index xapian+tcp://...) are served as they are: never built or updated from here.

    \b
    Example:
      evsearch serve --open
      evsearch serve --port 8080 --corpus corpus --index index
      evsearch serve --index 'xapian+tcp://host1:33333,host2:33333' --partial
    """
    from ..index import update_index
    from ..web import serve  # Starlette, uvicorn and Jinja2 load here, for this command only

    corpus, index = _dirs(corpus_dir, index_dir)
    remote = isinstance(index, str)  # remote shards: no corpus here to build from or compare with

    def build() -> None:
        click.echo(f"no index at {index} yet: building it from {clean(str(corpus))}", err=True)
        update_index(corpus=corpus, index=index)

    serve(index=index, corpus=None if remote else corpus, host=host, port=port, open_browser=open_browser,
          echo=click.echo, build_missing=None if remote else build, partial=partial)


def _quiet_broken_pipe() -> None:
    """The reader went away (``evsearch search x | head``): stop quietly, as Unix tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout
    except (OSError, ValueError, io.UnsupportedOperation):
        pass
    sys.exit(1)


def main() -> None:
    """Console entry point: never lets a traceback reach the user."""
    guard_forks()  # a Ctrl-C while a worker process is forked: one line, no child traceback
    try:
        cli.main(prog_name="evsearch", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so in one line
        click.echo(f"Error: internal error: {type(exc).__name__}: {clean(str(exc))[:200]}", err=True)
        click.echo("Hint: this is a bug in evsearch; please report it with the command you ran",
                   err=True)
        sys.exit(1)
