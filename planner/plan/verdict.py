"""The seed guide's verdict: which way the constraints point, each reason with the numbers behind it.

Open weights: data privacy, high volume (self-hosting costs less than a comparable API at this volume; said as
"cheaper to self-host at this volume"),
offline use, custom fine-tuning, product embedding. A paid API: low volume (the API costs less; "cheaper as an API at
this volume"),
rapid development, complex reasoning (the task is reasoning and a closed model leads on its benchmark by
more than the allowed gap), maximum capability (stated, or implied by priority quality with a closed
model ahead by more than the gap). Nothing else is added to a plan.
"""

from __future__ import annotations

from planner.findings import Finding
from planner.plan.constraints import Constraints
from planner.plan.model import ApiOption, Candidate

DEFAULT_GAP = {"LMArena text Elo": 40.0}  # points on the benchmark's own scale; percentage benchmarks: DEFAULT_GAP_POINTS
DEFAULT_GAP_POINTS = 5.0


def capability_gap_allowed(c: Constraints, benchmark: str | None) -> float:
    if c.max_capability_gap is not None:
        return c.max_capability_gap
    return DEFAULT_GAP.get(benchmark or "", DEFAULT_GAP_POINTS)


def verdict(c: Constraints, top: Candidate | None, best_api: ApiOption | None, best_closed: ApiOption | None,
            benchmark: str | None, tokens_per_month: float) -> tuple[str, list[str], list[Finding]]:
    """('self-host' | 'api' | 'either', reasons, findings)."""
    to_self: list[str] = []
    to_api: list[str] = []
    if c.privacy != "any":
        to_self.append({"no-third-party-api": "data may not go to a third-party API",
                        "on-prem": "the model must run on premises", "offline": "the system must run offline"}[c.privacy])
    if c.fine_tuning != "none":
        to_self.append(f"you plan {c.fine_tuning} fine-tuning on your own data, which open weights allow")
    if c.embedded_in_product:
        to_self.append("the model ships inside your product, which only open weights allow")
    if top is not None and best_api is not None:
        mine, theirs = top.cost.usd_per_month, best_api.usd_per_month
        if mine < theirs and top.cost.power_counted:  # without power counted the cost is only a floor
            to_self.append(f"cheaper to self-host at this volume: at {tokens_per_month / 1e6:,.0f}M tokens/month self-hosting (${mine:,.0f}/month) costs less than "
                           f"a comparable API ({best_api.id}, ${theirs:,.0f}/month)")
        elif theirs < 0.8 * mine:
            to_api.append(f"cheaper as an API at this volume: at {tokens_per_month / 1e6:,.0f}M tokens/month a comparable API ({best_api.id}, ${theirs:,.0f}/month) "
                          f"costs less than self-hosting (${mine:,.0f}/month)")
    if top is None:
        to_api.append("no self-hosted configuration meets the constraints")
    if c.rapid_development:
        to_api.append("rapid development: a hosted API needs no hardware, engine or operations to start")
    gap = capability_gap_allowed(c, benchmark)
    ahead = (best_closed.capability_score - top.capability_score
             if top is not None and best_closed is not None and best_closed.capability_score is not None and top.capability_score is not None
             else None)
    lead = (f"{best_closed.id} scores {best_closed.capability_score:,.1f} on {benchmark} against {top.capability_score:,.1f} for "
            f"{top.model_name}" if ahead is not None else "")
    if c.needs_max_capability and ahead is not None and ahead > 0:
        to_api.append(f"maximum capability needed: {lead}")
    elif c.priority == "quality" and ahead is not None and ahead > gap:
        to_api.append(f"maximum capability (priority quality): {lead}, more than the {gap:g}-point gap allowed")
    if c.task == "reasoning" and ahead is not None and ahead > gap and not c.needs_max_capability and c.priority != "quality":
        to_api.append(f"complex reasoning: {lead}, more than the {gap:g}-point gap allowed")
    if not c.api_allowed:
        # an API cannot be chosen, so no API reason argues with the verdict: the closed frontier stays one line of
        # reference (a finding), never a reason
        reference = ([Finding(rule="guide.closed-api", effect="info", message=(
            f"For reference only (APIs are ruled out by privacy): {lead}."))] if lead else [])
        to_api = []
    else:
        reference = []
    if c.privacy != "any" or (to_self and not to_api):
        result = "self-host"
    elif to_api and not to_self:
        result = "api"
    else:
        result = "either"
    reasons = [f"Self-host: {r}." for r in to_self] + [f"API: {r}." for r in to_api]
    findings = [Finding(rule="guide.open-weights", effect="info", message=f"Points to open weights: {r}.") for r in to_self]
    findings += [Finding(rule="guide.closed-api", effect="info", message=f"Points to a paid API: {r}.") for r in to_api]
    findings += reference
    return result, reasons or ["Self-hosting and a paid API are both reasonable here."], findings
