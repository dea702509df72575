"""The closing sections, each drawn alone: deployment, probe, assumptions, data sources; and the
list of sections itself."""

from __future__ import annotations

import pkgutil

from report_support import needs_pdftotext

from planner.report import sections
from planner.report.sections import assumptions, deployment, probe, sources

SECRET = "sk-live-SECRET-9f8e7d6c5b4a"


def test_every_section_module_is_listed():
    modules = {m.name for m in pkgutil.iter_modules(sections.__path__)}
    listed = {render.__module__.rsplit(".", 1)[-1] for render in sections.SECTIONS}
    assert modules == listed


@needs_pdftotext
def test_deployment(alone, plan, no_pick):
    text = alone(deployment.render, plan)
    assert text.startswith("Deployment commands Launch commands for the top pick.")
    assert "--deploy-dir DIR" in text
    assert "Nothing to deploy: no self-hosted configuration meets the constraints." in alone(deployment.render, no_pick)


@needs_pdftotext
def test_probe(alone, plan):
    level = {"concurrency": 1, "requests": 8, "succeeded": 8, "errors": 0, "ttft_s": {"p50": 0.21, "p90": 0.3},
             "output_tokens_per_s_per_stream": {"p50": 88.5}, "aggregate_output_tokens_per_s": 88.0}
    result = {"url": f"https://api.example.com/v1?api_key={SECRET}", "api": "openai", "model": "m", "api_key": SECRET,
              "started_at": "2026-11-24T09:00:00Z", "levels": [level]}
    text = alone(probe.render, plan, result)
    assert text.startswith("Measured against predicted • Endpoint: https://api.example.com/v1?api_key=*** (openai)")
    assert "TTFT p50 (s)" in text and "Time to first token (s)" in text  # compared with the plan's top pick
    assert SECRET not in text
    assert "holds no measurements" in alone(probe.render, plan, {"model": "m"})
    assert "Measured against predicted" not in alone(probe.render, plan)  # no probe: nothing drawn


@needs_pdftotext
def test_assumptions(alone, plan):
    text = alone(assumptions.render, plan)
    assert text.startswith("Assumptions Utilisation ")
    assert "Power price $" in text and "PUE " in text and "Amortisation " in text and "requests/s average" in text


@needs_pdftotext
def test_sources(alone, plan):
    text = alone(sources.render, plan)
    assert text.startswith("Data sources What Source As of")
    for kind, as_of in plan.data_as_of.items():
        assert f"{kind} (newest row)" in text and as_of in text
    assert f"Model: {plan.recommendation.model_name}" in text and "GPU price" in text


def test_plan_date(plan):
    assert sources.plan_date(plan, "models") == plan.data_as_of["models"]
    assert sources.plan_date(plan, "nothing") == "—"
