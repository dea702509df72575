"""Font lookup and loading: a Unicode body font when there is one, fallbacks only for what the text
needs, Helvetica (Latin-1) when there is none."""

from __future__ import annotations

from fpdf import FPDF

from planner.report import fonts
from planner.report.fonts import FontFile, find_font, font_codepoints, load_fonts


def test_find_font_refuses_another_family():
    assert find_font(("/no/such/font.ttf",), "Xyzzy Missing Family") is None


def test_codepoints_of_a_broken_font_are_empty(tmp_path):
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    assert font_codepoints(FontFile(str(broken))) == frozenset()


def test_without_a_unicode_font_the_pdf_uses_helvetica(monkeypatch):
    monkeypatch.setattr(fonts, "find_font", lambda candidates, pattern: None)
    loaded = load_fonts(FPDF(), "Café 日本")
    assert (loaded.body, loaded.mono, loaded.fallbacks) == ("helvetica", "helvetica", [])
    assert ord("é") in loaded.covered and ord("日") not in loaded.covered


def test_fallbacks_only_for_what_the_text_needs():
    plain = load_fonts(FPDF(), "Plain Latin text")
    if plain.body == "helvetica":
        return  # no Unicode font on this machine: nothing to fall back from
    assert plain.fallbacks == [] and ord("a") in plain.covered
    cjk = load_fonts(FPDF(), "日本語")
    if ord("日") in cjk.covered:  # a CJK font is installed
        assert cjk.fallbacks
