"""Finding cell files in a corpus, decoding them, and what their path says about the cell."""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

from evsearch.errors import CorpusError, IngestError

#: File suffixes that may hold a cell page.
CELL_SUFFIXES: tuple[str, ...] = (".txt", ".htm", ".html", ".pdf", ".eml")


#: How many folders above a file may name its cell (``drug/A1/site-2019.txt``).
_PATH_FOLDERS = 3

# A name holding the matrix and the code ("alcohol-B5", "Drug Treatment Matrix cell E1 (2)"),
# the code alone as a word ("B5", "B5-list") and the matrix alone as a word ("Drugs").
_PATH_NAME_RE = re.compile(
    r"(?<![a-z0-9])(?P<matrix>alcohol|drugs?)(?:[\s_.\-]*(?:treatment[\s_.\-]*)?matrix)?"
    r"(?:[\s_.\-]*cell)?[\s_.\-]*(?P<code>[A-E][1-5])(?![a-z0-9])",
    re.IGNORECASE,
)
_CODE_TOKEN_RE = re.compile(r"(?<![a-z0-9])(?P<code>[A-E][1-5])(?![a-z0-9])", re.IGNORECASE)
_PATH_MATRIX_RE = re.compile(r"(?<![a-z])(?P<matrix>alcohol|drugs?)(?![a-z])", re.IGNORECASE)


@dataclass(frozen=True)
class Discovery:
    """The cell files under a corpus directory, and the paths that could not be looked at.

    ``unreadable`` maps a path relative to the corpus (a folder, or a file that is a
    symlink loop or has a name that is not UTF-8) to the reason: those are reported and
    skipped, and an index keeps the documents it holds from under them."""

    paths: list[Path]
    unreadable: dict[str, str]

    def hides(self, rel: str) -> bool:
        """Whether the file ``rel`` (recorded earlier) may exist behind an unreadable path."""
        return any(rel == bad or rel.startswith(bad + "/") for bad in self.unreadable)


def discover_cell_files(corpus_dir: Path) -> list[Path]:
    """Every ``.txt``/``.htm``/``.html``/``.pdf``/``.eml`` file under ``corpus_dir``, sorted.

    Symlinks that resolve outside ``corpus_dir`` are skipped, so a corpus cannot pull in
    files from elsewhere.

    >>> discover_cell_files(Path("corpus"))  # doctest: +SKIP
    [PosixPath('corpus/alcohol/B5.txt')]
    """
    return discover(corpus_dir).paths


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def discover(corpus_dir: Path) -> Discovery:
    """The cell files under ``corpus_dir`` (see :func:`discover_cell_files`), with the folders
    and files that cannot be read instead of silently leaving them out."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.exists():
        raise CorpusError(f"corpus directory {corpus_dir} does not exist")
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus path {corpus_dir} is not a directory")
    if not os.access(corpus_dir, os.R_OK | os.X_OK):
        raise CorpusError(f"corpus directory {corpus_dir} is not readable", "check its permissions")
    root = corpus_dir.resolve()
    found: list[Path] = []
    errors: list[OSError] = []
    unreadable: dict[str, str] = {}

    def rel(path: Path | str) -> str:
        return Path(path).relative_to(corpus_dir).as_posix()

    for dirpath, dirnames, filenames in os.walk(corpus_dir, onerror=errors.append):
        dirnames.sort()
        for name in filenames:
            path = Path(dirpath) / name
            if path.suffix.lower() not in CELL_SUFFIXES:
                continue
            if not _utf8(rel(path)):
                unreadable[rel(path)] = "its name is not valid UTF-8; rename it"
                continue
            try:
                resolved = path.resolve(strict=True)
            except FileNotFoundError:
                continue  # a dangling symlink: nothing to index
            except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before 3.13)
                looped = isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP
                why = "symlink loop" if looped else (getattr(exc, "strerror", None) or str(exc))
                unreadable[rel(path)] = f"cannot read it ({why})"
                continue
            if resolved.is_relative_to(root) and resolved.is_file():
                found.append(path)
    for err in errors:
        if err.filename is None:
            continue
        if Path(err.filename) == corpus_dir:
            raise CorpusError(f"cannot read corpus directory {corpus_dir}", "check its permissions")
        unreadable[rel(err.filename)] = f"cannot read this folder ({err.strerror or err})"
    return Discovery(sorted(found), dict(sorted(unreadable.items())))


def decode(data: bytes) -> str:
    r"""UTF-8 (BOM or not), UTF-16 with a BOM, else each line UTF-8, cp1252 or latin-1: never
    fails (truncated UTF-16 ends in U+FFFD).

    >>> decode("K Caf\u00e9 \u2019".encode() + b"\nK \x93quoted\x94")
    'K Café ’\nK “quoted”'
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    sample = data[:4096]
    if len(sample) >= 8:  # UTF-16 without a BOM: every other byte of Latin text is NUL
        odd, even = sample[1::2].count(0), sample[0::2].count(0)
        if max(odd, even) > 0.4 * len(sample) / 2 and min(odd, even) < 0.05 * len(sample) / 2:
            return data.decode("utf-16-le" if odd > even else "utf-16-be", errors="replace")
    if data.startswith(b"\xef\xbb\xbf"):  # says it is UTF-8: a bad byte is damage, not cp1252
        return data[3:].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # line by line: a copy pasted together from two sources may hold UTF-8 lines and
    # windows-1252 lines; each is read in its own encoding ("’" stays "’", not "â€™")
    return "\n".join(_decode_line(line) for line in data.split(b"\n"))


