"""Copies of other cells in forms the renderings do not show (see ``tests/_variants.py``):
study lines with years, brackets and punctuation inside their titles, text-browser dumps with
and without blank lines, bulleted lists, type codes on their own lines, other encodings, and
records and e-mails of other cells. ``python -m tests._variants`` prints the pass rate.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evsearch.ingest import parse_cell_text
from tests._variants import CELLS, Variant, all_variants, check, from_template, wrap_tight

VARIANTS = all_variants()


def _failures(variants: list[Variant], tmp_path: Path) -> dict[str, list[str]]:
    failures = {}
    for v in variants:
        _, _, problems = check(v, tmp_path)
        if problems:
            failures[v.name] = problems[:3]
    return failures


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted({v.cell for v in VARIANTS}))
def test_every_variant_of_a_cell_reads_right(key: str, tmp_path: Path) -> None:
    """Each variant's complete study lines come out as studies with their types, title and
    year; no file is refused; no study is filed as a passage; records give no studies; the
    label and description are kept where the copy has them."""
    assert _failures([v for v in VARIANTS if v.cell == key], tmp_path) == {}


def test_a_sample_of_the_variants_reads_right(tmp_path: Path) -> None:
    """Every seventh variant (all kinds of copy, all cells) for the quick pass."""
    sample = VARIANTS[::7]
    assert len({v.name.split(":")[1] for v in sample}) > 20
    assert _failures(sample, tmp_path) == {}


def studies(text: str) -> list[tuple[tuple[str, ...], str, int | None]]:
    return [(s.types, s.title, s.year) for s in parse_cell_text(text, matrix="drug", code="A1").studies]


@pytest.mark.parametrize(
    ("line", "title", "year"),
    [
        ("S Project MATCH (1997): matching alcohol treatments to client heterogeneity (1997). It did.",
         "Project MATCH (1997): matching alcohol treatments to client heterogeneity", 1997),
        ("K Staff turnover in US treatment (1998 to 2004) (2009). It rose.",
         "Staff turnover in US treatment (1998 to 2004)", 2009),
        ("K Ten years on: the Vancouver facility (2003–2013) (2014). Outcomes.",
         "Ten years on: the Vancouver facility (2003–2013)", 2014),
        ("K Supervised consumption: the 2008 (revised 2011) guidance in practice (2012). It works.",
         "Supervised consumption: the 2008 (revised 2011) guidance in practice", 2012),
        # the first year parenthesis still ends the head when a sentence follows it
        ("K A trial in Canada (2008) At a centre, staff mattered. A later report (2010).",
         "A trial in Canada", 2008),
    ],
)
def test_a_year_parenthesis_inside_a_title(line: str, title: str, year: int) -> None:
    assert studies(f"Drug Treatment Matrix cell A1\n\n{line}\n") == [(("K",) if line[0] == "K" else ("S",),
                                                                      title, year)]


def test_a_study_table_dumped_without_blank_lines_wrapped_at_78_columns() -> None:
    """A text browser's table of studies: each row wrapped, no blank line between rows."""
    cell = CELLS[0]
    text = wrap_tight(from_template("site-2021", cell), 78)
    assert any(line.startswith("(") or line.startswith("Government") for line in text.split("\n"))
    assert studies(text) == [(s.types, s.title, s.year) for s in cell.studies]


@pytest.mark.parametrize(
    ("line", "want"),
    [
        ("K (Not) the therapy but the therapist (2009). It is.",
         (("K",), "(Not) the therapy but the therapist", 2009)),
        ("K [11](Not) the therapy but the therapist (2009). It is.",
         (("K",), "(Not) the therapy but the therapist", 2009)),
        ("K Counsellors' drinking and outcomes (2008, updated 2012). It did.",
         (("K",), "Counsellors' drinking and outcomes", 2008)),
        ("K – Brief advice in A&E (2013). It cut drinking.", (("K",), "Brief advice in A&E", 2013)),
        ("S G: Hidden harm ([UK] Advisory Council on the Misuse of Drugs, 2003). Children.",
         (("S", "G"), "Hidden harm", 2003)),
        ("[K] Brief advice in A&E (2013). It cut drinking.", (("K",), "Brief advice in A&E", 2013)),
        ("[S.gif] [G.gif] Hidden harm (2003). Children.", (("S", "G"), "Hidden harm", 2003)),
    ],
)
def test_type_code_and_title_forms(line: str, want: tuple[tuple[str, ...], str, int]) -> None:
    assert studies(f"Drug Treatment Matrix cell A1\n\n{line}\n") == [want]


