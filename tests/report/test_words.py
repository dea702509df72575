"""planner.report.words: the people's words the dashboard and the PDF share."""

from planner.errors import ConstraintError
from planner.plan.constraints import parse_constraints
from planner.report.words import (
    capability_text,
    for_people,
    oldest_price_text,
    readable,
    requests_text,
    rule_title,
    usd_text,
    without_internal_notes,
)


def _message(data: dict) -> str:
    try:
        parse_constraints(data)
    except ConstraintError as exc:
        return str(exc)
    raise AssertionError("valid")


def test_validation_messages_name_fields_by_their_labels():
    assert for_people(_message({"requests_per_day": None})) == "Enter a number."
    assert for_people(_message({"budget_usd_per_month": -5})) == "Must be at least 0 (got -5)."
    text = for_people(_message({"context_tokens": 10}))
    assert text.startswith("Context length (10) must hold input tokens + output tokens")
    assert "_" not in text


def test_rule_ids_become_titles():
    assert rule_title("quant.severe-loss") == "Quantization too lossy"
    assert rule_title("hardware.geforce-datacenter") == "GeForce cards not used in a datacenter"
    assert rule_title("brand.new-rule") == "Brand new rule"  # an id without a title still reads as words


def test_figures_at_their_precision():
    assert requests_text(2053.388) == "2,053"
    assert usd_text(5143.27) == "$5,143" and usd_text(0.42) == "$0.42" and usd_text(None) == "—"
    assert capability_text(82.7293) == "82.7" and capability_text(1401.0) == "1,401"
    assert capability_text(0.04, estimated=True) == "0.0 (estimated)"


def test_sentences_lose_ids_cli_commands_and_working_notes():
    names = {"apple-m2-ultra-192gb": "Apple M2 Ultra (192 GB)"}
    text = readable("Set `deployment` to office; apple-m2-ultra-192gb is too small; refresh it (python -m planner refresh "
                    "prices) or set your own price.", names)
    assert text == ("Set 'Deployment' to office; Apple M2 Ultra (192 GB) is too small; refresh it or set your own price.")
    licence = ("Modified MIT: products with >100M users must display 'Kimi K2' (clause text per brief; card copies only "
               "show license: other / modified-mit badge).")
    assert without_internal_notes(licence) == "Modified MIT: products with >100M users must display 'Kimi K2'."
    entry = {"kind": "gpu rent_per_gpu_hour", "id": "rtx-3090", "provider": "RunPod", "as_of": "2026-03-10",
             "age_days": 272, "stale": True}
    line = oldest_price_text(entry, {"rtx-3090": "NVIDIA GeForce RTX 3090"})
    assert "rental of NVIDIA GeForce RTX 3090 at RunPod" in line and "rent_per_gpu_hour" not in line
