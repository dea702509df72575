"""Fonts for the PDF: the body font is a Unicode TrueType font found on the system (Noto Sans, else
DejaVu Sans), with per-glyph fallbacks (DejaVu, Noto Arabic/Hebrew/Devanagari/Thai/Symbols, Noto
CJK) added only when the document's text needs them."""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF

log = logging.getLogger(__name__)

FONT_DIR = Path(__file__).resolve().parents[2] / "data" / "fonts"


@dataclass(frozen=True)
class FontFile:
    """A font file and, for a collection (.ttc), which font in it."""

    path: str
    number: int = 0


_NOTO = "/usr/share/fonts/truetype/noto"
_DEJAVU = "/usr/share/fonts/truetype/dejavu"
_NOTO_OT = "/usr/share/fonts/opentype/noto"
# (family name, style -> candidate paths, fontconfig pattern used when no path exists)
_BODY = {
    "": ([f"{FONT_DIR}/NotoSans-Regular.ttf", f"{_NOTO}/NotoSans-Regular.ttf", f"{_DEJAVU}/DejaVuSans.ttf"], "Noto Sans:style=Regular"),
    "B": ([f"{FONT_DIR}/NotoSans-Bold.ttf", f"{_NOTO}/NotoSans-Bold.ttf", f"{_DEJAVU}/DejaVuSans-Bold.ttf"], "Noto Sans:style=Bold"),
    "I": ([f"{FONT_DIR}/NotoSans-Italic.ttf", f"{_NOTO}/NotoSans-Italic.ttf", f"{_DEJAVU}/DejaVuSans-Oblique.ttf"], "Noto Sans:style=Italic"),
}
_MONO = ([f"{FONT_DIR}/DejaVuSansMono.ttf", f"{_DEJAVU}/DejaVuSansMono.ttf", f"{_NOTO}/NotoSansMono-Regular.ttf"], "DejaVu Sans Mono")
_FALLBACKS: tuple[tuple[str, list[str], str], ...] = (
    ("FbDejaVu", [f"{_DEJAVU}/DejaVuSans.ttf"], "DejaVu Sans"),
    ("FbArabic", [f"{_NOTO}/NotoSansArabic-Regular.ttf", f"{_NOTO}/NotoNaskhArabic-Regular.ttf"], "Noto Sans Arabic"),
    ("FbHebrew", [f"{_NOTO}/NotoSansHebrew-Regular.ttf"], "Noto Sans Hebrew"),
    ("FbDevanagari", [f"{_NOTO}/NotoSansDevanagari-Regular.ttf"], "Noto Sans Devanagari"),
    ("FbThai", [f"{_NOTO}/NotoSansThai-Regular.ttf"], "Noto Sans Thai"),
    ("FbSymbols", [f"{_NOTO}/NotoSansSymbols-Regular.ttf"], "Noto Sans Symbols"),
    ("FbSymbols2", [f"{_NOTO}/NotoSansSymbols2-Regular.ttf"], "Noto Sans Symbols 2"),
    ("FbCJK", [f"{FONT_DIR}/NotoSansCJK-Regular.ttc", f"{_NOTO_OT}/NotoSansCJK-Regular.ttc",
               "/usr/share/fonts/opentype/noto/NotoSansCJKjp-Regular.otf", "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"],
     "Noto Sans CJK JP"),
)


@functools.lru_cache(maxsize=64)
def find_font(candidates: tuple[str, ...], pattern: str) -> FontFile | None:
    """The first existing candidate path, else what fontconfig's fc-match returns for `pattern`
    (only if its family matches), else None."""
    for path in candidates:
        if Path(path).is_file():
            return FontFile(path)
    if shutil.which("fc-match"):
        try:
            out = subprocess.run(["fc-match", "-f", "%{family}|%{file}|%{index}", pattern], capture_output=True,
                                 text=True, timeout=5, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        family, _, rest = out.partition("|")
        file, _, index = rest.partition("|")
        wanted = pattern.split(":")[0].lower()
        if file and Path(file).is_file() and wanted.split()[0] in family.lower() and file.lower().endswith((".ttf", ".otf", ".ttc")):
            return FontFile(file, int(index or 0))
    return None


@functools.lru_cache(maxsize=64)
def font_codepoints(font: FontFile) -> frozenset[int]:
    """The code points a font has glyphs for (its best cmap)."""
    from fontTools.ttLib import TTFont

    try:
        with TTFont(font.path, fontNumber=font.number, lazy=True) as tt:
            return frozenset(tt.getBestCmap() or {})
    except Exception as exc:  # a broken font file must not break the report
        log.warning("cannot read the character map of %s: %s", font.path, exc)
        return frozenset()



@dataclass(frozen=True)
class LoadedFonts:
    """What `load_fonts` added to a document: family names, the code points they cover, fallbacks."""

    body: str
    mono: str
    covered: frozenset[int]
    fallbacks: list[str]


def load_fonts(pdf: FPDF, text: str) -> LoadedFonts:
    """Add the body, bold, italic and mono fonts to `pdf`, and the fallback fonts that `text` (all the
    document will print) needs; Helvetica (Latin-1 only) when no Unicode font is found."""
    regular = find_font(tuple(_BODY[""][0]), _BODY[""][1])
    if regular is None:
        log.warning("no Unicode TrueType font found (install fonts-noto-core or fonts-dejavu-core); "
                    "the PDF falls back to Helvetica and prints non-Latin-1 text as '?'")
        pdf.footer_font = "helvetica"
        return LoadedFonts("helvetica", "helvetica", frozenset(range(32, 256)), [])
    body, mono_name = "Body", "Mono"
    pdf.add_font(body, "", regular.path, collection_font_number=regular.number)
    for style in ("B", "I"):
        found = find_font(tuple(_BODY[style][0]), _BODY[style][1]) or regular
        pdf.add_font(body, style, found.path, collection_font_number=found.number)
    mono = find_font(tuple(_MONO[0]), _MONO[1]) or regular
    pdf.add_font(mono_name, "", mono.path, collection_font_number=mono.number)
    pdf.footer_font = body
    covered = set(font_codepoints(regular))
    needed = {ord(ch) for ch in text if ord(ch) >= 32} - covered
    fallbacks = []
    for name, paths, pattern in _FALLBACKS:
        if not needed:
            break
        font = find_font(tuple(paths), pattern)
        if font is None:
            continue
        gain = needed & font_codepoints(font)
        if gain:
            # only the code points this document needs: a CJK font maps ~65k, and fpdf2 reads each
            pdf.add_font(name, "", font.path, collection_font_number=font.number, unicode_range=sorted(gain))
            fallbacks.append(name)
            covered |= gain
            needed -= gain
    if fallbacks:
        pdf.set_fallback_fonts(fallbacks, exact_match=False)
    pdf.pin_font = bool(fallbacks)
    _maybe_shape(pdf, text)
    return LoadedFonts(body, mono_name, frozenset(covered), fallbacks)


def _maybe_shape(pdf: FPDF, text: str) -> None:
    """Right-to-left and complex scripts need a shaping engine; use uharfbuzz when installed."""
    if not any(0x0590 <= ord(ch) <= 0x08FF or 0x0900 <= ord(ch) <= 0x0DFF for ch in text):
        return
    try:
        import uharfbuzz  # noqa: F401
    except ImportError:
        log.info("uharfbuzz is not installed: right-to-left text is printed unshaped")
        return
    pdf.set_text_shaping(True)