def test_type_codes_in_brackets_on_a_line_of_their_own() -> None:
    assert studies("Drug Treatment Matrix cell A1\n\n[S] [G]\nHidden harm (2003). Children.\n") == [
        (("S", "G"), "Hidden harm", 2003)]


@pytest.mark.parametrize(
    "label",
    ["Treatment organisations/services; Recovery", "Treatment services – Reducing harm",
     "Local/national (commissioning/policy): Treatment", "commissioning and policy - recovery"],
)
def test_labels_with_the_other_versions_column_names(label: str) -> None:
    parsed = parse_cell_text(f"Drug Treatment Matrix cell D4\n\n{label}\n\nWhat this cell covers.\n\n"
                             "K A study of services (2010). It found.\n")
    assert (parsed.cell.label, parsed.cell.description) == (label, "What this cell covers.")


def test_a_prose_line_starting_with_a_column_word_is_not_a_label() -> None:
    parsed = parse_cell_text("Drug Treatment Matrix cell D4\n\nServices, however, were few.\n\n"
                             "K A study of services (2010). It found.\n")
    assert (parsed.cell.label, parsed.cell.description) == ("", "Services, however, were few.")


def test_wrapped_dump_keeps_hyphenated_words_and_finishes_a_title_cut_after_a_colon() -> None:
    text = (
        "   Alcohol Treatment Matrix cell E3: Local/national (commissioning/policy):\n   Treatment\n\n"
        "   K Client-centred supervision in commissioning-\n   led services works (2014). It does.\n"
    )
    parsed = parse_cell_text(text)
    assert parsed.cell.label == "Local/national (commissioning/policy): Treatment"
    assert [s.title for s in parsed.studies] == [
        "Client-centred supervision in commissioning-led services works"]


def test_a_label_line_wrapped_without_blank_lines_keeps_its_description_apart() -> None:
    text = ("Alcohol Treatment Matrix cell D2 Matrix cell logo\n"
            "Organisational functioning; Generic and cross-cutting issues\n"
            "Whether the organisation matters as much as the therapy, and what makes a good\n"
            "one, according to the research.\n"
            "K Does the organisation matter? Treatment climate and outcome (2006). It did.\n")
    parsed = parse_cell_text(text)
    assert parsed.cell.label == "Organisational functioning; Generic and cross-cutting issues"
    assert parsed.cell.description.startswith("Whether the organisation")
    assert parsed.cell.description.endswith("according to the research.")


# --------------------------------------------------------------------------- e-mails and records


@pytest.mark.parametrize(("html", "suffix"), [(False, ".txt"), (False, ".eml"), (True, ".eml")])
def test_an_email_saved_as_a_message(tmp_path: Path, html: bool, suffix: str) -> None:
    """Quoted-printable text, or base64 HTML in a multipart message: decoded, not indexed as
    ``=E2=80=99`` and soft line breaks."""
    from evsearch.ingest import read_cell_file
    from tests._variants import email_message

    cell = CELLS[3]
    path = tmp_path / f"bite{suffix}"
    path.write_text(email_message(cell, html=html), encoding="ascii")
    parsed = read_cell_file(path)
    assert (parsed.cell.key, parsed.form, parsed.studies) == (cell.key, "email", ())
    texts = [p.text for p in parsed.passages]
    assert "Is the worker the intervention – or the service’s name?" in texts  # decoded
    assert cell.description in texts


def test_a_pasted_header_without_mime_headers_stays_plain_text() -> None:
    from evsearch.ingest.mail import is_mime_message

    assert not is_mime_message("From: me@example.org\nSubject: notes\n\nK A trial (2010). It did.")
    assert not is_mime_message("Subject: notes\nMIME-Version: 1.0")  # no blank line: no body


