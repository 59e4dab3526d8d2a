"""Variant copies of cells that the renderings do not show: other cells of both matrices, with
study lines in harder forms, in the seven layouts and in text-browser dumps, bulleted lists,
other encodings and line ends; records and e-mails of other cells.

Every variant knows what it must give: the cell, the form, and each complete study line's type
codes, title and year. ``python -m tests._variants`` prints the pass rate over the whole set
and the failures; ``tests/test_ingest_variants.py`` asserts it.
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
RENDERINGS = HERE / "fixtures" / "renderings" / "alcohol-B5"


@dataclass(frozen=True)
class S:
    """A study line: type codes, title, the parenthesis as written, its year, a summary."""

    codes: str
    title: str
    paren: str
    year: int
    summary: str = "It found that services differ. For discussion click here."

    def line(self) -> str:
        return f"{self.codes} {self.title} {self.paren}. {self.summary}"

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(self.codes.split())


@dataclass(frozen=True)
class CellSpec:
    matrix: str  # "alcohol" or "drug"
    code: str
    label: str
    description: str
    studies: tuple[S, ...]
    commentary: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.matrix}/{self.code}"

    @property
    def name(self) -> str:
        return "Alcohol" if self.matrix == "alcohol" else "Drug"


COMMENTARY = (
    "What is this cell about? This cell is about what services and staff can do, and what the "
    "research (Smith and Jones, 2010) says about it.",
    "Where should I start? With the review listed above, which is short, free and clear about "
    "what is known (2012) and what is not.",
    "Highlighted study The national evaluation of the programme found that coverage mattered a "
    "great deal. It reached most of those at risk (Public Health England, 2017).",
    "Issues to consider and discuss",
    "► Is it worth the cost? Most studies (for example, [UK] Ministry of Justice, 2014) say that it "
    "is, at least in the first year.",
    "► The more the worker knows, the better Staff who knew the research did better in every "
    "study we found.",
)

COMMENTARY_2 = (
    "What is this cell about? Policy decides what reaches users, as the national strategy "
    "([UK] HM Government, 2017) made plain.",
    "Key studies (2005; 2008) were few, and Seminal ones fewer.",
    "Highlighted study The national survey of parents in treatment (2009–10) found that most "
    "lived with their children. Services (National Treatment Agency, 2012) were asked to respond.",
    "Close reading of the guidance listed above (2018) shows the tension.",
    "Issues to consider and discuss",
    "► Should treatment be a condition of keeping a child? Courts (2011) think it can be.",
    "Reviews (Smith, 2010; Jones, 2012) found little.",
)

CELLS: tuple[CellSpec, ...] = (
    CellSpec(
        "drug", "A1", "Interventions; Reducing harm",
        "Key studies on interventions which reduce the harm done by drug use, from needle exchange "
        "to naloxone, and how they work.",
        commentary=COMMENTARY,
        studies=(
            S("S", "Needle exchange and HIV: the UK's 1980s response",
              "([UK] Advisory Council on the Misuse of Drugs, 1988)", 1988),
            S("K", "Take-home naloxone (THN) cuts overdose deaths in Scotland",
              "(Scottish Government, 2016)", 2016),
            S("K", "Supervised consumption: the 2008 (revised 2011) guidance in practice", "(2012)", 2012),
            S("R", "Injecting drug use in the 1990s and 2000s: a global review", "(Lancet, 2008a)", 2008),
            S("R", "Heroin-assisted treatment (HAT) for refractory users",
              "(European Monitoring Centre for Drugs and Drug Addiction, 2012)", 2012),
            S("G", "Needle and syringe programmes (PH52)",
              "([UK] National Institute for Health and Care Excellence (NICE), 2014)", 2014),
            S("K", "Users call take-home naloxone “a second chance”", "(2015)", 2015),
            S("K", "Hepatitis C testing in drug services – who misses out?",
              "(Public Health England, 2017)", 2017),
            S("S G", "Reducing drug-related deaths — a national strategy",
              "([UK] Department of Health, Social Services and Public Safety, Northern Ireland, 2009)",
              2009),
            S("K R", "Overdose prevention centres: what do we know?",
              "(2019; free source at time of writing)", 2019),
            S("R", "Harm reduction works!", "(Harm Reduction International, 2018)", 2018),
            S("G", "Drug misuse and dependence: UK guidelines on clinical management", "(2017)", 2017),
            S("K", "Ten years on: outcomes of the Vancouver safe injecting facility (2003–2013)",
              "(2014)", 2014),
            S("K", "Prescribing heroin in the UK: the RIOTT trial",
              "([UK] National Treatment Agency for Substance Misuse, 2010)", 2010),
            S("G", "Foil as an intervention (2014 update)", "(Exchange Supplies, 2014)", 2014),
        ),
    ),
    CellSpec(
        "alcohol", "A1", "Interventions; Screening and brief intervention",
        "Does brief advice work, and where? Key studies on screening and brief interventions.",
        (
            S("K", "Brief advice in A&E: the SIPS trial", "(2013)", 2013),
            S("R", "Brief interventions for hazardous drinkers in primary care: a Cochrane review",
              "(Cochrane Collaboration, 2018)", 2018),
        ),
    ),
    CellSpec(
        "alcohol", "E4", "Treatment systems; Psychosocial therapies",
        "How systems can make sure psychosocial therapies reach the drinkers who need them.",
        (
            S("S", "Project MATCH (1997): matching alcohol treatments to client heterogeneity",
              "(1997)", 1997),
            S("K", "UKATT: social behaviour and network therapy vs motivational enhancement",
              "([UK] UKATT Research Team, 2005)", 2005),
            S("R", "What works? Alcohol treatment in the US and UK", "(2010)", 2010),
            S("G", "Alcohol-use disorders: diagnosis, assessment and management of harmful drinking "
              "and alcohol dependence (CG115)",
              "([UK] National Institute for Health and Clinical Excellence, 2011)", 2011),
            S("K", "Commissioning for recovery: 'Just do it'", "(2012)", 2012),
            S("G", "Models of care for alcohol misusers (MoCAM)",
              "([UK] Department of Health and National Treatment Agency for Substance Misuse, 2006)",
              2006),
        ),
    ),
    CellSpec(
        "drug", "C1", "Management/supervision: Reducing harm",
        "What managers and supervisors can do to make harm reduction happen.",
        (
            S("K", "Supervisors' attitudes shape naloxone roll-out", "(2017)", 2017),
            S("R", "Clinical supervision in substance misuse services: a review", "(2010)", 2010),
            S("G", "Safer injecting: a guide for managers", "(Exchange Supplies, 2011)", 2011),
            S("S", "The NTORS study (1995–2000) five-year outcomes", "(2005)", 2005),
        ),
    ),
    CellSpec(
        "alcohol", "D2", "Organisational functioning; Generic and cross-cutting issues",
        "Whether the organisation matters as much as the therapy, and what makes a good one.",
        commentary=COMMENTARY_2,
        studies=(
            S("K", "Does the organisation matter? Treatment climate and outcome", "(2006)", 2006),
            S("K", "Staff turnover in US treatment (1998 to 2004)", "(2009)", 2009),
            S("R", "Organisational readiness for change: a review of the TCU tools",
              "([US] Texas Christian University Institute of Behavioral Research, 2002)", 2002),
            S("G", "Quality standards for alcohol services [England]", "(Alcohol Concern, 2008)", 2008),
            S("K", "Is 'recovery-oriented' care cheaper? Evidence from Philadelphia", "(2014)", 2014),
        ),
    ),
    CellSpec(
        "drug", "B1", "practitioners - reducing harm",
        "The practitioner's part in reducing the harm done by drug use.",
        (
            S("K", "Nurses' role in hepatitis B vaccination", "(2004)", 2004),
            S("K", "Outreach workers and the 'hard to reach'", "(2007a)", 2007),
            S("R", "Harm reduction counselling: a review", "(2007b)", 2007),
        ),
    ),
    CellSpec(
        "alcohol", "B2", "Practitioners; Generic and cross-cutting issues",
        "What makes a good alcohol counsellor, and does it matter which one you see?",
        (
            S("K", "(Not) the therapy but the therapist", "(2009)", 2009),
            S("S K", "Therapist effects in Project MATCH", "(Project MATCH Research Group, 1998)", 1998),
            S("R", "Empathy and outcome: a meta-analysis", "(Elliott et al., 2011)", 2011),
            S("K", "Counsellors' drinking histories and client outcomes", "(2008, updated 2012)", 2008),
            S("G", "Competences for drug and alcohol workers (DANOS)", "(Skills for Health & Skills for "
              "Care, 2011)", 2011),
            S("K", "10 years of training: did it change practice?", "(2013)", 2013),
            S("R", "Brief interventions (e.g. FRAMES) delivered by nurses", "(2005)", 2005),
            S("K", "More is not always better: session numbers and outcome", "(2016)", 2016),
            S("K", "Who benefits from a 'warm' counsellor?", "([UK] Alcohol Research UK, 2015)", 2015),
        ),
    ),
    CellSpec(
        "drug", "D4", "Treatment organisations/services - Treatment",
        "Which organisations deliver the talking therapies well, and why.",
        (
            S("K", "Therapeutic communities in English prisons", "(2010)", 2010),
            S("R", "What makes a treatment service work? A review", "(2006)", 2006),
        ),
    ),
    CellSpec(
        "alcohol", "E3", "Local/national (commissioning/policy): Treatment",
        "How commissioners and national policy shape medical treatment for drinkers.",
        (
            S("G", "Commissioning alcohol treatment: a guide", "(Public Health England, 2018)", 2018),
            S("K", "Alcohol treatment in England (2017–18)", "(Public Health England, 2019)", 2019),
            S("R", "Pharmacotherapy coverage across Europe", "(2015)", 2015),
        ),
    ),
    CellSpec(
        "drug", "E5", "Local and national systems; Safeguarding the community",
        "How commissioning and policy protect children and the community.",
        commentary=COMMENTARY_2,
        studies=(
            S("S", "Hidden harm", "([UK] Advisory Council on the Misuse of Drugs, 2003)", 2003),
            S("K", "Parents in treatment: the 2009-10 national survey",
              "([UK] National Treatment Agency for Substance Misuse, 2012)", 2012),
            S("R", "Does drug treatment cut crime? (An update)", "(2015)", 2015),
            S("G", "Working Together to Safeguard Children", "([UK] HM Government, 2018)", 2018),
            S("K", "Drug courts in the US: 'a decade of evidence'", "(US Government Accountability "
              "Office, 2011)", 2011),
        ),
    ),
)


# --------------------------------------------------------------------------- layouts


def _b5(name: str) -> list[str]:
    return (RENDERINGS / f"{name}.txt").read_text(encoding="utf-8").split("\n")


_B5_LABEL = "Practitioners; Safeguarding the community"
_B5_DESC_START = "Key studies on the impact of the treatment practitioner"


def _retitle(line: str, cell: CellSpec) -> str:
    line = re.sub(r"\b(Alcohol|Drug)( Treatment)? Matrix cell B5",
                  lambda m: f"{cell.name}{m[2] or ''} Matrix cell {cell.code}", line)
    line = re.sub(r"\b(Alcohol|Drug) treatment matrix cell B5",
                  lambda m: f"{cell.name} treatment matrix cell {cell.code}", line)
    line = line.replace("cell B5", f"cell {cell.code}").replace(_B5_LABEL, cell.label)
    return line.replace("Practitioners - safeguarding the community", cell.label)


def from_template(layout: str, cell: CellSpec, *, study_lines: list[str] | None = None) -> str:
    """B5's ``layout`` with ``cell``'s title, label, description and study lines."""
    lines = _b5(layout)
    if layout == "list-form":
        new = [x for s in cell.studies for x in (s.codes, f"{s.title} {s.paren}. {s.summary}")]
        where = [i for i, line in enumerate(lines) if line in ("S", "K", "R", "G")]
        first, last, gap = where[0], where[-1] + 1, False
    else:
        new = list(study_lines if study_lines is not None else [s.line() for s in cell.studies])
        where = [i for i, line in enumerate(lines) if re.match(r"^[SKRG] \S.*\(", line)]
        first, last = where[0], where[-1]
        gap = lines[first + 1] == ""
    if gap:
        new = [x for line in new for x in (line, "")][:-1]
    out = [_retitle(line, cell) if not line.startswith(_B5_DESC_START) else cell.description
           for line in lines[:first]]
    out += new
    rest = [_retitle(line, cell) for line in lines[last + 1 :]]
    if cell.commentary:  # the cell's own bite before B5's, after MORE and any blank line
        at = next(i for i, line in enumerate(rest) if line.startswith("MORE")) + 1
        sep = [""] if gap or layout != "copy-no-blank-lines" and rest[at:at + 1] == [""] else []
        rest[at:at] = [x for para in cell.commentary for x in (*sep, para)]
    out += rest
    return "\n".join(out)


def wrap_dump(text: str, width: int, indent: str = "   ", numbers: bool = False) -> str:
    """A text browser's dump: paragraphs hard-wrapped at ``width`` with an indent, blank lines
    between them; ``numbers`` puts lynx's link numbers before the study titles."""
    out = []
    n = 10
    for para in text.split("\n"):
        if not para.strip():
            continue
        if numbers:
            m = re.match(r"^((?:[SKRG] )+)(.*)$", para)
            if m and "(" in para:
                n += 1
                para = f"{m[1]}[{n}]{m[2]}"
        out.append(textwrap.fill(para, width, initial_indent=indent, subsequent_indent=indent))
    body = "\n\n".join(out)
    if numbers:
        body += "\n\nReferences\n\n" + "\n".join(
            f"  {k}. https://findings.org.uk/PHP/dl.php?file=doc_{k}.txt" for k in range(1, n + 1))
    return body


