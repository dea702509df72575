"""The Export page: downloads offered, and a plan file opened back (or refused, changing nothing)."""

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from planner.plan.constraints import Constraints
from planner.plan.planfile import export_plan
from planner.plan.recommend import recommend

ROOT = Path(__file__).resolve().parent.parent


def export_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    return at.switch_page("pages/export.py").run()


def test_export_page_offers_the_three_files():
    at = export_page()
    assert not at.exception
    labels = {b.label for b in at.get("download_button")}
    assert {"Plan as PDF", "Deployment files (zip)", "Plan file (JSON)"} <= labels


def test_plan_page_offers_the_downloads_too():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert {"Plan as PDF", "Plan file (JSON)"} <= {b.label for b in at.get("download_button")}


def test_a_plan_file_restores_its_constraints():
    text = export_plan(recommend(Constraints(name="Imported plan", requests_per_day=123_456, task="code")))
    at = export_page()
    at.file_uploader(key="plan_file_upload").set_value(("p.plan.json", text.encode(), "application/json")).run()
    assert not at.exception and not at.error
    at.button(key="plan_file_apply").click().run()
    assert at.session_state["form_values"]["requests_per_day"] == 123_456
    assert at.session_state["form_values"]["task"] == "code"


def test_a_foreign_file_is_refused_and_changes_nothing():
    at = export_page()
    before = dict(at.session_state["form_values"])
    at.file_uploader(key="plan_file_upload").set_value(("x.json", json.dumps({"hello": 1}).encode(), "application/json")).run()
    assert not at.exception
    assert any("nothing was changed" in e.value for e in at.error)
    assert at.session_state["form_values"] == before