def test_a_record_in_other_wording_drops_its_metadata_fields() -> None:
    from tests._variants import record_text

    cell = CELLS[3]
    parsed = parse_cell_text(record_text(cell))
    assert (parsed.cell.key, parsed.form, parsed.studies) == (cell.key, "record", ())
    texts = [p.text for p in parsed.passages]
    assert cell.description in texts
    assert not [t for t in texts if t.startswith(("Publication Type", "Drug Type", "Subjects"))]


def test_a_logo_line_does_not_swallow_the_blurb_under_it() -> None:
    parsed = parse_cell_text(
        "Drug Treatment Matrix cell C1 Matrix cell logo\n"
        "Is the worker the intervention – or the service’s name?\n"
        "What managers and supervisors can do to make harm reduction happen.\n"
    )
    assert [p.text for p in parsed.passages] == [
        "Is the worker the intervention – or the service’s name?",
        "What managers and supervisors can do to make harm reduction happen."]


def test_soft_hyphens_and_word_joiners_in_a_copied_title_are_dropped() -> None:
    text = "Drug Treatment Matrix cell A1\n\nK Treat\u00adment in pri\u2060sons (2010). It did.\n"
    assert studies(text) == [(("K",), "Treatment in prisons", 2010)]


@pytest.mark.parametrize("mark", ["o", "+", "#", "◦", "■"])
def test_studies_in_a_nested_list_of_a_text_browser(mark: str) -> None:
    text = f"Drug Treatment Matrix cell A1\n\n   {mark} K A trial in prisons (2010). It did.\n" \
           f"   {mark} R A review of prisons (2012). It did too.\n"
    assert studies(text) == [(("K",), "A trial in prisons", 2010), (("R",), "A review of prisons", 2012)]


@pytest.mark.parametrize(
    ("relpath", "key"),
    [
        ("drug/A1/site-2019.txt", "drug/A1"),
        ("Alcohol Matrix cell B5 (1).txt", "alcohol/B5"),
        ("alcohol-B5-list.txt", "alcohol/B5"),
        ("copies/drug_e1_2019.txt", "drug/E1"),
        ("Matrix/Drugs/E1-saved.txt", "drug/E1"),
        ("alcohol/b5.txt", "alcohol/B5"),
        ("alcohol/notes-b15.txt", "page/alcohol-notes-b15"),  # b15 is no cell code
    ],
)
def test_the_path_names_the_cell_in_other_forms(tmp_path: Path, relpath: str, key: str) -> None:
    from evsearch.ingest import read_cell_file

    path = tmp_path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("Key studies on staff and what they do.\n\nK A study of staff (2001). Found things.\n",
                    encoding="utf-8")
    assert read_cell_file(path, root=tmp_path).cell.key == key


# --------------------------------------------------------------------------- what copying does to the list

T = "Drug Treatment Matrix cell E5: Local and national systems; Safeguarding the community\n\n"


@pytest.mark.parametrize(
    ("body", "want"),
    [
        # the legend, each code and its word on lines of their own, is not a list of studies
        ("S\nSeminal studies\nK\nKey studies\nR\nReviews\nG\nGuidance\nmore\nSearch for more studies\n\n"
         "K Hidden harm (2003). It did.\n", [(("K",), "Hidden harm", 2003)]),
        # the legend and the list's controls glued in front of the first study
        ("S Seminal studiesK Key studiesR ReviewsG Guidancemore Search for more studies K Hidden harm "
         "(2003). It did.\n", [(("K",), "Hidden harm", 2003)]),
        ("Links to other documents. Hover over for notes. Click to highlight passage referred to. Unfold "
         "extra text K Hidden harm (2003). It did.\nR Drug courts (2011). Yes.\n",
         [(("K",), "Hidden harm", 2003), (("R",), "Drug courts", 2011)]),
        # two rows on one line
        ("K Hidden harm (2003). It did. R Drug courts in the US (2011). Yes they did.\n",
         [(("K",), "Hidden harm", 2003), (("R",), "Drug courts in the US", 2011)]),
        # ... but a summary naming someone with an initial stays one study
        ("K Hidden harm (2003). It did. G Smith (2010) found more.\n", [(("K",), "Hidden harm", 2003)]),
        # the head cut before its parenthesis, the title a question, the code on a line of its own
        ("K Hidden harm\n([UK] Advisory Council on the Misuse of Drugs, 2003). It did.\n",
         [(("K",), "Hidden harm", 2003)]),
        ("R Who misses out?\n(Public Health England, 2017). Many.\n", [(("R",), "Who misses out?", 2017)]),
        ("K\nHidden harm\n(2003). It did.\n", [(("K",), "Hidden harm", 2003)]),
    ],
)
def test_what_copying_does_to_the_study_list(body: str, want: list[tuple[tuple[str, ...], str, int]]) -> None:
    parsed = parse_cell_text(T + body)
    assert [(s.types, s.title, s.year) for s in parsed.studies] == want
    assert not [p for p in parsed.passages if "(20" in p.text]  # no study line filed as a passage


