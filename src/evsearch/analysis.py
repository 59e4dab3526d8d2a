"""Text analysis: the one analyzer used for indexing and for queries.

The pipeline is ``tokens -> lowercase -> British-to-American spelling -> stopwords -> Snowball
stem``, built from Whoosh filters, so that ``counselling`` and ``counseling`` (and
``behaviour``/``behavior``, ``programme``/``program``) index to the same term while the
stored text, and so the snippets, keep the source's own spelling.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from whoosh.analysis.acore import Token
from whoosh.analysis.analyzers import Analyzer
from whoosh.analysis.filters import Filter, LowercaseFilter, StopFilter
from whoosh.analysis.morph import StemFilter
from whoosh.analysis.tokenizers import RegexTokenizer, Tokenizer

#: Words: runs of letters/digits, keeping internal dots (``u.s``) together.
TOKEN_PATTERN = r"\w+(?:\.?\w+)*"


def _data_lines(name: str) -> list[str]:
    text = resources.files("evsearch").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]


@functools.lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """The shipped stopword list (``data/stopwords.txt``).

    >>> {"the", "of", "and"} <= stopwords() and "offender" not in stopwords()
    True
    """
    return frozenset(_data_lines("stopwords.txt"))


@functools.lru_cache(maxsize=1)
def british_to_american() -> dict[str, str]:
    """British -> American spellings from the ``breame`` word list (1,730 pairs).

    >>> british_to_american()["counselling"], british_to_american()["behaviour"]
    ('counseling', 'behavior')
    """
    from breame.data.spelling_constants import BRITISH_ENGLISH_SPELLINGS

    return {k.lower(): v.lower() for k, v in BRITISH_ENGLISH_SPELLINGS.items()}


class SpellingFilter(Filter):
    """Rewrites British spellings to American ones, so both find each other."""

    def __init__(self, mapping: dict[str, str] | None = None) -> None:
        self.mapping = mapping if mapping is not None else british_to_american()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpellingFilter)

    # whoosh's Filter narrows Composable's ``__call__(value, **kwargs)`` to a token stream
    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:  # type: ignore[override]
        mapping = self.mapping
        for t in tokens:
            t.text = mapping.get(t.text, t.text)
            yield t


@functools.lru_cache(maxsize=1)
def _snowball_stem() -> Any:
    from ._snowball import EnglishStemmer

    return EnglishStemmer().stem


#: word -> stem, filled as words are stemmed and preloaded from an index's ``stems.json``.
_STEMS: dict[str, str] = {}


def stem(word: str) -> str:
    """Stem one (lowercased, American-spelt) word with NLTK's Snowball English stemmer (its
    code, in ``_snowball``: importing NLTK would cost 0.9 to 6 s).

    >>> stem("counseling"), stem("offenders"), stem("supervision")
    ('counsel', 'offend', 'supervis')
    """
    found = _STEMS.get(word)
    if found is None:
        found = _STEMS[word] = _snowball_stem()(word)
    return found


def preload_stems(path: Path) -> None:
    """Add the word -> stem table saved beside an index (a missing or bad file is ignored)."""
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(table, dict):
        _STEMS.update((k, v) for k, v in table.items() if isinstance(k, str) and isinstance(v, str))


def stem_table(vocabulary: Iterable[str]) -> dict[str, str]:
    """The stems of ``vocabulary`` and of the synonym table's words (as the text analyzer sees
    them: American-spelt), for saving beside an index."""
    spelling = british_to_american()
    synonym_words = [w for line in _data_lines("synonyms.txt") for w in words(line)]
    out: dict[str, str] = {}
    for word in [*vocabulary, *synonym_words]:
        american = spelling.get(word, word)
        out[american] = stem(american)
    return out


def text_analyzer() -> TextTokenizer:
    """The stemming analyzer of every searchable text field (the pipeline below, in one pass)."""
    return TextTokenizer()


@functools.lru_cache(maxsize=1)
def _composed_analyzer() -> Analyzer:
    """The text analyzer as a pipeline of Whoosh filters: what ``TextTokenizer`` computes."""
    return (
        RegexTokenizer(TOKEN_PATTERN)
        | LowercaseFilter()
        | SpellingFilter()
        | StopFilter(stoplist=stopwords(), minsize=1)
        | StemFilter(stemfn=stem, cachesize=None)
    )


def word_analyzer() -> WordTokenizer:
    """Unstemmed words, for the spelling vocabulary: what a user would type (the pipeline
    below, in one pass)."""
    return WordTokenizer()


@functools.lru_cache(maxsize=1)
def _composed_word_analyzer() -> Analyzer:
    return RegexTokenizer(TOKEN_PATTERN) | LowercaseFilter() | StopFilter(
        stoplist=stopwords(), minsize=1
    )


def analyze(text: str) -> list[str]:
    """The index terms of ``text``: words, lowercased, American-spelt, stemmed, no stopwords.

    >>> analyze("Counselling the offenders")
    ['counsel', 'offend']
    >>> analyze("counseling") == analyze("counselling") and analyze("behavior") == analyze("behaviour")
    True
    """
    return _shared_analyzer().terms(text)


@functools.lru_cache(maxsize=1)
def _shared_analyzer() -> TextTokenizer:
    return text_analyzer()


def words(text: str) -> list[str]:
    """The lowercased words of ``text`` as a user typed them (stopwords kept, nothing stemmed).

    >>> words("Can MI work in the U.S. prisons?")
    ['can', 'mi', 'work', 'in', 'the', 'u.s', 'prisons']
    """
    return [t.text for t in RegexTokenizer(TOKEN_PATTERN)(text.lower())]


@functools.lru_cache(maxsize=1)
def synonym_groups() -> tuple[tuple[tuple[str, ...], ...], ...]:
    """The groups of ``data/synonyms.txt``, each entry as its analyzed terms."""
    groups = []
    for line in _data_lines("synonyms.txt"):
        entries = {tuple(analyze(e)) for e in line.split("|")}
        entries.discard(())
        if len(entries) > 1:
            groups.append(tuple(sorted(entries)))
    return tuple(groups)


@functools.lru_cache(maxsize=1)
def _synonym_index() -> dict[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    index: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for group in synonym_groups():
        for entry in group:
            index.setdefault(entry, set()).update(e for e in group if e != entry)
    return {k: tuple(sorted(v)) for k, v in index.items()}


MAX_SYNONYM_TERMS = 5


def expansions(terms: list[str]) -> list[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]]:
    """The synonym entries found in a run of analyzed query terms, with what each expands to.

    >>> for entry, alternatives in expansions(analyze("MI with domestic violence perpetrators")):
    ...     print(entry, "->", alternatives[:2])
    ('domest', 'violenc') -> (('domest', 'abus'), ('dv',))
    ('mi',) -> (('motiv', 'interview'),)
    """
    index = _synonym_index()
    found: list[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]] = []
    for n in range(MAX_SYNONYM_TERMS, 0, -1):
        for i in range(len(terms) - n + 1):
            key = tuple(terms[i : i + n])
            if key in index and key not in {f for f, _ in found}:
                found.append((key, index[key]))
    return found


def is_synonym_term(word: str) -> bool:
    """True when ``word`` alone is an entry of the synonym table (an acronym, say).

    >>> is_synonym_term("CBT"), is_synonym_term("supervision")
    (True, False)
    """
    return tuple(analyze(word)) in _synonym_index()


class TextTokenizer(Tokenizer, Analyzer):
    """The text pipeline in one pass: the tokens of ``RegexTokenizer | LowercaseFilter |
    SpellingFilter | StopFilter | StemFilter``, without a generator per filter per token.

    Indexing spends much of its time in analysis; this yields the same terms, positions and
    character ranges (``tests/test_analysis.py`` compares them), about twice as fast. It is a
    whole analyzer, so it is also an :class:`~whoosh.analysis.Analyzer` for the schema's fields.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.expression = re.compile(TOKEN_PATTERN)
        self._terms: dict[str, tuple[str, bool]] = {}  # raw token -> (term, is a stopword)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def __getstate__(self) -> dict[str, Any]:
        return {}  # the cache is not pickled with the schema

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._reset()

    def has_morph(self) -> bool:
        return True

    def _composed(self) -> Analyzer:
        return _composed_analyzer()

    def _term(self, raw: str) -> tuple[str, bool]:
        """``raw``'s term and whether it is a stopword, remembered for next time."""
        out = self._classify(raw.lower())
        if len(self._terms) < 1_000_000:
            self._terms[raw] = out
        return out

    def _classify(self, lower: str) -> tuple[str, bool]:
        american = british_to_american().get(lower, lower)
        return (american, True) if american in stopwords() else (stem(american), False)

    def terms(self, value: str) -> list[str]:
        """The terms of ``value``, stopwords left out: what ``__call__`` yields as tokens,
        as plain strings (no token objects: the fast path for a writer's own analysis)."""
        known = self._terms
        out = []
        for raw in self.expression.findall(value):
            term, stop = known[raw] if raw in known else self._term(raw)
            if not stop:
                out.append(term)
        return out

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        if not tokenize or keeporiginal:
            yield from self._composed()(
                value, positions=positions, chars=chars, keeporiginal=keeporiginal,
                removestops=removestops, start_pos=start_pos, start_char=start_char,
                tokenize=tokenize, mode=mode, **kwargs,
            )
            return
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        terms = self._terms
        pos: int | None = None
        for i, match in enumerate(self.expression.finditer(value)):
            raw = match.group(0)
            term, stop = terms[raw] if raw in terms else self._term(raw)
            if stop:  # a stopword: kept, marked, when the caller asks for stops
                if removestops:
                    continue
                t.text = term
                t.stopped = True
                if positions:
                    t.pos = start_pos + i
            else:
                t.text = term
                t.stopped = False
                if positions:  # kept words are numbered on from the first one, as StopFilter does
                    pos = start_pos + i if pos is None else pos + 1
                    t.pos = pos
            t.boost = 1.0
            if chars:
                t.startchar = start_char + match.start()
                t.endchar = start_char + match.end()
            yield t


class WordTokenizer(TextTokenizer):
    """``RegexTokenizer | LowercaseFilter | StopFilter`` in one pass: words as typed."""

    def has_morph(self) -> bool:
        return False

    def _composed(self) -> Analyzer:
        return _composed_word_analyzer()

    def _classify(self, lower: str) -> tuple[str, bool]:
        return lower, lower in stopwords()