def wrap_tight(text: str, width: int) -> str:
    """Hard-wrapped with no blank lines at all (a dump pasted into a mail client)."""
    return "\n".join(textwrap.fill(p, width) for p in text.split("\n") if p.strip())


def bullets(text: str, mark: str) -> str:
    """Each study line led by a list mark (``• K Title ...``)."""
    return "\n".join(f"{mark} {line}" if re.match(r"^[SKRG] \S.*\(", line) else line
                     for line in text.split("\n"))


def lynx_list(text: str, width: int = 74) -> str:
    """lynx's rendering of a list of studies: ``   * K [12]Title ...`` items with a hanging
    indent and no blank line between items; other paragraphs wrapped with blank lines."""
    out: list[str] = []
    n = 20
    for para in text.split("\n"):
        if not para.strip():
            continue
        m = re.match(r"^((?:[SKRG] )+)(\S.*\(.*)$", para)
        if m:
            n += 1
            item = textwrap.fill(f"{m[1]}[{n}]{m[2]}", width, initial_indent="   * ",
                                 subsequent_indent="     ")
            if out and out[-1].lstrip().startswith("* "):
                out[-1] += "\n" + item
            else:
                out.append(item)
        else:
            out.append(textwrap.fill(para, width, initial_indent="   ", subsequent_indent="   "))
    return "\n\n".join(out)


