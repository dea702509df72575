"""The launch commands for the top pick (planner.deploy.files)."""

from __future__ import annotations

from planner.deploy.files import DeploymentError, launch_commands
from planner.report.canvas import MUTED, Canvas
from planner.report.context import ReportData


def render(doc: Canvas, data: ReportData) -> None:
    doc.heading("Deployment commands")
    try:
        commands = launch_commands(data.plan, data.catalog)
    except DeploymentError as exc:
        doc.note(str(exc))
        return
    if not commands:
        doc.note("Nothing to deploy: no self-hosted configuration meets the constraints.")
        return
    doc.para("Launch commands for the top pick. All the files (compose, Kubernetes manifests, Modelfile, README with the "
             "documentation of every flag) come from: python -m planner plan --constraints FILE --deploy-dir DIR, "
             "or the dashboard's download.", size=8.5, colour=MUTED)
    for title, command in commands:
        doc.para(title, size=8.8, style="B")
        doc.code(command)
