"""The web application: routes over the public library API, rendered with Jinja2.

Read-only: it opens the index with :func:`evsearch.open_index` and never writes it; when the
corpus has changed since the last commit, every page says so and how to update. Every request
is answered with a page (or JSON under ``/api/``): a bad parameter is a 400 with the CLI's
one-line message, an unknown document or path a 404.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import (
    DocumentNotFoundError,
    DocumentView,
    EvsearchError,
    QueryError,
    SearchIndex,
    __version__,
    open_index,
)
from .._sanitize import scrub_surrogates
from ..cli.render import document_json, json_text
from ..config import MAX_LIMIT, STUDY_TYPE_LABELS, remote_index
from . import export, render
from .params import API_EXTRA, KNOWN, SearchParams

HERE = Path(__file__).resolve().parent
#: Nothing from outside the server: scripts, styles, images, fetches and form targets are its own.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
#: How often (seconds) pages re-check whether the corpus changed since the index was built.
STALE_CHECK_SECONDS = 5.0
#: How many hits an export holds at most (the library's largest page).
EXPORT_LIMIT = MAX_LIMIT
SIMILAR_SHOWN = 5
SECTION_SHOWN = 7

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class SecurityHeaders:
    """Adds the Content-Security-Policy and friends to every response (pure ASGI: no overhead
    of a request object per call)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                if static:
                    headers.append((b"cache-control", b"public, max-age=3600"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class WebState:
    """What the routes share: the open index, where the corpus is, the templates."""

    def __init__(self, index: SearchIndex, index_dir: Path | str, corpus_dir: Path | None) -> None:
        self.index = index
        self.index_dir = index_dir
        self.corpus_dir = corpus_dir
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,  # templates are package data: read once
        )
        self.env.filters["clean"] = render.clean
        self.env.filters["snippet"] = render.snippet_html
        self.env.filters["type_names"] = render.type_names
        self.env.globals.update(
            doc_path=render.doc_path, version=__version__, role_names=render.ROLE_NAMES,
            kind_plurals=render.KIND_PLURALS, kind_label=render.kind_label,
            type_label=STUDY_TYPE_LABELS, cell_linkable=render.cell_linkable,
        )
        self._stale_lock = threading.Lock()
        self._stale_at = -1e9
        self._stale = False

    def stale(self) -> bool:
        """Whether the corpus changed since the last commit (a stat-only check, cached)."""
        if self.corpus_dir is None:
            return False
        with self._stale_lock:
            now = time.monotonic()
            if now - self._stale_at >= STALE_CHECK_SECONDS:
                from ..index import index_is_stale

                self._stale = index_is_stale(corpus=self.corpus_dir, index=self.index_dir)
                self._stale_at = now
            return self._stale

    def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("params", SearchParams())
        context.setdefault("autofocus", False)
        context.setdefault("stale", self.stale())
        context.setdefault("update_command", self.update_command())
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(scrub_surrogates(html), status_code=status)

    def update_command(self) -> str:
        corpus = f" --corpus {self.corpus_dir}" if self.corpus_dir else ""
        return f"evsearch index{corpus} --index {self.index_dir}"


def _state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def _params(request: Request, allowed: frozenset[str] = KNOWN) -> SearchParams:
    return SearchParams.parse(request.query_params.multi_items(), allowed=allowed)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json_text(data).encode("utf-8"), status_code=status, media_type="application/json")


# --- pages -----------------------------------------------------------------------------------------

def results_page(request: Request) -> Response:
    web = _state(request)
    params = _params(request)
    if params.is_empty:
        return web.page("home.html", params=params, autofocus=True, stats=web.index.stats())
    result = web.index.search(params.q, facets=True, **params.search_kwargs())
    labels = web.index.cell_labels()
    facets = result.facets
    chart = render.year_chart(facets.year, params) if facets is not None else None
    return web.page(
        "results.html", params=params, result=result, labels=labels, chart=chart,
        pages=render.page_links(result.page, result.pages), autofocus=True,
    )


def document_page(request: Request) -> Response:
    web = _state(request)
    params = _params(request)
    doc = web.index.get(request.path_params["doc_id"])
    section, previous, following = _surroundings(web.index, doc)
    return web.page(
        "document.html", params=params, doc=doc, related=web.index.related(doc.id),
        similar=web.index.similar(doc.id, limit=SIMILAR_SHOWN), section=section,
        previous=previous, following=following, label=web.index.cell_labels().get(doc.cell),
        back=params.url("/") if not params.is_empty else None,
    )