def w3m_table(text: str, width: int = 78) -> str:
    """w3m's rendering of the study table: the code column, then the text column wrapped
    beside it (continuation lines indented under the text), no blank line between rows."""
    out: list[str] = []
    for para in text.split("\n"):
        m = re.match(r"^((?:[SKRG] )+)(\S.*\(.*)$", para)
        if m:
            codes = m[1].strip().ljust(4)
            rows = textwrap.wrap(m[2], width - 4)
            out.append("\n".join(f"{codes if i == 0 else '    '}{row}" for i, row in enumerate(rows)))
        elif para.strip():
            out.append("\n" + textwrap.fill(para, width) + "\n")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out))


def glue_legend(text: str) -> str:
    """The legend, the list's controls and the first study on one line (a copy that lost the
    line breaks between them)."""
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if re.match(r"^[SKRG] \S.*\(", line)), None)
    legend = next((i for i, line in enumerate(lines) if line.startswith("S Seminal studies")), None)
    if first is None or legend is None or legend > first:
        return text
    if any("Matrix cell" in line for line in lines[legend:first]):
        return text  # only what is next to each other on the page
    glued = " ".join(line for line in lines[legend : first + 1] if line.strip())
    return "\n".join([*lines[:legend], glued, *lines[first + 1 :]])


