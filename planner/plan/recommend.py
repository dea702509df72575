"""Candidates -> estimates -> rules -> a ranked plan.

`recommend(constraints)` is the one entry point the pages, the CLI and the PDF share.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.catalog.checkpoints import default_checkpoints
from planner.catalog.loading import Catalog, load_catalog
from planner.catalog.records import ModelSpec
from planner.catalog.task_scores import load_task_scores
from planner.catalog.staleness import oldest_price, price_entry
from planner.errors import ConstraintError, LookupFailed
from planner.estimate.cost import resolve_assumptions
from planner.estimate.load import Workload, load_from_workload
from planner.estimate.speed import CPU_FALLBACK_TFLOPS, compute_is_placeholder
from planner.findings import Finding
from planner.finetune.section import finetune_section
from planner.plan.api_options import api_options
from planner.plan.candidate import build_candidate
from planner.plan.capability import CapabilityTable
from planner.plan.constraints import Constraints
from planner.plan.decision import decision_points, idle_hardware, why_not
from planner.plan.explain import engine_lifecycle_findings, nearest_miss, second_replica, unsupported_reason
from planner.plan.grid import Grid, build_grid
from planner.plan.reasoning_plan import reasoning_plan, ttft_holds_on_answer
from planner.plan.model import ApiOption, Candidate, Plan, RuledOut
from planner.plan.objective import QUALITY_LOSS_POINTS, UNSCORED, Choice, rank
from planner.plan.rules import (
    BELOW_CAPABILITY,
    CODE_RULE,
    NO_MEMORY,
    OK,
    TOO_SLOW,
    candidate_codes,
    explain_exclusion,
    model_exclusion,
    quant_penalty,
)
from planner.estimate.bands import pessimistic_decode_share, pessimistic_prefill_share
from planner.plan.verdict import DEFAULT_GAP, DEFAULT_GAP_POINTS, capability_gap_allowed, verdict
from planner.plan.workload import Filters, filters_from, training_ask_from, workload_from

MAX_ALTERNATIVES = 10
MAX_PER_MODEL = 2


def recommend(c: Constraints, catalog: Catalog | None = None, calibrations: list[dict] | None = None) -> Plan:
    """The ranked plan for these constraints."""
    catalog = catalog or load_catalog()
    a = resolve_assumptions(catalog, c.utilisation, c.amortisation_months, c.power_usd_per_kwh, c.gpu_usd_per_hour, c.gpu_price_for)
    _check_owned_gpus(catalog, c)
    w, f = workload_from(c), filters_from(c, catalog)
    load = load_from_workload(w)
    findings = _plan_level_findings(c)
    models, ruled_out = _eligible_models(catalog, c, w, f)
    reasoning = {m.id: reasoning_plan(m.id, m.name, c.task, c.expected_reasoning_tokens, named=bool(c.models)) for m in models}
    ruled_out += [RuledOut(model=m.id, model_name=m.name, rule="reasoning.not-needed", reason=reasoning[m.id].excluded)
                  for m in models if reasoning[m.id].excluded]
    models = [m for m in models if not reasoning[m.id].excluded]
    hidden = {k: r.tokens for k, r in reasoning.items() if r.tokens}
    grid = build_grid(catalog, w, f, models, a, calibrations, hidden, ttft_holds_on_answer(c.task))
    codes = candidate_codes(grid.values, f) if len(grid) else np.zeros(0, dtype=np.int8)
    single_replica = False
    if f.owned is not None and c.min_replicas is None and f.min_replicas > 1 and not (codes == OK).any():
        # owned GPUs that cannot host the default redundancy still serve: plan one replica and say so
        single = replace(f, min_replicas=1)
        grid1 = build_grid(catalog, w, single, models, a, calibrations, hidden, ttft_holds_on_answer(c.task))
        codes1 = candidate_codes(grid1.values, single) if len(grid1) else codes
        if (codes1 == OK).any():
            f, grid, codes, single_replica = single, grid1, codes1, True
    for worse, better in (grid.dominated_quants or {}).items():
        findings.append(Finding(rule="quant.dominated", effect="info", subject=worse,
                                message=f"{catalog.quants[worse].name} was not considered: {catalog.quants[better].name} is no bigger "
                                        "and loses no more quality on the same engines."))
    for quant_id, loss in (grid.severe_quants or {}).items():
        findings.append(Finding(rule="quant.severe-loss", effect="info", subject=quant_id, message=(
            f"{catalog.quants[quant_id].name} was not considered: it raises perplexity by about {loss:.0f}% (data/quants.csv), "
            "too much to ship; a smaller model at 4 bits or more serves better.")))
    for worse, better in (grid.dominated or {}).items():
        findings.append(Finding(rule="hardware.dominated", effect="info", subject=worse,
                                message=f"{catalog.gpus[worse].name} was not considered: {catalog.gpus[better].name} costs no more "
                                        "and has at least as much memory, bandwidth and compute."))
    findings += engine_lifecycle_findings(catalog)
    table = CapabilityTable(load_task_scores(), catalog.models, catalog.apis, c.task)
    codes, below = _apply_min_capability(grid, codes, table, c.min_capability)
    ruled_out += _ruled_out_models(grid, codes, w, f, below, table,
                                   {"ttft": pessimistic_prefill_share(catalog), "decode": pessimistic_decode_share(catalog, 1, False)})
    chosen, choice, feasible, options = _ranked(catalog, grid, codes, c, table, f.owned is not None)
    candidates = [build_candidate(catalog, grid, i, score, c, w, f, a, load, calibrations, table, reasoning[grid.models[grid.m[i]].id])
                  for i, score in chosen]
    top = candidates[0] if candidates else None
    apis = api_options(catalog, c, load, top, table, f.min_replicas)
    best_api, best_closed = _comparable_api(apis, top, table), _best_closed(apis)
    result, reasons, guide_findings = verdict(c, top, best_api, best_closed, table.benchmark, load.tokens_per_month)
    findings += guide_findings + _objective_findings(catalog, c, f, table, top)
    if top and single_replica:  # the specific sentence replaces the generic one-replica warning
        findings = [x for x in findings if not (x.rule == "redundancy.replicas" and x.message.startswith("One replica"))]
        findings.append(second_replica(catalog, top))
    if top:
        findings += top.findings
    else:
        findings.append(nearest_miss(ruled_out, table))
    points = decision_points(grid, feasible, choice, table)
    owned = {catalog.gpu(g.gpu).id: g.count for g in c.gpus_available or ()}
    idle = idle_hardware(owned, {k: catalog.gpus[k].name for k in owned}, top, points)
    if idle:
        findings.append(Finding(rule="hardware.idle", effect="info", message=idle[0].upper() + idle[1:]))
    objective = {"priority": c.priority, "rule": choice.rule if choice else None, "task": c.task, "benchmark": table.benchmark,
                 "benchmark_note": table.note, "min_capability": c.min_capability,
                 "max_capability_gap": capability_gap_allowed(c, table.benchmark), "deployment": f.deployment,
                 "deployment_reason": f.deployment_reason, "min_replicas": f.min_replicas, "options": options}
    decision = {"points": points, **why_not(points, top, ruled_out, table, table.benchmark)}
    fine_tuning = finetune_section(catalog, top.model, training_ask_from(c)) if top and c.fine_tuning != "none" else {}
    findings += [Finding.model_validate(f) for f in fine_tuning.get("findings", [])]
    gpu_price = ([price_entry(f"gpu {top.cost.price_kind}", top.gpu, top.cost.price_provider, top.cost.price_as_of)]
                 if top and top.cost.price_as_of else [])
    oldest = oldest_price(catalog, gpu_price, [x.id for x in apis])
    if oldest.get("stale"):
        findings.append(Finding(rule="data.stale-price", effect="warning", subject=oldest["id"], message=(
            f"The oldest price this plan used ({oldest['kind']} {oldest['id']}, {oldest['provider']}) is from {oldest['as_of']}, "
            f"{oldest['age_days']} days ago: refresh it (python -m planner refresh prices) or set your own price.")))
    return Plan(
        constraints=c.model_dump(mode="json"),
        verdict=result,
        verdict_reasons=reasons,
        recommendation=top,
        alternatives=candidates[1:],
        ruled_out=ruled_out,
        findings=findings,
        apis=apis,
        load=load,
        assumptions=a,
        candidates_evaluated=grid.enumerated,
        data_as_of=catalog.as_of_dates(),
        fine_tuning=fine_tuning,
        objective=objective,
        idle_hardware=idle,
        decision=decision,
        oldest_price=oldest,
    )


def _check_owned_gpus(catalog: Catalog, c: Constraints) -> None:
    """Owned GPUs must be catalogue devices: one sentence naming the entry otherwise."""
    for i, owned in enumerate(c.gpus_available or ()):
        try:
            catalog.gpu(owned.gpu)
        except LookupFailed as exc:
            raise ConstraintError(f"Field 'gpus_available.{i}.gpu': {exc}", field="gpus_available") from None


def _plan_level_findings(c: Constraints) -> list[Finding]:
    out = []
    if c.privacy != "any":
        out.append(Finding(rule="privacy.no-api", effect="excluded",
                           message="Third-party APIs are excluded: the data may not leave the company."))
    if c.privacy in {"on-prem", "offline"}:
        out.append(Finding(rule="privacy.on-prem", effect="excluded",
                           message="Rented cloud GPUs are excluded: the plan runs on hardware you own or buy."))
    if c.privacy == "offline":
        out.append(Finding(rule="privacy.offline", effect="info",
                           message="Offline: download the weights and engine images in advance; no licence server or telemetry may be required."))
    return out


def _eligible_models(catalog: Catalog, c: Constraints, w: Workload, f: Filters) -> tuple[list[ModelSpec], list[RuledOut]]:
    if c.models:
        try:
            pool = list({m.id: m for m in (catalog.model(key) for key in c.models)}.values())  # an alias and its id: once
        except LookupFailed as exc:
            raise ConstraintError(f"Field 'models': {exc}", field="models") from None
    else:
        pool = list(catalog.models.values())
    kept, ruled = [], []
    for model in pool:
        finding = model_exclusion(model, w, f)
        if finding is None:
            kept.append(model)
        else:
            ruled.append(RuledOut(model=model.id, model_name=model.name, rule=finding.rule, reason=finding.message))
    return kept, ruled


def _ruled_out_models(grid: Grid, codes: np.ndarray, w: Workload, f: Filters, below: set[int],
                      table: CapabilityTable, slow_end: dict[str, float]) -> list[RuledOut]:
    """For each model with no workable configuration, the reason from its closest attempt (`slow_end`: the shares
    of the estimate the latency targets are held at, planner.plan.rules.explain_exclusion)."""
    out = []
    if not grid.hardware:
        return [RuledOut(model=m.id, model_name=m.name, rule="hardware.none", reason="No hardware option is available for these constraints.")
                for m in grid.models]
    v = grid.values
    feasible_per_model = np.bincount(grid.m[codes == OK], minlength=len(grid.models))
    for mi, model in enumerate(grid.models):
        if feasible_per_model[mi]:
            continue
        rows = np.nonzero(grid.m == mi)[0]
        if len(rows) == 0:
            out.append(RuledOut(model=model.id, model_name=model.name, rule="engine.support", reason=unsupported_reason(grid, model)))
            continue
        worst = codes[rows].max()
        near = rows[codes[rows] == worst]
        if worst == NO_MEMORY:
            slack = v["capacity_gib"][near] * grid.values["total_gpus"][near] / grid.values["replicas"][near] - v["weights_gib"][near]
            i = int(near[np.argmax(slack)])
        elif worst == TOO_SLOW:  # the fastest attempt is the one to show
            i = int(near[np.argmax(v["decode_tokens_per_s"][near] - 1e3 * np.maximum(v["ttft_s"][near] - (w.max_ttft_s or np.inf), 0))])
        else:
            i = int(near[np.argmin(v["usd_per_month"][near])])
        quant, engine = grid.pairs[grid.p[i]]
        hw = grid.hardware[grid.h[i]]
        row = {k: float(v[k][i]) for k in ("weights_gib", "capacity_gib", "decode_tokens_per_s", "ttft_s", "total_gpus", "replicas", "usd_per_month",
                                           "usd_per_month_high", "first_answer_token_s", "ttft_at_peak_s")}
        if worst == BELOW_CAPABILITY:
            reason = f"{model.name} scores {table.of(model.id).words()}, below the min_capability asked for."
        else:
            reason = explain_exclusion(int(worst), model, quant.id, engine.id, hw.gpu.name, hw.count, row, w, f, slow_end)
        out.append(RuledOut(model=model.id, model_name=model.name, rule=CODE_RULE[int(worst)], reason=reason))
    return out


def _ranked(catalog: Catalog, grid: Grid, codes: np.ndarray, c: Constraints, table: CapabilityTable,
            owned: bool) -> tuple[list[tuple[int, float]], Choice | None, np.ndarray, list[dict]]:
    """The top pick and alternatives as (grid row, capability), best first; the objective's choice; the feasible rows;
    the first choice of each objective (most capable or best within budget, balanced, cheapest)."""
    feasible = np.nonzero(codes == OK)[0]
    if not len(feasible):
        return [], None, feasible, []
    v = grid.values
    per_model = np.array([np.nan if (s := table.of(m.id).score) is None else s for m in grid.models])
    capability = per_model[grid.m[feasible]]
    penalty = _penalties(catalog, grid)[grid.m[feasible], grid.p[feasible]]
    counts = np.array([hw.count for hw in grid.hardware], dtype=float)[grid.h[feasible]]
    simplicity = np.log2(np.maximum(counts, 1)) + np.where(v["offload"][feasible], 3.0, 0.0) + np.where(
        v["per_gpu_gib"][feasible] > 0.9 * v["capacity_gib"][feasible], 1.0, 0.0)
    groups = _pick_groups(grid, feasible)
    args = (capability, penalty, v["usd_per_month"][feasible], v["replicas"][feasible], simplicity, owned, groups)
    choice = rank(c.priority, *args, budget_usd_per_month=c.budget_usd_per_month, benchmark=table.benchmark,
                  offload=v["offload"][feasible])
    scores = np.where(np.isnan(capability), 0.0, capability)
    # the first choice of each objective, side by side (the same keys as objective.rank, first row only)
    cap = np.where(np.isnan(capability), UNSCORED, capability)
    lossy = (penalty >= QUALITY_LOSS_POINTS).astype(float)
    usd = v["usd_per_month"][feasible]
    balanced = (choice if c.priority == "balanced" and c.budget_usd_per_month is None and not owned
                else rank("balanced", *args[:5], False, groups, benchmark=table.benchmark))
    firsts = (("best within budget" if c.budget_usd_per_month is not None else "most capable",
               _first((simplicity, usd, lossy, -cap))),
              ("balanced", balanced.order[0]), ("cheapest", _first((simplicity, lossy, -cap, usd))))
    options = [_option(grid, int(feasible[k]), label, table) for label, k in firsts]
    return _pick(grid, feasible, scores, choice.order, groups), choice, feasible, options


def _first(keys: tuple[np.ndarray, ...]) -> int:
    """np.lexsort(keys)[0] (the last key most significant), sorting only the rows tied on the primary key."""
    tied = np.nonzero(keys[-1] == keys[-1].min())[0]
    return int(tied[np.lexsort(tuple(k[tied] for k in keys))[0]])


def _penalties(catalog: Catalog, grid: Grid) -> np.ndarray:
    """Quality loss per (model, pair): the format's measured loss, none in the format the model was released in
    (gpt-oss's MXFP4, DeepSeek's FP8 are the model as trained)."""
    per_pair = np.array([quant_penalty(q, catalog.quants) for q, _ in grid.pairs])
    published = default_checkpoints()
    natives = np.array([published.native_format(m.id) or "" for m in grid.models])
    quants = np.array([q.id for q, _ in grid.pairs])
    return np.where(natives[:, None] == quants[None, :], 0.0, per_pair[None, :])


def _option(grid: Grid, i: int, label: str, table: CapabilityTable) -> dict:
    """One objective's first choice, as the plan shows the three side by side."""
    quant, engine = grid.pairs[grid.p[i]]
    hw = grid.hardware[grid.h[i]]
    model = grid.models[grid.m[i]]
    cap = table.of(model.id)
    return {"objective": label, "model": model.id, "model_name": model.name, "quant": quant.id, "engine": engine.id,
            "gpu": hw.gpu.id, "gpu_name": hw.gpu.name, "gpus_per_replica": hw.count, "replicas": int(grid.values["replicas"][i]),
            "usd_per_month": round(float(grid.values["usd_per_month"][i]), 2), "capability": cap.as_json()}


