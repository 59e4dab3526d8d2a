"""The search state of a page, read from its URL and written back into links.

Every piece of state lives in the query string (``?q=...&type=K&year_from=2005&sort=-year&page=2``),
so a search can be bookmarked, shared and reloaded. Values are checked by the library, which
raises the same :class:`~evsearch.QueryError` the CLI reports; this module only refuses what the
library never sees: unknown parameters and numbers that are not numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from ..config import DEFAULT_LIMIT
from ..errors import QueryError

_SINGLE = ("q", "kind", "cell", "matrix", "year_from", "year_to", "sort", "page", "limit")
_MULTI = ("type",)
#: The parameters a page or the API accepts; anything else is a 400 (a typo would otherwise be
#: silently ignored, and the page would not show what the URL asks for).
KNOWN = frozenset(_SINGLE + _MULTI)
API_EXTRA = frozenset({"facets"})


def _int(name: str, value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, not {value[:40]!r}",
                         hint=f"write {name}=N with digits only") from None


@dataclass(frozen=True)
class SearchParams:
    """One search as the URL states it."""

    q: str = ""
    kind: str | None = None
    types: tuple[str, ...] = ()
    cell: str | None = None
    matrix: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    sort: str = "relevance"
    page: int = 1
    limit: int = DEFAULT_LIMIT
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, items: Sequence[tuple[str, str]], *, allowed: frozenset[str] = KNOWN) -> SearchParams:
        """Read ``(name, value)`` pairs from a query string; empty values count as absent."""
        single: dict[str, str] = {}
        types: list[str] = []
        extra: dict[str, str] = {}
        for name, value in items:
            if name not in allowed:
                shown = name[:40]
                raise QueryError(f"unknown parameter {shown!r}",
                                 hint="parameters are " + ", ".join(sorted(allowed)))
            if name in _MULTI:
                types.extend(t for t in value.replace(",", " ").split() if t)
            elif name in _SINGLE:
                single[name] = value
            else:
                extra[name] = value
        page = _int("page", single.get("page", ""))
        limit = _int("limit", single.get("limit", ""))
        return cls(
            q=single.get("q", ""),
            kind=single.get("kind", "").strip() or None,
            types=tuple(dict.fromkeys(t.upper() for t in types)),
            cell=single.get("cell", "").strip() or None,
            matrix=single.get("matrix", "").strip() or None,
            year_from=_int("year_from", single.get("year_from", "")),
            year_to=_int("year_to", single.get("year_to", "")),
            sort=single.get("sort", "").strip() or "relevance",
            page=1 if page is None else page,
            limit=DEFAULT_LIMIT if limit is None else limit,
            extra=extra,
        )

    # -- what the library is asked --------------------------------------------------------------
    def search_kwargs(self) -> dict[str, Any]:
        return {
            "limit": self.limit, "page": self.page, "sort": self.sort, "kind": self.kind,
            "study_type": ",".join(self.types) or None, "cell": self.cell, "matrix": self.matrix,
            "year_from": self.year_from, "year_to": self.year_to,
        }

    @property
    def has_filters(self) -> bool:
        return bool(self.kind or self.types or self.cell or self.matrix
                    or self.year_from is not None or self.year_to is not None)

    @property
    def is_empty(self) -> bool:
        """Nothing asked: the home page."""
        return not self.q.strip() and not self.has_filters

    # -- links ------------------------------------------------------------------------------------
    def pairs(self) -> list[tuple[str, str]]:
        """The state as query-string pairs, defaults left out (short, canonical URLs)."""
        out: list[tuple[str, str]] = []
        if self.q:
            out.append(("q", self.q))
        if self.kind:
            out.append(("kind", self.kind))
        out.extend(("type", t) for t in self.types)
        for name in ("cell", "matrix", "year_from", "year_to"):
            value = getattr(self, name)
            if value is not None:
                out.append((name, str(value)))
        if self.sort != "relevance":
            out.append(("sort", self.sort))
        if self.page != 1:
            out.append(("page", str(self.page)))
        if self.limit != DEFAULT_LIMIT:
            out.append(("limit", str(self.limit)))
        return out

    def query_string(self, **changes: Any) -> str:
        """``q=...&type=K`` for this state with ``changes``; any change but ``page`` goes back to
        page 1 (new filters, new pages)."""
        if changes and "page" not in changes:
            changes["page"] = 1
        state = replace(self, **changes) if changes else self
        return urlencode(state.pairs())

    def url(self, path: str = "/", **changes: Any) -> str:
        qs = self.query_string(**changes)
        return f"{path}?{qs}" if qs else path

    def toggle_type(self, code: str) -> str:
        types = tuple(t for t in self.types if t != code) if code in self.types else (*self.types, code)
        return self.url(types=types)

    def hidden_fields(self) -> list[tuple[str, str]]:
        """The state other than the query and the page, for the search form's hidden inputs:
        a new query keeps the filters, sort and page size, and starts at page 1."""
        return [(k, v) for k, v in self.pairs() if k not in ("q", "page")]

