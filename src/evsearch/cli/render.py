"""Rendering results for a terminal or a pipe: text, JSON, JSON lines, CSV, RIS; wrapping;
the progress line. Everything printed from the corpus goes through :func:`clean`."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import shutil
import sys
from collections.abc import Callable
from typing import Any

import click

from .._sanitize import clean_terminal, escape_controls, scrub_surrogates
from ..config import STUDY_TYPE_LABELS


def clean(text: str) -> str:
    """Corpus text made safe for a terminal: escape sequences, control characters, bidi
    overrides and lone surrogates removed."""
    return clean_terminal(text)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 file``, ``2 files``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def plain_snippet(snippet: str) -> str:
    """A snippet as plain text: no ``<mark>`` tags, HTML entities decoded."""
    return html.unescape(re.sub(r"</?mark>", "", snippet))


def json_text(data: Any) -> str:
    """``data`` as the ``--json`` output writes it: indented, lone surrogates as U+FFFD (so it
    always encodes as UTF-8)."""
    return scrub_surrogates(json.dumps(data, ensure_ascii=False, indent=2))


def document_json(doc: Any, related: Any) -> dict[str, Any]:
    """``show ID --json``: the document's keys, and under ``related`` the documents its
    commentary links to it (a :class:`~evsearch.Related` without its repeated ``id``)."""
    data: dict[str, Any] = doc.to_dict()
    rel = related.to_dict()
    del rel["id"]
    data["related"] = rel
    return data


def emit_json(data: Any) -> None:
    """JSON as UTF-8 bytes whatever the locale; lone surrogates become U+FFFD, so the output
    is always valid."""
    click.echo(json_text(data).encode("utf-8"))


def print_report(report: Any, prefix: str = "") -> None:
    for problem in report.problems:
        verb = "skipped" if problem.skipped else "note on"
        click.echo(f"{prefix}{verb} {escape_controls(problem.path)}: {escape_controls(problem.reason)}",
                   err=True)
    what = "rebuilt: " if report.rebuilt else ""
    click.echo(f"{prefix}{what}{report.summary()}; {plural(report.documents, 'document')} written "
               f"in {report.seconds:.2f}s")
    if not prefix:
        click.echo(f"index: {report.index_dir}")


class progress_display:  # noqa: N801 (used as a context manager, like a function)
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


FORMATS = ("text", "json", "jsonl", "csv", "ris")
_HIT_COLUMNS = ("rank", "score", "id", "kind", "cell", "title", "section", "study_type", "year",
                "organisation", "role", "links", "snippet", "text")


def terminal_width() -> int:
    return min(shutil.get_terminal_size((100, 20)).columns, 120)


def fit(line: str, width: int) -> str:
    """``line`` cut to ``width`` visible characters with an ellipsis (on a terminal only)."""
    if not sys.stdout.isatty() or len(click.unstyle(line)) <= width:
        return line
    return click.unstyle(line)[: max(width - 1, 1)] + "…"


def emit_hits(hits: Any, fmt: str, brief: bool) -> None:
    """Hits as JSON lines, CSV rows, RIS records, or one line each (``--brief``)."""
    if fmt == "jsonl":
        for hit in hits:
            click.echo(json.dumps(hit.to_dict(), ensure_ascii=False))
    elif fmt == "csv":
        click.echo(render_csv(hits), nl=False)
    elif fmt == "ris":
        studies = [h for h in hits if h.kind == "study"]
        click.echo(render_ris(studies), nl=False)
        if len(studies) < len(hits):
            click.echo(f"note: left out {plural(len(hits) - len(studies), 'passage')}: RIS holds "
                       "studies only (add --kind study)", err=True)
    else:
        if not hits:
            click.echo("No matches.")
            return
        width = terminal_width()
        id_width = max((len(h.id) for h in hits), default=0)
        for hit in hits:
            tag = f"[{hit.study_type} {hit.year or 'n.d.'}] " if hit.kind == "study" else ""
            title = click.style(clean(hit.title or "(untitled)"), bold=True)
            click.echo(fit(f"{hit.id:<{id_width}}  {hit.score:>6.2f}  {tag}{title}", width))


def render_csv(hits: Any) -> str:
    """Hits as CSV: a header row, then one row per hit with the JSON hit's columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_HIT_COLUMNS)
    for hit in hits:
        row = hit.to_dict()
        row["links"] = "; ".join(row["links"])
        row["snippet"] = plain_snippet(row["snippet"])  # CSV is plain text
        writer.writerow(["" if row[c] is None else row[c] for c in _HIT_COLUMNS])
    return out.getvalue()


