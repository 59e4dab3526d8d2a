"""The command line: a thin layer that parses options, calls the library, formats results."""

from __future__ import annotations

import csv
import functools
import html
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ._sanitize import clean_terminal, escape_controls, scrub_surrogates
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
@click.option("--wait", "wait", default=5.0, show_default=True, type=click.FloatRange(0),
              metavar="SECONDS", help="How long to wait for another indexing run to finish.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handle_errors
def index_cmd(
    corpus_dir: Path | None, index_dir: Path | None, rebuild: bool, wait: float, as_json: bool
) -> None:
    """Bring the index up to date with the corpus (only changed files are re-read).

    \b
    Example:
      evsearch index --corpus corpus --index index
      evsearch index --rebuild
    """
    from .index import update_index

    corpus, index = _dirs(corpus_dir, index_dir)
    with _progress_display() as progress:
        report = update_index(corpus, index, rebuild=rebuild, wait=wait, progress=progress)
    if as_json:
        _emit_json(report.to_dict())
        return
    _print_report(report)


def _print_report(report: Any, prefix: str = "") -> None:
    for problem in report.problems:
        click.echo(f"{prefix}skipped {escape_controls(problem.path)}: {escape_controls(problem.reason)}",
                   err=True)
    what = "rebuilt: " if report.rebuilt else ""
    click.echo(f"{prefix}{what}{report.summary()}; {report.documents} documents written "
               f"in {report.seconds:.2f}s")
    if not prefix:
        click.echo(f"index: {report.index_dir}")


class _progress_display:  # noqa: N801 (used as a context manager, like a function)
    """A one-line progress display on stderr when it is a terminal; nothing otherwise."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.shown = False
        self.last = 0.0

    def __enter__(self) -> Callable[[Any], None] | None:
        return self.update if self.enabled else None

    def update(self, p: Any) -> None:
        import time

        now = time.monotonic()
        if now - self.last < 0.1 and p.files_done < p.files_total:
            return
        self.last = now
        eta = "" if p.eta is None or p.phase != "reading" else f", ETA {p.eta:.0f}s"
        line = (f"{p.phase}: {p.files_done}/{p.files_total} files, {p.documents} documents, "
                f"{p.rate:.1f} files/s{eta}")
        click.echo(f"\r\x1b[K{line}", nl=False, err=True)
        self.shown = True

    def __exit__(self, *exc: object) -> None:
        if self.shown:
            click.echo("\r\x1b[K", nl=False, err=True)


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

    from .index import watch_corpus

    corpus, index = _dirs(corpus_dir, index_dir)

    def stamp() -> str:
        return time.strftime("%H:%M:%S ")

    def on_report(report: Any) -> None:
        _print_report(report, prefix=stamp())

    def on_error(exc: EvsearchError) -> None:
        click.echo(f"{stamp()}Error: {escape_controls(exc.message)}", err=True)

    click.echo(f"watching {clean(str(corpus))}, index {index} (Ctrl-C to stop)", err=True)
    try:
        watch_corpus(corpus, index, on_report=on_report, on_error=on_error, debounce_ms=debounce)
    except KeyboardInterrupt:
        pass


FORMATS = ("text", "json", "jsonl", "csv", "ris")
_RIS_TYPES = {"S": "seminal study", "K": "key study", "R": "review", "G": "guidance"}
_HIT_COLUMNS = ("rank", "score", "id", "kind", "cell", "title", "section", "study_type", "year",
                "organisation", "role", "links", "snippet", "text")


def _no_color(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.color = False


def color_option(f: F) -> F:
    """``--no-color``: plain text even on a terminal (as does a non-empty ``NO_COLOR``)."""
    return click.option("--no-color", is_flag=True, expose_value=False, is_eager=True,
                        callback=_no_color,
                        help="No colour or bold, even on a terminal (also: NO_COLOR=1).")(f)


def format_options(formats: tuple[str, ...]) -> Callable[[F], F]:
    """``--format`` (one of ``formats``), its alias ``--json``, and ``--no-color``."""

    def decorate(f: F) -> F:
        f = color_option(f)
        f = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")(f)
        f = click.option("--format", "fmt", type=click.Choice(formats, case_sensitive=False),
                         default="text", show_default=True,
                         help="Output format: " + ", ".join(formats) + ".")(f)
        return f

    return decorate


def _format(fmt: str, as_json: bool) -> str:
    fmt = fmt.lower()
    if as_json and fmt not in ("text", "json"):
        raise click.UsageError(f"--json is --format json; it cannot go with --format {fmt}")
    return "json" if as_json else fmt


def _width() -> int:
    return min(shutil.get_terminal_size((100, 20)).columns, 120)


def _fit(line: str, width: int) -> str:
    """``line`` cut to ``width`` visible characters with an ellipsis (on a terminal only)."""
    if not sys.stdout.isatty() or len(click.unstyle(line)) <= width:
        return line
    return click.unstyle(line)[: max(width - 1, 1)] + "…"


def hit_filter_options(f: F) -> F:
    """The filters of ``search``: each may also be written in the query (``type:K`` ...)."""
    for decorator in reversed([
        click.option("--kind", type=click.Choice(["study", "passage"], case_sensitive=False),
                     help="Only studies or only passages (query: kind:study)."),
        click.option("--type", "study_types", multiple=True,
                     type=click.Choice(["S", "K", "R", "G"], case_sensitive=False),
                     help="Only studies of this type: S seminal, K key, R review, G guidance; "
                          "repeat for several (query: type:K or type:S,G)."),
        click.option("--cell", help="Only this cell, e.g. B5 or alcohol/B5 (query: cell:B5)."),
        click.option("--matrix", type=click.Choice(["alcohol", "drug"], case_sensitive=False),
                     help="Only this matrix (query: matrix:alcohol)."),
        click.option("--year-from", type=int, metavar="YEAR",
                     help="Only documents of this year or later (query: year:>=2005)."),
        click.option("--year-to", type=int, metavar="YEAR",
                     help="Only documents of this year or earlier (query: year:<=2010)."),
    ]):
        f = decorator(f)
    return f


@cli.command("search")
@click.argument("query")
@index_options
@hit_filter_options
@click.option("-n", "--limit", default=10, show_default=True, type=click.IntRange(1, 1000),
              help="Hits per page.")
@click.option("-p", "--page", default=1, show_default=True, type=click.IntRange(min=1),
              help="Which page of --limit hits to show.")
@click.option("--sort", type=click.Choice(["relevance", "year", "-year"]), default="relevance",
              show_default=True, help="Order: relevance, year (oldest first) or -year (newest first).")
@click.option("--facets", is_flag=True,
              help="Also count all matches by kind, type, year, decade, matrix and cell.")
@click.option("--brief", is_flag=True, help="One line per hit: id, score, type and year, title.")
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
    from .search import ensure_index

    fmt = _format(fmt, as_json)
    corpus, index = _dirs(corpus_dir, index_dir)
    with ensure_index(index, corpus) as idx:
        result = idx.search(
            query, limit=limit, page=page, sort=sort, facets=facets, kind=kind,
            study_type=",".join(study_types) or None, cell=cell, matrix=matrix,
            year_from=year_from, year_to=year_to,
        )
    if fmt == "json":
        _emit_json(result.to_dict())
    elif fmt == "text" and not brief:
        _print_result(result)
    else:
        _emit_hits(result.hits, fmt, brief)


def _emit_hits(hits: Any, fmt: str, brief: bool) -> None:
    """Hits as JSON lines, CSV rows, RIS records, or one line each (``--brief``)."""
    if fmt == "jsonl":
        for hit in hits:
            click.echo(json.dumps(hit.to_dict(), ensure_ascii=False))
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(_HIT_COLUMNS)
        for hit in hits:
            row = hit.to_dict()
            row["links"] = "; ".join(row["links"])
            writer.writerow(["" if row[c] is None else row[c] for c in _HIT_COLUMNS])
        click.echo(out.getvalue(), nl=False)
    elif fmt == "ris":
        studies = [h for h in hits if h.kind == "study"]
        for hit in studies:
            click.echo(_ris(hit))
        if len(studies) < len(hits):
            click.echo(f"note: left out {len(hits) - len(studies)} passages: RIS holds studies only "
                       "(add --kind study)", err=True)
    else:
        width = _width()
        id_width = max((len(h.id) for h in hits), default=0)
        for hit in hits:
            tag = f"[{hit.study_type} {hit.year or 'n.d.'}] " if hit.kind == "study" else ""
            title = click.style(clean(hit.title or "(untitled)"), bold=True)
            click.echo(_fit(f"{hit.id:<{id_width}}  {hit.score:>6.2f}  {tag}{title}", width))


def _ris(hit: Any) -> str:
    """One study as an RIS record (the tagged format reference managers import)."""
    lines = [("TY", "GEN"), ("ID", hit.id), ("TI", clean(hit.title))]
    if hit.year:
        lines.append(("PY", str(hit.year)))
    if hit.organisation:
        lines.append(("PB", clean(hit.organisation)))
    lines.append(("AB", clean(hit.text)))
    lines.append(("KW", hit.cell))
    for code in (hit.study_type or "").split():
        lines.append(("KW", _RIS_TYPES.get(code, code)))
    lines.append(("N1", f"Treatment Matrix cell {hit.cell}, type {hit.study_type}"))
    lines.append(("DB", "Drug and Alcohol Findings Treatment Matrices"))
    lines.append(("ER", ""))
    return "\n".join(f"{tag}  - {value}" for tag, value in lines) + "\n"


def _print_result(result: Any) -> None:
    width = _width()
    if result.corrected:
        click.echo(f"Showing results for {clean(result.suggestion)!r} instead of "
                   f"{clean(result.query)!r}.")
    elif result.suggestion:
        click.echo(f"Did you mean: {clean(result.suggestion)}")
    if result.facets is not None and result.total:
        _print_facets(result.facets, width)
    if not result.hits:
        if result.total:
            click.echo(f"{result.total} matching documents; page {result.page} is past the last "
                       f"page ({result.pages}).")
        else:
            click.echo("No matches.")
        return
    first, last = result.hits[0].rank, result.hits[-1].rank
    shown = f"{len(result.hits)}" if result.pages == 1 else (
        f"{first}-{last} (page {result.page} of {result.pages})")
    click.echo(f"{result.total} matching documents; showing {shown}.\n")
    _print_hits(result.hits, width)


def _print_facets(facets: Any, width: int) -> None:
    for name, counts in facets.to_dict().items():
        if counts:
            text = ", ".join(f"{clean(v)} ({n})" for v, n in counts.items())
            lines = _wrap(text, width - 9) or [""]
            click.echo(f"{click.style(name, bold=True)}{' ' * (9 - len(name))}{lines[0]}")
            for line in lines[1:]:
                click.echo(" " * 9 + line)
    click.echo()


def _print_hits(hits: Any, width: int) -> None:
    for hit in hits:
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
@format_options(("text", "json"))
@handle_errors
def show_cmd(doc_id: str, corpus_dir: Path | None, index_dir: Path | None, fmt: str,
             as_json: bool) -> None:
    """Print one document by id, with the documents the commentary links to it.

    For a study: the commentary passages that discuss it, and the other studies discussed
    in the same sections. For a passage: the studies its section discusses.

    \b
    Examples:
      evsearch show alcohol/B5/s1
      evsearch show alcohol/B5/p7 --json
    """
    from .search import ensure_index

    fmt = _format(fmt, as_json)
    corpus, index = _dirs(corpus_dir, index_dir)
    with ensure_index(index, corpus) as idx:
        doc = idx.get(doc_id)
        related = idx.related(doc_id)
    if fmt == "json":
        data = doc.to_dict()
        rel = related.to_dict()
        del rel["id"]
        data["related"] = rel
        _emit_json(data)
        return
    width = _width()
    click.echo(click.style(clean(doc.title), bold=True))
    if doc.kind == "study":
        org = f"{clean(doc.organisation)}, " if doc.organisation else ""
        click.echo(f"{doc.id}  study, type {doc.study_type}  ({org}{doc.year or 'n.d.'})  {doc.cell}")
    else:
        click.echo(f"{doc.id}  passage ({doc.role}) in section {clean(doc.section or '')!r}  {doc.cell}")
    click.echo()
    for line in _wrap(clean(doc.text), width):
        click.echo(line)
    if doc.kind == "study" and doc.links:
        click.echo()
        click.echo("Discussed in: " + "; ".join(clean(s) for s in doc.links))
    if related.passages:
        click.echo()
        click.echo(click.style("Passages that discuss it:", bold=True))
        for view in related.passages:
            click.echo(f"  {view.id}  {_excerpt(clean(view.text), width - len(view.id) - 4)}")
    if related.studies:
        click.echo()
        label = "Other studies discussed there:" if doc.kind == "study" else "Studies discussed here:"
        click.echo(click.style(label, bold=True))
        for view in related.studies:
            tag = f"[{view.study_type} {view.year or 'n.d.'}]"
            click.echo(_fit(f"  {view.id}  {tag} {clean(view.title)}", width))


def _excerpt(text: str, width: int) -> str:
    """The first words of ``text`` that fit in ``width`` characters, ``…`` if cut."""
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, max(width - 1, 1))
    return text[: cut if cut > 0 else max(width - 1, 1)] + "…"


@cli.command("similar")
@click.argument("doc_id", metavar="ID")
@index_options
@click.option("-n", "--limit", default=10, show_default=True, type=click.IntRange(1, 1000),
              help="How many documents to show.")
@click.option("--kind", type=click.Choice(["study", "passage"], case_sensitive=False),
              help="Only studies or only passages.")
@click.option("--brief", is_flag=True, help="One line per hit: id, score, type and year, title.")
@format_options(FORMATS)
@handle_errors
def similar_cmd(doc_id: str, corpus_dir: Path | None, index_dir: Path | None, limit: int,
                kind: str | None, brief: bool, fmt: str, as_json: bool) -> None:
    """Documents like one document (more like this), found from its key terms.

    \b
    Examples:
      evsearch similar alcohol/B5/s7
      evsearch similar alcohol/B5/s7 --kind study --brief
    """
    from .search import ensure_index

    fmt = _format(fmt, as_json)
    corpus, index = _dirs(corpus_dir, index_dir)
    with ensure_index(index, corpus) as idx:
        result = idx.similar(doc_id, limit=limit, kind=kind)
    if fmt == "json":
        _emit_json(result.to_dict())
    elif fmt == "text" and not brief:
        click.echo(f"Documents like {result.id} (key terms: {', '.join(result.terms)})")
        if not result.hits:
            click.echo("No matches.")
            return
        click.echo(f"{result.total} matching documents; showing {len(result.hits)}.\n")
        _print_hits(result.hits, _width())
    else:
        _emit_hits(result.hits, fmt, brief)


@cli.command("explain")
@click.argument("query")
@click.argument("doc_id", metavar="ID")
@index_options
@format_options(("text", "json"))
@handle_errors
def explain_cmd(query: str, doc_id: str, corpus_dir: Path | None, index_dir: Path | None, fmt: str,
                as_json: bool) -> None:
    """Why a document scored as it did for a query: its BM25F score per field and term.

    Each row is one query term found in one field of the document: how often it occurs
    there (tf), the field's length, the field's weight, the term's BM25F score and its
    contribution (score x weight). The score scales their sum by the share of the query's
    words the document matches (coordination).

    \b
    Example:
      evsearch explain "motivational interviewing" alcohol/B5/s7
    """
    from .search import ensure_index

    fmt = _format(fmt, as_json)
    corpus, index = _dirs(corpus_dir, index_dir)
    with ensure_index(index, corpus) as idx:
        exp = idx.explain(query, doc_id)
    if fmt == "json":
        _emit_json(exp.to_dict())
        return
    if exp.matched:
        click.echo(f"{exp.id} matches {clean(exp.query)!r} with score "
                   f"{click.style(f'{exp.score:.2f}', bold=True)}.")
    else:
        click.echo(f"{exp.id} does not match {clean(exp.query)!r}: {exp.reason}.")
    if exp.terms:
        term_w = max(4, *(len(t.term) for t in exp.terms))
        click.echo()
        click.echo(f"  {'field':<12} {'term':<{term_w}} {'tf':>3} {'length':>6} {'weight':>6} "
                   f"{'bm25f':>7} {'contribution':>12}")
        for t in exp.terms:
            click.echo(f"  {t.field:<12} {clean(t.term):<{term_w}} {t.frequency:>3} {t.field_length:>6} "
                       f"{t.weight:>6.2f} {t.score:>7.2f} {t.contribution:>12.2f}")
        click.echo()
        if exp.matched and abs(exp.term_total - exp.score) > 0.005:
            note = (f"Term contributions sum to {exp.term_total:.2f}; with the synonym expansions "
                    f"and feedback terms of the query, the score is {exp.score:.2f}.")
            for line in _wrap(note, _width()):
                click.echo(line)
    if exp.missing:
        click.echo("Not in the document: " + ", ".join(clean(t) for t in exp.missing))


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
    try:
        cli.main(prog_name="evsearch", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so in one line
        click.echo(f"Error: internal error: {type(exc).__name__}: {clean(str(exc))[:200]}", err=True)
        click.echo("Hint: this is a bug in evsearch; please report it with the command you ran",
                   err=True)
        sys.exit(1)
