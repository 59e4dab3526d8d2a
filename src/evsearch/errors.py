"""The one exception tree of evsearch.

::

    EvsearchError                 every error evsearch raises on purpose
    ├── CorpusError               a corpus directory or cell file cannot be read or parsed
    │   └── IngestError           one file is not a cell evsearch can read
    ├── IndexError_               base of index problems (exported as ``IndexProblem``)
    │   ├── IndexMissingError     no index where one was expected
    │   ├── IndexCorruptError     a directory that is not a readable evsearch index
    │   ├── IndexVersionError     written by an incompatible schema: rebuild it
    │   ├── IndexBusyError        another process is writing the index
    │   ├── NoSpaceError          the disk holding the index is full
    │   └── ShardUnavailableError a shard of a sharded (Xapian) index does not answer
    ├── EngineMissingError        the optional engine an index needs is not installed
    ├── QueryError                a query evsearch cannot run
    └── DocumentNotFoundError     no document with that id

Every error carries a one-line ``message`` and a ``hint`` telling the user what to do;
the CLI prints ``Error: <message>`` and ``Hint: <hint>`` and exits 1.
"""

from __future__ import annotations


class EvsearchError(Exception):
    """Base of every error evsearch raises on purpose.

    >>> err = QueryError("unknown study type 'X'", hint="study types are S, K, R, G")
    >>> str(err), err.hint
    ("unknown study type 'X'", 'study types are S, K, R, G')
    >>> IndexBusyError("another run holds the index").hint  # each kind has a default hint
    'wait for the other `evsearch index` to finish, or pass --wait SECONDS'
    """

    default_hint = "run `evsearch --help` for usage"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return self.message


class CorpusError(EvsearchError):
    """The corpus directory or a cell file cannot be read."""

    default_hint = "pass --corpus DIR with a directory of cell files (.txt, .htm, .html)"


class IngestError(CorpusError):
    """One file could not be ingested as a cell."""

    default_hint = "check the file is a Treatment Matrix cell page saved as text or HTML"


class IndexProblem(EvsearchError):
    """Base of the errors about the index directory."""

    default_hint = "run `evsearch index --rebuild` to build the index again"


class IndexMissingError(IndexProblem):
    """There is no index where one was expected."""

    default_hint = "run `evsearch index` to build it, or pass --index DIR"


class IndexCorruptError(IndexProblem):
    """The directory is not a readable evsearch index."""


class IndexVersionError(IndexProblem):
    """The index was written by an incompatible version of evsearch."""


class IndexBusyError(IndexProblem):
    """Another process holds the index's write lock."""

    default_hint = "wait for the other `evsearch index` to finish, or pass --wait SECONDS"


class NoSpaceError(IndexProblem):
    """The device holding the index is full (ENOSPC, EDQUOT)."""

    default_hint = "free some space on that device, then run the command again"


def no_space(exc: OSError, where: object) -> NoSpaceError | None:
    """A :class:`NoSpaceError` naming ``where`` when ``exc`` says the disk is full, else None."""
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return NoSpaceError(f"no space left on device at {where}")
    return None


class ShardUnavailableError(IndexProblem):
    """A shard of a sharded index cannot be opened or stops answering (names the shard)."""

    default_hint = "start the shard's server again (xapian-tcpsrv), or search with --partial"

    def __init__(self, message: str, hint: str | None = None, shards: tuple[str, ...] = ()) -> None:
        super().__init__(message, hint)
        self.shards = shards


class EngineMissingError(EvsearchError):
    """The optional engine an index needs (Xapian) is not installed."""

    default_hint = "pip install 'evsearch[xapian]' (the xapian-bindings-binary wheels, GPL)"


class QueryError(EvsearchError):
    """The query cannot be run."""

    default_hint = 'quote a phrase with "...", or see the query syntax in `evsearch search --help`'


class DocumentNotFoundError(EvsearchError):
    """No document has that id."""

    default_hint = (
        "ids look like alcohol/B5/k2008-relationship-therapist-seems or alcohol/B5/where-should-i-start/1"
    )
