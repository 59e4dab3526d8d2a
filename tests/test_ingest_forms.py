"""Other forms of a cell in a corpus: PDFs (made here with reportlab), repository records and
e-mails beside the cell page, files whose text and path disagree, pages that are not cells."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from click.testing import CliRunner

from evsearch import build_index, open_index
from evsearch.cli import cli
from evsearch.errors import IngestError
from evsearch.ingest import read_cell_file
from tests.conftest import B5

RENDERINGS = Path(__file__).parent / "fixtures" / "renderings" / "alcohol-B5"


def make_pdf(text: str, out: Path) -> Path:
    """A PDF of a text cell, one paragraph per blank-line block, as a browser prints one.

    The standard PDF fonts have no ``►``/``▶`` glyphs, so bullets are printed as ``•``.
    """
    pytest.importorskip("reportlab")
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    style = getSampleStyleSheet()["BodyText"]
    story: list[object] = []
    for block in re.split(r"\n\s*\n", text):
        block = " ".join(block.split()).replace("►", "•").replace("▶", "•")
        if block:
            story += [Paragraph(escape(block), style), Spacer(1, 8)]
    out.parent.mkdir(parents=True, exist_ok=True)
    SimpleDocTemplate(str(out), pagesize=A4).build(story)
    return out


# --------------------------------------------------------------------------- PDF


def test_pdf_of_the_site_page_reads_as_its_text_form(tmp_path: Path) -> None:
    text_form = read_cell_file(RENDERINGS / "site-2021.txt")
    pdf = make_pdf((RENDERINGS / "site-2021.txt").read_text(encoding="utf-8"), tmp_path / "x" / "page.pdf")
    parsed = read_cell_file(pdf)
    assert (parsed.cell.key, parsed.form, parsed.cell.label) == (
        "alcohol/B5", "cell", "Practitioners; Safeguarding the community")
    assert parsed.studies == text_form.studies
    assert [(p.id, p.section, p.role, p.text) for p in parsed.passages] == [
        (p.id, p.section, p.role, p.text) for p in text_form.passages
    ]


def test_pdf_of_the_seed_gives_its_studies(tmp_path: Path) -> None:
    seed = read_cell_file(B5)
    parsed = read_cell_file(make_pdf(B5.read_text(encoding="utf-8"), tmp_path / "alcohol" / "B5.pdf"))
    assert parsed.studies == seed.studies
    assert parsed.cell.description == seed.cell.description


def test_a_pdf_with_a_list_form_and_two_type_codes(tmp_path: Path) -> None:
    text = (RENDERINGS / "list-form.txt").read_text(encoding="utf-8").replace(
        "\nK\nRelationship", "\n\nS G\n\nRelationship")
    parsed = read_cell_file(make_pdf(text.replace("\n", "\n\n"), tmp_path / "alcohol-B5" / "list.pdf"))
    assert [s.types for s in parsed.studies][:2] == [("S", "G"), ("K",)]
    assert len(parsed.studies) == 9


def test_damaged_and_empty_pdfs_are_refused(tmp_path: Path) -> None:
    damaged = tmp_path / "B5.pdf"
    damaged.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4)
    with pytest.raises(IngestError, match=r"B5\.pdf: (cannot be read as a PDF|is a PDF with no text)"):
        read_cell_file(damaged)
    not_pdf = tmp_path / "C5.pdf"
    not_pdf.write_text("Alcohol Treatment Matrix cell C5\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"C5\.pdf: is not a PDF"):
        read_cell_file(not_pdf)


# --------------------------------------------------------------------------- a corpus of forms


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "100", "NO_COLOR": "1"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture()
def forms_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    (corpus / "alcohol").mkdir(parents=True)
    shutil.copy(B5, corpus / "alcohol" / "B5.txt")
    shutil.copy(RENDERINGS / "repository-record.txt", corpus / "alcohol" / "B5-record.txt")
    shutil.copy(RENDERINGS / "bite-email.txt", corpus / "alcohol" / "B5-email.txt")
    (corpus / "pages").mkdir()
    (corpus / "pages" / "staff.txt").write_text(
        "Hot topic: the influence of treatment staff\n\nWho delivers treatment can matter as much as "
        "which treatment is delivered.\n", encoding="utf-8")
    (corpus / "drug").mkdir()
    (corpus / "drug" / "E1.txt").write_text(  # its text names another cell than its path
        "Alcohol Treatment Matrix cell C2: Management/supervision; Generic and cross-cutting issues\n\n"
        "K Supervision quality predicts retention (2011). Clinics whose supervisors coached staff kept "
        "more patients.\n", encoding="utf-8")
    return corpus


def test_records_and_emails_sit_beside_the_cell_page(forms_corpus: Path, tmp_path: Path) -> None:
    report = build_index(corpus=forms_corpus, index=tmp_path / "ix")
    assert [(p.path, p.skipped) for p in report.problems] == [("drug/E1.txt", False)]
    assert report.problems[0].reason == (
        "the text names cell alcohol/C2 but the path says drug/E1: indexed as alcohol/C2")
    with open_index(index=tmp_path / "ix") as idx:
        kinds = {d.id: d.kind for d in idx.documents(cell="alcohol/B5")}
        assert sum(k == "study" for k in kinds.values()) == 9  # the page is not shadowed
        assert sum(k == "passage" for k in kinds.values()) == 28
        assert sorted(i for i, k in kinds.items() if k == "record") == [
            "alcohol/B5/email/is-the-worker-the/1",
            "alcohol/B5/record/repository-record/1",
            "alcohol/B5/record/what-is-cell-b5/1",
            "alcohol/B5/record/what-is-cell-b5/2",
        ]
        found = idx.search("kind:record cell:alcohol/B5 worker", limit=10)
        assert {h.id for h in found.hits} >= {"alcohol/B5/email/is-the-worker-the/1"}
        assert idx.search("psychotherapy interpersonal style kind:record").hits[0].id == (
            "alcohol/B5/record/what-is-cell-b5/2")
        assert idx.search("safeguarding exceptional abilities kind:passage").hits[0].id == (
            "alcohol/B5/description")  # the description is searchable
        assert [s.id for s in idx.documents(cell="alcohol/C2")] == [
            "alcohol/C2/k2011-supervision-quality-predicts"]


def test_cli_reports_the_note_and_filters_pages_both_ways(forms_corpus: Path, tmp_path: Path) -> None:
    index = str(tmp_path / "ix")
    code, _, err = run("index", "--corpus", str(forms_corpus), "--index", index)
    assert code == 0
    assert "note on drug/E1.txt: the text names cell alcohol/C2 but the path says drug/E1" in err
    code, by_option, _ = run("search", "treatment staff", "--matrix", "page", "--index", index, "--json")
    assert code == 0
    code, by_query, _ = run("search", "treatment staff matrix:page", "--index", index, "--json")
    hits = json.loads(by_option)["hits"]
    assert [h["id"] for h in hits] == [h["id"] for h in json.loads(by_query)["hits"]]
    assert [h["id"] for h in hits] == ["page/pages-staff/hot-topic-the-influence/1"]
    code, out, _ = run("search", "worker", "--kind", "record", "--index", index, "--brief")
    assert code == 0 and out.splitlines()[0].startswith("alcohol/B5/")
    code, out, _ = run("show", "alcohol/B5/record/what-is-cell-b5/1", "--index", index)
    assert out.splitlines()[1:3] == [  # a header line wraps between its fields (100 columns)
        "alcohol/B5/record/what-is-cell-b5/1  record (paragraph) in section 'What is cell B5 about?'",
        "alcohol/B5",
    ]
    code, out, _ = run("stats", "--index", index, "--json")
    assert json.loads(out)["cells"] == 3  # alcohol/B5 (page, record, e-mail), alcohol/C2, page/pages-staff


def test_pdf_text_boxes_become_paragraphs() -> None:
    from evsearch.ingest.pdf import _paragraphs

    sidebar = "2020/21 update funded by\nAlcohol Change UK\nDeveloped with\nSkills Consortium\n"
    assert _paragraphs(sidebar) == ["2020/21 update funded by", "Alcohol Change UK", "Developed with",
                                    "Skills Consortium"]
    prose = ("Across psychotherapy the interpersonal style and other features of staff are\n"
             "now seen as at least as important as the intervention, but remain far less\n"
             "commonly researched.\n")
    assert _paragraphs(prose) == [" ".join(prose.split())]
    listing = ("K\nRelationship with therapist seems more important for offenders (2008). At a\n"
               "Canadian centre.\nS G\nWatershed moment for drug policy ([UK] Advisory Council, 2003).\n"
               "(cid:127) Are the practitioner's skills unimportant? Research may be sparse.\n")
    assert _paragraphs(listing) == [
        "K Relationship with therapist seems more important for offenders (2008). At a Canadian centre.",
        "S G Watershed moment for drug policy ([UK] Advisory Council, 2003).",
        "• Are the practitioner's skills unimportant? Research may be sparse.",
    ]
