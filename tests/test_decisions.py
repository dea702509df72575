"""Plans judged as an architect would: the decision's properties, not exact numbers (issue 14)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.catalog.loading import load_catalog
from planner.plan.constraints import Constraints
from planner.plan.recommend import recommend
from planner.estimate.interconnect import pcie_allreduce_share, share_fitted

CATALOG = load_catalog()
SERVING = {"vllm", "sglang", "tensorrt-llm", "tgi"}


def plan(**kw):
    return recommend(Constraints(**kw), CATALOG)


def meets_targets_pessimistically(c, max_ttft=None, min_tps=None) -> bool:
    r = c.speed.ranges
    ok = True
    if max_ttft:
        ok &= r["ttft_s"][1] <= max_ttft * 1.05
    if min_tps:
        ok &= r["decode_tokens_per_s_at_concurrency"][0] >= min_tps * 0.95
    return ok


def test_owned_h100_cluster_reasoning_runs_a_serving_engine_and_names_idle_gpus():
    p = plan(privacy="on-prem", gpus_available=[{"gpu": "h100-sxm", "count": 8}], requests_per_day=200_000, task="reasoning",
             input_tokens=2000, output_tokens=400, max_ttft_s=1, priority="quality")
    top = p.recommendation
    assert top.engine in SERVING and top.gpu == "h100-sxm" and top.replicas >= 2
    assert top.capability["benchmark"] == "GPQA Diamond"
    used = top.total_gpus
    assert (used == 8) == (p.idle_hardware is None)
    if used < 8:
        assert f"{8 - used} × NVIDIA H100" in p.idle_hardware
    assert p.objective["priority"] == "quality" and "sunk cost" in p.objective["rule"]


def test_on_prem_code_assistant_with_budget_uses_datacenter_gpus_and_redundancy():
    p = plan(privacy="on-prem", requests_per_day=40_000, task="code", budget_usd_per_month=30_000, priority="quality")
    top = p.recommendation
    assert CATALOG.gpus[top.gpu].kind != "consumer"  # GeForce driver licence: no datacenter deployment
    assert top.replicas >= 2 and top.engine in SERVING
    assert top.cost.usd_per_month <= 30_000
    cheapest_small = plan(privacy="on-prem", requests_per_day=40_000, task="code", budget_usd_per_month=30_000, priority="cost").recommendation
    assert top.capability_score >= cheapest_small.capability_score


def test_high_volume_without_privacy_points_to_open_weights_without_a_maximum_capability_reason():
    p = plan(requests_per_day=5_000_000)
    assert not any("maximum capability" in r for r in p.verdict_reasons)
    # the cost comparison at this volume decides, with both figures (published checkpoints only: self-hosting
    # is priced in formats somebody published, so a cheap per-token API of the same model can win)
    reason = next(r for r in p.verdict_reasons if "volume" in r)
    assert "$" in reason and "tokens/month" in reason
    assert p.verdict == ("self-host" if reason.startswith("Self-host") else "api")


def test_maximum_capability_is_a_reason_only_when_asked():
    asked = plan(requests_per_day=2_000, needs_max_capability=True)
    assert any("maximum capability needed" in r for r in asked.verdict_reasons)
    assert asked.verdict in {"api", "either"}


def test_low_volume_points_to_an_api():
    """The guide's 'low volume' case, said as what it is (an API can also be cheaper by the token at billions of tokens
    a month, which is not low)."""
    p = plan(requests_per_day=50)
    assert p.verdict == "api" and any("cheaper as an API at this volume" in r for r in p.verdict_reasons)


def test_offline_edge_device_plans_one_small_model_on_the_device():
    p = plan(privacy="offline", task="edge", gpus_available=[{"gpu": "rtx-4060-ti-16gb", "count": 1}], requests_per_day=100)
    top = p.recommendation
    assert p.verdict == "self-host" and top.gpu == "rtx-4060-ti-16gb" and top.replicas == 1
    assert p.objective["deployment"] == "edge"
    assert any(f.rule == "redundancy.replicas" for f in p.findings)  # one replica is said to have no redundancy


def test_rented_multilingual_service_is_ranked_on_the_multilingual_benchmark():
    p = plan(task="multilingual", requests_per_day=30_000, priority="quality")
    assert p.objective["benchmark"] == "MGSM"
    assert p.recommendation.capability["task"] == "multilingual"
    assert all(a.capability.get("benchmark") in (None, "MGSM") for a in p.apis)


def test_long_context_is_ranked_on_its_own_benchmark():
    # data/task_scores.csv holds AA-LCR for enough open models (issue 22) that long-context no longer falls back to chat's Elo
    p = plan(task="long-context", input_tokens=60_000, output_tokens=500, context_tokens=65_536, requests_per_day=2_000)
    assert p.objective["benchmark"].startswith("AA-LCR") and p.objective["benchmark_note"] is None
    assert p.recommendation is None or p.recommendation.memory.fits


def test_geforce_cards_are_planned_only_off_the_datacenter():
    rented = plan(requests_per_day=10_000)
    assert all(CATALOG.gpus[c.gpu].kind != "consumer" for c in [rented.recommendation, *rented.alternatives])
    desk = plan(requests_per_day=300, deployment="office", gpus_available=[{"gpu": "rtx-4090", "count": 2}])
    assert desk.recommendation.gpu == "rtx-4090"
    refused = plan(requests_per_day=300, deployment="datacenter", gpus_available=[{"gpu": "rtx-4090", "count": 2}])
    assert refused.recommendation is None
    assert any(f.rule == "hardware.geforce-datacenter" and "licence" in f.message for f in refused.findings)


def test_a_busy_service_never_runs_on_llama_cpp_or_ollama_on_gpus_a_serving_engine_runs_on():
    p = plan(requests_per_day=100_000, gpus_available=[{"gpu": "a100-80gb", "count": 4}])
    for c in [p.recommendation, *p.alternatives]:
        assert c.engine in SERVING


def test_cost_priority_meets_min_capability_and_is_cheapest():
    p = plan(requests_per_day=20_000, priority="cost", min_capability=1300)
    top = p.recommendation
    assert top.capability_score >= 1300
    assert all(c.cost.usd_per_month >= top.cost.usd_per_month - 1e-6 for c in p.alternatives if (c.capability_score or 0) >= 1300)
    assert any(r.rule == "capability.minimum" for r in p.ruled_out)


def test_balanced_pick_is_on_the_pareto_front_and_says_why_not_the_neighbours():
    p = plan(requests_per_day=20_000)
    points = p.decision["points"]
    picked = [x for x in points if x["picked"]]
    assert len(picked) == 1 and picked[0]["on_front"] and picked[0]["model"] == p.recommendation.model
    assert "within 10 points" in p.objective["rule"] and "$1,000/month" in p.objective["rule"]  # the rule with its numbers
    top = picked[0]
    # no cheaper scored point ties the pick (within the Elo noise) — balanced would have taken it
    assert not [x for x in points if x["capability"] is not None and x["usd_per_month"] < top["usd_per_month"]
                and x["capability"] >= top["capability"] - 10 and x["on_front"]]
    assert "cheaper" in p.decision or "more_capable" in p.decision
    for key in ("cheaper", "more_capable"):
        if key in p.decision:
            assert p.decision[key]["why"]


def test_low_volume_office_team_can_use_llama_cpp():
    p = plan(requests_per_day=200, gpus_available=[{"gpu": "apple-m4-max-128gb", "count": 1}])
    assert p.recommendation.engine in {"llama.cpp", "ollama"}
    assert p.objective["deployment"] == "office" and p.objective["min_replicas"] == 1


def test_production_service_defaults_to_two_replicas_and_min_replicas_overrides():
    assert plan(requests_per_day=10_000).recommendation.replicas >= 2
    assert plan(requests_per_day=10_000, min_replicas=3).recommendation.replicas >= 3


def test_plan_json_keeps_old_fields_and_gains_the_objective():
    d = plan(requests_per_day=10_000).to_json_dict()
    for key in ("verdict", "verdict_reasons", "recommendation", "alternatives", "ruled_out", "findings", "apis", "load"):
        assert key in d
    assert d["objective"]["priority"] == "balanced" and "idle_hardware" in d and d["decision"]["points"]
    assert all("benchmark" in c["capability"] for c in [d["recommendation"], *d["alternatives"]])


# ---- the seed's model selection guide (newer models in the same class are fine: README "Seed guide")

def test_seed_single_consumer_gpu_runs_an_8b_class_or_phi_model():
    top = plan(requests_per_day=100, deployment="office", gpus_available=[{"gpu": "rtx-4060-ti-16gb", "count": 1}], priority="cost").recommendation
    assert top.memory.fits and CATALOG.models[top.model].params_active_b <= 15


def test_seed_one_a100_80gb_runs_a_70b_class_model_quantized():
    top = plan(requests_per_day=500, gpus_available=[{"gpu": "a100-80gb", "count": 1}], models=["llama3.1:70b", "llama3.1:8b"],
               priority="quality").recommendation
    assert top.model == "meta-llama/Llama-3.1-70B-Instruct" and top.quant not in {"bf16", "fp16"}


def test_seed_multi_gpu_runs_70b_at_full_precision_or_405b():
    p = plan(requests_per_day=2_000, gpus_available=[{"gpu": "h100-sxm", "count": 8}], models=["llama3.1:70b", "llama3.1:405b"],
             priority="quality")
    top = p.recommendation
    assert top.model == "meta-llama/Llama-3.1-405B-Instruct" or top.quant in {"bf16", "fp16", "fp8"}


def test_seed_cpu_only_runs_an_8b_model_slowly():
    p = plan(requests_per_day=50, gpus_available=[{"gpu": "cpu-epyc-9654", "count": 1}], models=["llama3.1:8b"], min_tokens_per_s=2,
             max_ttft_s=30)
    assert p.recommendation is not None and p.recommendation.speed.decode_tokens_per_s < 60


def test_seed_edge_runs_phi_3_mini_or_gemma_2b_class():
    top = plan(task="edge", privacy="offline", requests_per_day=20, gpus_available=[{"gpu": "rtx-3070", "count": 1}],
               min_tokens_per_s=10, priority="cost").recommendation
    # The seed names 2-4B models; at 4 bits a newer 12B model also fits an 8 GB device (README, "Seed guide").
    assert CATALOG.models[top.model].params_total_b <= 13 and top.memory.cpu_offload_gib == 0 and top.replicas == 1


@pytest.mark.parametrize("constraints, reason", [
    ({"privacy": "no-third-party-api"}, "data may not go"),
    ({"privacy": "offline"}, "offline"),
    ({"fine_tuning": "lora"}, "fine-tuning"),
    ({"embedded_in_product": True}, "ships inside your product"),
    ({"requests_per_day": 5_000_000, "models": ["Qwen/Qwen3-Next-80B-A3B-Instruct"]}, "cheaper to self-host at this volume"),  # its cheapest API costs more at this volume
])
def test_seed_when_to_choose_open(constraints, reason):
    assert any(reason in r and r.startswith("Self-host") for r in plan(**constraints).verdict_reasons)


@pytest.mark.parametrize("constraints, reason", [
    ({"requests_per_day": 50}, "cheaper as an API at this volume"),
    ({"rapid_development": True}, "rapid development"),
    ({"needs_max_capability": True}, "maximum capability"),
    ({"task": "reasoning", "requests_per_day": 500}, "complex reasoning"),
])
def test_seed_when_to_choose_an_api(constraints, reason):
    assert any(reason in r and r.startswith("API") for r in plan(**constraints).verdict_reasons)


# ---- properties

BUDGETS = st.sampled_from([500, 2_000, 8_000, 30_000, 100_000])


@settings(max_examples=12, deadline=None)
@given(low=BUDGETS, more=BUDGETS, task=st.sampled_from(["chat", "reasoning", "code"]))
def test_quality_more_budget_never_lowers_capability(low, more, task):
    base = dict(requests_per_day=5_000, task=task, priority="quality", privacy="on-prem")
    a = plan(budget_usd_per_month=low, **base).recommendation
    b = plan(budget_usd_per_month=low + more, **base).recommendation
    if a is not None:
        assert b is not None and b.capability_score >= a.capability_score


@settings(max_examples=8, deadline=None)
@given(n=st.sampled_from([1, 2, 4]), extra=st.sampled_from([1, 2, 4]), gpu=st.sampled_from(["h100-sxm", "a100-80gb", "l40s"]))
def test_quality_more_owned_gpus_never_lowers_capability(n, extra, gpu):
    base = dict(requests_per_day=2_000, priority="quality")
    a = plan(gpus_available=[{"gpu": gpu, "count": n}], **base).recommendation
    b = plan(gpus_available=[{"gpu": gpu, "count": n + extra}], **base).recommendation
    if a is not None:
        assert b is not None and b.capability_score >= a.capability_score


@settings(max_examples=10, deadline=None)
@given(rpd=st.sampled_from([500, 20_000, 300_000]), ttft=st.sampled_from([0.5, 1.0, 3.0]), tps=st.sampled_from([10, 30, 60]),
       prio=st.sampled_from(["quality", "balanced", "cost"]))
def test_a_plan_never_meets_a_latency_target_only_at_its_optimistic_band(rpd, ttft, tps, prio):
    top = plan(requests_per_day=rpd, max_ttft_s=ttft, min_tokens_per_s=tps, priority=prio).recommendation
    if top is not None:
        assert meets_targets_pessimistically(top, ttft, tps), (top.model, top.speed.ranges)


def test_the_pdf_shows_the_decision(tmp_path):
    import subprocess

    from planner.report.document import plan_pdf

    p = plan(requests_per_day=20_000)
    path = tmp_path / "plan.pdf"
    path.write_bytes(plan_pdf(p, CATALOG))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "The decision: capability against cost" in text and "Objective: balanced" in text
    assert any(p.decision[k]["why"][:30] in " ".join(text.split()) for k in ("cheaper", "more_capable") if k in p.decision)


def test_a_device_without_a_compute_figure_says_its_ttft_rests_on_a_placeholder():
    """Gaudi 3's PCIe card has no published peak here: the plan says its prefill runs at a placeholder rate,
    and it runs on Gaudi's engines (vLLM, TGI), never llama.cpp, which has no Gaudi backend."""
    p = plan(privacy="on-prem", deployment="office", requests_per_day=2000, gpus_available=[{"gpu": "intel-gaudi3-pcie", "count": 1}])
    assert any(f.rule == "data.no-compute-figure" and f.subject == "intel-gaudi3-pcie" for f in p.findings)
    assert p.recommendation is not None and p.recommendation.engine in {"vllm", "tgi"}
    owned = plan(privacy="on-prem", requests_per_day=2000, gpus_available=[{"gpu": "h100-sxm", "count": 1}])
    assert not any(f.rule == "data.no-compute-figure" for f in owned.findings)


