"""Settings in one place: field names and roles, weights, ranking settings, limits, directories.

Every other module reads these names from here; none repeats them. Nothing here imports an
engine (``import evsearch.config`` is cheap).
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import QueryError

# --- fields ------------------------------------------------------------------------------------

#: The engines an index can be built with (xapian: the optional ``evsearch[xapian]`` extra).
ENGINES: tuple[str, ...] = ("whoosh", "xapian")
#: Where each engine's search facade lives (loaded by name: the query layer imports no engine).
ENGINE_INDEX: dict[str, str] = {"xapian": "evsearch._xapian.engine:XapianIndex"}
#: Remote Xapian shards are named ``xapian+tcp://host:port,host:port``.
REMOTE_SCHEME = "xapian+tcp://"
#: A remote shard's bounds, in seconds: connecting, and any one exchange once connected
#: (``EVSEARCH_SHARD_TIMEOUT`` sets the exchange timeout, within ``SHARD_TIMEOUT_RANGE``).
SHARD_CONNECT_TIMEOUT = 2.0
#: The most shards an index may be split into (``--shards N``, ``--shard i/N``).
MAX_SHARDS = 1024
SHARD_TIMEOUT = 10.0
SHARD_TIMEOUT_RANGE = (0.1, 3600.0)
#: With ``--partial``, how often (seconds) shards left out are tried again.
SHARD_RETRY_SECONDS = 5.0

#: Per-field weights of plain words in BM25F (Robertson and Zaragoza): a field's term
#: frequency counts this many times before the fields' frequencies are added and saturated.
#: Titles weigh 3 (the per-lever table in the README: 1 and 2 rank worse over the six test
#: collections, 4 no better); the other fields 1. Its keys, in this order, are the fields a
#: plain word is searched in.
FIELD_WEIGHTS: dict[str, float] = {
    "title": 3.0,  # a study's title: the cell's one-line statement of what it found
    "doc_title": 3.0,  # a passage's document title, shared by all the document's passages
    "section": 3.0,  # a passage's section heading
    "text": 1.0,
    "organisation": 1.0,
    "meta": 1.0,
}
#: The fields a plain word is searched in (and whose frequent terms have saved postings).
SEARCH_FIELDS: tuple[str, ...] = tuple(FIELD_WEIGHTS)
#: The fields a prefix (``supervis*``) is expanded in when no field is named.
PREFIX_FIELDS: tuple[str, ...] = ("title", "doc_title", "section", "text", "organisation")
#: ``title:`` in a query searches both kinds of title.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {"title": ("title", "doc_title")}
#: The stored fields ``similar`` takes a document's key terms from, and the fields it searches.
SIMILAR_SOURCE_FIELDS: tuple[str, ...] = ("title", "doc_title", "section", "text", "organisation")
SIMILAR_FIELDS: tuple[str, ...] = ("title", "doc_title", "section", "text")
#: The fields whose words a spelling suggestion must already find in the index.
KNOWN_WORD_FIELDS: tuple[str, ...] = ("text", "title", "doc_title")
#: The facets counted with ``facets=True``: name -> (field, many values per document).
FACET_FIELDS: dict[str, tuple[str, bool]] = {
    "kind": ("kind", False),
    "type": ("type", True),
    "year": ("year", False),
    "matrix": ("matrix", False),
    "cell": ("cell_key", False),
}
#: Study type codes and their names (the ``meta`` field).
STUDY_TYPE_NAMES: dict[str, str] = {"S": "seminal", "K": "key", "R": "review", "G": "guidance"}
#: Study type codes as a reader is shown them (RIS and BibTeX keywords, the web pages).
STUDY_TYPE_LABELS: dict[str, str] = {
    "S": "seminal study", "K": "key study", "R": "review", "G": "guidance",
}
#: The kinds of document (``kind:``, ``--kind``).
KINDS: tuple[str, ...] = ("study", "passage", "record")

# --- ranking -----------------------------------------------------------------------------------

#: BM25F's saturation and length normalisation (b is Lucene's default, idf is Lucene's; k1 1.5,
#: with QUERY_TF_K3, won over Lucene's 1.2 on the six test collections: the README's table).
BM25_B = 0.75
BM25_K1 = 1.5
#: Per-field length normalisation. Organisation and meta are short labels: a match in a
#: four-word organisation name is not diluted by its length.
FIELD_B: dict[str, float] = {"organisation": 0.0, "meta": 0.0}
#: Weight of a synonym expansion relative to the words the user typed.
EXPANSION_WEIGHT = 0.3
#: Weight of the expansions of an acronym the user typed (``MI``): what they mean.
ACRONYM_WEIGHT = 1.0
#: A multiword term of the synonym table typed as words ("intimate partner violence") also
#: counts as a phrase, with this weight, on top of its words.
FIELD_PHRASE_WEIGHT = 1.0
#: A quoted phrase among other words also counts as its words (a question quoting a title).
PHRASE_WORDS = True
#: Joined, hyphenated and separate forms of a compound find each other (``dropout``,
#: ``drop-out``, ``drop out``); at most MAX_SPLITS ways to split a joined word are tried.
FORMS = True
MAX_SPLITS = 2
#: Adjacent typed words, found together as a phrase, add this much (0: off; the lever table
#: shows it lowers ADI), for at most PROXIMITY_PAIRS pairs.
PROXIMITY_WEIGHT = 0.0
PROXIMITY_PAIRS = 16
#: A word typed n times weighs n (off: it lowers MED by 0.02).
QUERY_TF = False
#: With QUERY_TF off, a word typed n times weighs more, saturated as BM25's query term weight
#: ``(k3 + 1) * n / (k3 + n)``: with k3 = 1 a word typed twice weighs 1.33, three times 1.5
#: (a long question that names a thing again is about it, a list that repeats a head word is
#: not four times about it). 0: every word weighs 1.
QUERY_TF_K3 = 1.0
#: Plain query terms shorter than this are left out when longer ones remain (1: none is; the
#: lever table: single letters and digits lower CACM).
MIN_TERM_CHARS = 2
#: Pseudo-relevance feedback (RM3, see :func:`evsearch.search.plan.with_feedback`);
#: PRF_DOCS = 0 turns it off.
PRF_DOCS = 10
PRF_TERMS = 20
PRF_WEIGHT = 0.3
PRF_MIN_TERMS = 3
PRF_MIN_DOCS = 500
PRF_MAX_DOCS = 2_000_000  # feedback is a second, longer search: above this, questions slow down
PRF_MAX_DF = 0.1
PRF_FIELDS: tuple[str, ...] = ("text",)

# --- limits ------------------------------------------------------------------------------------

#: The longest query, in characters.
MAX_QUERY_CHARS = 2_000
#: At most this many phrases, prefixes, fielded, required and excluded words per query; and
#: at most this many distinct plain words are searched (the most informative ones).
MAX_CLAUSES = 64
#: The fewest letters before the ``*`` of a prefix (``su*``); a shorter one is not a prefix.
MIN_PREFIX_CHARS = 2
#: Hits per page unless told otherwise (CLI ``--limit``, the web's ``limit``), and at most.
DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
#: Index terms one prefix (``supervis*``) may expand to, per field.
MAX_PREFIX_TERMS = 256
#: Orders of search results: relevance (score, ties by cell order), year ascending, year descending.
SORTS: tuple[str, ...] = ("relevance", "year", "-year")
#: How many key terms ``similar`` searches for; how long a pasted text may be.
SIMILAR_TERMS = 12
MAX_SIMILAR_CHARS = 100_000
#: Spelling suggestions (fuzzy matching against the vocabulary) are sought for at most this
#: many words of a query, each at most this long: fuzzy expansion cost grows with both.
MAX_SUGGEST_WORDS = 8
MAX_SUGGEST_WORD_CHARS = 30
#: How long a second writer waits for the index's write lock by default, in seconds.
DEFAULT_WAIT = 5.0


def check_limit(limit: object) -> None:
    """Refuse a page size outside 1..MAX_LIMIT."""
    if not isinstance(limit, int) or limit < 1 or limit > MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}", hint="pass --limit N with 1 <= N")


def check_page(page: object) -> None:
    """Refuse a page number below 1."""
    if not isinstance(page, int) or page < 1:
        raise QueryError(f"page must be 1 or more, not {page}", hint="pass --page N with N >= 1")


# --- where things live -------------------------------------------------------------------------

def _checkout_root() -> Path | None:
    """The source checkout evsearch runs from, if it runs from one (``pip install -e .``)."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "src" / "evsearch").is_dir():
        return root
    return None