def glue_pairs(text: str) -> str:
    """Each two study lines on one line (table rows copied without their line break)."""
    out: list[str] = []
    pending = False
    for line in text.split("\n"):
        is_study = bool(re.match(r"^[SKRG] \S.*\(", line))
        if is_study and pending:
            while out and not out[-1].strip():
                out.pop()
            out[-1] = f"{out[-1]} {line}"
            pending = False
        else:
            out.append(line)
            pending = is_study if is_study else pending and not line.strip()
    return "\n".join(out)


def codes_on_own_line(text: str) -> str:
    """Each study's type codes on a line of their own above it (``S G`` / ``Title (2003). ...``)."""
    out = []
    for line in text.split("\n"):
        m = re.match(r"^((?:[SKRG] )+)(\S.*\(.*)$", line)
        if m:
            out.extend([m[1].strip(), m[2]])
        else:
            out.append(line)
    return "\n".join(out)


@dataclass
class Variant:
    name: str
    data: bytes
    cell: str  # expected key
    form: str  # expected form
    studies: list[tuple[tuple[str, ...], str, int]] = field(default_factory=list)
    suffix: str = ".txt"
    path: str = "copies/copy"  # the file below the corpus, without suffix (no cell in it by default)
    label: str | None = None  # the label it must give, when it has one
    must_hold: tuple[str, ...] = ()  # texts some passage (or the description) must hold


PAGE_LAYOUTS = ["site-2021", "site-older", "site-2019", "copy-no-blank-lines", "list-form"]

_TEXT_TRANSFORMS: dict[str, Callable[[str], str]] = {
    "plain": lambda t: t,
    "crlf": lambda t: t.replace("\n", "\r\n"),
    "lynx76": lambda t: wrap_dump(t, 76, numbers=True),
    "w3m80": lambda t: wrap_dump(t, 80, indent=""),
    "wrap72": lambda t: wrap_dump(t, 72, indent=""),
    "tight78": lambda t: wrap_tight(t, 78),
    "bullet": lambda t: bullets(t, "•"),
    "star": lambda t: bullets(t, "*"),
    "dash": lambda t: bullets(t, "-"),
    "codes-own-line": codes_on_own_line,
    "lynx-list": lambda t: lynx_list(t),
    "spaced": lambda t: re.sub(r"\n+", "\n\n", t),
    "code-dash": lambda t: re.sub(r"(?m)^([SKRG](?: [SKRG])*) (?=\S.*\()", "\\1 – ", t),
    "bracket-codes": lambda t: re.sub(r"(?m)^([SKRG]) (?=\S.*\()", "[\\1] ", t),
    "w3m-table": lambda t: w3m_table(t),
    "soft-hyphens": lambda t: re.sub(r"(?m)^[SKRG] .*$",
                                     lambda m: re.sub(r"(?<=\b[a-z]{3})(?=[a-z]{3})", "\u00ad", m[0]), t),
    "nested-bullet": lambda t: bullets(t, "   o"),
    "legend-glued": lambda t: glue_legend(t),
    "legend-split": lambda t: re.sub(
        r"(?m)^S Seminal studies ?K Key studies ?R Reviews ?G Guidance ?more Search for more studies$",
        "S\nSeminal studies\nK\nKey studies\nR\nReviews\nG\nGuidance\nmore\nSearch for more studies", t),
    "pairs": lambda t: glue_pairs(t),
    "cut-head": lambda t: re.sub(r"(?m)^([SKRG] .*?) (\((?:[^()]*[,;] )?(?:19|20)\d\d[a-z]?[^()]*\)\.)",
                                 "\\1\n\\2", t),
    "nbsp": lambda t: re.sub(r"(?m)^([SKRG]) ", "\\1\u00a0", t),
    "tab": lambda t: re.sub(r"(?m)^([SKRG]) ", "\\1\t", t),
}