def _pick_groups(grid: Grid, rows: np.ndarray) -> np.ndarray:
    """A small id per row for its (model, weight format, device): the alternatives keep one row of each."""
    quant_index = {q.id: j for j, q in enumerate(sorted({q for q, _ in grid.pairs}, key=lambda q: q.id))}
    device_index = {d: j for j, d in enumerate(sorted({hw.gpu.id for hw in grid.hardware}))}
    pair_quant = np.array([quant_index[q.id] for q, _ in grid.pairs])
    hw_device = np.array([device_index[hw.gpu.id] for hw in grid.hardware])
    return (grid.m[rows].astype(np.int64) * len(quant_index) + pair_quant[grid.p[rows]]) * len(device_index) + hw_device[grid.h[rows]]


def _pick(grid: Grid, feasible: np.ndarray, scores: np.ndarray, order: np.ndarray, groups: np.ndarray) -> list[tuple[int, float]]:
    """Candidates best first, keeping at most MAX_PER_MODEL per model and one per (model, format, device)
    (`groups`, per feasible row: _pick_groups)."""
    rows = feasible[order]
    _, first = np.unique(groups[order], return_index=True)
    first.sort()  # the best-ranked row of each (model, format, device), in rank order
    models = grid.m[rows[first]]
    # rank of each kept row among its model's kept rows: a stable sort by model keeps the rank order inside a model
    by_model = np.argsort(models, kind="stable")
    sorted_models = models[by_model]
    starts = np.searchsorted(sorted_models, sorted_models, side="left")
    within = np.empty(len(models), dtype=np.int64)
    within[by_model] = np.arange(len(models)) - starts
    kept = first[within < MAX_PER_MODEL][: MAX_ALTERNATIVES + 1]
    return [(int(feasible[order[k]]), float(scores[order[k]])) for k in kept]


