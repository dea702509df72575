"""Candidates -> estimates -> rules -> a ranked plan.

`recommend(constraints)` is the one entry point the pages, the CLI and the PDF share.
"""

from __future__ import annotations

import numpy as np

from planner.catalog.loading import Catalog, load_catalog
from planner.catalog.records import ModelSpec, Quant
from planner.errors import ConstraintError, LookupFailed
from planner.estimate.cost import (
    CostAssumptions,
    api_cost_usd_per_month,
    blended_usd_per_mtok,
    break_even_tokens_per_month,
    owned_cost,
    rented_cost,
    resolve_assumptions,
)
from planner.estimate.load import Load, Workload, load_from_workload
from planner.estimate.memory import (
    estimate_memory,
    expert_params,
    experts_only_other_bits,
)
from planner.estimate.speed import estimate_speed
from planner.findings import Finding
from planner.finetune.planner import finetune_section
from planner.plan.constraints import Constraints
from planner.plan.grid import Grid, build_grid
from planner.plan.model import ApiOption, Candidate, Plan, RuledOut
from planner.plan.rules import (
    CODE_RULE,
    NO_MEMORY,
    OK,
    TOO_SLOW,
    candidate_codes,
    capability_for_task,
    explain_exclusion,
    model_exclusion,
    preference_scores,
    quality_proxy,
    quant_penalty,
    restricted_licence,
    verdict,
)
from planner.plan.workload import (
    Filters,
    filters_from,
    training_ask_from,
    workload_from,
)
from planner.units import MILLION

MAX_ALTERNATIVES = 10
MAX_PER_MODEL = 2


def recommend(c: Constraints, catalog: Catalog | None = None, calibrations: list[dict] | None = None) -> Plan:
    """The ranked plan for these constraints."""
    catalog = catalog or load_catalog()
    a = resolve_assumptions(catalog, c.utilisation, c.amortisation_months, c.power_usd_per_kwh, c.gpu_usd_per_hour, c.gpu_price_for)
    _check_owned_gpus(catalog, c)
    w, f = workload_from(c), filters_from(c)
    load = load_from_workload(w)
    findings = _plan_level_findings(c)
    models, ruled_out = _eligible_models(catalog, c, w, f)
    grid = build_grid(catalog, w, f, models, a, calibrations)
    codes = candidate_codes(grid.values, f) if len(grid) else np.zeros(0, dtype=np.int8)
    for worse, better in (grid.dominated_quants or {}).items():
        findings.append(Finding(rule="quant.dominated", effect="info", subject=worse,
                                message=f"{catalog.quants[worse].name} was not considered: {catalog.quants[better].name} is no bigger "
                                        "and loses no more quality on the same engines."))
    for worse, better in (grid.dominated or {}).items():
        findings.append(Finding(rule="hardware.dominated", effect="info", subject=worse,
                                message=f"{catalog.gpus[worse].name} was not considered: {catalog.gpus[better].name} costs no more "
                                        "and has at least as much memory, bandwidth and compute."))
    ruled_out += _ruled_out_models(grid, codes, w, f)
    chosen = _ranked(catalog, grid, codes, c)
    candidates = [_candidate(catalog, grid, i, score, c, w, f, a, load, calibrations) for i, score in chosen]
    top = candidates[0] if candidates else None
    apis = _api_options(catalog, c, load, top)
    comparable = [x for x in apis if x.allowed and (x.same_model or (top and x.capability_score and top.capability_score
                                                                      and x.capability_score >= top.capability_score - 2))]
    best_api = min(comparable, key=lambda x: x.usd_per_month) if comparable else None
    closed = [x.capability_score for x in apis if not x.open_weights and x.capability_score is not None]
    result, reasons, guide_findings = verdict(
        c,
        top.cost.usd_per_month if top else None,
        best_api.usd_per_month if best_api else None,
        top.capability_score if top else None,
        max(closed) if closed else None,
    )
    findings += guide_findings
    if top:
        findings += top.findings
    else:
        findings.append(Finding(rule="plan.none", effect="warning",
                                message="No self-hosted configuration meets every hard rule; see what was ruled out and relax a constraint."))
    fine_tuning = finetune_section(catalog, top.model, training_ask_from(c)) if top and c.fine_tuning != "none" else {}
    findings += [Finding.model_validate(f) for f in fine_tuning.get("findings", [])]
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
            pool = [catalog.model(key) for key in c.models]
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


