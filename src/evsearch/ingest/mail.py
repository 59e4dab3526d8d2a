"""E-mails: a Matrix Bite e-mail saved as a message (``.eml``, or a ``.txt`` holding the raw
message with its headers) -> its text for the text reader.

Python's own :mod:`email` package does the decoding (quoted-printable and base64 bodies,
charsets, multipart messages); the plain-text part is preferred, else the HTML part's text.
The subject is kept as the first line: it may name the cell.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage, MIMEPart

__all__ = ["is_mime_message", "message_text"]

_HEADER_RE = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9-]{0,40}):")
_ADDRESS_HEADERS = frozenset({"from", "to", "subject", "date", "sender", "reply-to"})
_MIME_HEADERS = frozenset({"mime-version", "content-type", "content-transfer-encoding"})

#: How many header lines are looked at before deciding a text is not a message.
MAX_HEADER_LINES = 200


def is_mime_message(text: str) -> bool:
    """Whether ``text`` is a raw e-mail: it opens with a block of headers (``From:``, ``Subject:``
    ...) that has MIME headers among them, then a blank line.

    >>> is_mime_message("From: a@b.org\\nSubject: Hi\\nMIME-Version: 1.0\\n\\nBody")
    True
    >>> is_mime_message("From: a@b.org\\nSubject: Hi\\n\\nBody")  # a pasted header: plain text
    False
    """
    names: set[str] = set()
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n", MAX_HEADER_LINES + 1)
    for line in lines[:MAX_HEADER_LINES]:
        if not line.strip():
            break
        if line[:1] in " \t":  # a folded header
            continue
        m = _HEADER_RE.match(line)
        if m is None:
            return False
        names.add(m["name"].lower())
    else:
        return False
    return bool(names & _ADDRESS_HEADERS) and bool(names & _MIME_HEADERS)


def message_text(data: bytes) -> str:
    """The readable text of a message: its subject, then its plain-text (else HTML) body."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    subject = " ".join(str(msg.get("subject", "") or "").split())
    part = msg.get_body(preferencelist=("plain", "html"))
    body = "" if part is None else _part_text(part)
    if part is not None and part.get_content_subtype() == "html":
        body = _html_text(body)
    return f"Subject: {subject}\n\n{body}" if subject else body


def _part_text(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):
        content = None
    if isinstance(content, str):
        return content
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""


def _html_text(html: str) -> str:
    """An HTML body's text, one block a paragraph."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title"]):
        tag.decompose()
    return re.sub(r"\n\s*\n+", "\n\n", soup.get_text("\n\n"))