def _apply_min_capability(grid: Grid, codes: np.ndarray, table: CapabilityTable, minimum: float | None) -> tuple[np.ndarray, set[int]]:
    """Candidates of models below min_capability fail it (a hard rule when set); returns the codes and those models."""
    if minimum is None or not len(grid):
        return codes, set()
    below = {mi for mi, m in enumerate(grid.models) if (table.of(m.id).score is None or table.of(m.id).score < minimum)}
    mask = np.isin(grid.m, list(below)) & (codes == OK)
    return np.where(mask, BELOW_CAPABILITY, codes), below


def _comparable_api(apis: list[ApiOption], top: Candidate | None, table: CapabilityTable) -> ApiOption | None:
    """The cheapest allowed API serving the same model, or one at least as capable on the task's benchmark."""
    if top is None:
        return None
    margin = DEFAULT_GAP.get(table.benchmark or "", DEFAULT_GAP_POINTS) / 2
    ok = [x for x in apis if x.allowed and (x.same_model or (x.capability_score is not None and top.capability_score is not None
                                                              and x.capability_score >= top.capability_score - margin))]
    return min(ok, key=lambda x: x.usd_per_month) if ok else None


def _best_closed(apis: list[ApiOption]) -> ApiOption | None:
    closed = [x for x in apis if not x.open_weights and x.capability_score is not None]
    return max(closed, key=lambda x: x.capability_score) if closed else None


