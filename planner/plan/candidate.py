"""One grid row made into a Candidate: the scalar estimators' figures, the basis lines that say where
each came from, and the findings particular to it."""

from __future__ import annotations

from planner.catalog.loading import Catalog
from planner.catalog.records import ModelSpec, Quant
from planner.estimate.cost import CostAssumptions, owned_cost, rented_cost, running_usd_per_month
from planner.estimate.kv_capacity import engine_memory_terms, vllm_profile_terms
from planner.estimate.interconnect import link_class, pcie_allreduce_share, scale_up_bytes_s, share_fitted
from planner.estimate.load import Load, Workload
from planner.estimate.memory import estimate_memory, experts_only_other_bits, expert_params
from planner.estimate.speed import estimate_speed
from planner.findings import Finding
from planner.plan.capability import Capability, CapabilityTable
from planner.plan.constraints import Constraints
from planner.plan.grid import Grid
from planner.plan.grid_machines import bought_in
from planner.plan.model import Candidate
from planner.plan.reasoning_plan import ReasoningPlan
from planner.plan.rules import quality_proxy, quant_penalty, restricted_licence
from planner.plan.workload import Filters
from planner.units import MILLION


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


def build_candidate(catalog: Catalog, grid: Grid, i: int, score: float, c: Constraints, w: Workload, f: Filters, a: CostAssumptions,
               load: Load, calibrations: list[dict] | None, table: CapabilityTable, reasoning: ReasoningPlan | None = None) -> Candidate:
    """Full numbers for one grid row, from the single-configuration estimators (a reasoning mode's hidden tokens
    count as output the GPUs write and as context the KV cache holds)."""
    reasoning = reasoning or ReasoningPlan(None, 0, "does not write reasoning tokens")
    model = grid.models[grid.m[i]]
    quant, engine = grid.pairs[grid.p[i]]
    hw = grid.hardware[grid.h[i]]
    v = grid.values
    replicas = int(v["replicas"][i])
    in_flight = int(v["in_flight"][i])
    hidden = reasoning.tokens
    # vLLM is deployed with --max-num-seqs at the sequences in flight (planner.deploy.vllm): its profiling sizes by them
    capacity, overhead = engine_memory_terms(model, hw.gpu, engine, hw.count, vllm_profile_terms(catalog), max_num_seqs=in_flight)
    memory = estimate_memory(model, quant, hw.gpu, engine, hw.count, w.context_needed + hidden, in_flight, w.kv_cache_dtype,
                             capacity_gib=capacity, overhead_gib=overhead)
    speed = estimate_speed(catalog, model, quant, hw.gpu, engine, hw.count, w.input_tokens, w.output_tokens + hidden, in_flight,
                           1.0 if memory.gpu_layers >= model.layers else memory.gpu_layers / model.layers,
                           memory.kv_cache_dtype, calibrations, load.peak_requests_per_s / replicas)
    total_gpus = replicas * hw.count
    owning = f.owning
    desk = f.deployment != "datacenter"
    unit = bought_in(hw.gpu) if f.buy else 1
    bought = -(-total_gpus // unit) * unit  # whole baseboards or racks
    cost = (owned_cost(catalog, hw.gpu, bought, a, sunk=f.owned is not None, desk=desk) if owning
            else rented_cost(catalog, hw.gpu, total_gpus, a))
    tokens = load.tokens_per_month
    cost = cost.model_copy(update={"usd_per_mtok": cost.usd_per_month / tokens * MILLION if tokens else None})
    capability = table.of(model.id)
    findings = _candidate_findings(model, quant, engine.id, hw, memory, speed, c, w, catalog.quants, capability)
    if cost.usd_per_month_high:
        over = c.budget_usd_per_month is not None and cost.usd_per_month_high > c.budget_usd_per_month
        findings.append(Finding(rule="cost.price-range", effect="warning" if over else "info", subject=model.id, message=(
            f"{hw.gpu.name}'s rental price is the low end of a published range (${cost.usd_per_gpu_hour:.2f}–"
            f"${cost.usd_per_month_high / cost.usd_per_month * cost.usd_per_gpu_hour:.2f}/GPU-hour, {cost.price_provider}), "
            f"not one provider's offer: at the top this plan costs ${cost.usd_per_month_high:,.0f}/month"
            + (f", over your ${c.budget_usd_per_month:,.0f} budget" if over else "") + ". Get a quote before you commit.")))
    if not cost.power_counted:
        findings.append(Finding(rule="cost.power-unknown", effect="warning", subject=model.id, message=(
            f"No published power figure for {hw.gpu.name} (data/gpus.csv power_w is blank; its maker publishes no datasheet), "
            f"so this plan's running cost counts no power and no colocation: ${cost.usd_per_month:,.0f}/month is a floor, not "
            f"an estimate. Read the cards' power limit (nvidia-smi -q -d POWER): each 100 W of it adds "
            f"${sum(running_usd_per_month(0.1 * bought, a, desk)):,.0f}/month at this plan's power price, PUE and utilisation.")))
    pcie = _pcie_tensor_parallel(catalog, model, engine, hw)
    if pcie is not None:
        findings.append(pcie)
    if bought > total_gpus:
        findings.append(Finding(rule="hardware.as-sold", effect="info", subject=model.id, message=(
            f"{hw.gpu.name} is sold {unit} to a server or rack, not singly: the plan buys {bought // unit} unit(s) of {unit} "
            f"({bought} GPUs) and uses {total_gpus}; the other {bought - total_gpus} give room for more replicas at no extra "
            "purchase (data/machines.csv).")))
    first_answer_s = speed.ttft_s + hidden / max(speed.decode_tokens_per_s, 1e-9)
    if reasoning.mode is not None:
        findings.append(Finding(rule="reasoning.tokens", effect="warning" if hidden else "info", subject=model.id, message=(
            f"{model.name}: " + reasoning.basis + "." if not hidden else f"{model.name} runs in its {reasoning.mode} mode: " + (
                f"about {hidden:,} hidden reasoning tokens per request before the answer ({reasoning.basis}); they are planned as "
                f"output the GPUs write and context the KV cache holds, and the first answer token comes after them "
                f"(~{first_answer_s:.1f} s)." if hidden else reasoning.basis + "."))))
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
        capability_score=capability.score, capability_benchmark=capability.benchmark, score=round(score, 2),
        capability=capability.as_json(),
        reasoning=reasoning.as_json() | {"first_answer_token_s": round(first_answer_s, 3)},
        findings=findings, basis=basis, equivalent_engines=(grid.twins or {}).get(engine.id, []),
        replica_tokens_per_month=float(v["replica_tokens_per_month"][i]) / w.peak_to_average,
    )


