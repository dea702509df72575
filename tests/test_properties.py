"""Invariants that must hold for any input (hypothesis)."""


import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.catalog.loading import load_catalog
from planner.estimate.cost import api_cost_usd_per_month
from planner.estimate.memory import estimate_memory
from planner.estimate.speed import estimate_speed
from planner.plan.constraints import Constraints
from planner.plan.recommend import recommend

CATALOG = load_catalog()
MODELS = sorted(CATALOG.models)
GPUS = sorted(g for g in CATALOG.gpus)
PAIRS = [(q, e) for e in sorted(CATALOG.engines) for q in CATALOG.engines[e].quants if q in CATALOG.quants]


@settings(max_examples=150, deadline=None)
@given(model=st.sampled_from(MODELS), pair=st.sampled_from(PAIRS), gpu=st.sampled_from(GPUS),
       gpus=st.sampled_from([1, 2, 4, 8]), context=st.integers(256, 131072), seqs=st.integers(1, 64),
       extra_gib=st.floats(1, 200))
def test_more_memory_never_turns_a_fit_into_a_non_fit(model, pair, gpu, gpus, context, seqs, extra_gib):
    m, q, e, g = CATALOG.models[model], CATALOG.quants[pair[0]], CATALOG.engines[pair[1]], CATALOG.gpus[gpu]
    small = estimate_memory(m, q, g, e, gpus, context, seqs)
    bigger = g.model_copy(update={"memory_gib": g.memory_gib + extra_gib})
    large = estimate_memory(m, q, bigger, e, gpus, context, seqs)
    assert not (small.fits and not large.fits)


@settings(max_examples=100, deadline=None)
@given(api=st.sampled_from(sorted(CATALOG.apis)), volume=st.floats(0, 1e12), more=st.floats(0, 1e12), share=st.floats(0.01, 0.99))
def test_more_volume_never_lowers_api_cost(api, volume, more, share):
    a = CATALOG.apis[api]
    low = api_cost_usd_per_month(a, volume * share, volume * (1 - share))
    high = api_cost_usd_per_month(a, (volume + more) * share, (volume + more) * (1 - share))
    assert high >= low


@settings(max_examples=150, deadline=None)
@given(model=st.sampled_from(MODELS), pair=st.sampled_from(PAIRS), gpu=st.sampled_from(GPUS), gpus=st.sampled_from([1, 2, 4, 8]),
       prompt=st.integers(1, 32768), out=st.integers(1, 4096), conc=st.sampled_from([1, 4, 16, 64, 256]))
def test_no_estimate_exceeds_the_physical_roofline(model, pair, gpu, gpus, prompt, out, conc):
    m, q, e, g = CATALOG.models[model], CATALOG.quants[pair[0]], CATALOG.engines[pair[1]], CATALOG.gpus[gpu]
    s = estimate_speed(CATALOG, m, q, g, e, gpus, prompt, out, conc)
    assert s.decode_tokens_per_s <= s.decode_roofline_tokens_per_s * (1 + 1e-9)
    assert s.prefill_tokens_per_s <= s.prefill_roofline_tokens_per_s * (1 + 1e-9)
    assert s.decode_tokens_per_s_at_concurrency <= s.decode_tokens_per_s * (1 + 1e-9)


constraint_strategy = st.builds(
    Constraints,
    privacy=st.sampled_from(["any", "no-third-party-api", "on-prem", "offline"]),
    requests_per_day=st.sampled_from([10, 1_000, 50_000, 2_000_000]),
    input_tokens=st.sampled_from([200, 2000, 8000]),
    output_tokens=st.sampled_from([50, 500]),
    max_ttft_s=st.sampled_from([None, 0.5, 3.0]),
    min_tokens_per_s=st.sampled_from([None, 10.0, 40.0]),
    gpus_available=st.sampled_from([None, [{"gpu": "rtx-4090", "count": 2}], [{"gpu": "h100-sxm", "count": 8}], [{"gpu": "apple-m2-ultra-192gb", "count": 1}]]),
    budget_usd_per_month=st.sampled_from([None, 500.0, 20_000.0]),
    task=st.sampled_from(["chat", "code", "reasoning"]),
    commercial_use=st.booleans(),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=constraint_strategy)
def test_a_recommendation_always_fits_and_obeys_every_hard_rule(c):
    plan = recommend(c, CATALOG)
    for cand in [plan.recommendation, *plan.alternatives] if plan.recommendation else []:
        model = CATALOG.models[cand.model]
        assert cand.memory.fits and cand.memory.per_gpu_gib <= cand.memory.capacity_gib + 1e-6
        assert model.max_context_tokens >= c.context_needed
        if c.commercial_use:
            assert model.commercial_use != "no"
        if c.min_tokens_per_s:
            assert cand.speed.decode_tokens_per_s >= c.min_tokens_per_s * 0.999
        if c.budget_usd_per_month is not None:
            assert cand.cost.usd_per_month <= c.budget_usd_per_month + 1e-6
        if c.gpus_available:
            owned = {g.gpu: g.count for g in c.gpus_available}
            assert cand.total_gpus <= owned[cand.gpu]
        if c.privacy in {"on-prem", "offline"}:
            assert cand.cost.mode == "own"
    if c.privacy != "any":
        assert plan.verdict == "self-host"
        assert not any(a.allowed for a in plan.apis)


def test_more_volume_never_needs_fewer_replicas():
    small = recommend(Constraints(requests_per_day=1_000, models=["llama3.1:8b"]), CATALOG)
    big = recommend(Constraints(requests_per_day=5_000_000, models=["llama3.1:8b"]), CATALOG)
    assert big.recommendation.total_gpus >= small.recommendation.total_gpus
    assert big.recommendation.total_gpus > 1


def test_privacy_points_to_self_hosting_and_volume_to_replicas():
    plan = recommend(Constraints(privacy="offline", gpus_available=[{"gpu": "h100-sxm", "count": 8}]), CATALOG)
    assert plan.verdict == "self-host"
    assert any(f.rule == "privacy.no-api" for f in plan.findings)
    assert plan.recommendation.gpu == "h100-sxm"


def test_context_beyond_every_model_rules_them_all_out_with_reasons():
    plan = recommend(Constraints(input_tokens=2_000_000, output_tokens=1000), CATALOG)
    assert any(r.rule == "context.fits" and "2,001,000" in r.reason for r in plan.ruled_out)


@pytest.mark.parametrize("task", ["code", "reasoning", "chat"])
def test_plan_explains_itself(task):
    plan = recommend(Constraints(task=task), CATALOG)
    assert plan.recommendation is not None and plan.verdict_reasons
    assert len(plan.recommendation.basis) >= 5
    assert all(f.message for f in plan.findings)
