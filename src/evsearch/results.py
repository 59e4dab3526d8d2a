"""What the library returns: plain frozen dataclasses, never Whoosh objects.

These types and their ``to_dict()`` forms are the JSON contract of ``evsearch ... --json``:
keys may be added, never renamed or removed without a CHANGELOG entry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Hit:
    """One ranked search result."""

    rank: int  # 1-based
    score: float
    id: str  # "alcohol/B5/k2008-relationship-therapist-seems"
    kind: str  # "study" or "passage"
    cell: str  # "alcohol/B5"
    title: str  # a study's title; a passage's section heading
    section: str | None  # passages only
    study_type: str | None  # studies only: "K", or "S G" for two types
    year: int | None
    snippet: str  # HTML-escaped text around the matches, matches in <mark>...</mark>
    text: str  # the full plain text (a study's summary, a passage's paragraph)
    organisation: str | None = None  # studies only, where the page gives one
    role: str | None = None  # passages only: description, paragraph, quote or panel
    links: tuple[str, ...] = ()  # studies only: commentary sections the study points to

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["links"] = list(self.links)
        return d


@dataclass(frozen=True)
class SearchResult:
    """The answer to one query: the total count and one page of hits."""

    query: str
    total: int  # matching documents, over all pages
    hits: tuple[Hit, ...]
    suggestion: str | None = None  # a corrected query, when some words look misspelt
    corrected: bool = False  # True when the hits are for ``suggestion`` (the query found nothing)
    page: int = 1  # 1-based page number
    limit: int = 10  # hits per page
    sort: str = "relevance"  # "relevance", "year" or "-year"
    facets: Facets | None = None  # counts over all matches, when asked for
    missing_shards: tuple[str, ...] = ()  # shards left out of a partial (sharded) search

    @property
    def pages(self) -> int:
        """How many pages of ``limit`` hits the matches fill.

        >>> SearchResult("supervision", total=16, hits=(), limit=5).pages
        4
        >>> SearchResult("xylophone", total=0, hits=()).pages
        0
        """
        return -(-self.total // self.limit) if self.limit else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "suggestion": self.suggestion,
            "corrected": self.corrected,
            "page": self.page,
            "pages": self.pages,
            "limit": self.limit,
            "sort": self.sort,
            "facets": self.facets.to_dict() if self.facets is not None else None,
            # only in a partial result of a sharded index: which shards did not answer
            **({"missing_shards": list(self.missing_shards)} if self.missing_shards else {}),
            "hits": [h.to_dict() for h in self.hits],
        }


@dataclass(frozen=True)
class DocumentView:
    """One stored document, as ``evsearch show ID`` prints it."""

    id: str
    kind: str
    cell: str
    title: str
    section: str | None
    study_type: str | None
    year: int | None
    text: str
    organisation: str | None = None
    role: str | None = None
    order: int = 0
    links: tuple[str, ...] = ()
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["links"] = list(self.links)
        return d


@dataclass(frozen=True)
class IndexStats:
    """Counts and whereabouts of an index."""

    index_dir: str
    corpus_dir: str
    cells: int
    studies: int
    passages: int
    files: int
    schema_version: int
    evsearch_version: str
    built_at: str
    engine: str = "whoosh"  # "whoosh" or "xapian"
    shards: tuple[str, ...] = ()  # a Xapian index: its shard databases (paths or host:port)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shards"] = list(self.shards)
        return d


@dataclass(frozen=True)
class FileProblem:
    """A corpus file that could not be ingested, and why (or, with ``skipped=False``, a file
    that was indexed with a note: its text and its path name different cells)."""

    path: str
    reason: str
    skipped: bool = True


@dataclass(frozen=True)
class IndexReport:
    """What one ``evsearch index`` run did."""

    index_dir: str
    corpus_dir: str
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    documents: int = 0
    rebuilt: bool = False
    seconds: float = 0.0
    problems: tuple[FileProblem, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        return (
            f"added {self.added}, updated {self.updated}, removed {self.removed}, "
            f"unchanged {self.unchanged} {'file' if self.unchanged == 1 else 'files'}"
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["problems"] = [asdict(p) for p in self.problems]
        return d


@dataclass(frozen=True)
class FacetCount:
    """How many matching documents have one value of a facet."""

    value: str
    count: int


@dataclass(frozen=True)
class Facets:
    """Counts of all matching documents (every page) by kind, study type, year, decade, matrix, cell.

    A study of two types (``S G``) counts under each; documents without a value (passages have
    no type or year) are not counted under that facet.
    """

    kind: tuple[FacetCount, ...] = ()
    type: tuple[FacetCount, ...] = ()
    year: tuple[FacetCount, ...] = ()
    decade: tuple[FacetCount, ...] = ()
    matrix: tuple[FacetCount, ...] = ()
    cell: tuple[FacetCount, ...] = ()

    def to_dict(self) -> dict[str, dict[str, int]]:
        """``{"kind": {"study": 9, ...}, "type": {"K": 4, ...}, ...}``, values in display order."""
        return {
            name: {c.value: c.count for c in getattr(self, name)}
            for name in ("kind", "type", "year", "decade", "matrix", "cell")
        }


@dataclass(frozen=True)
class SimilarResult:
    """Documents like one document, found from its key terms (``evsearch similar ID``)."""

    id: str | None  # the document, or None for a pasted text
    terms: tuple[str, ...]  # the key terms searched for, as words
    total: int
    hits: tuple[Hit, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "terms": list(self.terms),
            "total": self.total,
            "hits": [h.to_dict() for h in self.hits],
        }


@dataclass(frozen=True)
class Related:
    """The documents linked to one document through the commentary's sections.

    For a study: the passages of the sections that discuss it, and the other studies those
    sections discuss. For a passage: the studies its section discusses.
    """

    id: str
    sections: tuple[str, ...]  # the section headings that link them
    passages: tuple[DocumentView, ...] = ()
    studies: tuple[DocumentView, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        def brief(v: DocumentView) -> dict[str, Any]:
            return {
                "id": v.id, "kind": v.kind, "title": v.title, "section": v.section,
                "study_type": v.study_type, "year": v.year,
            }

        return {
            "id": self.id,
            "sections": list(self.sections),
            "passages": [brief(v) for v in self.passages],
            "studies": [brief(v) for v in self.studies],
        }


@dataclass(frozen=True)
class TermScore:
    """What one query term in one field adds to a document's score.

    BM25F adds a term's weighted, length-normalised frequencies over its fields before
    saturating them: ``contribution`` is this field's share of the term's score (in
    proportion to what the field adds to the term's frequency), and the contributions of
    all rows add up to the document's score."""

    field: str
    term: str  # the index term (analysed: lowercased, stemmed), or a phrase's terms
    frequency: int  # occurrences in the document's field
    field_length: int  # the field's length in the document, in terms
    weight: float  # the field's weight times the query's weight of the term
    score: float  # contribution / weight
    contribution: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Explanation:
    """Why a document scored as it did for a query (``evsearch explain QUERY ID``)."""

    query: str
    id: str
    matched: bool  # False when the document does not match (or is filtered out)
    score: float  # the score search gives it (0 when not matched)
    terms: tuple[TermScore, ...]  # the query terms found in the document, largest first
    missing: tuple[str, ...] = ()  # query terms found in none of its fields
    reason: str | None = None  # why it does not match, when it does not

    @property
    def term_total(self) -> float:
        """The sum of the term contributions: the score (up to rounding)."""
        return round(sum(t.contribution for t in self.terms), 4)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "id": self.id,
            "matched": self.matched,
            "score": self.score,
            "term_total": self.term_total,
            "reason": self.reason,
            "terms": [t.to_dict() for t in self.terms],
            "missing": list(self.missing),
        }
