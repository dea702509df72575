"""The page the report draws on: an A4 FPDF with the report's footer, its fonts, and the drawing
primitives every section uses (heading, para, bullets, table, image, code) with `t`, which makes
any text safe to print.

User strings are flattened to one line and shortened where they label things, so they cannot
break the layout; characters no loaded font covers print as "?".
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence

from fpdf import FPDF, FontFace
from fpdf.enums import TableBordersLayout, TableCellFillMode, XPos, YPos

from planner.report.fonts import load_fonts

CELL_CHARS = 600  # no table cell grows beyond this (a pasted essay must not fill pages)
OWN_SYMBOLS = "·×—–…•"  # the report's own wording needs these beyond the plan's text

# Colours (RGB)
INK = (33, 37, 41)
MUTED = (108, 117, 125)
RULE = (206, 212, 218)
HEAD_FILL = (233, 236, 239)
ZEBRA = (248, 249, 250)
CODE_FILL = (244, 246, 248)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ReportPDF(FPDF):
    """FPDF with the report's footer: title, date and page X of N."""

    footer_text = ""
    footer_font = "helvetica"
    pin_font = False  # see Canvas.font

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(self.footer_font, size=7.5)
        if self.pin_font:
            self.text(self.l_margin, self.h - 5, "")
        self.set_text_color(*MUTED)
        self.cell(self.epw * 0.75, 5, self.footer_text, align="L")
        self.cell(self.epw * 0.25, 5, f"Page {self.page_no()} of {{nb}}", align="R")


class Canvas:
    """An A4 document with fonts for `text` (all the plan and probe text it will print) and the
    report's drawing primitives; `pdf` is the FPDF underneath."""

    def __init__(self, text: str = ""):
        self.pdf = ReportPDF(orientation="P", unit="mm", format="A4")
        self.pdf.set_margins(16, 15, 16)
        self.pdf.set_auto_page_break(True, margin=16)
        fonts = load_fonts(self.pdf, text + OWN_SYMBOLS)
        self.body, self.mono = fonts.body, fonts.mono
        self.covered, self.fallbacks = fonts.covered, fonts.fallbacks

    def t(self, value: object, limit: int | None = None, one_line: bool = True) -> str:
        """Text safe to print: control characters flattened, shortened to `limit`, characters no
        loaded font covers replaced by '?'."""
        text = "—" if value is None else str(value)
        if one_line:
            text = " ".join(_CONTROL.sub(" ", text).split())
        else:  # keep line breaks and indentation (code), drop other control characters
            lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            text = "\n".join(re.sub(r"[\x00-\x1f\x7f]", " ", line.replace("\t", "    ")).rstrip() for line in lines)
            text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
        if limit and len(text) > limit:
            text = text[: limit - 1].rstrip() + "…"
        return "".join(ch if ord(ch) in self.covered or ch == "\n" else "?" for ch in text)

    def font(self, family: str, style: str = "", size: float = 9) -> None:
        """set_font, then pin the font in the page's content outside any q/Q block.

        fpdf2 2.8 sets the font inside a line's q/Q (colour) block when the line starts with a
        fallback-font glyph, and later lines then have no font ("No font in show" in viewers);
        an empty text() call writes the font at page level first.
        """
        pdf = self.pdf
        pdf.set_font(family, style, size)
        if self.fallbacks and pdf.page:
            pdf.text(pdf.l_margin, pdf.t_margin, "")

    def heading(self, text: str, size: float = 12.5, keep: float = 20) -> None:
        """A section heading, moved to the next page unless `keep` mm of what follows fit under it."""
        pdf = self.pdf
        if pdf.will_page_break(14 + keep) and pdf.get_y() > pdf.t_margin + 1:  # never leave a page empty
            pdf.add_page()
        pdf.ln(3)
        self.font(self.body, "B", size)
        pdf.set_text_color(*INK)
        pdf.multi_cell(0, 6.5, self.t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_draw_color(*RULE)
        pdf.line(pdf.l_margin, pdf.get_y() + 0.5, pdf.w - pdf.r_margin, pdf.get_y() + 0.5)
        pdf.ln(2.5)

    def para(self, text: str, size: float = 9, style: str = "", colour=INK, limit: int | None = 2000, height: float = 4.6) -> None:
        pdf = self.pdf
        self.font(self.body, style, size)
        pdf.set_text_color(*colour)
        pdf.multi_cell(0, height, self.t(text, limit), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def note(self, text: str) -> None:
        """A muted, italic line: there is nothing to show here, or why not."""
        self.para(text, colour=MUTED, style="I")

    def bullets(self, items: Iterable[str], size: float = 9, limit: int = 700) -> None:
        pdf = self.pdf
        self.font(self.body, "", size)
        pdf.set_text_color(*INK)
        for item in items:
            x = pdf.l_margin
            pdf.set_x(x)
            pdf.cell(4, 4.6, "•" if ord("•") in self.covered else "-")
            pdf.multi_cell(pdf.epw - 4, 4.6, self.t(item, limit), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(0.6)

    def table(self, headers: Sequence[str] | None, rows: Sequence[Sequence[object]], widths: Sequence[float],
              size: float = 8, align: Sequence[str] | None = None, limit: int = CELL_CHARS, bold_first_col: bool = False) -> None:
        pdf = self.pdf
        self.font(self.body, "", size)
        pdf.set_text_color(*INK)
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.2)
        head = FontFace(emphasis="BOLD", fill_color=HEAD_FILL, color=INK)
        with pdf.table(
            width=pdf.epw, col_widths=tuple(widths), text_align=tuple(align) if align else "LEFT",
            line_height=size * 0.48, padding=(1.0, 1.4), headings_style=head, first_row_as_headings=headers is not None,
            borders_layout=TableBordersLayout.HORIZONTAL_LINES, cell_fill_color=ZEBRA, cell_fill_mode=TableCellFillMode.ROWS,
            repeat_headings=1,
        ) as tbl:
            if headers is not None:
                row = tbl.row()
                for h in headers:
                    row.cell(self.t(h, 80))
            for values in rows:
                row = tbl.row()
                for i, value in enumerate(values):
                    style = FontFace(emphasis="BOLD") if bold_first_col and i == 0 else None
                    row.cell(self.t(value, limit), style=style)
        pdf.ln(1.5)

    def image_height(self, png: bytes | None, width: float | None = None) -> float:
        """Height in mm the image takes at `width` (the text width by default)."""
        if png is None:
            return 6
        from PIL import Image

        with Image.open(io.BytesIO(png)) as img:
            w_px, h_px = img.size
        return (width or self.pdf.epw) * h_px / w_px

    def image(self, png: bytes | None, width: float | None = None, alt: str = "") -> None:
        pdf = self.pdf
        if png is None:
            self.note(alt or "No chart: nothing to draw.")
            return
        width = width or pdf.epw
        height = self.image_height(png, width)
        if pdf.will_page_break(height + 2) and pdf.get_y() > pdf.t_margin + 1:
            pdf.add_page()
        pdf.image(io.BytesIO(png), x=pdf.l_margin + (pdf.epw - width) / 2, w=width, h=height, alt_text=self.t(alt, 200))
        pdf.ln(1.5)

    def code(self, text: str, size: float = 7.2) -> None:
        pdf = self.pdf
        self.font(self.mono, "", size)
        pdf.set_text_color(*INK)
        pdf.set_fill_color(*CODE_FILL)
        pdf.multi_cell(0, size * 0.47, self.t(text, 4000, one_line=False), fill=True, padding=(1.5, 2),
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.5)