def render_ris(hits: Any) -> str:
    """The studies among ``hits`` as RIS records, each followed by a blank line."""
    return "".join(ris(hit) + "\n" for hit in hits if hit.kind == "study")


def ris(hit: Any) -> str:
    """One study as an RIS record (the tagged format reference managers import)."""
    lines = [("TY", "GEN"), ("ID", hit.id), ("TI", clean(hit.title))]
    if hit.year:
        lines.append(("PY", str(hit.year)))
    if hit.organisation:
        lines.append(("PB", clean(hit.organisation)))
    lines.append(("AB", clean(hit.text)))
    lines.append(("KW", hit.cell))
    for code in (hit.study_type or "").split():
        lines.append(("KW", STUDY_TYPE_LABELS.get(code, code)))
    lines.append(("N1", f"Treatment Matrix cell {hit.cell}, type {hit.study_type}"))
    lines.append(("DB", "Drug and Alcohol Findings Treatment Matrices"))
    lines.append(("ER", ""))
    return "\n".join(f"{tag}  - {value}" for tag, value in lines) + "\n"


def note_spelling(result: Any) -> None:
    """One line on stderr when the query was corrected (or a correction is suggested), in
    every format but JSON (whose ``suggestion`` and ``corrected`` fields say it)."""
    if result.corrected:
        click.echo(f"note: showing results for {clean(result.suggestion)!r} instead of "
                   f"{clean(result.query)!r}, which found nothing (--no-correct: search as typed)",
                   err=True)
    elif result.suggestion:
        click.echo(f"note: did you mean {clean(result.suggestion)!r}?", err=True)


def print_result(result: Any) -> None:
    width = terminal_width()
    if result.missing_shards:
        click.echo("Partial result: these shards did not answer: "
                   + ", ".join(clean(s) for s in result.missing_shards), err=True)
    if result.facets is not None and result.total:
        print_facets(result.facets, width)
    if not result.hits:
        if result.total:
            click.echo(f"{plural(result.total, 'matching document')}; page {result.page} is past "
                       f"the last page ({result.pages}).")
        else:
            click.echo("No matches.")
        return
    first, last = result.hits[0].rank, result.hits[-1].rank
    shown = f"{len(result.hits)}" if result.pages == 1 else (
        f"{first}-{last} (page {result.page} of {result.pages})")
    echo_wrapped(f"{plural(result.total, 'matching document')}; showing {shown}.", width)
    click.echo()
    print_hits(result.hits, width)


def print_facets(facets: Any, width: int) -> None:
    for name, counts in facets.to_dict().items():
        if counts:
            text = ", ".join(f"{clean(v)} ({n})" for v, n in counts.items())
            lines = wrap(text, width - 9) or [""]
            click.echo(f"{click.style(name, bold=True)}{' ' * (9 - len(name))}{lines[0]}")
            for line in lines[1:]:
                click.echo(" " * 9 + line)
    click.echo()


def print_hits(hits: Any, width: int) -> None:
    for hit in hits:
        if hit.kind == "study":
            tag = f"[{hit.study_type} {hit.year or 'n.d.'}]"
            head = bold_words(clean(hit.title))
            org = f" ({clean(hit.organisation)})" if hit.organisation else ""
            heading = f"{tag} {head}{org}"
        else:
            head = bold_words(clean(hit.title or "(untitled)"))
            role = "" if hit.role in (None, "paragraph") else f" [{hit.role}]"
            heading = f"{head}{role}"
        for i, line in enumerate(fold(heading, width - 4)):  # wrapped like the snippet
            click.echo((f"{hit.rank:>2}. " if i == 0 else "    ") + line)
        echo_wrapped(f"{hit.cell}  {hit.id}  score {hit.score:.2f}", width, indent="    ")
        for line in wrap(terminal_snippet(hit.snippet), width - 4):
            click.echo("    " + line)
        click.echo()


def echo_wrapped(text: str, width: int, indent: str = "") -> None:
    """``text`` on as many lines as it needs at ``width`` columns, each after ``indent``."""
    for line in fold(text, width - len(indent)):
        click.echo(indent + line)


def fold(text: str, width: int) -> list[str]:
    """``text`` as it is when it fits in ``width``, else wrapped: between the fields of a
    header line (separated by two spaces) first, within a field only when it is itself too
    long (see :func:`wrap`)."""
    if len(click.unstyle(text)) <= width:
        return [text]
    lines: list[str] = []
    line = ""
    for field in text.split("  "):
        if not field.strip():
            continue
        joined = f"{line}  {field}" if line else field
        if len(click.unstyle(joined)) <= width:
            line = joined
            continue
        if line:
            lines.append(line)
        parts = wrap(field, width) or [""]
        lines.extend(parts[:-1])
        line = parts[-1]
    if line:
        lines.append(line)
    return lines


