"""Downloads of the current results: RIS, CSV and JSON as the CLI writes them, and BibTeX.

RIS and BibTeX hold studies only (a passage is not a reference); CSV and JSON hold every hit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ..cli.render import json_text, render_csv, render_ris
from ..config import STUDY_TYPE_LABELS
from ..results import Hit, SearchResult
from .render import clean

#: format -> (media type, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "ris": ("application/x-research-info-systems", "ris"),
    "bibtex": ("application/x-bibtex", "bib"),
    "csv": ("text/csv", "csv"),
    "json": ("application/json", "json"),
}

_BIBTEX_SPECIAL = re.compile(r"([\\{}$&%#_^~])")
_BIBTEX_REPLACE = {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}"}


def _bib(text: str) -> str:
    """A BibTeX field value: TeX's special characters escaped, whitespace on one line."""
    text = " ".join(clean(text).split())
    return _BIBTEX_SPECIAL.sub(lambda m: _BIBTEX_REPLACE.get(m.group(1), "\\" + m.group(1)), text)


def bibtex_record(hit: Hit, key: str) -> str:
    """One study as a BibTeX ``@misc`` entry."""
    fields = [("title", "{" + _bib(hit.title) + "}")]
    if hit.year:
        fields.append(("year", str(hit.year)))
    if hit.organisation:
        fields.append(("publisher", _bib(hit.organisation)))
    fields.append(("abstract", _bib(hit.text)))
    kinds = [STUDY_TYPE_LABELS.get(t, t) for t in (hit.study_type or "").split()]
    fields.append(("keywords", _bib(", ".join([hit.cell, *kinds]))))
    fields.append(("note", _bib(f"Treatment Matrix cell {hit.cell}, type {hit.study_type}")))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n"


def render_bibtex(hits: Sequence[Hit]) -> str:
    """The studies among ``hits`` as BibTeX entries, keyed by their ids (``alcohol_B5_s1``)."""
    out, used = [], set()
    for hit in hits:
        if hit.kind != "study":
            continue
        key = re.sub(r"[^A-Za-z0-9]+", "_", hit.id).strip("_") or "study"
        base, n = key, 1
        while key in used:
            n += 1
            key = f"{base}_{n}"
        used.add(key)
        out.append(bibtex_record(hit, key))
    return "\n".join(out)


def render_json(result: SearchResult) -> str:
    """The CLI's ``--json`` output, always valid UTF-8."""
    return json_text(result.to_dict()) + "\n"


RENDERERS: dict[str, Callable[[SearchResult], str]] = {
    "ris": lambda r: render_ris(r.hits),
    "bibtex": lambda r: render_bibtex(r.hits),
    "csv": lambda r: render_csv(r.hits),
    "json": render_json,
}


def filename(query: str, ext: str) -> str:
    """``evsearch-motivational-interviewing.ris``: ASCII only, safe in a header."""
    slug = re.sub(r"[^a-z0-9]+", "-", query.lower()).strip("-")[:60].strip("-")
    return f"evsearch-{slug or 'results'}.{ext}"