_ENCODINGS: dict[str, Callable[[str], bytes]] = {
    "utf8": lambda t: t.encode("utf-8"),
    "bom": lambda t: t.encode("utf-8-sig"),
    "cp1252": lambda t: t.encode("cp1252", errors="replace"),
    # pasted together from two sources: the study lines in windows-1252, the rest UTF-8
    "mixed": lambda t: b"\n".join(
        line.encode("cp1252", errors="replace") if re.match(r"^[SKRG] ", line) else line.encode("utf-8")
        for line in t.split("\n")),
}


def expected(cell: CellSpec) -> list[tuple[tuple[str, ...], str, int]]:
    return [(s.types, s.title, s.year) for s in cell.studies]


def _needs_path(layout: str) -> bool:
    return layout in ("copy-no-blank-lines", "list-form")  # no title line: the path names the cell


def page_variants() -> Iterator[Variant]:
    for cell in CELLS:
        for layout in PAGE_LAYOUTS:
            base = from_template(layout, cell)
            for tname, transform in _TEXT_TRANSFORMS.items():
                if layout == "list-form" and tname in ("codes-own-line", "nbsp", "tab"):
                    continue
                text = transform(base)
                encodings = ["utf8"] if tname != "plain" else list(_ENCODINGS)
                for enc in encodings:
                    path = f"{cell.matrix}/{cell.code}" if _needs_path(layout) else "copies/copy"
                    label = None if layout == "copy-no-blank-lines" else cell.label
                    hold = () if layout == "site-older" else (cell.description[-30:-1],)
                    yield Variant(f"{cell.key}:{layout}:{tname}:{enc}", _ENCODINGS[enc](text), cell.key,
                                  "cell", expected(cell), path=path, label=label, must_hold=hold)


def record_variants() -> Iterator[Variant]:
    for cell in CELLS:
        for layout, form in (("repository-record", "record"), ("bite-email", "email")):
            base = "\n".join(_retitle(line, cell) for line in _b5(layout))
            base = base.replace("Alcohol Treatment Matrix", f"{cell.name} Treatment Matrix")
            base = base.replace("Alcohol Matrix", f"{cell.name} Matrix")
            base = base.replace("alcohol treatment matrix", f"{cell.name.lower()} treatment matrix")
            for tname in ("plain", "crlf", "w3m80", "tight78"):
                text = _TEXT_TRANSFORMS[tname](base)
                hold = "Whether treatment is chosen" if form == "record" else "Key studies"
                yield Variant(f"{cell.key}:{layout}:{tname}", text.encode("utf-8"), cell.key, form,
                              must_hold=(hold,))


def all_variants() -> list[Variant]:
    return [*page_variants(), *record_variants(), *html_variants(), *form_variants(),
            *message_variants(), *path_variants(), *markdown_variants(),
            *pdf_variants()]


# --------------------------------------------------------------------------- checking


def check(variant: Variant, tmp: Path) -> tuple[int, int, list[str]]:
    """``(study lines right, study lines expected, problems)`` for one variant."""
    from evsearch.errors import IngestError
    from evsearch.ingest import read_cell_file

    path = tmp / f"{variant.path}{variant.suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(variant.data)
    try:
        parsed = read_cell_file(path, root=tmp)
    except IngestError as exc:
        return 0, len(variant.studies), [f"refused: {exc}"]
    finally:
        path.unlink()
    problems = []
    if parsed.cell.key != variant.cell:
        problems.append(f"cell {parsed.cell.key} != {variant.cell}")
    if parsed.form != variant.form:
        problems.append(f"form {parsed.form} != {variant.form}")
    if variant.label is not None and parsed.cell.label != variant.label:
        problems.append(f"label {parsed.cell.label!r} != {variant.label!r}")
    got = [(s.types, s.title, s.year) for s in parsed.studies]
    right = 0
    for want in variant.studies:
        if want in got:
            right += 1
        else:
            near = [g for g in got if g[1][:20] == want[1][:20] or g[2] == want[2] and g[0] == want[0]]
            problems.append(f"missing {want} (near: {near[:1]})")
    extra = [g for g in got if g not in variant.studies]
    if extra:
        problems.append(f"extra studies {extra}")
    texts = [parsed.cell.description, *(p.text for p in parsed.passages)]
    for want_text in variant.must_hold:
        if not any(want_text in t for t in texts):
            problems.append(f"lost text {want_text[:40]!r}")
    for p in parsed.passages:
        for _, title, _ in variant.studies:
            if len(title) > 15 and title in p.text:
                problems.append(f"study filed as passage: {p.text[:70]!r}")
    return right, len(variant.studies), problems


