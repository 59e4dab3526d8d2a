"""The Xapian engine: every use of the ``xapian`` bindings lives in this package.

Xapian is optional (``pip install 'evsearch[xapian]'``; GPL-licensed): nothing outside this
package imports it, and :func:`load` turns a missing installation into one clear error.

Layout of a Xapian index (inside an evsearch index directory, one generation ``gen-N/``)::

    gen-000001/
      meta-000001.json      engine "xapian", the number of shards, schema version, corpus
      shard-000/            a complete Xapian database (glass): the documents of the cells
      shard-001/            whose key hashes to this shard; its part of the file manifest is
      ...                   kept in the database's own metadata, so it commits with them,
                            as are its spelling words' document counts (``W`` + word)

Each shard can be served as it is by ``xapian-tcpsrv`` and searched remotely
(``xapian+tcp://host:port,host:port``); a client opening several shards gets one ranking
with statistics merged across them.
"""

from __future__ import annotations

from types import ModuleType

from ..errors import EngineMissingError


def load() -> ModuleType:
    """The ``xapian`` module, or a one-line error saying how to install it."""
    try:
        import xapian
    except ImportError:
        raise EngineMissingError("the Xapian engine needs the xapian Python bindings") from None
    module: ModuleType = xapian
    return module


def available() -> bool:
    """Whether the Xapian bindings can be imported."""
    try:
        load()
    except EngineMissingError:
        return False
    return True