def _ruled_out_models(grid: Grid, codes: np.ndarray, w: Workload, f: Filters) -> list[RuledOut]:
    """For each model with no workable configuration, the reason from its closest attempt."""
    out = []
    if not len(grid):
        return [RuledOut(model=m.id, model_name=m.name, rule="hardware.none", reason="No hardware option is available for these constraints.")
                for m in grid.models]
    v = grid.values
    feasible_per_model = np.bincount(grid.m[codes == OK], minlength=len(grid.models))
    for mi, model in enumerate(grid.models):
        if feasible_per_model[mi]:
            continue
        rows = np.nonzero(grid.m == mi)[0]
        if len(rows) == 0:
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
        row = {k: float(v[k][i]) for k in ("weights_gib", "capacity_gib", "decode_tokens_per_s", "ttft_s", "total_gpus", "replicas", "usd_per_month")}
        out.append(RuledOut(model=model.id, model_name=model.name, rule=CODE_RULE[int(worst)],
                            reason=explain_exclusion(int(worst), model, quant.id, engine.id, hw.gpu.name, hw.count, row, w, f)))
    return out


def _ranked(catalog: Catalog, grid: Grid, codes: np.ndarray, c: Constraints) -> list[tuple[int, float]]:
    """The top pick and alternatives as (grid row, score), best first."""
    feasible = np.nonzero(codes == OK)[0]
    if not len(feasible):
        return []
    v = grid.values
    capability = np.array([capability_for_task(m, c.task) for m in grid.models])[grid.m[feasible]]
    penalty = np.array([quant_penalty(q, catalog.quants) for q, _ in grid.pairs])[grid.p[feasible]]
    counts = np.array([hw.count for hw in grid.hardware], dtype=float)[grid.h[feasible]]
    scores = preference_scores(capability, penalty, v["usd_per_month"][feasible], v["per_gpu_gib"][feasible],
                               v["capacity_gib"][feasible], counts, v["replicas"][feasible], v["offload"][feasible])
    full = np.lexsort((v["usd_per_month"][feasible], -scores)) if len(scores) <= 400 else None
    if full is None:  # usually the best few hundred hold the whole list; sort everything only if not
        top = np.argpartition(-scores, 400)[:400]
        chosen = _pick(grid, feasible, scores, top[np.lexsort((v["usd_per_month"][feasible][top], -scores[top]))])
        if len(chosen) > MAX_ALTERNATIVES:
            return chosen
        full = np.lexsort((v["usd_per_month"][feasible], -scores))
    return _pick(grid, feasible, scores, full)


def _pick(grid: Grid, feasible: np.ndarray, scores: np.ndarray, order: np.ndarray) -> list[tuple[int, float]]:
    """Walk candidates best first, keeping at most MAX_PER_MODEL per model and no repeats."""
    chosen: list[tuple[int, float]] = []
    seen: set[tuple] = set()
    per_model: dict[int, int] = {}
    for k in order:
        i = int(feasible[k])
        quant, engine = grid.pairs[grid.p[i]]
        key = (grid.m[i], quant.id, grid.hardware[grid.h[i]].gpu.id)
        if key in seen or per_model.get(grid.m[i], 0) >= MAX_PER_MODEL:
            continue
        seen.add(key)
        per_model[grid.m[i]] = per_model.get(grid.m[i], 0) + 1
        chosen.append((i, float(scores[k])))
        if len(chosen) > MAX_ALTERNATIVES:
            break
    return chosen


def _weights_line(model: ModelSpec, quant: Quant, engine_id: str, weights_gib: float) -> str:
    """How the weights' size was computed, in the terms planner.estimate.memory.model_weight_bytes uses."""
    other = experts_only_other_bits(model, quant, engine_id)
    if other is not None:
        experts = expert_params(model, model.experts_total) / 1e9
        return (f"Weights: {experts:.1f} B expert parameters × {quant.bits_per_weight:g} bits + {model.params_total_b - experts:.1f} B other "
                f"× {other:g} bits, / 8 = {weights_gib:.1f} GiB ({quant.id}: experts from {quant.bits_source}; the rest from "
                f"{(quant.other_bits_source or '').split(' ')[0]}).")
    return (f"Weights: {model.params_total_b:g} B parameters × {quant.bits_per_weight:g} bits / 8 = {weights_gib:.1f} GiB "
            f"({quant.id}, bits per weight from {quant.bits_source}).")


