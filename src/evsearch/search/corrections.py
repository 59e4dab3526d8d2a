"""Spelling corrections that never change a real word.

A word of a query is a candidate for correction only when no document has it (it adds nothing
to the results) and it is not an English word: the shipped list ``data/english-words.txt`` is
the SCOWL word lists of British and American English ("huge" size: 287,000 words, with
medical and British spellings; see ``data/english-words.LICENSE``). The list is sorted and
searched in place (a memory map and a binary search): no load time.
"""

from __future__ import annotations

import functools
import mmap
from importlib import resources


@functools.lru_cache(maxsize=1)
def _words() -> mmap.mmap | bytes:
    path = resources.files("evsearch") / "data" / "english-words.txt"
    try:
        with open(str(path), "rb") as fh:
            return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # not a plain file (a zipped package): read it whole
        return path.read_bytes()


def is_english_word(word: str) -> bool:
    """True when ``word`` (any case) is in the English word list.

    >>> is_english_word("relapse"), is_english_word("Counselling"), is_english_word("relapce")
    (True, True, False)
    """
    key = word.lower().encode("utf-8")
    if not key or b"\n" in key:
        return False
    data = _words()
    lo, hi = 0, len(data)
    while lo < hi:  # binary search over line starts: find the first line >= key
        mid = (lo + hi) // 2
        start = data.rfind(b"\n", 0, mid) + 1
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        line = data[start:end]
        if line == key:
            return True
        if line < key:
            lo = end + 1
        else:
            hi = start
    return False