def main(argv: list[str]) -> int:
    import tempfile

    pattern = argv[1] if len(argv) > 1 else ""
    total = right = failed = 0
    files = 0
    with tempfile.TemporaryDirectory() as tmp:
        for v in all_variants():
            if pattern not in v.name:
                continue
            files += 1
            r, n, problems = check(v, Path(tmp))
            right += r
            total += n
            if problems:
                failed += 1
                print(f"FAIL {v.name}: " + "; ".join(problems[:4]))
    rate = right / total if total else 1.0
    print(f"{files} files, {failed} with problems; study lines right {right}/{total} = {rate:.1%}")
    return 0 if not failed else 1


# --------------------------------------------------------------------------- HTML


_HTML = (HERE / "fixtures" / "alcohol-B5.htm").read_bytes().decode("cp1252")


def _img(code: str, alt: bool = True) -> str:
    return f'<img src="../../img/{code}.gif"' + (f' alt="{code}"' if alt else "") + ' width="14" height="14">'


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html_rows(cell: CellSpec, style: str) -> str:
    """The study list in one of several markups."""
    rows = []
    for n, s in enumerate(cell.studies, start=1):
        codes = s.codes.split()
        title, paren, summary = _html_escape(s.title), _html_escape(s.paren), _html_escape(s.summary)
        link = f'<a href="http://findings.org.uk/PHP/dl.php?file=doc_{n}.txt">{title}</a>'
        imgs = " ".join(_img(c, alt=style != "noalt") for c in codes)
        if style in ("table", "noalt"):
            rows.append(f'<tr id="s{n}"><td>{imgs}</td><td>{link} {paren}. {summary}</td></tr>')
        elif style == "table-noanchor":
            rows.append(f"<tr><td>{imgs}</td><td>{link} {paren}. {summary}</td></tr>")
        elif style == "bold-codes":
            rows.append(f'<tr><td><b>{" ".join(codes)}</b></td><td>{link} {paren}. {summary}</td></tr>')
        elif style == "list":
            rows.append(f"<li>{imgs} {link} {paren}. {summary}</li>")
        elif style == "br":
            rows.append(f"{imgs} {link} {paren}. {summary}<br>")
        elif style == "dl":
            rows.append(f"<dt>{imgs} {link} {paren}.</dt><dd>{summary}</dd>")
        elif style == "span-nbsp":
            rows.append(f'<p class="study"><span class="t{codes[0]}">{s.codes}</span>&nbsp;{link} {paren}. '
                        f"{summary}</p>")
        elif style == "code-in-link":
            rows.append(f'<p><a href="doc_{n}.txt">{s.codes} {title}</a> {paren}. {summary}</p>')
        elif style == "paren-in-link":
            rows.append(f'<p>{s.codes} <a href="doc_{n}.txt">{title} {paren}</a>. {summary}</p>')
        elif style == "three-columns":
            rows.append(f"<tr><td>{s.codes}</td><td>{link}</td><td>{paren}. {summary}</td></tr>")
    more = ('<b>MORE</b> <a href="http://findings.org.uk/topic_search.htm">Retrieve all relevant '
            "Effectiveness Bank analyses</a>.")
    if style in ("table", "noalt", "table-noanchor", "bold-codes", "three-columns"):
        return ('<table class="studies">' + "\n".join(rows) + f"<tr><td></td><td>{more}</td></tr></table>")
    if style == "list":
        return "<ul>" + "\n".join(rows) + f"<li>{more}</li></ul>"
    if style == "dl":
        return "<dl>" + "\n".join(rows) + f"</dl><p>{more}</p>"
    if style == "br":
        return "<p>" + "\n".join(rows) + f"{more}</p>"
    return "\n".join(rows) + f"<p>{more}</p>"


HTML_STYLES = ["table", "noalt", "table-noanchor", "bold-codes", "list", "br", "dl", "span-nbsp",
               "code-in-link", "paren-in-link", "three-columns"]


def html_page(cell: CellSpec, style: str) -> str:
    page = _HTML
    start = page.index('<table class="studies"')
    end = page.index("</table>", start) + len("</table>")
    page = page[:start] + html_rows(cell, style) + page[end:]
    page = re.sub(r'<p class="intro">.*?</p>', f'<p class="intro">{cell.description}</p>', page, flags=re.S)
    page = page.replace("Practitioners; Safeguarding the community", cell.label)
    page = re.sub(r"Alcohol Treatment Matrix cell B5", f"{cell.name} Treatment Matrix cell {cell.code}", page)
    return page


