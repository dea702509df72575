"""The sections with the numbers, each drawn alone: memory, latency, alternatives, cost, the decision,
fine-tuning."""

from __future__ import annotations

from report_support import needs_pdftotext

from planner.report.sections import alternatives, cost, decision, fine_tuning, latency, memory

pytestmark = needs_pdftotext


def test_memory(alone, plan):
    text = alone(memory.render, plan)
    assert text.startswith("Memory per GPU Weights, KV cache and the engine's overhead")
    assert "Same data as the dashboard's memory chart." in text


def test_latency(alone, plan):
    text = alone(latency.render, plan)
    assert text.startswith("Latency and throughput ")
    assert "Configuration" in text and "TTFT (s)" in text and "Top pick: " in text and "80% bands" in text


def test_latency_without_a_pick(alone, no_pick):
    assert "Latency and throughput No configuration to show." in alone(latency.render, no_pick)


def test_alternatives(alone, plan, no_pick):
    text = alone(alternatives.render, plan)
    assert text.startswith("Alternatives and what was ruled out Alternative Score") and "Cautions" in text
    assert "$/month" in text and "GiB/GPU" in text  # a long alternative's name may wrap between the headers
    none = alone(alternatives.render, no_pick)
    assert "No alternative configuration passed every hard rule." in none
    assert f"Ruled out ({len(no_pick.ruled_out)} model(s))" in none and no_pick.ruled_out[0].model_name in none


def test_cost(alone, plan):
    text = alone(cost.render, plan)
    assert text.startswith("Monthly cost against volume")
    assert "API (cheapest 10 at your volume)" in text and "Self-hosting cheaper above (tokens/month)" in text


def test_cost_when_privacy_rules_apis_out(alone):
    """A plan that may not use APIs gets one reference line, not a table of options it cannot take."""
    from planner.plan.constraints import Constraints
    from planner.plan.recommend import recommend

    text = alone(cost.render, recommend(Constraints(privacy="on-prem", requests_per_day=50_000)))
    assert "Paid APIs are ruled out by the privacy constraint" in text
    assert "API (cheapest 10" not in text and "Allowed" not in text and "stays cheaper" not in text


def test_decision(alone, plan, no_pick):
    text = alone(decision.render, plan)
    assert text.startswith(f"The decision: capability against cost Objective: {plan.objective['rule'][:40]}")
    assert plan.decision["cheaper"]["why"][:40] in text
    assert "The decision" not in alone(decision.render, no_pick)  # nothing to compare: nothing drawn


def test_fine_tuning(alone, fine_tuned, plan):
    text = alone(fine_tuning.render, fine_tuned)
    assert text.startswith("Fine-tuning Item Value Method ")
    assert "Trainable parameters" in text and "GPUs needed per method" in text
    assert "Fine-tuning" not in alone(fine_tuning.render, plan)  # not asked for: nothing drawn
