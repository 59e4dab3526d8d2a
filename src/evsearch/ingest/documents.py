"""Documents and their ids: a cell's drafts -> :class:`~evsearch.model.ParsedCell`.

Ids are derived from what a document is, so that editing a cell leaves the ids of the other
documents as they were:

- a study: ``<cell>/<type codes><year>-<first three title words>``, for example
  ``alcohol/B5/k2008-relationship-therapist-seems`` (``sg2003-...`` for two codes,
  ``k-...`` without a year; stopwords are skipped);
- a passage: ``<cell>/<first four words of its section>/<n>``, n counting the passages of that
  section from 1: ``alcohol/B5/where-should-i-start/1``; the description is
  ``<cell>/description``;
- a repository record's or e-mail's passages: ``<cell>/record/<section>/<n>`` and
  ``<cell>/email/<section>/<n>``; a page that is not a cell: ``page/<slug>/<section>/<n>``.

Two studies (or sections) with the same id get ``-2``, ``-3`` in reading order.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from evsearch.ingest.commentary import Draft
from evsearch.ingest.grammar import STOPWORDS, StudyDraft
from evsearch.ingest.identity import MATRIX_TITLES
from evsearch.model import Cell, CellForm, ParsedCell, Passage, PassageRole, Study

#: Words of a title in a study's id, and of a heading in a passage's id.
STUDY_ID_WORDS = 3
SECTION_ID_WORDS = 4

_FORM_TITLES = {"record": "repository record", "email": "Matrix Bite e-mail"}


def slug(text: str, words: int, *, skip_stopwords: bool = False) -> str:
    """``"Where should I start?"`` -> ``where-should-i-start``: ASCII, lower case, short.

    >>> slug("‘Not my job’ perception and lack", 3, skip_stopwords=True)
    'job-perception-lack'
    >>> slug("Where should I start?", 4)
    'where-should-i-start'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    found = re.findall(r"[a-z0-9]+", ascii_text.lower().replace("'", ""))
    if skip_stopwords:
        found = [w for w in found if w not in STOPWORDS] or found
    return "-".join(found[:words])[:48].strip("-")


def page_slug(text: str) -> str:
    """A page's key from its path below the corpus: ``pages/Hot topic`` -> ``pages-hot-topic``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _unique(name: str, seen: dict[str, int]) -> str:
    seen[name] = seen.get(name, 0) + 1
    return name if seen[name] == 1 else f"{name}-{seen[name]}"


def study_name(draft: StudyDraft) -> str:
    """The cell-local part of a study's id: ``k2008-relationship-therapist-seems``."""
    codes = "".join(draft.types).lower() or "x"
    year = "" if draft.year is None else str(draft.year)
    words = slug(draft.title, STUDY_ID_WORDS, skip_stopwords=True) or "untitled"
    return f"{codes}{year}-{words}"


def assemble(
    matrix: str,
    code: str,
    label: str,
    description: str,
    drafts: Sequence[StudyDraft],
    sections: Sequence[tuple[str, ...]],
    passages: Sequence[Draft],
    *,
    form: CellForm = "cell",
    notes: Sequence[str] = (),
    title: str | None = None,
) -> ParsedCell:
    """The documents of one file (shared by every reader), with their ids; ``title`` names a
    page that is not a cell."""
    key = f"{matrix}/{code}"
    if title is None:
        title = f"{MATRIX_TITLES[matrix]} Treatment Matrix cell {code}"
    cell = Cell(matrix=matrix, code=code, label=label, description=description, title=title)
    prefix = key if form in ("cell", "page") else f"{key}/{form}"
    seen: dict[str, int] = {}
    studies = tuple(
        Study(
            id=f"{prefix}/{_unique(study_name(d), seen)}",
            cell=key,
            order=i,
            types=d.types,
            title=d.title,
            organisation=d.organisation,
            year=d.year,
            summary=d.summary,
            sections=sections[i - 1],
        )
        for i, d in enumerate(drafts, start=1)
    )
    doc_title = {"cell": "", "page": title}.get(form, f"{title} ({_FORM_TITLES.get(form, form)})")
    kind = "record" if form in _FORM_TITLES else "passage"
    rows: list[tuple[str, str, PassageRole, str]] = []
    if description:
        rows.append((f"{prefix}/description", label, "description", description))
    rows.extend(passage_rows(prefix, passages))
    out = tuple(
        Passage(id=i, cell=key, order=n, section=s, role=r, text=t, title=doc_title, kind=kind)
        for n, (i, s, r, t) in enumerate(rows, start=1)
    )
    return ParsedCell(cell=cell, studies=studies, passages=out, form=form, notes=tuple(notes))


def passage_rows(
    prefix: str, passages: Sequence[Draft]
) -> list[tuple[str, str, PassageRole, str]]:
    """``(id, section, role, text)`` of each passage: section slug + position in the section."""
    section_names: dict[str, str] = {}
    taken: dict[str, int] = {}
    counts: dict[str, int] = {}
    rows = []
    for p in passages:
        if p.section not in section_names:
            section_names[p.section] = _unique(slug(p.section, SECTION_ID_WORDS) or "section", taken)
        name = section_names[p.section]
        counts[name] = counts.get(name, 0) + 1
        rows.append((f"{prefix}/{name}/{counts[name]}", p.section, p.role, p.text))
    return rows