def _pcie_tensor_parallel(catalog: Catalog, model: ModelSpec, engine, hw) -> Finding | None:
    """A replica split tensor-parallel over GPUs joined by PCIe: its all-reduces are estimated at the fitted share of
    the link for its class (with or without peer-to-peer, planner.estimate.interconnect), or, where the data fit
    none, at the link's datasheet figure, which the PCIe runs gathered so far do not bear out (README, Interconnect)."""
    kind = link_class(hw.gpu)
    if hw.count < 2 or not engine.tensor_parallel or kind == "nvlink":
        return None
    share = pcie_allreduce_share(catalog)[kind]
    link = f"PCIe ({scale_up_bytes_s(hw.gpu) / 1e9:g} GB/s each way), not NVLink"
    if kind == "pcie-host":
        link += ", without peer-to-peer (every transfer through host memory)"
    if share_fitted(catalog, hw.gpu):
        return Finding(rule="interconnect.pcie", effect="info", subject=model.id, message=(
            f"{hw.count}x {hw.gpu.name} run tensor parallel over {link}: the estimate's all-reduces move at "
            f"{share:.0%} of that, as measured tensor-parallel runs over such links did (data/efficiency.csv)"
            + (". Check that the GPUs reach each other (nvidia-smi topo -p2p r): without peer-to-peer every all-reduce "
               "goes through host memory, several times slower (AWS's A10Gs)." if kind == "pcie" else ".")))
    return Finding(rule="interconnect.pcie", effect="warning", subject=model.id, message=(
        f"{hw.count}x {hw.gpu.name} run tensor parallel over {link}: too few PCIe runs in the data to fit its all-reduces, "
        "so the estimate takes the datasheet link; PCIe runs gathered (data/pending) came in at 0.6-0.9x such estimates "
        "(L40S) and 3.5x slower to a first token on A10Gs without peer-to-peer. Check peer-to-peer (nvidia-smi topo -p2p r) "
        "and load-test the box before you commit."))


def _candidate_findings(model, quant, engine_id, hw, memory, speed, c: Constraints, w: Workload, catalog_quants,
                        capability: Capability) -> list[Finding]:
    out = []
    licence = restricted_licence(model)
    if licence:
        out.append(licence)
    if not capability.published:
        out.append(Finding(rule="prefer.capability", effect="warning" if capability.score is None else "info", subject=model.id,
                           message=f"{model.name} has no published {capability.benchmark or c.task} score for {c.task}: "
                                   f"ranked by {capability.words()}."))
    elif c.task in model.strengths:
        out.append(Finding(rule="prefer.capability", effect="preferred", subject=model.id,
                           message=f"{model.name} lists {c.task} among its strengths ({capability.words()})."))
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

