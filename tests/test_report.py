"""The plan PDF, read back with poppler: every section is there, the charts are images, any script
prints, user text cannot break the layout, and no secret from a probe result reaches the file."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from planner.plan.constraints import Constraints
from planner.plan.model import Plan
from planner.plan.recommend import recommend
from planner.report.document import plan_pdf, sanitize_probe, write_pdf

POPPLER = all(shutil.which(tool) for tool in ("pdftotext", "pdftoppm", "pdfimages", "pdfinfo"))
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdftoppm, pdfimages, pdfinfo) not installed; `make system-deps`")

SECTIONS = ("Verdict", "Constraints", "Top pick and why", "Rules that fired", "Memory per GPU", "Latency and throughput",
            "Alternatives and what was ruled out", "Monthly cost against volume", "Deployment commands", "Assumptions",
            "Data sources")
SECRET = "sk-live-SECRET-9f8e7d6c5b4a"
HF_SECRET = "hf_AbCdEfGhIjKlMnOpQrStUv"


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def page_count(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", info).group(1))


def image_count(path: Path) -> int:
    listing = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in listing.splitlines()[2:] if line.split() and line.split()[2] == "image")


def inflated(pdf: bytes) -> bytes:
    """The PDF with every Flate stream decompressed, to search it for plain text."""
    out = [pdf]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(match.group(1)))
        except zlib.error:
            pass
    return b"\n".join(out)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return recommend(Constraints(name="Support chatbot for Café Zürich — 日本語のプラン"))


@pytest.fixture(scope="module")
def pdf_file(plan, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "plan.pdf"
    write_pdf(plan, path)
    return path


@pytest.fixture(scope="module")
def probe(plan) -> dict:
    top = plan.recommendation
    level = {"concurrency": 1, "requests": 8, "succeeded": 8, "errors": 0, "errors_by_kind": {}, "complete": True,
             "ttft_s": {"p50": 0.21, "p90": 0.3, "p99": 0.4}, "inter_token_s": {"p50": 0.01},
             "output_tokens_per_s_per_stream": {"p50": 88.5, "p90": 80.0}, "aggregate_output_tokens_per_s": 88.0,
             "requests_per_s": 0.3, "wall_s": 20.0, "output_tokens": 2400,
             "error_examples": {"auth": f"401 Unauthorized for https://u:{SECRET}@api.example.com/v1?api_key={SECRET}"}}
    return {
        "url": f"https://api.example.com/v1?api_key={SECRET}", "api": "openai", "model": top.model if top else "m",
        "endpoint": "chat", "started_at": "2026-11-24T09:00:00Z",
        "api_key": SECRET,  # a mistake: must never be printed
        "headers": {"Authorization": f"Bearer {SECRET}"},
        "settings": {"concurrency": [1, 4], "output_tokens": 300, "hf_token": HF_SECRET, "auth": {"token": SECRET}},
        "levels": [level, {**level, "concurrency": 4, "aggregate_output_tokens_per_s": 300.0}],
        "comparison": [{"target": "ttft_s", "predicted": 0.16, "measured": 0.21, "error_pct": 31.0, "at_concurrency": 1,
                        "requirement": 2.0, "verdict": "meets", "sentence": f"TTFT 0.21 s meets the 2 s target (key {SECRET})."}],
    }


# --- content -------------------------------------------------------------------------------------


@needs_poppler
def test_every_section_is_present(pdf_file, plan):
    text = squash(pdf_text(pdf_file))
    for section in SECTIONS:
        assert section in text, section
    top = plan.recommendation
    assert top.model in text and top.engine in text
    assert "PUE" in text and "Power price" in text and "Amortisation" in text and "Utilisation" in text
    for kind, as_of in plan.data_as_of.items():
        assert as_of in text, kind
    assert "Page 1 of" in text


@needs_poppler
def test_charts_are_embedded_as_images(pdf_file):
    assert image_count(pdf_file) >= 2


@needs_poppler
def test_page_count_is_sensible(pdf_file):
    assert 2 <= page_count(pdf_file) <= 8


@needs_poppler
def test_first_page_renders(pdf_file, tmp_path):
    prefix = tmp_path / "page"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf_file), str(prefix)], check=True)
    (png,) = list(tmp_path.glob("page*.png"))
    assert png.stat().st_size > 5_000
    with Image.open(png) as image:
        assert image.width > 400 and image.height > 600
        assert ImageStat.Stat(image.convert("L")).stddev[0] > 10  # not blank


@needs_poppler
def test_japanese_and_accented_name_round_trips(pdf_file):
    text = pdf_text(pdf_file)
    assert "Support chatbot for Café Zürich — 日本語のプラン" in squash(text)


@needs_poppler
def test_deployment_commands_are_printed(pdf_file, plan):
    text = pdf_text(pdf_file)
    engine = plan.recommendation.engine
    program = {"vllm": "vllm serve", "llama.cpp": "llama-server", "ollama": "ollama create", "sglang": "sglang.launch_server",
               "tgi": "text-generation-inference", "tensorrt-llm": "trtllm-serve"}[engine]
    assert program in text


# --- hostile names -------------------------------------------------------------------------------


def _renamed(plan: Plan, name: str) -> Plan:
    data = plan.to_json_dict()
    data["constraints"]["name"] = name  # beyond what the constraints allow: a hand-made plan file
    return Plan.model_validate(data)


@needs_poppler
@pytest.mark.parametrize("name", [
    "A" * 500,
    ("Quarterly plan " * 40).strip(),
    "line one\nline two\r\n\tline three\x00\x07",
    "خطة النشر للدردشة — תוכנית פריסה",
    "Emoji plan 🚀🔥😀 with 🤖",
    "मिश्रित हिन्दी ไทย 한국어 中文 Ελληνικά Русский",
])
def test_user_text_cannot_break_the_layout(plan, tmp_path, name):
    path = tmp_path / "hostile.pdf"
    path.write_bytes(plan_pdf(_renamed(plan, name), probe={"model": name, "levels": [], "comparison": [
        {"target": "ttft_s", "predicted": 1.0, "measured": 1.1, "sentence": name}]}))
    plain = tmp_path / "plain.pdf"
    plain.write_bytes(plan_pdf(plan))
    assert 2 <= page_count(path) <= page_count(plain) + 1  # a long or odd name adds at most a page of wrapping
    # every page renders without content-stream errors (e.g. text shown with no font selected)
    render = subprocess.run(["pdftoppm", "-png", "-r", "20", str(path), str(tmp_path / "p")], capture_output=True, text=True)
    assert render.returncode == 0 and "Error" not in render.stderr, render.stderr
    text = squash(pdf_text(path))
    visible = squash(name.replace("\x00", " ").replace("\x07", " "))
    assert "Verdict" in text and "Data sources" in text
    if name.isascii():
        assert visible[:40] in text  # the start of the name is printed
    assert "A" * 150 not in text  # long names are shortened


@needs_poppler
def test_scripts_print_with_fallback_fonts(plan, tmp_path):
    name = "Plan 中文 한국어 Ελληνικά Русский"
    path = tmp_path / "scripts.pdf"
    path.write_bytes(plan_pdf(_renamed(plan, name)))
    assert name in squash(pdf_text(path))


# --- probe and secrets ---------------------------------------------------------------------------


@needs_poppler
def test_probe_section_and_no_secret_anywhere(plan, probe, tmp_path):
    pdf = plan_pdf(plan, probe=probe)
    path = tmp_path / "probe.pdf"
    path.write_bytes(pdf)
    text = pdf_text(path)
    flat = squash(text)
    assert "Measured against predicted" in flat and "TTFT p50" in flat and "meets" in flat
    assert "api.example.com" in flat
    for secret in (SECRET, HF_SECRET, "SECRET-9f8e"):
        assert secret not in text
        assert secret.encode() not in inflated(pdf)
    assert "Bearer" not in flat or "Bearer ***" in flat


@needs_poppler
def test_no_probe_no_probe_section(pdf_file):
    assert "Measured against predicted" not in pdf_text(pdf_file)


def test_probe_without_comparison_is_compared_with_the_plan(plan, probe, tmp_path):
    bare = {k: v for k, v in probe.items() if k != "comparison"}
    pdf = plan_pdf(plan, probe=bare)
    assert pdf.startswith(b"%PDF")
    if POPPLER:
        path = tmp_path / "bare.pdf"
        path.write_bytes(pdf)
        assert "Time to first token (s)" in squash(pdf_text(path))


def test_sanitize_probe_keeps_token_counts_and_drops_credentials(probe):
    clean = sanitize_probe(probe)
    assert "api_key" not in clean and "headers" not in clean
    assert clean["settings"]["output_tokens"] == 300 and "hf_token" not in clean["settings"]
    assert "auth" not in clean["settings"]
    assert clean["levels"][0]["output_tokens"] == 2400
    flat = repr(clean)
    assert SECRET not in flat and HF_SECRET not in flat
    assert clean["url"].startswith("https://api.example.com/v1")


# --- edge plans and speed ------------------------------------------------------------------------


@needs_poppler
def test_plan_without_a_pick(tmp_path):
    plan = recommend(Constraints(name="Nothing fits", models=["meta-llama/Llama-3.1-405B-Instruct"],
                                 gpus_available=[{"gpu": "rtx-3090", "count": 1}]))
    assert plan.recommendation is None
    path = tmp_path / "none.pdf"
    path.write_bytes(plan_pdf(plan))
    text = squash(pdf_text(path))
    assert "Nothing to deploy" in text and "Ruled out" in text and "Verdict" in text
    assert 1 <= page_count(path) <= 8


def test_write_pdf_creates_folders(plan, tmp_path):
    target = write_pdf(plan, tmp_path / "a" / "b" / "plan.pdf")
    assert target.read_bytes().startswith(b"%PDF-")

# Speed is measured by bench/pdf_speed.py, not asserted here: tests check behaviour on a busy machine.


def test_every_rule_a_plan_can_fire_has_a_title_of_its_own():
    """The PDF's rules table titles each finding; a rule id missing from RULE_TITLES would fall back to a guess."""
    import re
    from pathlib import Path

    from planner.report.words import RULE_TITLES

    root = Path(__file__).resolve().parent.parent / "planner"
    fired = {m for path in root.rglob("*.py") for m in re.findall(r'rule="([a-z._-]+)"', path.read_text())}
    assert "cost.power-unknown" in fired and "interconnect.pcie" in fired
    assert fired - set(RULE_TITLES) == set()