def _sustained_words(share: float, basis: str, what: str) -> str:
    """The rate an estimate starts from: the datasheet's, or the share of it the device sustains."""
    if share < 1:
        return f"the {share:.0%} of its datasheet {what} the device sustains ({basis})"
    return f"the datasheet {what} ({'no measured rate in data/gpus.csv' if basis.startswith('not measured') else basis})"


def _candidate(catalog: Catalog, grid: Grid, i: int, score: float, c: Constraints, w: Workload, f: Filters, a: CostAssumptions,
               load: Load, calibrations: list[dict] | None) -> Candidate:
    """Full numbers for one grid row, from the single-configuration estimators."""
    model = grid.models[grid.m[i]]
    quant, engine = grid.pairs[grid.p[i]]
    hw = grid.hardware[grid.h[i]]
    v = grid.values
    replicas = int(v["replicas"][i])
    in_flight = int(v["in_flight"][i])
    memory = estimate_memory(model, quant, hw.gpu, engine, hw.count, w.context_needed, in_flight, w.kv_cache_dtype)
    speed = estimate_speed(catalog, model, quant, hw.gpu, engine, hw.count, w.input_tokens, w.output_tokens, in_flight,
                           1.0 if memory.gpu_layers >= model.layers else memory.gpu_layers / model.layers,
                           memory.kv_cache_dtype, calibrations, load.peak_requests_per_s / replicas)
    total_gpus = replicas * hw.count
    owning = f.owning
    cost = owned_cost(catalog, hw.gpu, total_gpus, a) if owning else rented_cost(catalog, hw.gpu, total_gpus, a)
    tokens = load.tokens_per_month
    cost = cost.model_copy(update={"usd_per_mtok": cost.usd_per_month / tokens * MILLION if tokens else None})
    findings = _candidate_findings(model, quant, engine.id, hw, memory, speed, c, w, catalog.quants)
    basis = [
        _weights_line(model, quant, engine.id, memory.weights_gib),
        f"KV cache: {in_flight} sequence(s) × {w.context_needed:,} tokens at {memory.kv_cache_dtype} = {memory.kv_cache_gib:.2f} GiB "
        f"(layers, KV heads and head size from {model.source}).",
        f"Overhead: {engine.overhead_gib:g} GiB per GPU for {engine.name} ({engine.overhead_source}).",
        f"Decode: {hw.gpu.memory_bandwidth_gb_s:g} GB/s × {hw.count} GPU(s) ({hw.gpu.source}); "
        f"{_sustained_words(catalog.bandwidth_share(hw.gpu), catalog.bandwidth_basis(hw.gpu), 'bandwidth')} over bytes read per token, "
        f"at {speed.efficiency['decode_bandwidth']:.0%} of that ({speed.efficiency_basis['decode_bandwidth']}).",
        f"Prefill: {speed.efficiency['prefill_compute']:.0%} of "
        f"{_sustained_words(catalog.sustained_share(hw.gpu, quant.compute_dtype), catalog.sustained_basis(hw.gpu, quant.compute_dtype), 'dense compute')} "
        f"({speed.efficiency_basis['prefill_compute']}).",
        *([f"Mixture of experts: decode and prefill at {speed.efficiency['moe_kernels']:.0%} of that speed on {engine.name} "
           f"(expert kernels; {speed.efficiency_basis['moe_kernels']})."]
          if (model.experts_total or 1) > (model.experts_active or 1) and speed.efficiency["moe_kernels"] < 1 else []),
        f"Load: {load.peak_requests_per_s:.3f} requests/s at peak; Little's law gives {in_flight} in flight per replica across {replicas} replica(s).",
        f"Cost: {total_gpus} GPU(s) × ${hw.usd_per_gpu_month:,.0f}/month each ({hw.price_basis}).",
    ]
    return Candidate(
        model=model.id, model_name=model.name, quant=quant.id, engine=engine.id, gpu=hw.gpu.id, gpu_name=hw.gpu.name,
        gpus=hw.count, replicas=replicas, total_gpus=total_gpus, memory=memory, speed=speed, cost=cost,
        capability_score=model.capability_score, capability_benchmark=model.capability_benchmark, score=round(score, 2),
        findings=findings, basis=basis, equivalent_engines=(grid.twins or {}).get(engine.id, []),
        replica_tokens_per_month=float(v["replica_tokens_per_month"][i]) / w.peak_to_average,
    )


