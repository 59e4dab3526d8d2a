"""Guards for text crossing a boundary: corpus text and queries into terminals, JSON and HTML.

A cell file or a query can hold anything: terminal escape sequences (colours, cursor moves,
OSC 8 hyperlinks, window titles), C0/C1 control characters, bidirectional overrides, and lone
surrogates (from ``surrogateescape``-decoded arguments) that no UTF-8 stream can encode.

>>> strip_controls("\\x1b]8;;http://x\\x07link\\x1b]8;;\\x07 \\x1b[31mred\\x1b[0m")
'link red'
>>> scrub_surrogates("a\\udcff")
'a\\ufffd'
>>> print(escape_controls("new\\nline\\x1b[31m bad\\udcff.txt"))
new\\nline\\x1b[31m bad\\xff.txt
"""

from __future__ import annotations

import re

__all__ = ["clean_terminal", "escape_controls", "scrub_surrogates", "strip_controls"]

# ESC-introduced sequences first (whole, payload included), then single control characters.
_ESCAPES = re.compile(
    r"(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC ... BEL/ST (title, hyperlink)
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)?"  # DCS, SOS, PM, APC strings
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI (colours, cursor moves)
    r"|\x1b[ -/]*[0-~]?"  # other ESC sequences
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional embeddings, overrides and isolates can reorder what a terminal shows.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def strip_controls(text: str) -> str:
    """``text`` without escape sequences or control characters (tab and newline kept)."""
    if not _CONTROLS.search(text):  # every escape sequence starts with a control character
        return text
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def scrub_surrogates(text: str) -> str:
    """Lone surrogates (unencodable in UTF-8) replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", text)


def clean_terminal(text: str) -> str:
    """Text safe to print to a terminal: no escapes, controls, bidi overrides or surrogates."""
    return _BIDI.sub("", scrub_surrogates(strip_controls(text)))


_VISIBLE_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    if ch in _VISIBLE_ESCAPES:
        return _VISIBLE_ESCAPES[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): show the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """A message naming a file, made one safe line: control characters, bidi overrides and
    undecodable bytes shown as escapes (``\\n``, ``\\x1b``, ``\\xff``) instead of acting on
    the terminal or being lost, so the file can still be found by its name."""
    return _UNSAFE.sub(_escape, text)
