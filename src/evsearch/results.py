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
    id: str  # "alcohol/B5/s1"
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "suggestion": self.suggestion,
            "corrected": self.corrected,
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FileProblem:
    """A corpus file that could not be ingested, and why."""

    path: str
    reason: str


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
            f"unchanged {self.unchanged} files"
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["problems"] = [asdict(p) for p in self.problems]
        return d
