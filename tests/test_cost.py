"""Cost and load sizing against hand-computed values."""

import numpy as np
import pytest

from planner.catalog.loading import load_catalog
from planner.estimate.cost import (
    api_cost_usd_per_month,
    break_even_tokens_per_month,
    resolve_assumptions,
)
from planner.estimate.load import load_from_workload
from planner.plan.constraints import Constraints
from planner.plan.grid_options import hardware_options
from planner.plan.grid_step import MAX_BUSY, replica_capacity_requests_per_s
from planner.plan.recommend import recommend
from planner.plan.workload import filters_from, workload_from
from planner.units import HOURS_PER_MONTH

CATALOG = load_catalog()


def test_load_from_requests_a_day():
    # 86,400 requests a day = 1 request/s on average; x3 at the peak; 30.4375 days a month.
    load = load_from_workload(workload_from(Constraints(requests_per_day=86_400, input_tokens=1000, output_tokens=250, peak_to_average=3)))
    assert load.average_requests_per_s == pytest.approx(1.0)
    assert load.peak_requests_per_s == pytest.approx(3.0)
    assert load.input_tokens_per_month == pytest.approx(86_400 * 30.4375 * 1000)


def test_api_cost_is_tokens_times_price():
    api = CATALOG.apis["openai/gpt-4o"]  # $2.50 in, $10 out per million
    assert api_cost_usd_per_month(api, 2e6, 1e6) == pytest.approx(2 * api.usd_per_mtok_input + api.usd_per_mtok_output)


def test_break_even_is_fixed_cost_over_price_within_capacity():
    assert break_even_tokens_per_month(1000.0, 2.0, 1e9) == pytest.approx(500e6)
    assert break_even_tokens_per_month(1000.0, 2.0, 1e8) is None  # beyond what one replica carries


def test_user_gpu_price_applies_to_the_named_device_only():
    c = Constraints(gpu_usd_per_hour=100.0, gpu_price_for="h100-sxm")
    a = resolve_assumptions(CATALOG, 1.0, None, None, c.gpu_usd_per_hour, c.gpu_price_for)
    options = {(h.gpu.id, h.count): h for h in hardware_options(CATALOG, filters_from(c), a)}
    assert options[("h100-sxm", 1)].usd_per_gpu_month == pytest.approx(100.0 * HOURS_PER_MONTH)
    assert options[("l4", 1)].usd_per_gpu_month == pytest.approx(CATALOG.rent_prices("l4")[0].usd * HOURS_PER_MONTH)


def test_replica_capacity_takes_the_tightest_limit():
    # 8 in flight, 10 s each -> 0.8 req/s by Little's law; GPU time per request 1 s prefill + 100 x 0.08 / 8
    # = 2 s -> 0.85 / 2 = 0.425 req/s; no TTFT budget. The GPU-time limit binds.
    one_second = np.array([1.0])  # the prefill alone and its share in the batch alike
    got = replica_capacity_requests_per_s(np.array([8.0]), np.array([10.0]), one_second, np.array([0.08]), 100, np.array([np.inf]), one_second)
    assert got[0] == pytest.approx(MAX_BUSY / 2.0)


def test_high_volume_plans_keep_time_to_first_token_within_target():
    plan = recommend(Constraints(requests_per_day=2_000_000, max_ttft_s=2.0), CATALOG)
    top = plan.recommendation
    assert top.replicas > 1
    assert top.speed.ttft_s <= 2.0 * 1.05
    assert not any(f.rule == "latency.targets" for f in top.findings)


def test_a_device_beaten_on_every_count_is_left_out_and_said_so():
    plan = recommend(Constraints(), CATALOG)
    dominated = {f.subject for f in plan.findings if f.rule == "hardware.dominated"}
    for worse in dominated:
        assert all(c.gpu != worse for c in [plan.recommendation, *plan.alternatives])
    # like for like only: no datacenter part is dropped in favour of a GeForce card
    for f in plan.findings:
        if f.rule == "hardware.dominated":
            assert "GeForce" not in f.message.split(":")[1]


def test_owned_gpus_are_never_dropped_as_dominated():
    plan = recommend(Constraints(gpus_available=[{"gpu": "t4", "count": 4}], min_tokens_per_s=5), CATALOG)
    assert not any(f.rule == "hardware.dominated" for f in plan.findings)
    assert plan.recommendation.gpu == "t4"


def test_a_format_beaten_outright_is_left_out_and_said_so():
    plan = recommend(Constraints(), CATALOG)
    dropped = {f.subject for f in plan.findings if f.rule == "quant.dominated"}
    assert "q4_0" in dropped  # IQ4_XS: fewer bits per weight and a smaller measured perplexity increase
    assert all(c.quant not in dropped for c in [plan.recommendation, *plan.alternatives])


def test_owned_plans_show_what_the_month_costs_is_made_of():
    plan = recommend(Constraints(privacy="on-prem", gpus_available=[{"gpu": "h100-sxm", "count": 8}]), CATALOG)
    cost = plan.recommendation.cost
    assert cost.mode == "own" and cost.capital_usd_per_month > 0 and cost.power_usd_per_month > 0
    # GPUs already owned are sunk: the month costs their running (power, space); the purchase is shown apart
    assert cost.capital_sunk and cost.power_usd_per_month + cost.operations_usd_per_month == pytest.approx(cost.usd_per_month)
    assert "sunk" in cost.price_source


def test_bought_hardware_amortises_its_purchase_and_an_office_box_pays_no_colocation():
    plan = recommend(Constraints(privacy="on-prem", requests_per_day=20_000), CATALOG)
    cost = plan.recommendation.cost
    assert not cost.capital_sunk and cost.capital_usd_per_month > 0
    assert cost.capital_usd_per_month + cost.power_usd_per_month + cost.operations_usd_per_month == pytest.approx(cost.usd_per_month)
    office = recommend(Constraints(requests_per_day=200, deployment="office", gpus_available=[{"gpu": "rtx-4090", "count": 1}]), CATALOG)
    assert office.recommendation.cost.operations_usd_per_month == 0  # no datacenter rent for a desk-side box


def test_tensorrt_llm_runs_gpt_oss_only_on_hopper_or_newer():
    from planner.plan.grid import build_grid

    def engines_on(gpu_id):
        c = Constraints(models=["openai/gpt-oss-20b"], gpus_available=[{"gpu": gpu_id, "count": 1}])
        a = resolve_assumptions(CATALOG, c.utilisation, c.amortisation_months, c.power_usd_per_kwh, c.gpu_usd_per_hour, c.gpu_price_for)
        grid = build_grid(CATALOG, workload_from(c), filters_from(c), [CATALOG.model("openai/gpt-oss-20b")], a)
        return {grid.pairs[p][1].id for p in grid.p}

    assert CATALOG.gpus["rtx-3090"].compute_capability == 8.6 and CATALOG.gpus["h100-sxm"].compute_capability == 9.0
    assert "tensorrt-llm" not in engines_on("rtx-3090")  # "WFP4A16 MoE is unsupported on SM80" and Ampere's 8.6
    assert "vllm" in engines_on("rtx-3090")
    assert "tensorrt-llm" in engines_on("h100-sxm")
