"""Tests for the text-form ingester, against the real cell B5 and small made-up cells."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evsearch.errors import CorpusError, IngestError
from evsearch.ingest import discover_cell_files, parse_cell_text, read_cell_file
from evsearch.model import ParsedCell

B5_PATH = Path(__file__).resolve().parents[1] / "corpus" / "alcohol" / "B5.txt"

ARE_SKILLS = "Are the practitioner's therapeutic skills really unimportant?"
WHERE_START = "Where should I start?"
BEST_SPLIT = "Best to split therapy and supervision?"
TRICKIER = "The trickier the situation, the more the worker matters"
PANEL = "Options 2 clients appreciated directness"


@pytest.fixture(scope="module")
def b5() -> ParsedCell:
    return read_cell_file(B5_PATH)


def _passage(parsed: ParsedCell, start: str):
    found = [p for p in parsed.passages if p.text.startswith(start)]
    assert len(found) == 1, f"{len(found)} passages start with {start!r}"
    return found[0]


# --------------------------------------------------------------------------- B5: the cell


def test_b5_cell_header(b5: ParsedCell) -> None:
    cell = b5.cell
    assert (cell.matrix, cell.code, cell.key) == ("alcohol", "B5", "alcohol/B5")
    assert cell.label == "Practitioners; Safeguarding the community"
    assert cell.title == "Alcohol Treatment Matrix cell B5"
    assert cell.description.startswith(
        "Key studies on the impact of the treatment practitioner on safeguarding the community,"
    )
    assert cell.description.endswith(
        "a proposed universal rule: The trickier the situation, the more the worker matters."
    )


def test_b5_parse_text_equals_read_file(b5: ParsedCell) -> None:
    assert parse_cell_text(B5_PATH.read_text(encoding="utf-8")) == b5


# --------------------------------------------------------------------------- B5: studies


def test_b5_studies_in_list_order(b5: ParsedCell) -> None:
    assert len(b5.studies) == 9
    # ids: type codes, year, three title words (see evsearch.ingest.documents)
    assert [s.id for s in b5.studies] == [
        "alcohol/B5/k2008-relationship-therapist-seems",
        "alcohol/B5/k2014-client-centred-supervision",
        "alcohol/B5/k2016-job-perception-lack",
        "alcohol/B5/k2008-mothers-wales-staff",
        "alcohol/B5/r2002-supervising-offenders-quality",
        "alcohol/B5/r2005-best-practice-working",
        "alcohol/B5/r2005-motivational-interviewing-work",
        "alcohol/B5/g2005-manual-research-based",
        "alcohol/B5/g2015-working-men-physically",
    ]
    assert [s.order for s in b5.studies] == list(range(1, 10))
    assert {s.cell for s in b5.studies} == {"alcohol/B5"}
    assert [s.study_type for s in b5.studies] == ["K", "K", "K", "K", "R", "R", "R", "G", "G"]
    assert [s.year for s in b5.studies] == [2008, 2014, 2016, 2008, 2002, 2005, 2005, 2005, 2015]
    assert [s.organisation for s in b5.studies] == [
        None,
        "[UK] Ministry of Justice",
        None,
        "Welsh Assembly Government",
        None,
        "Australian Government",
        None,
        None,
        None,
    ]
    assert not any("MORE" in s.title or "Retrieve all" in s.summary for s in b5.studies)


def test_b5_study_titles(b5: ParsedCell) -> None:
    assert [s.title for s in b5.studies] == [
        "Relationship with therapist seems more important for offenders than other clients",
        "Client-centred supervision motivates UK offenders",
        "'Not my job' perception and lack of confidence impede assessment of domestic violence",
        "Mothers in Wales see staff support as critical to child welfare and keeping families "
        "together",
        "Supervising offenders is about the quality of the relationship",
        "Best practice in working with substance users in the criminal justice system",
        "Can motivational interviewing work in criminal justice settings?",
        "Manual for research-based offender supervision",
        "Working with men who physically abuse their partners",
    ]


def test_b5_study_summaries_lose_cross_references_only(b5: ParsedCell) -> None:
    s1, _, s3, s4, s5, s6, s7, s8, s9 = b5.studies
    assert s1.summary == (
        "At a Canadian substance use rehabilitation centre, seeing their therapist as "
        "understanding and involved was related to whether patients under criminal justice "
        "supervision/pressure completed treatment, and the relationship was stronger than for "
        "other clients. Alcohol was the most common problem use substance."
    )
    assert s3.summary.endswith("as part of their job. Guidelines arising from the research below.")
    assert "See also later evaluation (2012) of the same service." in s4.summary
    assert "drink of proceedings" in s4.summary  # the source's typo, kept
    assert s5.summary.endswith(
        "Highlights the importance of the quality of contacts with offenders. "
        "Associated supervision manual below."
    )
    assert s6.summary == (
        "Includes desired/required working styles and attitudes and understandings among "
        "treatment and criminal justice staff."
    )
    assert s7.summary.endswith("undermine motivational interviewing's ethos and effectiveness.")
    assert "and manage offenders' behaviour" in s8.summary
    assert s9.summary.endswith("Associated study from same project above.")
    for study in b5.studies:
        for gone in ("click", "scroll down", "For discussion", "For related", "<u>", "*"):
            assert gone not in study.summary, (study.id, gone)


def test_b5_study_sections_recovered(b5: ParsedCell) -> None:
    sections = {s.order: s.sections for s in b5.studies}
    assert sections[1] == (ARE_SKILLS,)  # the Canadian 2008 study
    assert sections[2] == ()  # one link, but no back-reference in the text to recover it
    assert sections[3] == (TRICKIER,)  # domestic violence, 2016
    assert sections[4] == (TRICKIER,)  # Welsh Option 2 evaluation, 2008
    assert sections[5] == (WHERE_START, ARE_SKILLS)  # Taxman's 2002 review: two links
    assert sections[6] == ()  # Australian 2005: no cross-reference
    assert sections[7] == (ARE_SKILLS, BEST_SPLIT)  # motivational interviewing review
    assert sections[8] == (WHERE_START,)  # supervision manual: 2 links, 1 recoverable
    assert sections[9] == ()  # Working with men: no cross-reference


# --------------------------------------------------------------------------- B5: passages

B5_OUTLINE = [
    ("description", "Practitioners; Safeguarding the community", "Key studies on the impact"),
    ("paragraph", "What is this cell about?", "Whether treatment is chosen positively"),
    ("paragraph", "What is this cell about?", "Across psychotherapy the interpersonal"),
    ("paragraph", WHERE_START, "With an excellent and freely available review"),
    ("paragraph", WHERE_START, "Professor Taxman advances a different perspective"),
    ("paragraph", ARE_SKILLS, "Research may be sparse, but"),
    ("quote", ARE_SKILLS, "The glue of the supervision process"),
    ("paragraph", ARE_SKILLS, "Therapists in the Canadian study"),
    ("paragraph", ARE_SKILLS, 'The "deportment" she recommended'),
    ("paragraph", ARE_SKILLS, "The starting point review put it this way"),
    ("paragraph", BEST_SPLIT, "The preceding discussion raises another issue"),
    ("paragraph", BEST_SPLIT, "Partly because they acknowledge"),
    ("paragraph", BEST_SPLIT, "A young man being supervised"),
    ("paragraph", BEST_SPLIT, "\"You're aware that your probation officer"),
    ("paragraph", BEST_SPLIT, "How far is it realistic"),
    ("paragraph", TRICKIER, "Issues discussed above tempt"),
    ("paragraph", TRICKIER, "The situations discussed above relate"),
    ("quote", TRICKIER, "The more formal power over a patient's life"),
    ("paragraph", TRICKIER, "Perhaps trickiest of all"),
    ("quote", TRICKIER, "Like juggling balls with a magnetic tendency"),
    ("paragraph", TRICKIER, "No wonder substance use treatment workers"),
    ("paragraph", TRICKIER, "Reverting to therapy language"),
    ("paragraph", TRICKIER, "The two evaluation reports"),
    ("paragraph", TRICKIER, "How difficult it is to meld support"),
    ("panel", PANEL, "One of the evaluation reports highlights"),
    ("panel", PANEL, '"[Option 2 worker] told them'),
    ("paragraph", TRICKIER, "The proposed rule seems plausible"),
    ("paragraph", TRICKIER, "Thanks for their comments"),
]


def test_b5_passage_outline(b5: ParsedCell) -> None:
    assert len(b5.passages) == 28
    got = [(p.role, p.section, p.text) for p in b5.passages]
    assert len(got) == len(B5_OUTLINE)
    for (role, section, text), (want_role, want_section, start) in zip(
        got, B5_OUTLINE, strict=True
    ):
        assert (role, section) == (want_role, want_section), text[:60]
        assert text.startswith(start), (text[:60], start)


def test_b5_passage_ids_and_order(b5: ParsedCell) -> None:
    # ids: the section's first four words, then the position within the section
    assert [p.id for p in b5.passages] == [
        "alcohol/B5/description",
        "alcohol/B5/what-is-this-cell/1",
        "alcohol/B5/what-is-this-cell/2",
        "alcohol/B5/where-should-i-start/1",
        "alcohol/B5/where-should-i-start/2",
        "alcohol/B5/are-the-practitioners-therapeutic/1",
        "alcohol/B5/are-the-practitioners-therapeutic/2",
        "alcohol/B5/are-the-practitioners-therapeutic/3",
        "alcohol/B5/are-the-practitioners-therapeutic/4",
        "alcohol/B5/are-the-practitioners-therapeutic/5",
        "alcohol/B5/best-to-split-therapy/1",
        "alcohol/B5/best-to-split-therapy/2",
        "alcohol/B5/best-to-split-therapy/3",
        "alcohol/B5/best-to-split-therapy/4",
        "alcohol/B5/best-to-split-therapy/5",
        "alcohol/B5/the-trickier-the-situation/1",
        "alcohol/B5/the-trickier-the-situation/2",
        "alcohol/B5/the-trickier-the-situation/3",
        "alcohol/B5/the-trickier-the-situation/4",
        "alcohol/B5/the-trickier-the-situation/5",
        "alcohol/B5/the-trickier-the-situation/6",
        "alcohol/B5/the-trickier-the-situation/7",
        "alcohol/B5/the-trickier-the-situation/8",
        "alcohol/B5/the-trickier-the-situation/9",
        "alcohol/B5/options-2-clients-appreciated/1",
        "alcohol/B5/options-2-clients-appreciated/2",
        "alcohol/B5/the-trickier-the-situation/10",
        "alcohol/B5/the-trickier-the-situation/11",
    ]
    assert [p.order for p in b5.passages] == list(range(1, 29))
    assert {p.cell for p in b5.passages} == {"alcohol/B5"}
    assert b5.passages[0].text == b5.cell.description


def test_b5_headings_are_cut_from_their_paragraphs(b5: ParsedCell) -> None:
    assert b5.passages[1].text.startswith("Whether treatment is chosen positively or under")
    assert b5.passages[3].text.startswith("With an excellent and freely available review")
    assert b5.passages[5].text.startswith("Research may be sparse, but what we do have supports")
    assert b5.passages[15].text.startswith("Issues discussed above tempt the formulation of")
    sections = {p.section for p in b5.passages}
    assert "Issues to consider and discuss" not in sections  # heading with no text of its own
    assert not any(p.text.strip() == "" for p in b5.passages)
    assert not any(s.startswith(("►", "▶", " ")) for s in sections)


def test_b5_pull_quotes(b5: ParsedCell) -> None:
    quotes = [p.text for p in b5.passages if p.role == "quote"]
    assert quotes == [
        "The glue of the supervision process is the manner of being between offender and agent",
        "The more formal power over a patient's life, the less informal power through "
        "collaborative therapy",
        "Like juggling balls with a magnetic tendency to interfere with each other's flight",
    ]
    after_glue = _passage(b5, "Therapists in the Canadian study described above")
    assert after_glue.role == "paragraph"
    after_juggling = _passage(b5, "No wonder substance use treatment workers")
    assert after_juggling.role == "paragraph"


def test_b5_page_break_cuts_rejoined(b5: ParsedCell) -> None:
    glue = _passage(b5, "Therapists in the Canadian study")
    assert glue.text.endswith(
        "The contact is the key because it is the means to focus the purpose of supervision and "
        "it allows the offender and agent to develop a rapport ... an important component for "
        'the supervision process to achieve better outcomes."'
    )
    assert (
        "An example is the possibility that the patient has been abusive or violent towards "
        "their partner, seen as difficult (document listed above) to broach"
        in _passage(b5, "The situations discussed above").text
    )
    assert (
        "the client knows you know, and you are acting at the behest of services which could "
        "take the child away" in _passage(b5, "No wonder").text
    )
    assert (
        "Now let's subject it to an imaginary 'stress-test', bearing in mind"
        in _passage(b5, "The proposed rule").text
    )
    assert not any(p.text[0].islower() for p in b5.passages)


def test_b5_side_panel_lifted_out_of_cut_sentence(b5: ParsedCell) -> None:
    whole = _passage(b5, "How difficult it is to meld support with control")
    assert whole.section == TRICKIER
    assert whole.role == "paragraph"
    assert whole.text.startswith(
        "How difficult it is to meld support with control became apparent when an attempt was "
        "made (free source at the time of writing) to disseminate Option 2's methods to generic "
        "child protection services."
    )
    assert whole.text.endswith("but they were in the minority.")
    panels = [p for p in b5.passages if p.role == "panel"]
    assert [p.section for p in panels] == [PANEL, PANEL]
    assert panels[0].text.endswith("communicate difficult issues when required.")
    assert panels[1].text.endswith('she found that really helpful."')
    assert not any(p.text == PANEL for p in b5.passages)
    assert panels[0].order == whole.order + 1


def test_b5_markup_and_whitespace(b5: ParsedCell) -> None:
    start = _passage(b5, "With an excellent and freely available review")
    assert start.text.startswith("With an excellent and freely available review listed above from")
    assert "the greater the formal power" in _passage(b5, "Issues discussed above").text.lower()
    for doc in b5.passages:
        assert "  " not in doc.text and doc.text == doc.text.strip()
        for bad in ("<u>", "</u>", "*", "►", "▶", "\t", "\n"):
            assert bad not in doc.text, (doc.id, bad)


CHROME = [
    "Home Mailing list",
    "Seminal studies",
    "Links to other documents",
    "Hover over for notes",
    "Unfold extra text",
    "DOWNLOAD PDF",
    "2020/21 upda",
    "Previously als funded by",
    "Society for the S of Addiction",
    "Tweet",
    "your.email@addre",
    "Substance Misuse Skills Consor",
    "Alcohol Treat Matrix",
    "roductio",
    "Comment/qu",
    "Close Matrix Bite",
    "🐲",
    "🗱",
    "🛥",
]


def test_b5_no_site_chrome(b5: ParsedCell) -> None:
    texts = [p.text for p in b5.passages] + [p.section for p in b5.passages]
    texts += [f"{s.title} {s.organisation} {s.summary}" for s in b5.studies]
    for text in texts:
        for chrome in CHROME:
            assert chrome not in text, (chrome, text[:60])


def test_b5_source_typos_kept(b5: ParsedCell) -> None:
    assert "the offender art the receiving end:" in _passage(b5, "A young man").text


def test_b5_final_acknowledgement_is_a_paragraph(b5: ParsedCell) -> None:
    last = b5.passages[-1]
    assert last.text.startswith("Thanks for their comments on an earlier version of this entry")
    assert (last.role, last.section) == ("paragraph", TRICKIER)


# --------------------------------------------------------------------------- synthetic cells

DRUG_E1 = """Home Mailing list Search Browse Hot topics Matrices About Help Contact