def _objective_findings(catalog: Catalog, c: Constraints, f: Filters, table: CapabilityTable, top: Candidate | None) -> list[Finding]:
    out = [Finding(rule="objective", effect="info", message=(
        f"Objective: priority {c.priority}; capability for {c.task} on {table.benchmark or 'no benchmark'}"
        + (f" ({table.note})" if table.note else "") + "."))]
    if f.deployment_reason != "stated":
        out.append(Finding(rule="hardware.geforce-datacenter", effect="info",
                           message=f"Deployment: {f.deployment} ({f.deployment_reason}); set `deployment` to change it."))
    if not f.geforce_allowed:
        out.append(Finding(rule="hardware.geforce-datacenter", effect="excluded", message=(
            "GeForce cards are not planned: NVIDIA's GeForce driver licence does not permit datacenter deployment "
            "(https://www.nvidia.com/en-us/drivers/geforce-license/). Nor are other desk and device parts (Radeon, Arc, laptop "
            "GPUs, consumer APUs, Macs, Jetson modules): a datacenter service is planned on datacenter or workstation GPUs. Set deployment to office for a "
            "desk-side service.")))
    devices = {catalog.gpu(g.gpu).id for g in f.owned} if f.owned is not None else ({top.gpu} if top is not None else set())
    for gpu_id in sorted(devices):
        gpu = catalog.gpus[gpu_id]
        if compute_is_placeholder(gpu, catalog):
            out.append(Finding(rule="data.no-compute-figure", effect="warning", subject=gpu_id, message=(
                f"{gpu.name} has no published compute figure and no measured prefill in the catalogue: prefill (time to first "
                f"token) is estimated at a conservative {CPU_FALLBACK_TFLOPS:g} TFLOPS, so larger models may be ruled out on "
                "TTFT that they would meet. Add its dense FP16 TFLOPS to data/gpus.csv, or measure it with the probe.")))
    if top is not None and top.replicas < 2:
        out.append(Finding(rule="redundancy.replicas", effect="warning", subject=top.model,
                           message="One replica: no redundancy, so a failed GPU or an upgrade takes the service down."))
    if top is not None and top.engine == "ollama":
        out.append(Finding(rule="engine.fits-workload", effect="info", subject=top.model, message=(
            f"Ollama serves one request per model at a time by default since v0.10.0 (OLLAMA_NUM_PARALLEL=1, "
            f"https://github.com/ollama/ollama/releases/tag/v0.10.0) and queues up to 512 more (OLLAMA_MAX_QUEUE, docs/faq.md); "
            f"the deployment files set OLLAMA_NUM_PARALLEL={top.speed.concurrency}.")))
    return out
