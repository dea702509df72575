"""The first page's sections, each drawn alone: title, verdict, constraints, top pick."""

from __future__ import annotations

from report_support import needs_pdftotext

from planner.report.sections import constraints, title, top_pick, verdict

pytestmark = needs_pdftotext


def test_title(alone, plan):
    text = alone(title.render, plan)
    assert text.startswith("Section test plan Deployment plan · generated 2026-01-02 · data as of ")
    assert f"{plan.candidates_evaluated:,} configurations evaluated" in text
    assert "Verdict" not in text and "Page 1 of 1" in text


def test_title_shortens_a_long_name(alone, plan):
    data = plan.to_json_dict()
    data["constraints"]["name"] = "N" * 300
    text = alone(title.render, type(plan).model_validate(data))
    printed = text.split(" Deployment plan")[0].replace(" ", "")  # the title wraps over lines
    assert printed == "N" * 139 + "…"


def test_verdict(alone, plan):
    text = alone(verdict.render, plan)
    top = plan.recommendation
    assert text.startswith(f"Verdict {verdict.VERDICT_TEXT[plan.verdict]} — top pick: {top.model_name}")
    for reason in plan.verdict_reasons:
        assert reason[:40] in text
    assert "Constraints" not in text


def test_constraints(alone, plan):
    text = alone(constraints.render, plan)
    assert text.startswith("Constraints Requests per day ")
    assert "Hardware rented in the cloud" in text and "KV cache auto" in text and "Budget no limit" in text


def test_constraints_say_where_the_gpus_come_from(alone):
    """Owned GPUs by name; on-premises without owned GPUs, bought (never 'rented in the cloud')."""
    from planner.plan.constraints import Constraints
    from planner.plan.recommend import recommend

    owned = alone(constraints.render, recommend(Constraints(gpus_available=[{"gpu": "rtx-4090", "count": 2}])))
    assert "2× NVIDIA GeForce RTX 4090 (owned)" in owned and "rtx-4090" not in owned
    bought = alone(constraints.render, recommend(Constraints(privacy="on-prem")))
    assert "bought for the plan" in bought and "rented" not in bought


def test_top_pick(alone, plan):
    text = alone(top_pick.render, plan)
    top = plan.recommendation
    assert text.startswith("Top pick and why Model ")
    assert top.model in text and "Rules that fired" in text and "How the numbers were derived" in text


def test_top_pick_without_one(alone, no_pick):
    text = alone(top_pick.render, no_pick)
    assert "No self-hosted configuration meets every hard rule." in text and "Rules that fired" not in text


def test_top_pick_reads_for_people_not_for_developers(alone):
    """Rule titles in words, no rule ids, no working notes from the data ('clause text per brief')."""
    from planner.plan.constraints import Constraints
    from planner.plan.recommend import recommend

    plan = recommend(Constraints(models=["moonshotai/Kimi-K2-Instruct"], requests_per_day=2_000_000))
    text = alone(top_pick.render, plan)
    assert "per brief" not in text and "card copies" not in text
    assert "licence.restricted" not in text and "Licence conditions" in text
