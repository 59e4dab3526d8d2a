"""The browser front end of evsearch: ``evsearch serve``.

A thin layer over the library, as the CLI is: :func:`create_app` builds a Starlette
application over an index (opened read-only), with server-rendered pages that work without
JavaScript, a small script for search as you type, downloads, and a JSON API. Importing this
package imports Starlette and Jinja2, so the CLI imports it only inside ``serve``.

>>> from evsearch.web import create_app
>>> app = create_app(index="index", corpus="corpus")  # doctest: +SKIP
"""

from __future__ import annotations

from .app import create_app
from .server import serve

__all__ = ["create_app", "serve"]
