"""Real copies of cells as they come: the seven renderings of B5, the title, year and heading
forms of other cells, shuffled chrome, and files that are not cell pages at all.

The renderings (``fixtures/renderings/alcohol-B5/``) reproduce the layouts of real copies: the
site's page saved as text in its 2021, 2019 and older versions, a browser copy without blank
lines, a list rendering, a repository record and a Matrix Bite e-mail. Golden outputs are in
``golden/renderings/``; ``EVSEARCH_UPDATE_GOLDEN=1`` rewrites them after a deliberate change.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evsearch.errors import IngestError
from evsearch.ingest import parse_cell_text, read_cell_file
from evsearch.model import ParsedCell
from tests.conftest import B5

HERE = Path(__file__).parent
RENDERINGS = HERE / "fixtures" / "renderings" / "alcohol-B5"
GOLDEN = HERE / "golden" / "renderings"
PAGE_LAYOUTS = ["site-2021", "site-older", "site-2019", "copy-no-blank-lines", "list-form"]
OTHER_FORMS = {"repository-record": "record", "bite-email": "email"}

#: B5's studies as the seed gives them: types, year, organisation, title.
SEED_STUDIES = [
    (("K",), 2008, None, "Relationship with therapist seems more important for offenders than other clients"),
    (("K",), 2014, "[UK] Ministry of Justice", "Client-centred supervision motivates UK offenders"),
    (("K",), 2016, None,
     "'Not my job' perception and lack of confidence impede assessment of domestic violence"),
    (("K",), 2008, "Welsh Assembly Government",
     "Mothers in Wales see staff support as critical to child welfare and keeping families together"),
    (("R",), 2002, None, "Supervising offenders is about the quality of the relationship"),
    (("R",), 2005, "Australian Government",
     "Best practice in working with substance users in the criminal justice system"),
    (("R",), 2005, None, "Can motivational interviewing work in criminal justice settings?"),
    (("G",), 2005, None, "Manual for research-based offender supervision"),
    (("G",), 2015, None, "Working with men who physically abuse their partners"),
]


@pytest.fixture(scope="module")
def seed() -> ParsedCell:
    return read_cell_file(B5)


def studies_of(parsed: ParsedCell) -> list[tuple[tuple[str, ...], int | None, str | None, str]]:
    return [(s.types, s.year, s.organisation, s.title) for s in parsed.studies]


def summary(parsed: ParsedCell) -> dict[str, Any]:
    """What a golden file records of a parse."""
    return {
        "cell": parsed.cell.key,
        "form": parsed.form,
        "claim": parsed.claim,
        "label": parsed.cell.label,
        "description": parsed.cell.description,
        "notes": list(parsed.notes),
        "studies": [
            {"id": s.id, "types": list(s.types), "year": s.year, "organisation": s.organisation,
             "title": s.title, "sections": list(s.sections), "summary": s.summary}
            for s in parsed.studies
        ],
        "passages": [
            {"id": p.id, "kind": p.kind, "role": p.role, "section": p.section, "text": p.text}
            for p in parsed.passages
        ],
    }


# --------------------------------------------------------------------------- the seven renderings


@pytest.mark.parametrize("layout", PAGE_LAYOUTS)
def test_page_layout_reads_as_the_seed(layout: str, seed: ParsedCell) -> None:
    parsed = read_cell_file(RENDERINGS / f"{layout}.txt")
    assert (parsed.cell.key, parsed.form, parsed.claim) == ("alcohol/B5", "cell", "alcohol/B5")
    assert studies_of(parsed) == SEED_STUDIES
    assert parsed.studies == seed.studies  # ids, summaries and section links too
    # the commentary is the seed's, passage for passage (the description where the layout has one)
    def commentary(cell: ParsedCell) -> list[tuple[str, str, str, str]]:
        return [(p.id, p.section, p.role, p.text) for p in cell.passages if p.role != "description"]

    assert commentary(parsed) == commentary(seed)
    if layout == "site-older":  # this layout has no description
        assert parsed.cell.description == ""
    else:
        assert parsed.cell.description == seed.cell.description
        assert parsed.passages[0].id == "alcohol/B5/description"
    assert not [p for p in parsed.passages if p.text.startswith(("K ", "R ", "G ", "S "))]


@pytest.mark.parametrize("layout", [*PAGE_LAYOUTS, *OTHER_FORMS])
def test_rendering_matches_its_golden_output(layout: str) -> None:
    got = summary(read_cell_file(RENDERINGS / f"{layout}.txt"))
    golden = GOLDEN / f"{layout}.json"
    if os.environ.get("EVSEARCH_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(golden.read_text(encoding="utf-8"))


def test_site_2021_label_and_description(seed: ParsedCell) -> None:
    parsed = read_cell_file(RENDERINGS / "site-2021.txt")
    assert parsed.cell.label == "Practitioners; Safeguarding the community"
    assert parsed.cell.description.startswith("Key studies on the impact of the treatment practitioner")


def test_browser_copy_without_a_title_takes_the_cell_from_its_path(tmp_path: Path) -> None:
    text = (RENDERINGS / "copy-no-blank-lines.txt").read_text(encoding="utf-8")
    assert "Matrix cell B5" not in text and "\n\n" not in text
    path = tmp_path / "Matrix" / "Alcohol" / "B5.txt"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    parsed = read_cell_file(path, root=tmp_path)
    assert (parsed.cell.key, studies_of(parsed)) == ("alcohol/B5", SEED_STUDIES)
    # without a path it is still read, as a page holding the studies
    loose = parse_cell_text(text, name="copy")
    assert (loose.cell.key, studies_of(loose)) == ("page/copy", SEED_STUDIES)


def test_list_form_type_codes_on_their_own_line() -> None:
    text = (RENDERINGS / "list-form.txt").read_text(encoding="utf-8")
    assert "\nK\nRelationship with therapist" in text
    two_codes = text.replace("\nK\nRelationship with therapist", "\nS G\nRelationship with therapist")
    parsed = parse_cell_text(two_codes, matrix="alcohol", code="B5")
    assert parsed.studies[0].types == ("S", "G")
    assert parsed.studies[0].id == "alcohol/B5/sg2008-relationship-therapist-seems"


def test_repository_record_is_a_record_of_the_cell() -> None:
    parsed = read_cell_file(RENDERINGS / "repository-record.txt")
    assert (parsed.cell.key, parsed.form, parsed.claim) == ("alcohol/B5", "record", "alcohol/B5#record")
    assert parsed.studies == ()
    assert parsed.cell.label == "Practitioners - safeguarding the community"
    assert {p.kind for p in parsed.passages} == {"record"}
    assert [(p.id, p.section) for p in parsed.passages] == [
        ("alcohol/B5/record/repository-record/1", "Repository record"),
        ("alcohol/B5/record/what-is-cell-b5/1", "What is cell B5 about?"),
        ("alcohol/B5/record/what-is-cell-b5/2", "What is cell B5 about?"),
    ]
    assert parsed.passages[1].text.startswith("Whether treatment is chosen positively")
    assert all("External website" not in p.text and "PDF (" not in p.text for p in parsed.passages)


def test_bite_email_is_a_record_of_the_cell(seed: ParsedCell) -> None:
    parsed = read_cell_file(RENDERINGS / "bite-email.txt")
    assert (parsed.cell.key, parsed.form, parsed.claim) == ("alcohol/B5", "email", "alcohol/B5#email")
    assert parsed.studies == ()
    assert [(p.id, p.kind, p.section, p.text) for p in parsed.passages] == [
        ("alcohol/B5/email/is-the-worker-the/1", "record", "Is the worker the intervention?",
         seed.cell.description),
    ]


# --------------------------------------------------------------------------- title forms


STUDY = "K Relationship with therapist seems more important for offenders (2008). A summary here."


@pytest.mark.parametrize(
    ("title", "key", "label"),
    [
        ("Alcohol Treatment Matrix cell E4: Treatment systems; Psychosocial therapies", "alcohol/E4",
         "Treatment systems; Psychosocial therapies"),
        ("Alcohol Matrix cell A1: Interventions; Screening and brief intervention", "alcohol/A1",
         "Interventions; Screening and brief intervention"),
        ("Drug Matrix cell C1: Management/supervision: Reducing harm", "drug/C1",
         "Management/supervision: Reducing harm"),
        ("Effectiveness Bank Alcohol Treatment Matrix cell D2: Organisational functioning; Generic "
         "and cross-cutting issues", "alcohol/D2",
         "Organisational functioning; Generic and cross-cutting issues"),
        ("Drug Treatment Matrix cell A2 Matrix cell logo", "drug/A2", ""),
        ("Home > Drug treatment matrix cell B1: practitioners - reducing harm.", "drug/B1",
         "practitioners - reducing harm"),
        ("Alcohol Matrix cell B5: Practitioners; Safeguarding the community", "alcohol/B5",
         "Practitioners; Safeguarding the community"),
    ],
)
def test_title_forms(title: str, key: str, label: str) -> None:
    parsed = parse_cell_text(f"Some sidebar line\n\n{title}\n\n{STUDY}\n")
    assert (parsed.cell.key, parsed.cell.label, len(parsed.studies)) == (key, label, 1)


def test_what_is_this_cell_about_names_the_code_and_the_path_the_matrix() -> None:
    parsed = parse_cell_text(
        "What is this cell B1 about? Practitioners matter in brief interventions.\n",
        matrix="drug", code=None,
    )
    assert (parsed.cell.key, parsed.form) == ("drug/B1", "record")
    assert parsed.passages[0].section == "What is this cell B1 about?"


@pytest.mark.parametrize(
    "label",
    ["Practitioners; Reducing harm", "practitioners - reducing harm", "Management/supervision: Reducing harm",
     "LOCAL AND NATIONAL SYSTEMS; REDUCING HARM", "Organisational functioning - Doctors and drugs"],
)
def test_label_line_forms(label: str) -> None:
    text = f"Drug Treatment Matrix cell C1\n\n{label}\n\nA description of it here.\n\n{STUDY}\n"
    parsed = parse_cell_text(text)
    assert parsed.cell.label == label
    assert parsed.cell.description == "A description of it here."


# --------------------------------------------------------------------------- year forms


@pytest.mark.parametrize(
    ("line", "want"),
    [
        ("K Title of a trial (2008). Summary.", (("K",), 2008, None, "Title of a trial")),
        ("K Client-centred supervision ([UK] Ministry of Justice, 2014). Summary.",
         (("K",), 2014, "[UK] Ministry of Justice", "Client-centred supervision")),
        ("G Alcohol brief interventions guidance (NHS Health Scotland, 2011). Summary.",
         (("G",), 2011, "NHS Health Scotland", "Alcohol brief interventions guidance")),
        ("R A review of reviews (2008; free source at time of writing). Summary.",
         (("R",), 2008, None, "A review of reviews")),
        ("R Can motivational interviewing work in criminal justice settings? (2005). Asks.",
         (("R",), 2005, None, "Can motivational interviewing work in criminal justice settings?")),
        ("S G Watershed moment for drug policy ([UK] Advisory Council on the Misuse of Drugs, 2003). S.",
         (("S", "G"), 2003, "[UK] Advisory Council on the Misuse of Drugs",
          "Watershed moment for drug policy")),
        ("K “Curly quoted” title for a study (2010). Summary.",
         (("K",), 2010, None, "“Curly quoted” title for a study")),
        ("K Services in 2012/13 (Public Health England, 2014a). Summary.",
         (("K",), 2014, "Public Health England", "Services in 2012/13")),
    ],
)
def test_year_forms(line: str, want: tuple[Any, ...]) -> None:
    parsed = parse_cell_text(f"Alcohol Treatment Matrix cell B5\n\n{line}\n")
    assert studies_of(parsed) == [want]


def test_curly_apostrophe_in_a_named_cross_reference() -> None:
    parsed = parse_cell_text(
        "Alcohol Treatment Matrix cell B5\n\nK A study (2010). It found things. Discussion in bite’s "
        "Issues section.\n\nMORE\n\nIssues to consider and discuss\n\n► Is it so? Yes it is, we think.\n"
    )
    assert parsed.studies[0].sections == ("Issues to consider and discuss",)
    assert "bite’s" not in parsed.studies[0].summary


# --------------------------------------------------------------------------- heading variants


def test_run_in_heading_without_punctuation() -> None:
    parsed = parse_cell_text(
        "Drug Treatment Matrix cell E1\n\nK A study (2010). It found things.\n\nMORE\n\n"
        "What is this cell about? National systems decide what reaches users.\n\n"
        "Highlighted study The national survey found that coverage mattered a great deal. It did.\n\n"
        "Where should I start? With the review.\n"
    )
    assert [(p.section, p.text) for p in parsed.passages] == [
        ("What is this cell about?", "National systems decide what reaches users."),
        ("Highlighted study", "The national survey found that coverage mattered a great deal. It did."),
        ("Where should I start?", "With the review."),
    ]


# --------------------------------------------------------------------------- properties


CHROME = [
    "Comment/query", "Send email for updates", "Tweet", "Matrix cell", "- Home", "- Contact",
    "S Seminal studiesK Key studiesR ReviewsG Guidancemore Search for more studies",
    "Links to other documents. Hover over for notes. Click to highlight passage referred to. "
    "Unfold extra text",
    "Alcohol Change UK web site. Opens new Window", "Drug Treatment Matrix", "Includes harm reduction",
    "Effectiveness Bank Alcohol Treatment Matrix", "About the matrices", "Close Matrix Bite -",
    "Copy title and link | Comment/query | Drug Treatment Matrix | Alcohol Treatment Matrix | Get updates |",
]
TITLE = "Alcohol Treatment Matrix cell C3: Management/supervision; Medical treatment"
STUDY_LINES = [
    "K Supervisors who coach keep patients longer (2011). Clinics kept more patients.",
    "R Does medication management need a manager? (Royal College of Psychiatrists, 2009). It asks.",
    "S G Watershed guidance on prescribing ([UK] Department of Health, 2007). The first of its kind.",
    "G Manual for supervising prescribers (2012; free source at time of writing). How to do it.",
]
COMMENTARY = [
    "What is this cell about? Management shapes how medical treatment is delivered in clinics.",
    "Where should I start? With the review listed above, which is short and clear.",
    "Issues to consider and discuss",
    "► Is supervision worth the time? Most of the studies say that it is, at least for new staff.",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed_value=st.integers(0, 10_000),
    title_at=st.integers(0, 12),
    gaps=st.lists(st.sampled_from(["\n", "\n\n", "\n\n\n", "\n \n"]), min_size=40, max_size=40),
)
def test_chrome_blank_lines_and_title_position_do_not_change_the_studies(
    seed_value: int, title_at: int, gaps: list[str]
) -> None:
    rnd = random.Random(seed_value)
    units: list[str] = []
    for unit in ["Management/supervision; Medical treatment", "Key studies on managing medical treatment.",
                 *STUDY_LINES, "MORE Search for more.", *COMMENTARY]:
        units.extend(rnd.sample(CHROME, rnd.randint(0, 2)))
        units.append(unit)
    units.insert(min(title_at, len(units)), TITLE)
    text = "".join(u + gaps[i % len(gaps)] for i, u in enumerate(units))
    parsed = parse_cell_text(text)
    assert parsed.cell.key == "alcohol/C3"
    assert [s.title for s in parsed.studies] == [
        "Supervisors who coach keep patients longer", "Does medication management need a manager?",
        "Watershed guidance on prescribing", "Manual for supervising prescribers",
    ]
    assert [(s.types, s.year) for s in parsed.studies] == [
        (("K",), 2011), (("R",), 2009), (("S", "G"), 2007), (("G",), 2012)]
    assert [s.organisation for s in parsed.studies] == [
        None, "Royal College of Psychiatrists", "[UK] Department of Health", None]
    assert not [p for p in parsed.passages if p.text in CHROME or p.text in STUDY_LINES]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_rendering_with_lines_dropped_or_doubled_keeps_its_studies(data: st.DataObject) -> None:
    layout = data.draw(st.sampled_from(PAGE_LAYOUTS))
    lines = (RENDERINGS / f"{layout}.txt").read_text(encoding="utf-8").split("\n")
    gap = data.draw(st.sampled_from(["\n", "\n\n"]))
    text = gap.join(line for line in lines if line.strip())
    parsed = parse_cell_text(text, matrix="alcohol", code="B5")
    assert studies_of(parsed) == SEED_STUDIES


# --------------------------------------------------------------------------- unreadable files


@pytest.mark.parametrize("suffix", [".txt", ".htm", ".html"])
def test_random_bytes_are_refused_in_any_form(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "alcohol" / f"B5{suffix}"
    path.parent.mkdir()
    path.write_bytes(random.Random(7).randbytes(4096))
    with pytest.raises(IngestError, match="holds binary data, not text"):
        read_cell_file(path, root=tmp_path)


def test_an_image_saved_as_htm_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "B5.htm"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(IngestError, match="holds a PNG image, not text"):
        read_cell_file(path)


# --------------------------------------------------------------------------- other copies


def _wrap(paragraph: str, width: int = 74) -> str:
    import textwrap

    return textwrap.fill(paragraph, width, initial_indent="   ", subsequent_indent="   ")


@pytest.mark.parametrize("layout", PAGE_LAYOUTS)
def test_a_text_browser_dump_wrapped_at_74_columns(layout: str) -> None:
    paragraphs = [line for line in (RENDERINGS / f"{layout}.txt").read_text(encoding="utf-8").split("\n")
                  if line.strip()]
    dump = "\n\n".join(_wrap(p) for p in paragraphs)
    dump = dump.replace("   K Relationship", "   K [12]Relationship")  # a link number
    parsed = parse_cell_text(dump, matrix="alcohol", code="B5")
    assert studies_of(parsed) == SEED_STUDIES


@pytest.mark.parametrize("layout", PAGE_LAYOUTS)
def test_the_drug_matrix_in_the_same_layouts(layout: str) -> None:
    text = (RENDERINGS / f"{layout}.txt").read_text(encoding="utf-8")
    drug = text.replace("Alcohol Treatment Matrix", "Drug Treatment Matrix")
    drug = drug.replace("Alcohol Matrix", "Drug Matrix")
    parsed = parse_cell_text(drug.replace("\n", "\r\n"), matrix="drug", code="B5")
    assert (parsed.cell.key, studies_of(parsed)) == ("drug/B5", SEED_STUDIES)


def test_a_year_in_the_title_is_not_the_study_year() -> None:
    parsed = parse_cell_text(
        "Alcohol Treatment Matrix cell B5\n\nK Alcohol Concern (2010) report updated (2012). A summary.\n")
    assert studies_of(parsed) == [(("K",), 2012, None, "Alcohol Concern (2010) report updated")]


def test_a_summary_on_its_own_line_joins_its_study_but_the_commentary_does_not() -> None:
    parsed = parse_cell_text(
        "Alcohol Treatment Matrix cell B5\n"
        "K A study of staff (2010).\nIt found that staff matter a great deal.\n"
        "R A review of staff (2011).\n"
        "What is this cell about? Staff, and what they do for patients.\n")
    assert [s.summary for s in parsed.studies] == ["It found that staff matter a great deal.", ""]
    assert [(p.section, p.text) for p in parsed.passages] == [
        ("What is this cell about?", "Staff, and what they do for patients.")]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-16", "utf-8-sig", "cp1252"])
def test_text_encodings(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "alcohol" / "B5.txt"
    path.parent.mkdir()
    text = (RENDERINGS / "site-2019.txt").read_text(encoding="utf-8")
    path.write_bytes(text.encode(codec, errors="replace"))
    assert studies_of(read_cell_file(path, root=tmp_path)) == SEED_STUDIES


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Home > Matrices > Drug treatment matrix cell B1: practitioners - reducing harm.\n\nIt is.",
         "drug/B1"),
        ("Matrix Bite: Drug Treatment Matrix cell A2\n\nIs the worker the intervention?", "drug/A2"),
        ("New bite out now\n\nRead the Drug Treatment Matrix cell A2 bite today\n\nIt asks.", "drug/A2"),
    ],
)
def test_cell_named_in_breadcrumbs_leads_and_mentions(text: str, key: str) -> None:
    parsed = parse_cell_text(text)
    assert (parsed.cell.key, parsed.studies) == (key, ())


def test_a_mention_never_overrides_the_path() -> None:
    parsed = parse_cell_text("Notes\n\nRead the Drug Treatment Matrix cell A2 bite today\n",
                             matrix="alcohol", code="B5")
    assert (parsed.cell.key, parsed.notes) == ("alcohol/B5", ())


# --------------------------------------------------------------------------- other cells, same layouts

OTHER_STUDIES = [  # (codes, title, organisation, year, the parenthesis as written)
    ("K", "Brief advice in emergency departments cuts drinking", None, 2009, "(2009)"),
    ("S G", "Watershed moment for drug policy", "[UK] Advisory Council on the Misuse of Drugs", 2003,
     "([UK] Advisory Council on the Misuse of Drugs, 2003)"),
    ("R", "Does screening work in primary care?", None, 2014, "(2014)"),
    ("G", "Alcohol brief interventions guidance", "NHS Health Scotland", 2011, "(NHS Health Scotland, 2011)"),
    ("K", "‘Motivational’ counselling in prisons", None, 2008, "(2008; free source at time of writing)"),
    ("R", "What works for drug-dependent offenders (a review)", "US National Institute on Drug Abuse", 2012,
     "(US National Institute on Drug Abuse, 2012)"),
    ("S", "Project MATCH: matching alcohol treatments to client heterogeneity", None, 1997, "(1997)"),
    ("K", "Naloxone on release from prison saves lives", "Scottish Government", 2016,
     "(Scottish Government, 2016)"),
    ("G", "Drug misuse and dependence: UK guidelines on clinical management",
     "[UK] Department of Health and the devolved administrations", 2017,
     "([UK] Department of Health and the devolved administrations, 2017)"),
]


@pytest.mark.parametrize("wrapped", [False, True])
@pytest.mark.parametrize("layout", PAGE_LAYOUTS)
def test_another_cells_studies_in_the_same_layout(layout: str, wrapped: bool) -> None:
    """B5's study lines swapped for another cell's, in other forms; the rest of the page kept."""
    lines = (RENDERINGS / f"{layout}.txt").read_text(encoding="utf-8").split("\n")
    out: list[str] = []
    studies = iter(OTHER_STUDIES)
    for i, line in enumerate(lines):
        if layout == "list-form" and i > 0 and lines[i - 1] in ("S", "K", "R", "G"):
            codes, title, _, _, paren = next(studies)
            out[-1] = codes
            out.append(f"{title} {paren}. It found things. For discussion click here.")
        elif layout != "list-form" and line[:2] in ("S ", "K ", "R ", "G ") and "(" in line:
            codes, title, _, _, paren = next(studies)
            out.append(f"{codes} {title} {paren}. It found things. For discussion click here.")
        else:
            out.append(line)
    text = "\n".join(out)
    if wrapped:
        text = "\n\n".join(_wrap(p) for p in text.split("\n") if p.strip())
    parsed = parse_cell_text(text, matrix="drug", code="C1")
    assert studies_of(parsed) == [(tuple(c.split()), y, o, t) for c, t, o, y, _ in OTHER_STUDIES]


def test_an_email_saved_with_its_headers() -> None:
    text = ("From: Drug and Alcohol Findings <news@findings.example>\nSubject: New Matrix Bite: is the "
            "worker the intervention?\nDate: 3 May 2021\n\n"
            + (RENDERINGS / "bite-email.txt").read_text(encoding="utf-8"))
    parsed = parse_cell_text(text)
    assert (parsed.cell.key, parsed.form, parsed.studies) == ("alcohol/B5", "email", ())
    assert [p.section for p in parsed.passages] == ["Is the worker the intervention?"]
