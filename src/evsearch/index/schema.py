"""The Whoosh schema of an evsearch index, and the fields of one document."""

from __future__ import annotations

from typing import Any

from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.util.numeric import byte_to_length, length_to_byte

from ..analysis import text_analyzer, word_analyzer
from ..config import STUDY_TYPE_NAMES
from ..model import Document, Study

#: Bumped whenever the schema or the analysis changes in a way old indexes cannot serve.
SCHEMA_VERSION = 3


def make_schema() -> Schema:
    """The Whoosh schema of every evsearch index."""
    analyzer = text_analyzer()
    return Schema(
        id=ID(stored=True, unique=True),
        kind=ID(stored=True, sortable=True),
        cell=KEYWORD(lowercase=True),
        cell_key=ID(stored=True, sortable=True),  # "alcohol/B5": sortable for facet counts
        matrix=ID(sortable=True),
        type=KEYWORD(lowercase=True),
        study_type=STORED(),
        year=NUMERIC(int, bits=32, stored=True, sortable=True, signed=True),
        order=NUMERIC(int, bits=32, stored=True, sortable=True),
        seq=ID(sortable=True),  # "alcohol/B5|0|000001": cell, studies first, then order
        title=TEXT(analyzer=analyzer, stored=True),  # a study's own title
        doc_title=TEXT(analyzer=analyzer, stored=True),  # the title of a passage's document
        section=TEXT(analyzer=analyzer, stored=True),
        text=TEXT(analyzer=analyzer, stored=True),
        organisation=TEXT(analyzer=analyzer, stored=True),
        meta=TEXT(analyzer=analyzer),
        words=TEXT(analyzer=word_analyzer(), phrase=False),
        role=ID(stored=True),
        source=ID(stored=True),
        links=STORED(),
    )


def stored_length(length: int) -> int:
    """A field's length as BM25F's length normalisation sees it: Whoosh stores each
    document's field lengths in one byte, a logarithmic approximation exact up to 40 terms
    and within 3.3% above; the Xapian engine normalises by the same lengths, so both engines
    rank alike."""
    return int(byte_to_length(length_to_byte(length))) if length > 0 else 0


def meta_text(study_type: str, year: int | None) -> str:
    """A study's ``meta`` field: the names of its types (``"S G"``) and its year."""
    names = " ".join(STUDY_TYPE_NAMES.get(t, t) for t in study_type.split())
    return f"{names} {'' if year is None else year}".strip()


def document_fields(doc: Document, source: str) -> dict[str, Any]:
    """The Whoosh fields of one document."""
    matrix, _, code = doc.cell.partition("/")
    fields: dict[str, Any] = {
        "id": doc.id,
        "cell": f"{doc.cell} {code}" if code else doc.cell,
        "cell_key": doc.cell,
        "matrix": matrix.lower(),
        "order": doc.order,
        "seq": f"{doc.cell}|{0 if isinstance(doc, Study) else 1}|{doc.order:06d}",
        "source": source,
    }
    if isinstance(doc, Study):
        fields.update(
            kind="study",
            type=" ".join(doc.types),
            study_type=doc.study_type,
            title=doc.title,
            text=doc.summary,
            organisation=doc.organisation or "",
            meta=meta_text(doc.study_type, doc.year),
            words=" ".join((doc.title, doc.summary, doc.organisation or "")),
            links=list(doc.sections),
        )
        if doc.year is not None:
            fields["year"] = doc.year
    else:
        fields.update(
            kind=doc.kind,
            doc_title=doc.title,
            section=doc.section,
            text=doc.text,
            role=doc.role,
            words=" ".join((doc.title, doc.section, doc.text)),
        )
    return fields