Drug Treatment Matrix cell E1

Local and national systems; Reducing harm

Key studies on how national policy shapes harm reduction. Asks who pays.

S Seminal studies K Key studies R Reviews G Guidance MORE Search for more studies Links to \
other documents. Hover over for notes. Unfold extra text

S G Watershed moment for harm reduction ([UK] Advisory Council on the Misuse of Drugs, 2003). \
Argued that needle exchange had *contained* HIV in Britain. See also the 1988 report. \
Discussion in bite's Issues section.

K Does coverage matter? (National Treatment Agency, 2010). Compared areas with high and low \
coverage of needle exchange. Discussion in bite's Highlighted study and Issues sections.

R Naloxone for all (2012). Review of take-home naloxone. For discussion <u>click</u> and \
scroll down to highlighted heading.

MORE Retrieve all relevant Effectiveness Bank analyses.

🗱 Close Matrix Bite 🛥

Tweet

Links to other documents. Hover over for notes. Unfold extra text

What is this cell about? National systems decide what harm reduction reaches users.

Highlighted study

The coverage study found higher coverage went with fewer infections.

Issues to consider and discuss

▶ Who pays for naloxone Local budgets are tight. The review <u>listed above</u> of take-home \
naloxone argued for national funding of kits.

Close Matrix Bite -
"""


@pytest.fixture(scope="module")
def e1() -> ParsedCell:
    return parse_cell_text(DRUG_E1)


def test_drug_cell_header(e1: ParsedCell) -> None:
    assert e1.cell.key == "drug/E1"
    assert e1.cell.title == "Drug Treatment Matrix cell E1"
    assert e1.cell.label == "Local and national systems; Reducing harm"
    assert (
        e1.cell.description
        == "Key studies on how national policy shapes harm reduction. Asks who pays."
    )


def test_drug_cell_studies(e1: ParsedCell) -> None:
    s1, s2, s3 = e1.studies
    assert [s.id for s in e1.studies] == [
        "drug/E1/sg2003-watershed-moment-harm",
        "drug/E1/k2010-coverage-matter",
        "drug/E1/r2012-naloxone",
    ]
    assert s1.types == ("S", "G") and s1.study_type == "S G"
    assert s1.title == "Watershed moment for harm reduction"
    assert s1.organisation == "[UK] Advisory Council on the Misuse of Drugs"
    assert s1.year == 2003
    assert s1.summary == (
        "Argued that needle exchange had contained HIV in Britain. See also the 1988 report."
    )
    assert (s2.title, s2.organisation, s2.year) == (
        "Does coverage matter?",
        "National Treatment Agency",
        2010,
    )
    assert s2.summary == "Compared areas with high and low coverage of needle exchange."
    assert (s3.types, s3.organisation, s3.year) == (("R",), None, 2012)
    assert s3.summary == "Review of take-home naloxone."


def test_drug_cell_named_and_recovered_sections(e1: ParsedCell) -> None:
    s1, s2, s3 = e1.studies
    assert s1.sections == ("Issues to consider and discuss",)
    assert s2.sections == ("Highlighted study", "Issues to consider and discuss")
    assert s3.sections == ("Who pays for naloxone",)  # via "The review listed above of ..."


def test_drug_cell_passages(e1: ParsedCell) -> None:
    got = [(p.id, p.role, p.section, p.text) for p in e1.passages]
    assert got == [
        (
            "drug/E1/description",
            "description",
            "Local and national systems; Reducing harm",
            "Key studies on how national policy shapes harm reduction. Asks who pays.",
        ),
        (
            "drug/E1/what-is-this-cell/1",
            "paragraph",
            "What is this cell about?",
            "National systems decide what harm reduction reaches users.",
        ),
        (
            "drug/E1/highlighted-study/1",
            "paragraph",
            "Highlighted study",
            "The coverage study found higher coverage went with fewer infections.",
        ),
        (
            "drug/E1/who-pays-for-naloxone/1",
            "paragraph",
            "Who pays for naloxone",
            "Local budgets are tight. The review listed above of take-home naloxone argued for "
            "national funding of kits.",
        ),
    ]


PANEL_CELL = """Alcohol Treatment Matrix cell C2

