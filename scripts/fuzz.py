#!/usr/bin/env python3
"""Fuzz the ingesters and the query layer with hostile input (hypothesis-driven).

    python scripts/fuzz.py --cases 10000 --seconds 600 --target all
    python scripts/fuzz.py --engine xapian-remote --target query --cases 3000

Each target is a hypothesis strategy of inputs and a ``check`` that feeds one input to
evsearch and asserts the outcome: an answer, or an expected :class:`EvsearchError`
(``refused``); anything else is a bug. Every case runs under a per-case time limit
(``--case-seconds``): a case that exceeds it is a hang. The tests in
``tests/test_hostile.py`` run the same strategies and checks with few examples.

To add a target, write ``check_<name>(data)`` and add ``TARGETS["<name>"] = (strategy,
check, available)``. The HTML target is live once ``evsearch.ingest.html`` exists.

The ``index`` target damages one file of a built index (each file kind: truncated, a byte
flipped, zeroed, or replaced by a symlink) and runs ``evsearch search``, ``evsearch check``
and ``evsearch index --rebuild`` on it. Every case must end in the correct results, or one
error line naming the damaged file with the ``evsearch index --rebuild`` hint; ``check`` must
find the damage; ``--rebuild`` must repair it (a symlink is refused by name instead, and its
target is never written); never an internal error, never silently different results.

``--engine xapian`` runs the ``query`` and ``index`` targets on a Xapian index of two local
shards; ``--engine xapian-remote`` runs ``query`` on those shards served by two
``xapian-tcpsrv`` on 127.0.0.1 and checks every answer against the local shards' (the same
ids, order and total). Xapian's glass databases carry no checksums, so a damaged byte that
still parses can change results without notice: the ``index`` target counts those cases as
``undetected`` (a limit of the format, reported, not a crash: most are flips in a block's
unused space, which change nothing); a crash, a hang, a traceback
or a message that is not one line naming the shard is a bug as for Whoosh.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from evsearch.cli import clean  # noqa: E402
from evsearch.errors import EvsearchError  # noqa: E402
from evsearch.ingest import read_cell_file  # noqa: E402
from evsearch.search.query import parse_query  # noqa: E402

# --------------------------------------------------------------------------- input fragments

HEADERS = [
    "Alcohol Treatment Matrix cell B5",
    "Drug Treatment Matrix cell E1: Local and national systems; Reducing harm",
    "Alcohol Treatment Matrix cell Z9",
    "Drugs Treatment Matrix cell a1",
    "",
]
HOSTILE = [
    "\x00", "\x1b[31m", "\x1b[2J", "\x1b]8;;http://evil.example/\x07link\x1b]8;;\x07", "\x1b]0;title\x1b\\",
    "\x07", "\x08", "\r", "\x9b31m", "\x9d0;t\x9c", "\x85", "\u200f", "\u200e", "\u202e", "\u2066",
    "\u200b", "\u200d", "\ufeff", "\ufffd", "İ", "ß", "ﬁ", "ẞ", "Σ", "ς", "ǅ", "\u0130\u0307",
    "<script>alert(1)</script>", "<<script>script>", "<mark>", "</mark>", "<<mark>mark>", "&lt;b&gt;",
    "&amp;", "&#x3c;", "<img src=x onerror=alert(1)//", "*", "**", "►", "▶", "?", "(", ")",
    "(2008)", "(99999)", "([UK] Ministry, 2014)", "\t", "\n", "\n\n", "🐲", "\U0010ffff",
]
STUDY_LINES = [
    "K A key study of things (2008). Summary. For discussion click here.",
    "S G Watershed moment ([UK] Advisory Council on the Misuse of Drugs, 2003). Text.",
    "R A review with no year. It has a summary.",
    "K A study with a silly year (99999). Summary.",
    "G Guidance (Welsh Assembly Government, 2008). Discussion in bite's Issues section.",
    "MORE",
]
COMMENTARY = [
    "What is this cell about? Whether treatment is a thing.",
    "Issues to consider and discuss",
    "► The trickier the situation, the more the worker matters Issues discussed above",
    "the purpose of supervision is to help.",
    "The study listed above found it.",
    "Home Mailing list Search",
    "Close Matrix Bite",
]
WORDS = ["motivational", "interviewing", "offenders", "supervision", "probation", "the", "of", "a"]

fragment = st.one_of(
    st.sampled_from(HOSTILE),
    st.sampled_from(STUDY_LINES),
    st.sampled_from(COMMENTARY),
    st.sampled_from(WORDS),
    st.text(max_size=30),
)


@st.composite
def cell_text(draw: Any) -> str:
    """A cell-like text page: header, studies, commentary, interleaved with hostile bits."""
    header = draw(st.sampled_from(HEADERS[:1] * 4 + HEADERS))  # mostly a cell the path agrees with
    parts = draw(st.lists(fragment, max_size=40))
    seps = draw(st.lists(st.sampled_from([" ", "\n", "\n\n", "\r\n\r\n", "\t"]), min_size=1))
    return header + "\n\n" + "".join(p + seps[i % len(seps)] for i, p in enumerate(parts))


@st.composite
def cell_bytes(draw: Any) -> bytes:
    """Bytes of a cell file: some encoding (or several), maybe truncated, maybe binary."""
    kind = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1", "mixed", "binary"]))
    if kind == "binary":
        return draw(st.binary(max_size=2000))
    text = draw(cell_text())
    if kind == "mixed":
        half = len(text) // 2
        data = text[:half].encode("utf-8", "surrogatepass") + text[half:].encode("utf-16", "surrogatepass")
    else:
        data = text.encode(kind, errors="surrogatepass" if kind.startswith("utf") else "replace")
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]  # truncated
    return data


HTML_TAGS = ["div", "p", "ul", "li", "span", "aside", "b", "i", "a", "table", "tr", "td", "h2", "font",
             "blockquote", "section", "dl", "dd", "em", "center"]
HTML_ATTRS = [
    "", ' class="x"', ' title="' + "a" * 5000 + '"', " onload=alert(1)", ' x="<"', ' id="skills"',
    ' href="#skills"', " href=\"javascript:hilite('skills')\"", ' class="pullquote"', ' class="nav"',
    ' class="sidebar"', ' style="float:right"', ' align="left"', ' role="navigation"', " id=\"\x00\"",
    ' title="\u202e\u200b"', ' alt="K"', ' src="K.gif"', ' class="' + "box " * 500 + '"',
]
HTML_BITS = [
    "&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;mark&gt;", "&amp;lt;mark&amp;gt;", "&#27;[31m",
    "&#x1b;]8;;x&#7;", "&#0;", "&#xd800;", "&#xffffffff;", "&#99999999999;", "&nbsp;", "&zwnj;", "&rlm;",
    "<br>", "<br><br>", "<hr>", "<!-- c -->", "<![CDATA[x]]>", "<?pi x?>", "<!DOCTYPE html>",
    "<script>alert(1)</script>", "<mark>m</mark>", "<style>p{}</style>", '<img src="S.gif">', "<img alt=K>",
    "</div>", "</p>", "<p",
    '<a href="#skills">K Linked study (2008). Summary.</a>', '<h2 id="skills">Skills</h2>',
]
CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "utf-16", "utf-32", "shift_jis", "koi8-r", "bogus",
            "x-user-defined", "ascii", ""]


@st.composite
def html_text(draw: Any) -> str:
    """An HTML-ish page: nesting (sometimes 10,000 levels), attributes (sometimes huge),
    scripts, entities, broken tags, hostile text; sometimes a 100,000-line page."""
    heavy = draw(st.integers(0, 39)) == 0  # about one case in 40 is big
    if heavy:
        depth = draw(st.sampled_from([0, 1000, 10_000]))
    else:
        depth = draw(st.integers(0, 300))
    tags = draw(st.lists(st.sampled_from(HTML_TAGS), min_size=1, max_size=3))
    attr = draw(st.sampled_from(HTML_ATTRS if depth <= 300 else HTML_ATTRS[:2]))
    opened = "".join(f"<{tags[i % len(tags)]}{attr}>" for i in range(depth))
    if heavy and draw(st.booleans()):
        opened = '<p title="' + "\u05d0b" * 300_000 + '">' + opened  # a 600,000-character attribute
    closed = "".join(f"</{tags[i % len(tags)]}>" for i in reversed(range(draw(st.integers(0, depth)))))
    blocks = []
    for text in draw(st.lists(st.one_of(fragment, st.sampled_from(HTML_BITS)), max_size=20)):
        wrap = draw(st.sampled_from(["", "p", "li", "b", "h2", "aside", "td", "dd", "span"]))
        blocks.append(f"<{wrap}>{text}</{wrap}>" if wrap else text)
    body = draw(st.sampled_from([" ", "\n", ""])).join(blocks)
    if heavy and draw(st.booleans()):
        body += "\n".join(f"line {i}" for i in range(100_000))  # 100,000 lines, about 1 MB
    title = draw(st.sampled_from(HEADERS + ["<script>alert(1)</script>", "\u202eB5 cell\u200b"]))
    charset = draw(st.sampled_from(CHARSETS))
    meta = f'<meta charset="{charset}">' if charset else ""
    return (
        f"<html><head>{meta}<title>{title}</title><script>var a='</div>';</script></head><body>"
        + opened
        + body
        + closed
        + draw(st.sampled_from(["</body></html>", "", "<!--", "<![CDATA[", "<p", "&#xffffffff;"]))
    )


@st.composite
def html_bytes(draw: Any) -> bytes:
    """Bytes of an HTML page: some encoding (maybe not the declared one, maybe several),
    maybe with NUL or binary bytes spliced in, maybe truncated, maybe binary throughout."""
    kind = draw(st.sampled_from(["utf-8"] * 4 + ["cp1252", "utf-16", "mixed", "binary"]))
    if kind == "binary":
        return draw(st.binary(max_size=2000))
    page = draw(html_text())
    if kind == "mixed":
        half = len(page) // 2
        data = page[:half].encode("utf-8", "surrogatepass") + page[half:].encode("cp1252", "replace")
    else:
        data = page.encode(kind, errors="surrogatepass" if kind.startswith("utf") else "replace")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        junk = draw(st.sampled_from([b"\x00", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x1b[31m"]))
        data = data[:at] + junk + draw(st.binary(max_size=50)) + data[at:]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


QUERY_PARTS = [
    "", " ", "*", "*a*", "?????", "title:", "text:", "year:", "type:", "cell:", "kind:", "matrix:",
    "foo:bar", "year:[2010 TO 2005]", "year:[* TO *]", "year:>=2010", "year:<1000", "year:99999",
    "AND", "OR", "NOT", "+", "-", '"', '"motivational interviewing"', "(", ")", "[", "]", "{", "}",
    "supervis*", "mo*", "org:*", "type:K", "type:X", "cell:B5", "cell:Z9", "kind:study", "\\",
    "\x00", "\x1b[31m", "\udcff", "\ud800", "\u202e", "\u200b", "İ", "ß", "ﬁ", ":", "a:b:c", "~2", "^3",
] + WORDS

query_text = st.one_of(
    st.lists(st.sampled_from(QUERY_PARTS), max_size=30).map(" ".join),
    st.lists(st.sampled_from(QUERY_PARTS), max_size=30).map("".join),
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec=None), max_size=60),
)

# --------------------------------------------------------------------------- checks

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_TAG = re.compile(r"<[^>]*>")


def assert_clean_documents(parsed: Any) -> None:
    """Ingested text holds no control characters or surrogates, and is valid JSON."""
    for doc in parsed.documents:
        for value in vars(doc).values():
            if isinstance(value, str):
                assert not _CONTROL_CHARS.search(value), f"control character in {doc.id}: {value!r}"
    json.dumps([vars(d) for d in parsed.documents], ensure_ascii=False, default=list).encode("utf-8")


def _check_file(data: bytes, name: str, workdir: Path) -> str:
    path = workdir / "alcohol" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        parsed = read_cell_file(path, root=workdir)
    except EvsearchError as exc:
        assert exc.message and "\n" not in exc.message, f"error message not one line: {exc.message!r}"
        # read_cell_file turns a parser crash (RecursionError, ...) into a per-file error: still a bug
        assert exc.__cause__ is None or isinstance(exc.__cause__, (EvsearchError, OSError)), exc.message
        return "refused"
    assert_clean_documents(parsed)
    return "ok"


def check_text(data: bytes, workdir: Path) -> str:
    """One text cell file through :func:`read_cell_file`."""
    return _check_file(data, "B5.txt", workdir)


def check_html(data: bytes, workdir: Path) -> str:
    """One HTML cell file through :func:`read_cell_file` (needs the HTML ingester)."""
    return _check_file(data, "B5.htm", workdir)


def html_available() -> bool:
    return importlib.util.find_spec("evsearch.ingest.html") is not None


def assert_safe_result(result: Any) -> None:
    """Snippets carry no tag but <mark>; terminal text is clean; JSON encodes as UTF-8."""
    for hit in result.hits:
        tags = set(_TAG.findall(hit.snippet))
        assert tags <= {"<mark>", "</mark>"}, f"unexpected markup in snippet: {tags}"
        assert "<" not in _TAG.sub("", hit.snippet), f"raw '<' in snippet {hit.snippet!r}"
        for text in (hit.title, hit.text, hit.snippet):
            assert not _CONTROL_CHARS.search(clean(text).replace("\n", "").replace("\t", ""))
    json.dumps(result.to_dict(), ensure_ascii=False).encode("utf-8")


def check_query(query: str, index: Any) -> str:
    """One query through :func:`parse_query` and :meth:`SearchIndex.search` (and, over remote
    shards, the same answer as the local shards give: ``index`` is then a pair)."""
    index, local = index if isinstance(index, tuple) else (index, None)
    try:
        parse_query(query)
        result = index.search(query, limit=20)
    except EvsearchError as exc:
        assert exc.message and "\n" not in clean(exc.message)
        if local is not None:  # both refuse it, in the same words
            refusals = []
            for opened in (index, local):
                try:
                    opened.search(query, limit=20)
                    refusals.append(None)
                except EvsearchError as each:
                    refusals.append(each.message)
            assert refusals[0] == refusals[1], f"remote and local shards differ: {refusals}"
        return "refused"
    assert_safe_result(result)
    if local is not None:
        mine = local.search(query, limit=20)
        assert (result.total, [h.id for h in result.hits]) == (mine.total, [h.id for h in mine.hits]), \
            "remote shards answered otherwise than the same shards opened locally"
    return "ok"


# --------------------------------------------------------------------------- hostile index

HOSTILE_CELL = (
    "Alcohol Treatment Matrix cell B5\n\n"
    "Practitioners; Safeguarding the community\n\n"
    "A description with <<script>script>alert(1)<</script>/script> and &lt;b&gt; and &amp; text.\n\n"
    "K Hostile \x1b[31mred\x1b[0m title <<mark>mark>x<</mark>/mark> &lt;i&gt; "
    "\x1b]8;;http://evil.example/\x07link\x1b]8;;\x07 (2008). A summary with <img src=x onerror=alert(1)// "
    "and \x07bell\x08 and \x9b31mcsi and &#60;script&#62; entities. For discussion click here.\n\n"
    "R A second hostile study \u202eevil\u202c about supervision (2010). <<script>script> in the summary "
    "with &amp;amp; and motivational interviewing.\n\n"
    "MORE\n\n"
    "What is this cell about? A paragraph about supervision with <<script>script>alert(2)<</script>/script> "
    "and \x1b[2J cleared screens and the hostile red title listed above.\n\n"
    "Another paragraph: <<mark>mark>fake<</mark>/mark> highlight, &lt;mark&gt; entity, and offenders.\n"
)


def build_hostile_index(workdir: Path, engine: str = "whoosh") -> Path:
    """An index of the bundled B5 cell plus :data:`HOSTILE_CELL` (as drug/B5); with the
    Xapian engine, two shards (the two cells fall in different shards)."""

    corpus = workdir / "corpus"
    (corpus / "alcohol").mkdir(parents=True, exist_ok=True)
    (corpus / "drug").mkdir(parents=True, exist_ok=True)
    (corpus / "alcohol" / "B5.txt").write_bytes((ROOT / "corpus" / "alcohol" / "B5.txt").read_bytes())
    (corpus / "drug" / "B5.txt").write_text(HOSTILE_CELL.replace("Alcohol Treatment", "Drug Treatment"),
                                            encoding="utf-8")
    index = workdir / "index"
    _build(corpus, index, engine)
    return index


def _build(corpus: Path, index: Path, engine: str) -> None:
    from evsearch import build_index
    from evsearch.index import update_index

    if engine == "whoosh":
        build_index(corpus=corpus, index=index)
    else:
        update_index(corpus=corpus, index=index, rebuild=True, engine="xapian", shards=XAPIAN_SHARDS)


#: Shards of the fuzzed Xapian index.
XAPIAN_SHARDS = 2


class _Remote:
    """The shards of a local Xapian index, each served by ``xapian-tcpsrv`` on 127.0.0.1."""

    def __init__(self, index: Path) -> None:
        from evsearch import open_index

        sys.path.insert(0, str(ROOT / "scripts"))
        from bench_shards import serve

        with open_index(index=index) as idx:
            paths = [Path(p) for p in idx.stats().shards]
        self.procs: list[Any] = []
        ports = []
        for path in paths:
            proc, port = serve(path)
            self.procs.append(proc)
            ports.append(port)
        self.spec = "xapian+tcp://" + ",".join(f"127.0.0.1:{p}" for p in ports)

    def close(self) -> None:
        import os

        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


# --------------------------------------------------------------------------- index damage

DAMAGE = ("truncated", "flipped", "zeroed", "symlinked")
INDEX_QUERY = ["search", "offenders supervision", "--json", "--limit", "50"]


@st.composite
def index_damage(draw: Any) -> tuple[int, str, float, int]:
    """(which file, how, where in it, the xor byte)."""
    return (draw(st.integers(0, 10_000)), draw(st.sampled_from(DAMAGE)),
            draw(st.floats(0, 1, exclude_max=True)), draw(st.integers(1, 255)))


class _IndexCase:
    """A pristine index of the bundled corpus, copied afresh for each case."""

    def __init__(self, workdir: Path, engine: str = "whoosh") -> None:
        self.workdir = workdir
        self.engine = engine
        self.pristine = workdir / "pristine"
        corpus = ROOT / "corpus"
        if engine != "whoosh":  # two cells, so that both shards hold documents
            corpus = workdir / "corpus"
            build_hostile_index(workdir / "hostile", engine)
            shutil.copytree(workdir / "hostile" / "corpus", corpus)
        self.corpus = corpus
        _build(corpus, self.pristine, engine)
        self.files = sorted(p.relative_to(self.pristine).as_posix() for p in self.pristine.rglob("*")
                            if p.is_file())
        self.baseline = self.search(self.pristine)
        assert self.baseline[0] == 0, self.baseline

    def search(self, index: Path) -> tuple[int, Any, str]:
        out = _cli(*INDEX_QUERY, "--index", str(index), "--corpus", str(self.corpus))
        hits = None
        if out.exit_code == 0:
            hits = [(h["id"], h["score"]) for h in json.loads(out.stdout)["hits"]]
        return out.exit_code, hits, out.stderr


def _cli(*args: str) -> Any:
    from click.testing import CliRunner

    from evsearch.cli import cli

    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _one_named_line(stderr: str, name: str) -> bool:
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    return (len(errors) == 1 and name in errors[0] and "internal error" not in stderr
            and "evsearch index --rebuild" in stderr)


def check_index(data: tuple[int, str, float, int], case: _IndexCase) -> str:
    pick, how, where, xor = data
    rel = case.files[pick % len(case.files)]
    index = case.workdir / "case"
    shutil.rmtree(index, ignore_errors=True)
    shutil.copytree(case.pristine, index, symlinks=True)
    path = index / rel
    original = path.read_bytes()
    victim = case.workdir / "victim"
    if how == "symlinked":
        victim.write_bytes(original)
        path.unlink()
        path.symlink_to(victim)
    elif how == "truncated":
        path.write_bytes(original[: int(len(original) * where)])
    elif how == "zeroed":
        path.write_bytes(bytes(len(original)))
    elif original:
        at = int(len(original) * where)
        path.write_bytes(original[:at] + bytes([original[at] ^ xor]) + original[at + 1 :])
    changed = path.is_symlink() or path.read_bytes() != original
    if rel == "CURRENT" and not path.is_symlink():  # surrounding whitespace means nothing there
        changed = path.read_bytes().strip() != original.strip()
    ctl = rel in ("CURRENT", "EVSEARCH_INDEX", "write.lock")
    corpus = ["--corpus", str(case.corpus)]
    # A Xapian shard's damage is named by its shard directory (Xapian does not say which file).
    shard = next((p for p in Path(rel).parents if p.name.startswith("shard-")), None)
    names = [path.name] + ([shard.name] if shard is not None and case.engine != "whoosh" else [])
    undetected = ""

    code, hits, stderr = case.search(index)
    if code == 0:
        if hits != case.baseline[1]:
            if shard is None or case.engine == "whoosh":
                raise AssertionError(f"silently different results after {how} {rel}")
            undetected = "silently different results"  # glass has no checksums: damage that parses
        outcome = "correct search"
    elif any(_one_named_line(stderr, name) for name in names):
        outcome = "named with the --rebuild hint"
    else:
        raise AssertionError(f"{how} {rel}: {stderr.strip()[:300]!r}")
    checked = _cli("check", "--index", str(index), *corpus)
    recorded = rel.startswith("gen-") and not rel.endswith(".lock")
    if changed and (recorded or ctl and rel != "write.lock") and checked.exit_code == 0:
        if shard is not None and case.engine != "whoosh":
            undetected = undetected or "check passes, results unchanged"  # often unused block space
        elif not (rel == "EVSEARCH_INDEX" and how != "symlinked"):  # the marker's content is free
            raise AssertionError(f"`evsearch check` missed {how} {rel}")
    rebuilt = _cli("index", "--rebuild", "--index", str(index), *corpus)
    if rebuilt.exit_code == 0:
        code, hits, stderr = case.search(index)
        if (code, hits) != case.baseline[:2]:
            raise AssertionError(f"--rebuild did not repair {how} {rel}: {stderr.strip()[:200]!r}")
    elif not (how == "symlinked" and _one_named_line(rebuilt.stderr, path.name)):
        raise AssertionError(f"--rebuild failed on {how} {rel}: {rebuilt.stderr.strip()[:300]!r}")
    if how == "symlinked" and victim.read_bytes() != original:
        raise AssertionError(f"the target of a symlinked {rel} was written")
    if undetected:
        return f"undetected: {undetected}"
    return outcome if changed else "no change (empty file)"


# --------------------------------------------------------------------------- runner


class _Hang(BaseException):
    """A case ran past its time limit."""


class _Budget(BaseException):
    """The time budget is spent."""


def _alarm(signum: int, frame: Any) -> None:
    raise _Hang()


TARGETS: dict[str, tuple[Any, Callable[..., str], Callable[[], bool]]] = {
    "text": (cell_bytes(), check_text, lambda: True),
    "html": (html_bytes(), check_html, html_available),
    "query": (query_text, check_query, lambda: True),
    "index": (index_damage(), check_index, lambda: True),
}
#: The targets each other engine runs (the ingesters do not depend on the engine).
ENGINE_TARGETS: dict[str, tuple[str, ...]] = {"xapian": ("query", "index"), "xapian-remote": ("query",)}


def _in_child(check: Callable[..., str], data: Any, context: Any, seconds: float) -> tuple[str, Any]:
    """``check(data, context)`` in a forked child, so that a crash of the interpreter itself
    (a segmentation fault in a C library reading damaged data) is one more outcome, counted
    as ``crash`` with its signal, and a case past ``seconds`` is killed as a ``hang``."""
    import os
    import select

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run the case, report one line, leave at once
        os.close(r)
        try:
            report = {"outcome": check(data, context)}
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            key = f"{type(exc).__name__}@{Path(frame.filename).name}:{frame.lineno}"
            report = {"outcome": "unexpected", "kind": key, "message": str(exc)[:300]}
        os.write(w, json.dumps(report).encode("utf-8"))
        os._exit(0)
    os.close(w)
    chunks = []
    try:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and select.select([r], [], [], left)[0]:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "hang", {"kind": "hang"}
    finally:
        os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        return "crash", {"kind": f"crash:{sig}", "message": f"the process died of {sig}"}
    report = json.loads(b"".join(chunks) or b'{"outcome": "unexpected", "kind": "no report"}')
    if report["outcome"] == "unexpected":
        return "unexpected", {"kind": report["kind"], "message": report.get("message", "")}
    return str(report["outcome"]), None


def run_target(
    name: str, cases: int, deadline: float, case_seconds: float, workdir: Path, engine: str = "whoosh",
    isolate: bool = False,
) -> dict[str, Any]:
    """Run up to ``cases`` inputs of one target until ``deadline``; count the outcomes (with
    ``isolate``, each case in a forked child: see :func:`_in_child`)."""
    strategy, check, available = TARGETS[name]
    counts: collections.Counter[str] = collections.Counter()
    bugs: dict[str, dict[str, Any]] = {}
    if not available():
        return {"target": name, "skipped": "not available on this branch", "counts": {}, "bugs": []}
    if engine != "whoosh" and name not in ENGINE_TARGETS[engine]:
        return {"target": name, "engine": engine, "skipped": f"not a target of --engine {engine}",
                "counts": {}, "bugs": []}
    context: Any = workdir
    remote: _Remote | None = None
    closing: list[Any] = []
    if name == "query":
        from evsearch import open_index

        built = build_hostile_index(workdir / "qidx", "xapian" if engine != "whoosh" else "whoosh")
        context = open_index(index=built)
        closing.append(context)
        if engine == "xapian-remote":
            remote = _Remote(built)
            context = (open_index(index=remote.spec), context)
            closing.append(context[0])
    elif name == "index":
        context = _IndexCase(workdir, "xapian" if engine != "whoosh" else "whoosh")
    started = time.perf_counter()
    slowest = 0.0

    @settings(max_examples=cases, deadline=None, database=None, derandomize=False,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def one(data: Any) -> None:
        nonlocal slowest
        if time.perf_counter() > deadline:
            raise _Budget()
        t0 = time.perf_counter()
        if isolate:
            outcome, bug = _in_child(check, data, context, case_seconds)
            counts[outcome] += 1
            if bug is not None:
                bugs.setdefault(bug["kind"], {**bug, "example": repr(data)[:300]})
            slowest = max(slowest, time.perf_counter() - t0)
            return
        signal.setitimer(signal.ITIMER_REAL, case_seconds)
        try:
            counts[check(data, context)] += 1
        except _Hang:
            counts["hang"] += 1
            bugs.setdefault(f"hang:{name}", {"kind": "hang", "example": repr(data)[:300]})
        except Exception as exc:  # an unexpected exception is a bug: record it, keep going
            counts["unexpected"] += 1
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            key = f"{type(exc).__name__}@{Path(frame.filename).name}:{frame.lineno}"
            bugs.setdefault(key, {"kind": key, "message": str(exc)[:300], "example": repr(data)[:300]})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        slowest = max(slowest, time.perf_counter() - t0)

    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        one()
    except _Budget:
        pass
    finally:
        signal.signal(signal.SIGALRM, old)
        for opened in closing:
            opened.close()
        if remote is not None:
            remote.close()
    return {
        "target": name,
        "engine": engine,
        "cases": sum(counts.values()),
        "seconds": round(time.perf_counter() - started, 1),
        "slowest_case_seconds": round(slowest, 3),
        "counts": dict(counts),
        "bugs": list(bugs.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases per target (default 10000)")
    parser.add_argument("--seconds", type=float, default=600.0, help="time budget per target")
    parser.add_argument("--case-seconds", type=float, default=10.0, help="per-case time limit (a hang)")
    parser.add_argument("--target", choices=[*TARGETS, "all"], default="all")
    parser.add_argument("--engine", choices=["whoosh", *ENGINE_TARGETS], default="whoosh",
                        help="the engine of the fuzzed index (xapian: 2 local shards; xapian-remote: "
                             "the same served by xapian-tcpsrv, query target only)")
    parser.add_argument("--isolate", action="store_true",
                        help="run each case in a forked child, so that a crash (a segmentation fault "
                             "in a C library) is counted and the run goes on (default for --engine "
                             "xapian's index target)")
    args = parser.parse_args(argv)
    names = list(TARGETS) if args.target == "all" else [args.target]
    if args.engine != "whoosh" and args.target == "all":
        names = list(ENGINE_TARGETS[args.engine])
    reports = []
    with tempfile.TemporaryDirectory(prefix="evsearch-fuzz-") as tmp:
        for name in names:
            work = Path(tmp) / name
            work.mkdir()
            isolate = args.isolate or (args.engine != "whoosh" and name == "index")
            report = run_target(name, args.cases, time.perf_counter() + args.seconds, args.case_seconds, work,
                                args.engine, isolate)
            reports.append(report)
            print(json.dumps(report, ensure_ascii=True), flush=True)
    failed = any(r.get("counts", {}).get(k) for r in reports for k in ("unexpected", "hang", "crash"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
