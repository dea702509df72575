"""Getting a plan out of the browser: PDF, deployment files, plan file (and a plan file back in)."""

from __future__ import annotations

import re

import streamlit as st

from planner.deploy.files import deployment_zip
from planner.errors import PlannerError
from planner.plan.model import Plan
from planner.plan.planfile import PlanFileError, export_plan, import_plan
from planner.report.document import plan_pdf
from planner.report.words import for_people
from ui import probe_view, state
from ui.text import plain


def downloads(plan: Plan, key: str = "plan") -> None:
    """Three download buttons; each file is built only when its button is pressed."""
    stem = _file_stem(plan.constraints.get("name") or "plan")
    probe = st.session_state.get(probe_view.ATTACHED)
    cols = st.columns(3)
    cols[0].download_button("Plan as PDF", data=lambda: plan_pdf(plan, state.session_catalog(), probe=probe),
                            file_name=f"{stem}.pdf", mime="application/pdf", on_click="ignore", key=f"{key}_pdf",
                            icon=":material/picture_as_pdf:", use_container_width=True,
                            help="Includes the attached probe results." if probe else None)
    if plan.recommendation is not None:
        cols[1].download_button("Deployment files (zip)", data=lambda: _zip(plan), file_name=f"{stem}-deploy.zip",
                                mime="application/zip", on_click="ignore", key=f"{key}_zip", icon=":material/deployed_code:",
                                use_container_width=True)
    cols[2].download_button("Plan file (JSON)", data=lambda: export_plan(plan), file_name=f"{stem}.plan.json",
                            mime="application/json", on_click="ignore", key=f"{key}_json", icon=":material/save:",
                            use_container_width=True, help="Open it again on the Export page to restore these constraints.")


def import_form() -> None:
    """Upload a plan file; on success the constraints replace the current ones, on failure nothing changes."""
    upload = st.file_uploader("Open a plan file", type=["json"], key="plan_file_upload")
    if upload is None:
        return
    try:
        constraints, _plan = import_plan(upload.getvalue())
    except (PlanFileError, PlannerError) as exc:
        st.error(plain(f"That file was not opened, and nothing was changed: {for_people(str(exc))}"), icon=":material/error:")
        return
    if st.button(plain(f"Use the constraints of “{constraints.name}”"), key="plan_file_apply"):
        state.set_values(state.values_from_constraints(constraints))
        st.success("Constraints restored: the Plan page now shows this plan.", icon=":material/check:")


def _zip(plan: Plan) -> bytes:
    try:
        return deployment_zip(plan, state.session_catalog())
    except PlannerError as exc:  # an engine with no multi-node layout, say
        return f"No deployment files: {exc}\n".encode()


def _file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:60] or "plan"
