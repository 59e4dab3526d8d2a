"""The documents evsearch ingests and indexes: plain frozen dataclasses.

Data flows one way: files -> :mod:`evsearch.ingest` -> these documents ->
:mod:`evsearch.index` -> :mod:`evsearch.search` -> result types in
:mod:`evsearch.results`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

#: The kinds of passage a cell's commentary yields.
PassageRole = Literal["description", "paragraph", "quote", "panel"]

#: What a file is: a cell page, a repository record or a Matrix Bite e-mail about a cell, or
#: a page that is not a cell.
CellForm = Literal["cell", "record", "email", "page"]

#: Study type codes: Seminal, Key, Review, Guidance.
STUDY_TYPES: tuple[str, ...] = ("S", "K", "R", "G")


@dataclass(frozen=True)
class Cell:
    """One Treatment Matrix cell: ``alcohol/B5`` is ``Cell("alcohol", "B5", ...)``."""

    matrix: str  # "alcohol" or "drug"
    code: str  # "B5"
    label: str  # "Practitioners; Safeguarding the community"
    description: str  # the one-paragraph description under the label
    title: str = ""  # "Alcohol Treatment Matrix cell B5"

    @property
    def key(self) -> str:
        """The cell's identity, ``matrix/code``: ``alcohol/B5``."""
        return f"{self.matrix}/{self.code}"


@dataclass(frozen=True)
class Study:
    """A selected document of a cell (S/K/R/G), one line of the study list."""

    id: str  # "alcohol/B5/k2008-relationship-therapist-seems"
    cell: str  # "alcohol/B5"
    order: int  # 1-based position in the study list
    types: tuple[str, ...]  # ("K",) or, for "S G Watershed ...", ("S", "G")
    title: str
    organisation: str | None
    year: int | None
    summary: str
    sections: tuple[str, ...] = ()  # commentary section headings it points to

    @property
    def study_type(self) -> str:
        """The type codes as one string: ``"K"``, or ``"S G"`` for a study of two types."""
        return " ".join(self.types)


@dataclass(frozen=True)
class Passage:
    """A paragraph of a cell's commentary (or its description, a pull quote, a side panel)."""

    id: str  # "alcohol/B5/where-should-i-start/2"
    cell: str  # "alcohol/B5"
    order: int  # 1-based position among the cell's passages
    section: str  # the heading it sits under
    role: PassageRole
    text: str
    title: str = ""  # the document title, for collections whose passages carry one
    kind: str = "passage"  # "passage", or "record" for a repository record's or e-mail's text


Document = Union[Study, Passage]  # noqa: UP007 (a runtime alias on Python 3.10)


@dataclass(frozen=True)
class ParsedCell:
    """Everything ingested from one cell file."""

    cell: Cell
    studies: tuple[Study, ...]
    passages: tuple[Passage, ...]
    form: CellForm = "cell"
    notes: tuple[str, ...] = ()  # what the index report should say about the file

    @property
    def claim(self) -> str:
        """What two files may not both hold (the duplicate rule's key): the cell page of
        ``alcohol/B5`` claims ``alcohol/B5``; its record claims ``alcohol/B5#record``."""
        return self.cell.key if self.form in ("cell", "page") else f"{self.cell.key}#{self.form}"

    @property
    def documents(self) -> tuple[Document, ...]:
        return (*self.studies, *self.passages)