def default_corpus_dir() -> Path:
    """The bundled corpus: ``corpus/`` in a checkout, else the copy inside the package."""
    root = _checkout_root()
    if root is not None and (root / "corpus").is_dir():
        return root / "corpus"
    return Path(__file__).resolve().parent / "corpus"


def default_index_dir() -> Path:
    """``index/`` in a checkout; otherwise the per-user data directory (never site-packages)."""
    root = _checkout_root()
    if root is not None:
        return root / "index"
    from platformdirs import user_data_path

    return user_data_path("evsearch", appauthor=False) / "index"


_URL_LIKE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):/")


def remote_index(index: Path | str | None) -> str | None:
    """``index`` when it names remote shards, ``xapian+tcp://...`` (the scheme in any case,
    written in lower case), else None for a directory. Any other address, or the scheme with
    one slash, is a usage error, never a directory of that name to build an index in.

    >>> remote_index("XAPIAN+TCP://h1:33333,h2:33333"), remote_index("index")
    ('xapian+tcp://h1:33333,h2:33333', None)
    """
    if not isinstance(index, str):
        return None
    text = index.strip()
    m = _URL_LIKE.match(text)
    if m is None:
        return None
    rest = text[len(m.group(1)):]
    if m.group(1).lower() == REMOTE_SCHEME[:-3] and rest.startswith("://"):
        return REMOTE_SCHEME + rest[3:]
    raise QueryError(
        f"cannot open an index at {shown(text)!r}: remote indexes are named {REMOTE_SCHEME}host:port,...",
        hint=f"write --index '{REMOTE_SCHEME}host1:33333,host2:33333' (./NAME for a directory of that name)",
    )


def shown(text: str, limit: int = 120) -> str:
    """``text`` cut to ``limit`` characters for an error message (a hostile value stays one short line)."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def resolve_dirs(corpus: Path | str | None, index: Path | str | None) -> tuple[Path, Path]:
    """The corpus and index directories, the defaults where None (paths as given, unresolved).
    Remote shards are no directory: a command that needs one refuses them here."""
    if remote_index(index) is not None:
        raise QueryError(
            f"{shown(str(index))} names remote shards; this needs an index directory",
            hint="run the command where the shards live, with --index DIR",
        )
    return (
        Path(corpus) if corpus is not None else default_corpus_dir(),
        Path(index) if index is not None else default_index_dir(),
    )
#: Opening an index verifies the checksums of its files, smallest first, up to this many
#: bytes (the rest by size only; ``evsearch check`` and every ``evsearch index`` verify all).
VERIFY_AT_OPEN_BYTES = 64 * 2**20