def html_variants() -> Iterator[Variant]:
    for cell in CELLS:
        for style in HTML_STYLES:
            page = html_page(cell, style)
            yield Variant(f"{cell.key}:html-{style}", page.encode("utf-8"), cell.key, "cell",
                          expected(cell), suffix=".htm")


# --------------------------------------------------------------------------- title, label, MORE forms


def title_forms(cell: CellSpec) -> list[str]:
    n, c, label = cell.name, cell.code, cell.label
    col, _, row = re.split(r"(\s*[;:]\s*|\s+-\s+)", label, maxsplit=1)
    return [
        f"{n} Treatment Matrix cell {c}: {label}",
        f"{n} Matrix cell {c}: {label}",
        f"{n} Matrix cell {c}: {col}: {row}",
        f"Effectiveness Bank {n} Treatment Matrix cell {c}: {label}",
        f"{n} Treatment Matrix cell {c} Matrix cell logo",
        f"Home > {n} treatment matrix cell {c}: {col.lower()} - {row.lower()}.",
        f"{n.upper()} TREATMENT MATRIX CELL {c}: {label.upper()}",
        f"{n.lower()} treatment matrix cell {c}: {label.lower()}",
        f"{n} Treatment Matrix cell {c} – {label}",
        f"{n} Treatment Matrix – cell {c}: {label}",
    ]


def label_forms(cell: CellSpec) -> list[str]:
    col, _, row = re.split(r"(\s*[;:]\s*|\s+-\s+)", cell.label, maxsplit=1)
    return [f"{col}; {row}", f"{col.lower()} - {row.lower()}", f"{col.upper()}: {row.upper()}",
            f"{col}: {row}", f"{col} – {row}"]


MORE_FORMS = ["MORE", "MORE:", "More", "more Search for more studies", "MORE Search for more studies",
              "MORE Retrieve all relevant Effectiveness Bank analyses."]


def form_variants() -> Iterator[Variant]:
    for cell in CELLS:
        older = from_template("site-older", cell).split("\n")
        at = next(i for i, line in enumerate(older) if "Matrix cell" in line and cell.code in line)
        for k, form in enumerate(title_forms(cell)):
            text = "\n".join([*older[:at], form, *older[at + 1 :]])
            yield Variant(f"{cell.key}:title-form-{k}", text.encode("utf-8"), cell.key, "cell",
                          expected(cell))
        recent = from_template("site-2021", cell).split("\n")
        label_at = recent.index(cell.label)
        for k, form in enumerate(label_forms(cell)):
            lines = [*recent[1:label_at], form, *recent[label_at + 1 :]]  # only the logo line names it
            yield Variant(f"{cell.key}:label-form-{k}", "\n".join(lines).encode("utf-8"), cell.key, "cell",
                          expected(cell))
        for k, form in enumerate(MORE_FORMS):
            text = "\n".join(form if line.startswith("MORE") else line for line in recent)
            yield Variant(f"{cell.key}:more-form-{k}", text.encode("utf-8"), cell.key, "cell",
                          expected(cell))


# ---------------------------------------------------------- records and e-mails, other wordings


def record_text(cell: CellSpec) -> str:
    """A repository record in another wording: breadcrumb after "You are here:", metadata
    fields, an "Abstract" heading instead of "What is cell X about?"."""
    col, _, row = re.split(r"(\s*[;:]\s*|\s+-\s+)", cell.label, maxsplit=1)
    title = f"{cell.name} treatment matrix cell {cell.code}: {col} - {row.lower()}."
    return "\n".join([
        "Skip to main content", "", f"You are here: Home > {title}", "",
        f"Drug and Alcohol Findings. (2019) {title} Drug and Alcohol Findings {cell.name} Treatment "
        "Matrix, 12 p..", "", f"PDF ({cell.name} Matrix cell {cell.code})", "",
        f"External website: https://findings.org.uk/PHP/dl.php?f=Matrix/{cell.name}/{cell.code}.pdf", "",
        "Item Type: Evidence resource", "Publication Type: Review, Guideline", "Drug Type: Alcohol",
        "Intervention Type: Treatment method", "Date: 2019", "Page Range: 12 p.",
        "Publisher: Drug and Alcohol Findings", "Subjects: HJ Treatment method > Treatment review",
        "Repository Staff Only: item control page", "",
        f"The {cell.name} Treatment Matrix maps the treatment universe and for each sub-territory "
        "(a cell) lists the most important UK-relevant research (for example, Smith and Jones, 2010) "
        "and guidance.", "", "Abstract", "", cell.description, "",
        "Key studies (2005; 2008) were few, and the review listed in the cell (2012) is the place to start.",
    ])


def _qp(text: str) -> str:
    import quopri

    return quopri.encodestring(text.encode("utf-8")).decode("ascii")


