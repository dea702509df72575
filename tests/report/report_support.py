"""Helpers for the report's module tests (a plain module, so test files can import it whatever
pytest's import mode is)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess

import pytest

DAY = dt.date(2026, 1, 2)
needs_pdftotext = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils (pdftotext) not installed; `make system-deps`")


def pdf_text(pdf: bytes) -> str:
    """The PDF's text, whitespace squashed to single spaces."""
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    return re.sub(r"\s+", " ", out.decode())
