"""The query language: parse what a user typed into a tree of clauses.

Parsing never fails on punctuation: ``?``, ``:``, ``&``, ``'``, brackets and unbalanced
quotes are read as punctuation or plain words. Only a filter with an impossible value
(``type:X``, ``year:abc``) is refused, with a :class:`~evsearch.errors.QueryError`.

Syntax::

    motivational interviewing      words: documents matching more of them rank higher
    "quality of the relationship"  a phrase
    title:supervision              a word (or "phrase", or prefix*) in one field:
                                   title, section, text, organisation (org)
    supervis*                      a prefix (at least 2 letters before the *)
    +word   -word                  a word that must / must not appear (also AND, NOT)
    type:K  type:S,G               filters: every hit satisfies them
    kind:study  cell:B5  matrix:alcohol
    year:2008  year:[2005 TO 2010]  year:>=2010  year:<2005
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..config import MAX_CLAUSES, MAX_QUERY_CHARS, MIN_PREFIX_CHARS
from ..errors import QueryError
from ..model import STUDY_TYPES

#: Fields a word may be restricted to, with their aliases.
TEXT_FIELD_NAMES = {
    "title": "title",
    "section": "section",
    "heading": "section",
    "text": "text",
    "summary": "text",
    "organisation": "organisation",
    "organization": "organisation",
    "org": "organisation",
}
FILTER_FIELD_NAMES = {"type", "kind", "cell", "matrix", "year"}

YEAR_MIN, YEAR_MAX = 1000, 2999


@dataclass(frozen=True)
class Clause:
    """One searchable part of a query: a word, a phrase or a prefix, maybe in one field."""

    text: str  # the raw text as typed (for phrases: the words inside the quotes)
    kind: str  # "word", "phrase" or "prefix"
    field: str | None = None  # None: all text fields
    occur: str = "should"  # "should", "must" or "must_not"


@dataclass
class Filters:
    """Restrictions every hit must satisfy."""

    types: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    cells: set[str] = field(default_factory=set)
    matrices: set[str] = field(default_factory=set)
    year_from: int | None = None
    year_to: int | None = None

    def merge_year(self, lo: int | None, hi: int | None) -> None:
        if lo is not None:
            self.year_from = lo if self.year_from is None else max(self.year_from, lo)
        if hi is not None:
            self.year_to = hi if self.year_to is None else min(self.year_to, hi)


@dataclass
class ParsedQuery:
    clauses: list[Clause]
    filters: Filters


_KINDS = {
    "study": "study", "studies": "study", "passage": "passage", "passages": "passage",
    "record": "record", "records": "record",
}
_MATRICES = {"alcohol": "alcohol", "drug": "drug", "drugs": "drug", "page": "page", "pages": "page"}
_FIELD_RE = re.compile(r"([A-Za-z_]+):")
_YEAR_RANGE_RE = re.compile(r"^\s*(\d{1,5}|\*)?\s*(?:TO|to|-|\.\.)\s*(\d{1,5}|\*)?\s*$")
_CELL_RE = re.compile(r"^(?:(alcohol|drugs?)/)?([A-Ea-e][1-5])$", re.IGNORECASE)


def normalise_type(value: str) -> str:
    """A study type code, upper-cased; anything but S, K, R or G is a :class:`QueryError`.

    >>> normalise_type(" k ")
    'K'
    """
    code = value.strip().upper()
    if code not in STUDY_TYPES:
        raise QueryError(
            f"unknown study type {value!r}",
            hint="study types are S (seminal), K (key), R (review), G (guidance)",
        )
    return code


def normalise_kind(value: str) -> str:
    """``study``, ``passage`` or ``record`` (plurals and any case accepted).

    >>> normalise_kind("Studies"), normalise_kind("passage")
    ('study', 'passage')
    """
    try:
        return _KINDS[value.strip().lower()]
    except KeyError:
        raise QueryError(
            f"unknown kind {value!r}", hint="kind is study, passage or record"
        ) from None


def normalise_matrix(value: str) -> str:
    try:
        return _MATRICES[value.strip().lower()]
    except KeyError:
        raise QueryError(
            f"unknown matrix {value!r}",
            hint="matrix is alcohol or drug (or page, for pages that are not cells)",
        ) from None


def normalise_cell(value: str) -> str:
    """``B5`` -> ``b5``; ``alcohol/B5`` -> ``alcohol/b5`` (the cell field's terms).

    >>> normalise_cell("B5"), normalise_cell("drugs/a1")
    ('b5', 'drug/a1')
    >>> normalise_cell("F9")
    Traceback (most recent call last):
    ...
    evsearch.errors.QueryError: unknown cell 'F9'
    """
    m = _CELL_RE.match(value.strip())
    if not m:
        raise QueryError(
            f"unknown cell {value!r}", hint="cells are A1 to E5, optionally as alcohol/B5"
        )
    matrix, code = m.groups()
    code = code.lower()
    return f"{normalise_matrix(matrix)}/{code}" if matrix else code


def parse_year(value: str, written: str | None = None) -> int:
    """A year between 1000 and 2999; errors quote the filter as ``written`` in the query.

    >>> parse_year("2008")
    2008
    >>> parse_year("soon")
    Traceback (most recent call last):
    ...
    evsearch.errors.QueryError: bad year 'soon'
    """
    try:
        year = int(value)
    except ValueError:
        raise QueryError(
            f"bad year {value!r}", hint="write a year like 2008, or a range [2005 TO 2010]"
        ) from None
    if not YEAR_MIN <= year <= YEAR_MAX:
        shown = f"year:{written}" if written is not None else f"year {year}"
        raise QueryError(f"{shown} is out of range", hint="years run from 1000 to 2999")
    return year


def _year_filter(value: str, filters: Filters) -> None:
    value = value.strip()
    if not value:
        return
    for op in (">=", "<=", ">", "<"):
        if value.startswith(op):
            year = parse_year(value[len(op):].strip(), value)
            if op == ">=":
                filters.merge_year(year, None)
            elif op == ">":
                filters.merge_year(year + 1, None)
            elif op == "<=":
                filters.merge_year(None, year)
            else:
                filters.merge_year(None, year - 1)
            return
    m = _YEAR_RANGE_RE.match(value.strip("[]{}"))
    if m and (value.startswith(("[", "{")) or re.search(r"TO|to|\.\.|-", value)):
        lo = None if m.group(1) in (None, "*") else parse_year(m.group(1), value)
        hi = None if m.group(2) in (None, "*") else parse_year(m.group(2), value)
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        filters.merge_year(lo, hi)
        return
    year = parse_year(value, value)
    filters.merge_year(year, year)


def _apply_filter(name: str, value: str, filters: Filters) -> None:
    parts = [v for v in re.split(r"[,|]", value) if v.strip()]
    if name == "year":
        _year_filter(value, filters)
    elif name == "type":
        filters.types.update(normalise_type(v) for p in parts for v in p.split())
    elif name == "kind":
        filters.kinds.update(normalise_kind(v) for v in parts)
    elif name == "cell":
        filters.cells.update(normalise_cell(v) for v in parts)
    elif name == "matrix":
        filters.matrices.update(normalise_matrix(v) for v in parts)


def parse_query(text: str) -> ParsedQuery:
    """Parse a query string; punctuation never makes it fail.

    >>> [c.text for c in parse_query('Can MI work in prisons?').clauses]
    ['Can', 'MI', 'work', 'in', 'prisons?']
    >>> parsed = parse_query('+title:supervis* "formal power" -probation type:K,R year:>=2005')
    >>> for c in parsed.clauses:
    ...     print(c.occur, c.kind, c.field, repr(c.text))
    must prefix title 'supervis'
    should phrase None 'formal power'
    must_not word None 'probation'
    >>> sorted(parsed.filters.types), parsed.filters.year_from, parsed.filters.year_to
    (['K', 'R'], 2005, None)
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is {len(text):,} characters long; the limit is {MAX_QUERY_CHARS:,}",
            hint="search for fewer, more specific words",
        )
    clauses: list[Clause] = []
    filters = Filters()
    i, n = 0, len(text)
    pending_occur: str | None = None
    # AND, OR and NOT are operators only in a query that has lower-case letters too: in a
    # query typed (or pasted) in capitals they are words like the others
    operators = any(c.islower() for c in text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        occur = "should"
        if ch in "+-" and i + 1 < n and not text[i + 1].isspace():
            occur = "must" if ch == "+" else "must_not"
            i += 1
        fieldname: str | None = None
        m = _FIELD_RE.match(text, i)
        if m and i + len(m.group(0)) <= n:
            name = m.group(1).lower()
            if name in TEXT_FIELD_NAMES or name in FILTER_FIELD_NAMES:
                fieldname = name
                i = m.end()
        # the value: a quoted phrase, a bracketed range, or a run of non-space characters
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            value = text[i + 1 : end] if end >= 0 else text[i + 1 :]
            i = end + 1 if end >= 0 else n
            quoted = True
        elif i < n and text[i] in "[{" and fieldname == "year":
            end = min([e for e in (text.find("]", i), text.find("}", i)) if e >= 0], default=-1)
            value = text[i : end + 1] if end >= 0 else text[i:]
            i = end + 1 if end >= 0 else n
            quoted = False
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] != '"':
                j += 1
            value = text[i:j]
            i = j
            quoted = False
        if fieldname in FILTER_FIELD_NAMES:
            if value.strip():
                _apply_filter(fieldname, value, filters)
            continue
        if operators and fieldname is None and not quoted and value in ("AND", "OR", "NOT"):
            if value == "NOT":
                pending_occur = "must_not"
            elif value == "AND":
                if clauses and clauses[-1].occur == "should":
                    clauses[-1] = Clause(clauses[-1].text, clauses[-1].kind, clauses[-1].field, "must")
                pending_occur = "must"
            continue
        if pending_occur and occur == "should":
            occur = pending_occur
        pending_occur = None
        if not value.strip():
            continue
        field_ = TEXT_FIELD_NAMES.get(fieldname) if fieldname else None
        if quoted:
            clauses.append(Clause(value, "phrase", field_, occur))
        elif _is_prefix(value):
            clauses.append(Clause(value.rstrip("*"), "prefix", field_, occur))
        else:
            clauses.append(Clause(value, "word", field_, occur))
    # plain words are never refused (a pasted paragraph is searched by its most informative
    # words); phrases, prefixes, fields, + and - each cost a search of their own
    special = sum(1 for c in clauses if not (c.kind == "word" and c.occur == "should" and c.field is None))
    if special > MAX_CLAUSES:
        raise QueryError(
            f"the query has {special} phrases, prefixes, fielded or required words; "
            f"the limit is {MAX_CLAUSES}",
            hint="search for fewer, more specific words",
        )
    return ParsedQuery(clauses, filters)


def _is_prefix(value: str) -> bool:
    stem = value.rstrip("*")
    return (
        value.endswith("*")
        and len(stem) >= MIN_PREFIX_CHARS
        and value.count("*") == len(value) - len(stem)
        and re.fullmatch(r"\w+", stem) is not None
    )