def _candidate_findings(model, quant, engine_id, hw, memory, speed, c: Constraints, w: Workload, catalog_quants) -> list[Finding]:
    out = []
    licence = restricted_licence(model)
    if licence:
        out.append(licence)
    if model.capability_score is None:
        out.append(Finding(rule="prefer.capability", effect="warning", subject=model.id,
                           message=f"{model.name} has no published benchmark score in the catalogue; it was ranked as if it scored {40}."))
    elif c.task in model.strengths:
        out.append(Finding(rule="prefer.capability", effect="preferred", subject=model.id,
                           message=f"{model.name} lists {c.task} among its strengths ({model.capability_benchmark} {model.capability_score:g})."))
    if memory.cpu_offload_gib > 0:
        out.append(Finding(rule="memory.fits", effect="warning", subject=model.id,
                           message=f"Only {memory.gpu_layers} of {model.layers} layers fit on the GPU; {memory.cpu_offload_gib:.1f} GiB run from CPU memory, which is slow."))
    if memory.per_gpu_gib > 0.9 * memory.capacity_gib:
        out.append(Finding(rule="prefer.headroom", effect="warning", subject=model.id,
                           message=f"Memory is {memory.per_gpu_gib / memory.capacity_gib:.0%} full per GPU; longer prompts or more users may not fit."))
    if quant.quality_value is not None and quant_penalty(quant) >= 3:
        out.append(Finding(rule="prefer.quant-quality", effect="warning", subject=model.id,
                           message=f"{quant.name} loses measurable quality ({quant.quality_metric} {quant.quality_value:g} on {quant.quality_model})."))
    proxy = quality_proxy(quant, catalog_quants)
    if proxy is not None:
        out.append(Finding(rule="prefer.quant-quality", effect="info", subject=model.id,
                           message=f"No published quality measurement for {quant.name}; it is ranked as if it lost as much as {proxy.name} "
                                   f"({proxy.quality_metric} {proxy.quality_value:g} on {proxy.quality_model})."))
    if w.max_ttft_s and speed.ttft_s > w.max_ttft_s:
        out.append(Finding(rule="latency.targets", effect="warning", subject=model.id,
                           message=f"At the peak, queueing for prefill lifts time to first token to {speed.ttft_s:.2f} s (target {w.max_ttft_s:g} s)."))
    return out


def _api_options(catalog: Catalog, c: Constraints, load: Load, top: Candidate | None) -> list[ApiOption]:
    out = []
    per_replica_usd = top.cost.usd_per_month / top.replicas if top else None
    capacity = top.replica_tokens_per_month if top else None
    for api in catalog.apis.values():
        if api.context_tokens is not None and api.context_tokens < c.context_needed:
            continue
        monthly = float(api_cost_usd_per_month(api, load.input_tokens_per_month, load.output_tokens_per_month))
        per_mtok = blended_usd_per_mtok(api, c.input_tokens, c.output_tokens)
        out.append(ApiOption(
            id=api.id, provider=api.provider, model=api.model, open_weights=api.open_weights,
            same_model=bool(top and api.hf_model_id and api.hf_model_id.lower() == top.model.lower()),
            usd_per_month=monthly, usd_per_mtok=per_mtok, capability_score=api.capability_score,
            break_even_tokens_per_month=break_even_tokens_per_month(per_replica_usd, per_mtok, capacity) if top else None,
            allowed=c.api_allowed, source=api.source, as_of=api.as_of.isoformat(),
        ))
    return sorted(out, key=lambda x: x.usd_per_month)