def test_owned_gpus_keep_the_model_whole_in_memory_and_the_objective_says_so():
    """One owned RTX 5090 (32 GB), summaries: Qwen3.5-35B-A3B in Q8_0 would leave layers on the CPU, Q4_K_M fits
    whole; the pick is Q4_K_M and the objective's sentence names that rule, so the Q8_0 alternative below it is
    not a contradiction of 'the format that loses least quality'."""
    p = plan(requests_per_day=300, task="summarization", privacy="no-third-party-api",
             gpus_available=[{"gpu": "rtx-5090", "count": 1}])
    top = p.recommendation
    assert top.memory.gpu_layers == CATALOG.model(top.model).layers
    spilling = [c for c in p.alternatives if c.model == top.model and c.memory.gpu_layers < CATALOG.model(c.model).layers]
    assert spilling and all(c.quant != top.quant for c in spilling)
    assert "whole in GPU memory" in p.objective["rule"]


def test_a_replica_split_over_pcie_says_how_its_all_reduces_were_estimated():
    """The rented chat plan's 8x A40 tensor-parallel replicas run their all-reduces over PCIe: the shipped data fit
    a PCIe share (TensorRT-LLM on L40S, vLLM on RTX PRO 6000), so the candidate says the share it takes and to check
    peer-to-peer; on A10Gs, which have none and whose share no two sources fit yet, the candidate warns and says what
    to check. An NVLink board and a single GPU carry no such finding."""
    share = pcie_allreduce_share(CATALOG)
    assert share_fitted(CATALOG, CATALOG.gpus["a40"]) and not share_fitted(CATALOG, CATALOG.gpus["a10g"])
    p = plan(requests_per_day=50_000, task="chat", privacy="no-third-party-api", budget_usd_per_month=15_000)
    for c in [p.recommendation, *p.alternatives]:
        rules = {f.rule: f for f in c.findings}
        gpu = CATALOG.gpu(c.gpu)
        if c.gpus > 1 and (gpu.scale_up_link or "").startswith("pcie"):
            assert rules["interconnect.pcie"].effect == "info"
            assert f"{share['pcie']:.0%} of that" in rules["interconnect.pcie"].message and "nvidia-smi topo -p2p r" in rules["interconnect.pcie"].message
        else:
            assert "interconnect.pcie" not in rules
    assert any(c.gpu == "a40" and c.gpus == 8 for c in [p.recommendation, *p.alternatives])
    from planner.plan.candidate import _pcie_tensor_parallel
    from planner.plan.grid_options import Hardware

    model = CATALOG.model("meta-llama/Llama-3.1-70B-Instruct")
    g5 = Hardware(gpu=CATALOG.gpus["a10g"], count=4, usd_per_gpu_month=0.0, price_basis="owned", owned_limit=4)
    finding = _pcie_tensor_parallel(CATALOG, model, CATALOG.engines["vllm"], g5)
    assert finding.effect == "warning" and "without peer-to-peer" in finding.message and "nvidia-smi topo -p2p r" in finding.message
    assert _pcie_tensor_parallel(CATALOG, model, CATALOG.engines["llama.cpp"], g5) is None  # a layer split: no all-reduces


def test_a_lossy_pick_under_a_budget_is_what_the_objective_says_and_is_flagged():
    """The rented chat service's most capable model fits the budget only as GPTQ INT4 (a lossy format: +4% perplexity):
    the objective's sentence allows it ("without a lossy format where one fits") and the pick carries the warning."""
    p = plan(requests_per_day=50_000, task="chat", privacy="no-third-party-api", budget_usd_per_month=15_000)
    assert "without a lossy format where one fits" in p.objective["rule"]
    from planner.plan.rules import quant_penalty

    lossy = [c for c in [p.recommendation, *p.alternatives] if quant_penalty(CATALOG.quants[c.quant]) >= 3]
    assert lossy
    for c in lossy:
        assert any(f.rule == "prefer.quant-quality" and f.effect == "warning" for f in c.findings)