def email_message(cell: CellSpec, *, html: bool) -> str:
    """A Matrix Bite e-mail as saved with its headers: quoted-printable text, or a multipart
    message whose only body is base64 HTML."""
    import base64

    lines = [
        "Drug and Alcohol Findings logo. Click to go to Effectiveness Bank web site Matrix cell",
        "Supported by Alcohol Change UK web site. Opens new Window Alcohol Change UK", "",
        f"{cell.name} Treatment Matrix cell {cell.code} Matrix cell logo",
        "Is the worker the intervention – or the service’s name?", cell.description, "",
        "Click button below to view cell and 'bite' commentary.", "View cell and bite",
    ]
    head = ("From: Drug and Alcohol Findings <findings@example.org>\nTo: reader@example.com\n"
            f"Subject: Matrix Bite: {cell.name} Treatment Matrix cell {cell.code}\n"
            "Date: Mon, 3 May 2021 09:00:00 +0100\nMIME-Version: 1.0\n")
    if not html:
        return (head + 'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: '
                "quoted-printable\n\n" + _qp("\n".join(lines)))
    body = "".join(f"<p>{_html_escape(line)}</p>\n" for line in lines if line)
    page = f"<html><head><style>p {{margin: 0}}</style></head><body>{body}</body></html>"
    return (head + 'Content-Type: multipart/alternative; boundary="b1"\n\n--b1\n'
            "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
            + base64.encodebytes(page.encode("utf-8")).decode("ascii") + "\n--b1--\n")


def message_variants() -> Iterator[Variant]:
    for cell in CELLS:
        hold = (cell.description[-30:-1],)
        text = record_text(cell)
        yield Variant(f"{cell.key}:record-other-wording", text.encode("utf-8"), cell.key, "record",
                      must_hold=hold)
        yield Variant(f"{cell.key}:record-other-wording:crlf", text.replace("\n", "\r\n").encode("cp1252"),
                      cell.key, "record", must_hold=hold)
        qp = email_message(cell, html=False)
        yield Variant(f"{cell.key}:email-qp-txt", qp.encode("ascii"), cell.key, "email", must_hold=hold)
        yield Variant(f"{cell.key}:email-qp-eml", qp.replace("\n", "\r\n").encode("ascii"), cell.key,
                      "email", suffix=".eml", must_hold=hold)
        yield Variant(f"{cell.key}:email-html-eml", email_message(cell, html=True).encode("ascii"),
                      cell.key, "email", suffix=".eml", must_hold=hold)



# --------------------------------------------------------------------------- file names, PDFs

#: Where a user may keep a copy without a title line: the path names the cell.
PATH_FORMS = [
    "{matrix}/{code}", "{matrix}/{code}/copy", "{Matrix} Matrix cell {code} (1)", "{matrix}-{code}-list",
    "copies/{matrix}_{code}_2019", "Matrix/{site}/{code}-saved", "{matrix}/{code_lower}",
]


def _md(text: str) -> str:
    return re.sub(r"([\\`*_\[\]])", r"\\\1", text)


def markdown_variants() -> Iterator[Variant]:
    """The page saved as Markdown by a browser extension: ``- **K** [Title](https://...) (2008).``."""
    for cell in CELLS:
        lines = [f"- **{s.codes}** [{_md(s.title)}](https://findings.org.uk/PHP/dl.php?file=doc_{n}.txt) "
                 f"{s.paren}. {s.summary}" for n, s in enumerate(cell.studies, start=1)]
        text = from_template("site-2021", cell, study_lines=lines)
        text = text.replace("What is this cell about?", "## What is this cell about?\n\n")
        yield Variant(f"{cell.key}:markdown", text.encode("utf-8"), cell.key, "cell", expected(cell),
                      label=cell.label)


def path_variants() -> Iterator[Variant]:
    for cell in CELLS:
        text = from_template("copy-no-blank-lines", cell).encode("utf-8")
        for k, form in enumerate(PATH_FORMS):
            site = "Alcohol" if cell.matrix == "alcohol" else "Drugs"
            path = form.format(matrix=cell.matrix, Matrix=cell.name, site=site, code=cell.code,
                               code_lower=cell.code.lower())
            yield Variant(f"{cell.key}:path-form-{k}", text, cell.key, "cell", expected(cell), path=path)


def pdf_variants() -> Iterator[Variant]:
    """The cell printed to PDF (reportlab, as the PDF tests do), when reportlab is installed."""
    import importlib.util
    import tempfile

    if importlib.util.find_spec("reportlab") is None:
        return
    from tests.test_ingest_forms import make_pdf

    with tempfile.TemporaryDirectory() as tmp:
        for cell in CELLS:
            for layout in ("site-2021", "list-form"):
                text = from_template(layout, cell)
                if layout == "list-form":
                    text = text.replace("\n", "\n\n")
                out = make_pdf(text, Path(tmp) / f"{layout}.pdf")
                yield Variant(f"{cell.key}:pdf-{layout}", out.read_bytes(), cell.key, "cell", expected(cell),
                              suffix=".pdf", path=f"{cell.matrix}/{cell.code}/{layout}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