Management/supervision; Generic and cross-cutting issues

Key studies on managing services.

K Supervision quality predicts retention (2011). Clinics whose supervisors coached staff kept \
more patients.

▶ Does supervision help? Supervisors who coach their staff, as the clinic study listed above \
found, keep more patients in treatment. This held when the service was

Coaching beats checking in every clinic

under pressure from commissioners and when it was not.

Managers often fear that time spent on supervision is lost. The evidence was that

Supervisors on the front line

Interviewed supervisors said they valued protected time.

They also wanted training.

protected supervision time paid for itself.
"""


def test_synthetic_cut_sentences_quote_and_panel() -> None:
    parsed = parse_cell_text(PANEL_CELL)
    assert parsed.cell.key == "alcohol/C2"
    assert parsed.studies[0].sections == ()  # no cross-reference sentence: no sections
    got = [(p.role, p.section, p.text) for p in parsed.passages[1:]]
    assert got == [
        (
            "paragraph",
            "Does supervision help?",
            "Supervisors who coach their staff, as the clinic study listed above found, keep "
            "more patients in treatment. This held when the service was under pressure from "
            "commissioners and when it was not.",
        ),
        ("quote", "Does supervision help?", "Coaching beats checking in every clinic"),
        (
            "paragraph",
            "Does supervision help?",
            "Managers often fear that time spent on supervision is lost. The evidence was that "
            "protected supervision time paid for itself.",
        ),
        (
            "panel",
            "Supervisors on the front line",
            "Interviewed supervisors said they valued protected time.",
        ),
        ("panel", "Supervisors on the front line", "They also wanted training."),
    ]


def test_study_without_year_keeps_title_and_summary() -> None:
    parsed = parse_cell_text(
        "Alcohol Treatment Matrix cell A1\n\nInterventions; Screening and brief intervention\n\n"
        "About screening.\n\nG Screening toolkit. A practical guide for clinics.\n"
    )
    (study,) = parsed.studies
    assert (study.types, study.title, study.year, study.organisation) == (
        ("G",),
        "Screening toolkit",
        None,
        None,
    )
    assert study.summary == "A practical guide for clinics."


# --------------------------------------------------------------------------- cell identity


def test_fallback_used_when_page_has_no_title() -> None:
    text = "Interventions; Screening\n\nAbout it.\n\nK A study (2001). Found things.\n"
    parsed = parse_cell_text(text, matrix="drugs", code="a1")
    assert parsed.cell.key == "drug/A1"
    assert parsed.cell.title == "Drug Treatment Matrix cell A1"
    assert parsed.cell.label == "Interventions; Screening"
    assert parsed.studies[0].id == "drug/A1/k2001-study"


def test_page_and_path_disagree_the_text_wins_with_a_note() -> None:
    parsed = parse_cell_text(DRUG_E1, matrix="alcohol", code="B5")
    assert parsed.cell.key == "drug/E1"
    assert parsed.notes == (
        "the text names cell drug/E1 but the path says alcohol/B5: indexed as drug/E1",
    )


def test_page_and_path_agree() -> None:
    assert parse_cell_text(DRUG_E1, matrix="Drugs", code="E1").cell.key == "drug/E1"


def test_no_cell_identity_at_all_is_a_page_with_its_studies() -> None:
    parsed = parse_cell_text("K A study (2001). Found things.\n", name="notes/list")
    assert (parsed.cell.key, parsed.form) == ("page/notes-list", "page")
    assert [(s.id, s.year, s.title) for s in parsed.studies] == [
        ("page/notes-list/k2001-study", 2001, "A study")
    ]


def test_text_without_a_title_or_studies_is_the_cell_its_path_names() -> None:
    parsed = parse_cell_text("Just some notes.\n\nNothing else here.\n", matrix="alcohol", code="B5")
    assert (parsed.cell.key, parsed.form, parsed.studies) == ("alcohol/B5", "cell", ())
    assert [p.text for p in parsed.passages] == ["Just some notes.", "Nothing else here."]


def test_text_that_names_no_cell_is_a_page() -> None:
    text = "Hot topic: staff\n\nWorkers matter a great deal.\n"
    parsed = parse_cell_text(text, name="pages/Hot topic")
    assert (parsed.cell.key, parsed.form) == ("page/pages-hot-topic", "page")
    assert parsed.cell.title == "Hot topic: staff"
    assert [(p.id, p.section, p.text) for p in parsed.passages] == [
        ("page/pages-hot-topic/hot-topic-staff/1", "Hot topic: staff", "Workers matter a great deal.")
    ]


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize(
    ("relpath", "key"),
    [
        ("alcohol/B5.txt", "alcohol/B5"),
        ("Alcohol/B5.txt", "alcohol/B5"),
        ("drugs/B5.txt", "drug/B5"),
        ("Drug/B5.txt", "drug/B5"),
        ("alcohol-B5.txt", "alcohol/B5"),
        ("misc/drug_b5.txt", "drug/B5"),
    ],
)
def test_read_cell_file_guesses_cell_from_path(tmp_path: Path, relpath: str, key: str) -> None:
    text = "Practitioners; Safeguarding\n\nAbout it.\n\nK A study (2001). Found things.\n"
    path = tmp_path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    assert read_cell_file(path, root=tmp_path).cell.key == key


def test_read_cell_file_path_disagreement_is_indexed_under_the_text_cell(tmp_path: Path) -> None:
    path = tmp_path / "drug" / "E1.txt"
    path.parent.mkdir()
    path.write_bytes(B5_PATH.read_bytes())
    parsed = read_cell_file(path)
    assert (parsed.cell.key, len(parsed.studies)) == ("alcohol/B5", 9)
    assert parsed.notes == (
        "the text names cell alcohol/B5 but the path says drug/E1: indexed as alcohol/B5",
    )


def test_read_cell_file_encodings(tmp_path: Path) -> None:
    text = B5_PATH.read_text(encoding="utf-8")
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert read_cell_file(bom) == read_cell_file(B5_PATH)
    legacy = tmp_path / "cp1252.txt"
    legacy.write_bytes(
        "Alcohol Treatment Matrix cell A2\n\nX; Y\n\nAbout it.\n\n"
        "K Caf\u00e9 study \u2013 dual (2001). Found \u2018things\u2019.\n".encode("cp1252")
    )
    study = read_cell_file(legacy).studies[0]
    assert study.title == "Caf\u00e9 study \u2013 dual"
    assert study.summary == "Found \u2018things\u2019."
    latin = tmp_path / "latin1.txt"
    latin.write_bytes(
        b"Alcohol Treatment Matrix cell A2\n\nX; Y\n\nOk.\n\nK A \x81 b (2001). Hi.\n"
    )
    # cp1252 cannot decode \x81: latin-1 does, and the C1 control it becomes is dropped
    assert read_cell_file(latin).studies[0].title == "A b"


def test_read_cell_file_rejects_other_suffixes(tmp_path: Path) -> None:
    page = tmp_path / "alcohol" / "B5.doc"
    page.parent.mkdir()
    page.write_bytes(b"%PDF-1.4")
    with pytest.raises(IngestError,
                       match=r"cell files are \.txt, \.htm, \.html, \.pdf or \.eml, not '\.doc'"):
        read_cell_file(page)


def test_read_cell_file_missing(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="cannot read"):
        read_cell_file(tmp_path / "alcohol" / "B9.txt")


def test_discover_cell_files(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    for rel in ("drug/E1.html", "alcohol/B5.txt", "alcohol/B4.htm", "alcohol/notes.doc", "x.md"):
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        (corpus / rel).write_text("x", encoding="utf-8")
    outside = tmp_path / "outside.txt"
    outside.write_text("x", encoding="utf-8")
    (corpus / "escape.txt").symlink_to(outside)
    (corpus / "alias.txt").symlink_to(corpus / "alcohol" / "B5.txt")
    found = discover_cell_files(corpus)
    assert [p.relative_to(corpus).as_posix() for p in found] == [
        "alcohol/B4.htm",
        "alcohol/B5.txt",
        "alias.txt",
        "drug/E1.html",
    ]


def test_discover_real_corpus() -> None:
    assert discover_cell_files(B5_PATH.parents[1]) == [B5_PATH]


def test_discover_cell_files_errors(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        discover_cell_files(tmp_path / "nope")
    afile = tmp_path / "file.txt"
    afile.write_text("x", encoding="utf-8")
    with pytest.raises(CorpusError, match="not a directory"):
        discover_cell_files(afile)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads anything")
def test_discover_cell_files_unreadable(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        with pytest.raises(CorpusError, match="not readable"):
            discover_cell_files(locked)
    finally:
        locked.chmod(0o755)


def test_backreference_noun_prefers_matching_study_type() -> None:
    text = (
        "Alcohol Treatment Matrix cell B2\n\nPractitioners; Generic\n\nAbout staff.\n\n"
        "K Empathic counsellors retain clients (2001). Trial of empathy. For discussion click "
        "and scroll down to highlighted heading.\n\n"
        "R Empathic counsellors retain clients everywhere (2009). Across settings. For "
        "discussion click and scroll down to highlighted heading.\n\n"
        "Links to other documents.\n\n"
        "What matters? The review listed above on empathic counsellors agrees.\n\n"
        "Why so? The study listed above on empathic counsellors is small.\n"
    )
    k, r = parse_cell_text(text).studies
    assert k.sections == ("Why so?",)
    assert r.sections == ("What matters?",)


# --------------------------------------------------------------------------- stable ids


def _ids(parsed: ParsedCell) -> dict[str, str]:
    """Each document's id, keyed by its text."""
    return {**{s.summary: s.id for s in parsed.studies}, **{p.text: p.id for p in parsed.passages}}