def _decode_line(line: bytes) -> str:
    for codec in ("utf-8", "cp1252"):
        try:
            return line.decode(codec)
        except UnicodeDecodeError:
            pass
    return line.decode("latin-1")


def page_name(path: Path, root: Path | None) -> str:
    """The path below ``root`` without its suffix: ``pages/hot-topic.htm`` -> ``pages/hot-topic``."""
    rel = path
    if root is not None:
        try:
            rel = path.resolve().relative_to(Path(root).resolve())
        except ValueError:
            pass
    return rel.with_suffix("").as_posix() if root is not None else path.stem


def guess_from_path(path: Path, root: Path | None) -> tuple[str | None, str | None]:
    """``(matrix, code)`` from the file's name and its nearest folders (below ``root``):
    ``alcohol/B5.txt``, ``Matrix/Drugs/E1.htm``, ``alcohol-B5.txt``, ``Alcohol Matrix cell B5
    (1).txt``, ``alcohol-B5/copy.txt``, ``drug/A1/site-2019.txt``, ``alcohol/B5-list.txt``.

    A name that holds both (``drug_b5``) wins; otherwise the nearest code and the nearest
    matrix word are taken, each a word of its own (``notes-b1`` has a code, ``b15`` has none).

    >>> guess_from_path(Path("copies/drug/A1/site-2019.txt"), Path("copies"))
    ('drug', 'A1')
    >>> guess_from_path(Path("Alcohol Matrix cell B5 (1).txt"), None)
    ('alcohol', 'B5')
    """
    from evsearch.ingest.identity import MATRIX_NAMES  # the grammar: only when reading

    parts = path.parts
    if root is not None:
        try:
            parts = path.resolve().relative_to(Path(root).resolve()).parts
        except ValueError:
            pass
    names = [path.stem, *reversed(parts[:-1])][: 1 + _PATH_FOLDERS]
    for name in names:
        m = _PATH_NAME_RE.search(name)
        if m:
            return MATRIX_NAMES[m["matrix"].lower()], m["code"].upper()
    code = next((m["code"].upper() for n in names if (m := _CODE_TOKEN_RE.search(n))), None)
    word = next((m["matrix"].lower() for n in names if (m := _PATH_MATRIX_RE.search(n))), None)
    return (MATRIX_NAMES[word] if word else None), code


_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)


_XML_DECL_RE = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""", re.IGNORECASE)


# What browsers do with these labels (WHATWG Encoding Standard): they mean windows-1252.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "windows-1252": "cp1252",
    "x-cp1252": "cp1252",
}


def decode_html(data: bytes) -> str:
    """Bytes of a saved page -> text: BOM, then valid UTF-8, then the declared charset, then
    windows-1252; ``iso-8859-1`` and ``ascii`` are read as windows-1252, as browsers do, so
    curly quotes and dashes survive.

    >>> decode_html(b'<meta charset="iso-8859-1"><p>\\x93Hi\\x94 \\x96 there').endswith('“Hi” – there')
    True
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")  # valid UTF-8 with non-ASCII bytes is UTF-8, whatever it says
    except UnicodeDecodeError:
        pass
    head = data[:4096]
    m = _XML_DECL_RE.search(head) or _CHARSET_RE.search(head)
    declared = m.group(1).decode("ascii", "replace").lower() if m else None
    if declared:
        codec = _CHARSET_ALIASES.get(declared, declared)
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            pass
    # windows-1252, as browsers do; not a statistical guess, which would depend on which
    # detector happens to be installed (chardet, charset-normalizer) and vary between machines
    return data.decode("cp1252", errors="replace")


#: Leading bytes of formats that are never a saved page or its text.
_MAGIC = {
    b"%PDF-": "a PDF",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"PK\x03\x04": "a ZIP archive (or an Office document)",
    b"\x1f\x8b": "a gzip archive",
    b"\xd0\xcf\x11\xe0": "an Office document",
    b"\x7fELF": "a program",
}

#: Control characters (Unicode's ``Cc``: U+0000-U+001F, U+007F-U+009F) other than whitespace,
#: and the replacement character left where bytes did not decode.
_BINARY_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")
#: A decoded file with more than this share of control or undecodable characters is binary.
MAX_BINARY_SHARE = 0.05


def check_text(data: bytes, text: str) -> None:
    """Refuse what cannot be read as text: a known binary format, mostly control or
    undecodable characters, or nothing at all."""
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            raise IngestError(f"holds {what}, not text", "save the cell page as text or HTML")
    if not text.strip():
        raise IngestError("holds no text", "check this is the right file")
    bad = len(_BINARY_CHARS.findall(text))
    if bad > MAX_BINARY_SHARE * len(text):
        raise IngestError(
            f"holds binary data, not text ({bad:,} of {len(text):,} characters are control "
            "or undecodable characters)",
            "save the cell page as text or HTML",
        )