def bold_words(text: str) -> str:
    """``text`` in bold, word by word, so that it stays bold however it is wrapped."""
    return " ".join(click.style(word, bold=True) for word in text.split())


def terminal_snippet(snippet: str) -> str:
    parts = re.split(r"(<mark>.*?</mark>)", snippet)
    out = []
    for part in parts:
        if part.startswith("<mark>"):
            word = clean(html.unescape(part[6:-7]))
            out.append(click.style(word, fg="yellow", bold=True))
        else:
            out.append(clean(html.unescape(part)))
    return "".join(out)


def wrap(text: str, width: int) -> list[str]:
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


def excerpt(text: str, width: int) -> str:
    """The first words of ``text`` that fit in ``width`` characters, ``…`` if cut."""
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, max(width - 1, 1))
    return text[: cut if cut > 0 else max(width - 1, 1)] + "…"


def print_document(doc: Any, related: Any) -> None:
    """One document and the documents its commentary links to it, as text."""
    width = terminal_width()
    for line in fold(bold_words(clean(doc.title)), width):
        click.echo(line)
    if doc.kind == "study":
        org = f"{clean(doc.organisation)}, " if doc.organisation else ""
        year = doc.year or "n.d."
        echo_wrapped(f"{doc.id}  study, type {doc.study_type}  ({org}{year})  {doc.cell}", width)
    else:
        section = clean(doc.section or "")
        echo_wrapped(f"{doc.id}  {doc.kind} ({doc.role}) in section {section!r}  {doc.cell}", width)
    click.echo()
    for line in wrap(clean(doc.text), width):
        click.echo(line)
    if doc.kind == "study" and doc.links:
        click.echo()
        echo_wrapped("Discussed in: " + "; ".join(clean(s) for s in doc.links), width)
    if related.passages:
        click.echo()
        click.echo(click.style("Passages that discuss it:", bold=True))
        for view in related.passages:
            room = width - len(view.id) - 4
            if room >= 20:
                click.echo(f"  {view.id}  {excerpt(clean(view.text), room)}")
            else:  # a long id: the excerpt goes under it
                echo_wrapped(view.id, width, indent="  ")
                click.echo("    " + excerpt(clean(view.text), width - 4))
    if related.studies:
        click.echo()
        label = "Other studies discussed there:" if doc.kind == "study" else "Studies discussed here:"
        click.echo(click.style(label, bold=True))
        for view in related.studies:
            tag = f"[{view.study_type} {view.year or 'n.d.'}]"
            for i, line in enumerate(fold(f"{view.id}  {tag} {clean(view.title)}", width - 4)):
                click.echo(("  " if i == 0 else "    ") + line)


def print_similar(result: Any) -> None:
    """A ``similar`` result as text."""
    like = result.id if result.id is not None else "the text"
    click.echo(f"Documents like {like} (key terms: {', '.join(clean(t) for t in result.terms)})")
    if not result.hits:
        click.echo("No matches.")
        return
    echo_wrapped(f"{plural(result.total, 'matching document')}; showing {len(result.hits)}.",
                 terminal_width())
    click.echo()
    print_hits(result.hits, terminal_width())


def print_explanation(exp: Any) -> None:
    """An explanation of a score as text: one row per term and field."""
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
    if exp.missing:
        click.echo("Not in the document: " + ", ".join(clean(t) for t in exp.missing))


def print_stats(stats: Any) -> None:
    """What the index holds, as text."""
    click.echo(f"index:    {stats.index_dir}")
    click.echo(f"corpus:   {clean(stats.corpus_dir)}")
    click.echo(f"cells:    {stats.cells}")
    click.echo(f"studies:  {stats.studies}")
    click.echo(f"passages: {stats.passages}")
    click.echo(f"files:    {stats.files}")
    click.echo(f"built:    {stats.built_at} by evsearch {stats.evsearch_version} "
               f"(schema {stats.schema_version})")
    click.echo(f"engine:   {stats.engine}")
    for shard in stats.shards:
        click.echo(f"shard:    {clean(shard)}")


def print_check(index: Any, files: int, problems: list[tuple[str, str]]) -> None:
    """What ``evsearch check`` found: each damaged file, then a one-line error; or ``ok``."""
    from ..errors import IndexCorruptError

    for path, why in problems:
        click.echo(f"damaged: {escape_controls(path)}: {escape_controls(why)}")
    if problems:
        raise IndexCorruptError(f"the index at {index} is damaged ({len(problems)} of {files} files)")
    click.echo(f"ok: {files} files of the index at {index} match their checksums")