def test_editing_a_cell_keeps_the_other_documents_ids(b5: ParsedCell, b5_text: str) -> None:
    before = _ids(b5)
    lines = b5_text.split("\n")
    # delete a study, fix a typo in another and in a passage, add a paragraph at a section's end
    deleted = next(i for i, line in enumerate(lines) if line.startswith("K Client-centred"))
    del lines[deleted]
    edited = "\n".join(lines).replace("drink of proceedings", "brink of proceedings")
    edited = edited.replace("Faye Taxman's review offers", "Faye Taxman's review gives")
    edited = edited.replace(
        "\n\nIssues to consider and discuss",
        "\n\nA new paragraph closes this section, added by an editor.\n\nIssues to consider and discuss")
    after = _ids(parse_cell_text(edited))
    kept = {text: i for text, i in before.items() if text in after}
    assert len(kept) == len(before) - 3  # the deleted study and the two edited documents
    assert all(after[text] == i for text, i in kept.items())
    assert "alcohol/B5/k2014-client-centred-supervision" not in after.values()
    assert "alcohol/B5/k2008-mothers-wales-staff" in after.values()  # its summary's typo fixed
    assert "alcohol/B5/where-should-i-start/1" in after.values()  # the passage fixed keeps its id
    added = after["A new paragraph closes this section, added by an editor."]
    assert added == "alcohol/B5/where-should-i-start/3"


