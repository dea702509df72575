"""The canvas's primitives drawn on a bare page, and `t`, which makes any text safe to print."""

from __future__ import annotations

from report_support import needs_pdftotext, pdf_text

from planner.report.canvas import Canvas


def test_t_flattens_shortens_and_replaces_what_no_font_covers():
    doc = Canvas("plain text")
    assert doc.t("one\ntwo\r\n\tthree\x00") == "one two three"
    assert doc.t(None) == "—"
    assert doc.t("x" * 50, 10) == "x" * 9 + "…"
    assert doc.t("a\uE000b") == "a?b"  # a private-use character: no font has it
    assert doc.t("a\tb\n\n\n\nc\x07", one_line=False) == "a    b\n\nc"


@needs_pdftotext
def test_primitives_print_their_text():
    doc = Canvas()
    doc.pdf.footer_text = "Footer words"
    doc.pdf.add_page()
    doc.heading("A heading")
    doc.para("A paragraph.")
    doc.bullets(["first point", "second point"])
    doc.table(["Left", "Right"], [["cell one", None], ["cell two", 2.5]], (50, 50))
    doc.code("run --this\n\tindented")
    doc.image(None, alt="No chart here.")
    text = pdf_text(bytes(doc.pdf.output()))
    assert text.startswith("A heading A paragraph. • first point • second point Left Right cell one — cell two 2.5 "
                           "run --this indented No chart here.")
    assert "Footer words" in text and "Page 1 of 1" in text


def test_image_height():
    doc = Canvas()
    assert doc.image_height(None) == 6
