"""The PDF reader: a cell's published PDF -> text for the text reader.

pdfminer.six, because its layout analysis groups a page's lines into text boxes (paragraphs),
which is what the text reader's units are; pypdf gives lines only, so paragraphs, headings and
study lines would have to be guessed back from line lengths. Both are pure Python and
maintained. Each box's lines are joined into one line and boxes are separated by blank lines;
a box holding several study lines (tight spacing) is split where each starts.
"""

from __future__ import annotations

import io
import logging
import re

from evsearch.errors import IngestError
from evsearch.ingest.grammar import BULLETS, ends_terminal, is_chrome, is_type_only, study_parts

__all__ = ["pdf_text"]

#: A box whose median line is shorter than this is a list (a sidebar, a menu), not prose.
SHORT_LINE = 30

_CID_BULLET_RE = re.compile(r"^\(cid:\d+\)\s*")
_CID_RE = re.compile(r"\(cid:\d+\)")


def pdf_text(data: bytes) -> str:
    """The text of a PDF, one paragraph a block.

    Raises :class:`IngestError` for a damaged or encrypted PDF, or one without text.
    """
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psexceptions import PSException

    blocks: list[str] = []
    logging.getLogger("pdfminer").setLevel(logging.ERROR)  # it warns about every odd font
    try:
        for page in extract_pages(io.BytesIO(data), laparams=LAParams()):
            for element in page:
                if isinstance(element, LTTextContainer):
                    blocks.extend(_paragraphs(element.get_text()))
    except (PDFEncryptionError, PDFPasswordIncorrect) as exc:
        raise IngestError("is an encrypted PDF", "save an unprotected copy of the PDF") from exc
    except (PDFSyntaxError, PSException, KeyError, TypeError, ValueError) as exc:
        raise IngestError(
            f"cannot be read as a PDF ({type(exc).__name__})", "check the PDF opens in a viewer"
        ) from exc
    if not any(b.strip() for b in blocks):
        raise IngestError("is a PDF with no text in it (a scanned image?)", "use the HTML page or its text")
    return "\n\n".join(blocks)


def _paragraphs(box: str) -> list[str]:
    """A text box's lines joined into paragraphs: a new one at a bullet or a line of type
    codes, at a study line after a finished sentence, and at a line that is chrome on its own;
    a line of type codes takes the line after it. A box of short lines (a sidebar, a menu) is
    a line a paragraph."""
    lines = []
    for raw in box.splitlines():
        # a glyph without a Unicode mapping comes out as "(cid:127)": at the start of a line
        # it is a bullet, elsewhere a decoration
        line = _CID_RE.sub("", _CID_BULLET_RE.sub("\u2022 ", raw.strip())).strip()
        if line:
            lines.append(line)
    if len(lines) > 1 and sorted(len(line) for line in lines)[len(lines) // 2] < SHORT_LINE:
        return lines
    out: list[list[str]] = []
    for line in lines:
        prev = out[-1][-1] if out else ""
        if out and is_type_only(prev) and not (is_type_only(line) or line[0] in BULLETS):
            out[-1].append(line)
            continue
        starts = (
            not out
            or is_type_only(line)
            or line[0] in BULLETS
            or is_chrome(line)
            or is_chrome(prev)
            or (study_parts(line) is not None and ends_terminal(prev))
        )
        if starts:
            out.append([line])
        else:
            out[-1].append(line)
    return [_join(group) for group in out]


def _join(lines: list[str]) -> str:
    text = lines[0]
    for line in lines[1:]:
        text = text + line if text.endswith("-") else f"{text} {line}"
    return text