def test_a_page_saved_as_markdown() -> None:
    text = (T + "- **K** [Hidden harm](https://findings.org.uk/PHP/dl.php?file=ACMD_1.txt) ([UK] Advisory "
            "Council on the Misuse of Drugs, 2003). It did.\n- **G** [Quality standards \\[England\\]]"
            "(https://x.org/a_(b)) (2008). Yes.\n")
    assert studies(text) == [(("K",), "Hidden harm", 2003), (("G",), "Quality standards [England]", 2008)]


def test_a_page_saved_as_html_under_a_txt_name_is_read_as_html(tmp_path: Path) -> None:
    from evsearch.ingest import read_cell_file

    page = (Path(__file__).parent / "fixtures" / "alcohol-B5.htm").read_bytes()
    (tmp_path / "page.htm").write_bytes(page)
    (tmp_path / "page.txt").write_bytes(b"\n  <!-- saved -->\n" + page)
    as_txt, as_htm = read_cell_file(tmp_path / "page.txt"), read_cell_file(tmp_path / "page.htm")
    assert (as_txt.cell.key, as_txt.studies) == (as_htm.cell.key, as_htm.studies)
    assert as_txt.passages == as_htm.passages
    assert not [p for p in as_txt.passages if "<" in p.text or "function unfold" in p.text]


def test_a_sidebar_sentence_before_the_title_is_not_the_description() -> None:
    text = ("Drug Treatment Matrix\n\nIncludes interventions to reduce harm, cross-modality fundamentals, "
            "doctors and drugs.\n\nDrug Treatment Matrix cell A1 Matrix cell logo\n\n"
            "Interventions; Reducing harm\n\n"
            "Key studies on interventions which reduce the harm done by drug use.\n\n"
            "K Naloxone saves lives (2016). It did.\n")
    parsed = parse_cell_text(text)
    assert parsed.cell.description == "Key studies on interventions which reduce the harm done by drug use."
    assert not [p for p in parsed.passages if p.text.startswith("Includes interventions")]


def test_a_record_naming_only_the_code_takes_the_matrix_its_text_names() -> None:
    parsed = parse_cell_text(
        "The Drug Treatment Matrix is concerned with the treatment of drug-related problems.\n\n"
        "What is cell B1 about?\n\nPractitioners matter in reducing harm, and this cell looks at how.\n")
    assert (parsed.cell.key, parsed.form, parsed.studies) == ("drug/B1", "record", ())
    both = parse_cell_text("The Drug Treatment Matrix and the Alcohol Treatment Matrix.\n\n"
                           "What is cell B1 about?\n\nPractitioners matter.\n")
    assert both.form == "page"  # two matrices named: no guess


def test_a_copy_with_utf8_and_windows_1252_lines(tmp_path: Path) -> None:
    from evsearch.ingest import read_cell_file

    path = tmp_path / "drug" / "E5.txt"
    path.parent.mkdir()
    title = "Drug Treatment Matrix cell E5 – Local and national systems; Safeguarding the community\n\n"
    study = "K Users call naloxone “a second chance” (2015). It did.\n"
    path.write_bytes(title.encode() + study.encode("cp1252"))
    assert [s.title for s in read_cell_file(path).studies] == ["Users call naloxone “a second chance”"]