def _surroundings(index: SearchIndex, doc: DocumentView) -> tuple[list[DocumentView], Any, Any]:
    """A passage's section (up to ``SECTION_SHOWN`` of its passages around it) and the passages
    before and after it in its cell; nothing for a study."""
    if doc.kind != "passage":
        return [], None, None
    try:
        passages = index.documents(kind="passage", cell=doc.cell)
    except QueryError:  # a document outside the matrices' cells: no neighbours to show
        return [], None, None
    ids = [p.id for p in passages]
    if doc.id not in ids:
        return [], None, None
    at = ids.index(doc.id)
    previous = passages[at - 1] if at > 0 else None
    following = passages[at + 1] if at + 1 < len(passages) else None
    same = [i for i, p in enumerate(passages) if p.section == doc.section]
    k = same.index(at)
    lo = max(0, k - SECTION_SHOWN // 2)
    return [passages[i] for i in same[lo:lo + SECTION_SHOWN]], previous, following


def export_results(request: Request) -> Response:
    web = _state(request)
    fmt = request.path_params["fmt"]
    if fmt not in export.FORMATS:
        raise HTTPException(404, f"no export format {fmt!r}; formats: {', '.join(export.FORMATS)}")
    params = _params(request)
    kwargs = params.search_kwargs() | {"limit": EXPORT_LIMIT, "page": 1}
    result = web.index.search(params.q, **kwargs)
    media, ext = export.FORMATS[fmt]
    body = export.RENDERERS[fmt](result)
    name = export.filename(params.q, ext)
    return Response(
        body.encode("utf-8"), media_type=f"{media}; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


# --- the API ---------------------------------------------------------------------------------------

def api_search(request: Request) -> Response:
    web = _state(request)
    params = _params(request, KNOWN | API_EXTRA)
    facets = params.extra.get("facets", "").strip().lower() in ("1", "true", "yes", "on")
    result = web.index.search(params.q, facets=facets, **params.search_kwargs())
    data = result.to_dict()
    for hit in data["hits"]:
        hit["url"] = render.doc_path(hit["id"])
    return _json(data)


def api_document(request: Request) -> Response:
    web = _state(request)
    _params(request, frozenset())
    doc = web.index.get(request.path_params["doc_id"])
    data = document_json(doc, web.index.related(doc.id))
    data["url"] = render.doc_path(doc.id)
    return _json(data)


# --- errors ----------------------------------------------------------------------------------------

def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str, hint: str) -> Response:
    if _wants_json(request):
        return _json({"error": render.clean(message), "hint": hint, "status": status}, status)
    web = _state(request)
    params = SearchParams(q=request.query_params.get("q", ""))  # the box keeps what was typed
    return web.page("error.html", status=status, status_code=status, message=message, hint=hint,
                    params=params)


async def evsearch_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EvsearchError)
    if isinstance(exc, DocumentNotFoundError):
        status = 404
    elif isinstance(exc, QueryError):
        status = 400
    else:  # the index cannot be read right now (rebuilt away, damaged): not the request's fault
        status = 503
    return _error(request, status, exc.message, exc.hint)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = exc.detail if exc.detail and exc.detail != "Not Found" else (
            f"no page at {request.url.path[:200]!r}")
        return _error(request, 404, message, "start again from the search page: /")
    if exc.status_code == 405:
        return _error(request, 405, f"{request.method} is not allowed here", "pages are read with GET")
    return _error(request, exc.status_code, str(exc.detail), "start again from the search page: /")


async def internal_error(request: Request, exc: Exception) -> Response:
    """A bug: one line, no traceback, as the CLI does (the server logs the details)."""
    message = f"internal error: {type(exc).__name__}"
    hint = "this is a bug in evsearch; please report it with the address you opened"
    if _wants_json(request):
        return _json({"error": message, "hint": hint, "status": 500}, 500)
    return Response(f"Error: {message}\nHint: {hint}\n", status_code=500, media_type="text/plain")


# --- the application -------------------------------------------------------------------------------

def create_app(
    *,
    index: Path | str,
    corpus: Path | str | None = None,
    allowed_hosts: list[str] | None = None,
    partial: bool = False,
) -> Starlette:
    """The web application over the index at ``index`` (opened read-only, now: a missing
    index raises :class:`~evsearch.IndexMissingError`), a directory or remote Xapian shards
    (``xapian+tcp://host1:33333,host2:33333``). With ``corpus``, pages say when the corpus
    has changed since the index was built (never for remote shards). ``allowed_hosts``
    limits the Host header (a server on 127.0.0.1 answers only to its own names, against DNS
    rebinding). With ``partial``, shards that do not answer are left out and the results
    page names them; otherwise a page needing them is a 503 naming them.

    >>> app = create_app(index="index", corpus="corpus")  # doctest: +SKIP
    """
    remote = remote_index(index)
    index_path: Path | str = remote if remote is not None else Path(index)
    corpus_path = Path(corpus) if corpus is not None and remote is None else None
    searcher = open_index(index=index_path, partial=partial)
    web = WebState(searcher, index_path, corpus_path)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            searcher.close()

    middleware = [Middleware(SecurityHeaders)]
    if allowed_hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    routes = [
        Route("/", results_page),
        Route("/doc/{doc_id:path}", document_page),
        Route("/export/{fmt}", export_results),
        Route("/api/search", api_search),
        Route("/api/doc/{doc_id:path}", api_document),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={EvsearchError: evsearch_error, HTTPException: http_error,
                            Exception: internal_error},
        lifespan=lifespan,
    )
    app.state.web = web
    return app
