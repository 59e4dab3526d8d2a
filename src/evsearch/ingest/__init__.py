"""Files -> :class:`~evsearch.model.ParsedCell`: the ingest stage (no engine, no CLI).

One reader per form (:mod:`.text` for ``.txt``, :mod:`.html` for ``.htm``/``.html``,
:mod:`.pdf` for ``.pdf`` and :mod:`.mail` for e-mails (``.eml``, or raw messages saved as
``.txt``) via the text reader), all built on the shared cell grammar
(:mod:`.grammar`, :mod:`.identity`, :mod:`.commentary`, :mod:`.sections`, :mod:`.documents`).
:func:`read_cell_file` picks the reader by suffix; :func:`discover_cell_files` finds the files
of a corpus.

Rules it states rather than leaves to accident:

- a file is read by what its lines are, not where they sit; site chrome is package data
  (``evsearch/data/chrome.txt``);
- the text's own title line names the cell, the path fills in what the text does not say,
  and a disagreement is indexed under the text's cell with a note (:mod:`.identity`);
- a file with a study list is the cell page; one that names a cell without a study list is
  a repository record or a Matrix Bite e-mail (documents of kind ``record``); one that names
  no cell is a page (``page/<slug>``);
- only what cannot be read is refused: binary content in any form, nothing at all, a damaged
  PDF, a file over the size limit;
- ids come from what a document is (:mod:`.documents`).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evsearch.errors import IngestError
from evsearch.ingest.files import (
    CELL_SUFFIXES,
    Discovery,
    check_text,
    decode,
    decode_html,
    discover,
    discover_cell_files,
    guess_from_path,
    page_name,
)
from evsearch.model import ParsedCell

if TYPE_CHECKING:
    from evsearch.ingest.grammar import DEFAULT_SECTION
    from evsearch.ingest.html import parse_cell_html
    from evsearch.ingest.text import MAX_PANEL_BLOCKS, PAGE_MATRIX, parse_cell_text

__all__ = [
    "CELL_SUFFIXES",
    "DEFAULT_SECTION",
    "MAX_CELL_FILE_BYTES",
    "MAX_PANEL_BLOCKS",
    "MAX_PDF_BYTES",
    "PAGE_MATRIX",
    "decode_html",
    "Discovery",
    "discover",
    "discover_cell_files",
    "parse_cell_html",
    "parse_cell_text",
    "read_cell_file",
]

#: The readers are imported on first use: the HTML reader loads BeautifulSoup (0.1 s), and a
#: search that only checks the corpus for changes (:func:`discover`) needs none of them.
_LAZY = {
    "parse_cell_html": "html",
    "parse_cell_text": "text",
    "MAX_PANEL_BLOCKS": "text",
    "PAGE_MATRIX": "text",
    "DEFAULT_SECTION": "grammar",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"evsearch.ingest.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The largest cell file read, in bytes (checked before reading): a real cell page is
#: tens of kilobytes as text, a few hundred as HTML.
MAX_CELL_FILE_BYTES = 2 * 1024 * 1024

#: What an HTML page starts with (a page saved as HTML is read as HTML whatever its name).
_HTML_START_RE = re.compile(
    r"^\ufeff?\s*(?:<!--.{0,2000}?-->\s*){0,5}<(?:!doctype\s+html|html)\b", re.IGNORECASE | re.DOTALL
)

#: The largest PDF read: a cell's PDF is a dozen pages, a few hundred kilobytes.
MAX_PDF_BYTES = 20 * 1024 * 1024


def read_cell_file(path: Path, *, root: Path | None = None) -> ParsedCell:
    """Read one cell file: ``.txt`` is the text form, ``.htm``/``.html`` the published page.

    The path (``alcohol/B5.txt``, ``Drugs/E1.htm``, ``drug-E1.txt``) is a fallback for the
    cell's matrix and code; ``root`` is the corpus directory: only the part of ``path`` below
    it is used. An HTML page that is not a cell becomes a ``page/<slug>`` document (see
    :func:`evsearch.ingest.html.parse_cell_html`).

    >>> read_cell_file(Path("corpus/alcohol/B5.txt")).cell.key  # doctest: +SKIP
    'alcohol/B5'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CELL_SUFFIXES:
        raise IngestError(
            f"{path}: cell files are .txt, .htm, .html, .pdf or .eml, not {path.suffix or 'no suffix'!r}",
            "save the cell page as HTML (.htm) or as text (.txt)",
        )
    try:
        data = _read_limited(path, MAX_PDF_BYTES if suffix == ".pdf" else MAX_CELL_FILE_BYTES)
    except OSError as exc:
        raise IngestError(
            f"cannot read {path}: {exc.strerror or exc}", "check the file exists and is readable"
        ) from exc
    matrix, code = guess_from_path(path, root)
    name = page_name(path, root)
    from evsearch.ingest.mail import is_mime_message, message_text
    from evsearch.ingest.text import parse_cell_text

    try:
        if suffix == ".pdf":
            from evsearch.ingest.pdf import pdf_text

            if not data.startswith(b"%PDF-"):
                raise IngestError("is not a PDF (it does not start with %PDF-)", "check the file")
            return parse_cell_text(pdf_text(data), matrix=matrix, code=code, name=name)
        if suffix in (".txt", ".eml"):
            text = decode(data)
            if suffix == ".eml" or is_mime_message(text):  # an e-mail saved with its headers
                check_text(data, text)
                text = message_text(data)
            elif _HTML_START_RE.match(text[:12_000]):  # a page saved as HTML under a .txt name
                from evsearch.ingest.html import parse_cell_html

                check_text(data, decode_html(data))
                return parse_cell_html(data, matrix=matrix, code=code, name=name)
            check_text(data, text)
            return parse_cell_text(text, matrix=matrix, code=code, name=name)
        from evsearch.ingest.html import parse_cell_html

        check_text(data, decode_html(data))
        return parse_cell_html(data, matrix=matrix, code=code, name=name)
    except IngestError as exc:
        raise IngestError(f"{path}: {exc.message}", exc.hint) from exc
    except (RecursionError, MemoryError, ValueError, LookupError, ArithmeticError) as exc:
        # a parser bug must cost one file, not the whole index
        raise IngestError(
            f"{path}: cannot be parsed ({type(exc).__name__})",
            "this is a bug in evsearch; please report it with the file",
        ) from exc


def _read_limited(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, checked before reading it
    whole (a FIFO or device is refused rather than read)."""
    st = os.stat(path)  # before opening: opening a FIFO would block
    if not stat.S_ISREG(st.st_mode):
        raise IngestError(f"{path} is not a regular file", "cell files are ordinary files")
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        if st.st_size > limit:
            raise IngestError(
                f"{path} is {st.st_size:,} bytes; the limit for a cell file is "
                f"{limit:,} bytes",
                "a cell page is far smaller: check this is the right file",
            )
        data = fh.read(limit + 1)
    if len(data) > limit:  # it grew while we looked
        raise IngestError(
            f"{path} is over the {limit:,}-byte limit for a cell file",
            "a cell page is far smaller: check this is the right file",
        )
    return data

