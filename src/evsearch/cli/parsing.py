"""Parsing helpers of the command line: output options, a query that starts with ``-``;
saying where a new index is built."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class QueryCommand(click.Command):
    """A command whose argument is a query, which may start with ``-`` (an excluded word).

    A query of several words starting with ``-`` (``"-probation mentor"``) is taken as the
    query, not as options; a single such word is ambiguous (``-probation`` reads as
    ``-p robation``), so a failure to parse says how to pass it after ``--``."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        if "--" not in args:
            words = [a for a in args if a.startswith("-") and any(c.isspace() for c in a)]
            if len(words) == 1:
                args = [a for a in args if a is not words[0]] + ["--", words[0]]
        given = list(args)  # click's parser consumes the list it parses
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            dashed = [a for a in given if a.startswith("-") and a != "--" and not self._is_option(a)]
            if dashed and "--" not in given:
                raise click.UsageError(
                    f"{exc.format_message()}\nTo search for a word that starts with '-', put -- "
                    f"before the query: evsearch {info_name} -- {shlex.quote(dashed[0])}",
                    ctx=exc.ctx,
                ) from None
            raise

    def _is_option(self, arg: str) -> bool:
        name = arg.split("=", 1)[0]
        names = {o for p in self.params for o in (*p.opts, *p.secondary_opts)} | {"-h", "--help"}
        return name in names


def say_if_new(index: Path | str, corpus: Path) -> None:
    """Tell the user (on stderr) that a command is about to create an index: there is none at
    ``index`` yet, and one can be built there from ``corpus`` (never for remote shards)."""
    if not isinstance(index, Path):
        return
    if (index / "CURRENT").exists() or (index / "CURRENT").is_symlink() or not corpus.is_dir():
        return
    if index.exists() and not (index.is_dir() and ((index / "EVSEARCH_INDEX").is_file()
                                                   or not any(index.iterdir()))):
        return  # not a directory, or one that is not an index: the command says so
    click.echo(f"building a new index at {index}", err=True)


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


def output_format(fmt: str, as_json: bool) -> str:
    """The format asked for: ``--json`` is ``--format json``."""
    fmt = fmt.lower()
    if as_json and fmt not in ("text", "json"):
        raise click.UsageError(f"--json is --format json; it cannot go with --format {fmt}")
    return "json" if as_json else fmt