# --------------------------------------------------------------------------- fast paths agree
def _clean_by_characters(text: str) -> str:
    """``grammar.clean`` as its rule says, one character at a time (the reference)."""
    import unicodedata

    from evsearch._sanitize import strip_controls
    from evsearch.ingest import grammar

    kept = [
        ch for ch in strip_controls(text)
        if ch not in grammar._DROP_CHARS and unicodedata.category(ch) not in ("So", "Cs", "Co")
    ]
    return " ".join("".join(kept).split())


def test_clean_drops_the_same_characters_as_its_rule() -> None:
    """``clean`` looks only at non-ASCII characters: it must drop exactly what the rule
    (symbols, surrogates, private use, invisible characters, controls) drops."""
    import random

    from evsearch.ingest.grammar import clean

    pool = [chr(c) for c in range(0x3000)] + [
        "\ufe0f", "\u200b", "\u00ad", "\ufeff", "\ud800", "\ue000", "\U0001f600", "\u2714",
        "\x1b[31m", "\x1b]8;;x\x07", "\u2028", "\x85",
    ]
    rnd = random.Random(17)
    for _ in range(3000):
        text = "".join(
            rnd.choice(pool) if rnd.random() < 0.3 else rnd.choice("ab c\n\t.") for _ in range(40)
        )
        assert clean(text) == _clean_by_characters(text), repr(text)
    assert clean("Safe\u00adguarding ✔ the ☺ com\u200bmunity\ue000 ") == "Safeguarding the community"


def test_binary_share_counts_unicode_control_characters() -> None:
    """The binary check counts Unicode's control characters (``Cc``) other than whitespace,
    and replacement characters: the same set, code point by code point."""
    import unicodedata

    from evsearch.ingest.files import _BINARY_CHARS

    for cp in range(0x110000):
        ch = chr(cp)
        counted = ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v")
        assert bool(_BINARY_CHARS.fullmatch(ch)) == counted, hex(cp)


def test_strip_controls_skips_only_text_without_control_characters() -> None:
    """``strip_controls`` returns text without a control character untouched: every escape
    sequence it removes starts with one, so removing them all gives the same text."""
    import random

    from evsearch._sanitize import _CONTROLS, _ESCAPES, strip_controls

    pool = [chr(c) for c in range(0x200)] + ["\x1b[31m", "\x1b]8;;x\x07", "\x9b1m", "\x9dx\x9c"]
    rnd = random.Random(5)
    for _ in range(20000):
        text = "".join(rnd.choice(pool) if rnd.random() < 0.2 else rnd.choice("ab \n\t") for _ in range(30))
        assert strip_controls(text) == _CONTROLS.sub("", _ESCAPES.sub("", text)), repr(text)
