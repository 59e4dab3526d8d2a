"""The spelling vocabulary of a Xapian shard: each unstemmed word's document count, kept in
the shard's metadata (``WORD_PREFIX + word`` -> the count in decimal ASCII; see
:data:`.schema.WORD_PREFIX`), not as a term of every document. A build counts the words of
the documents it writes; an update adds those of the documents it adds and takes off those
of the documents it removes (from their stored fields), in the same transaction."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from ..analysis import word_analyzer
from .schema import MAX_TERM_BYTES, WORD_PREFIX


@functools.lru_cache(maxsize=1)
def shared_word_analyzer() -> Any:
    return word_analyzer()


def _terms(joined: str) -> list[str]:
    return joined.split(" ") if joined else []


def spelling_words(analysed: tuple[str, ...]) -> list[str]:
    """A document's distinct unstemmed words (the last part of its :func:`analysis`), those
    short enough to be kept: what its shard's spelling counts count (see
    :data:`~.schema.WORD_PREFIX`)."""
    words = _terms(analysed[-1])
    if words and max(map(len, words)) * 4 > MAX_TERM_BYTES:  # rare: a word may be too long
        words = [w for w in words if len(w.encode("utf-8")) <= MAX_TERM_BYTES]
    return words


def removed_words(doc: Any) -> list[str]:
    """The spelling words a stored Xapian document was counted with: its stored fields'
    ``words`` analysed again, as :func:`.writer.analysis` did."""
    stored = json.loads(doc.get_data())
    return spelling_words(("", " ".join(set(shared_word_analyzer().terms(stored_words(stored))))))


def stored_words(stored: dict[str, Any]) -> str:
    """The ``words`` field of a document, rebuilt from its stored fields (the document data)
    as :func:`evsearch.index.schema.document_fields` makes it: what an update re-analyses to
    take a removed document's words off the counts."""
    if stored.get("kind") == "study":
        parts = (stored.get("title"), stored.get("text"), stored.get("organisation"))
    else:
        parts = (stored.get("doc_title"), stored.get("section"), stored.get("text"))
    return " ".join(p or "" for p in parts)


def write_word_counts(db: Any, counts: dict[str, int], old: Callable[[str], int] | None = None) -> None:
    """Write the spelling counts ``counts`` (word -> documents) into the shard ``db``'s
    metadata; with ``old`` (a word's current count), ``counts`` are changes to add to it, and
    a word whose count falls to 0 loses its entry."""
    set_metadata = db.set_metadata
    for word, n in counts.items():
        if old is not None:
            if not n:
                continue
            n += old(word)
        set_metadata(WORD_PREFIX + word, str(n) if n > 0 else "")  # "" deletes the entry


def read_word_count(db: Any, word: str) -> int:
    """A shard's count of documents with the unstemmed word ``word`` (0 when none)."""
    raw = db.get_metadata(WORD_PREFIX + word)
    return int(raw) if raw else 0
