"""Latency under load (planner.estimate.queueing), on hand-computed cases, and the plan's latency rule
(planner.plan.grid) using the same function as the single estimate."""

import dataclasses
import math

import numpy as np
import pytest

from planner.catalog.loading import load_catalog
from planner.estimate.configuration import estimate
from planner.estimate.queueing import QueueTerms, largest_rate, loaded_latency, open_loop, token_budget_per_step
from planner.estimate.speed import estimate_speed, max_running_sequences, queue_terms
from planner.plan.constraints import Constraints
from planner.plan.grid import build_grid
from planner.estimate.cost import resolve_assumptions
from planner.plan.workload import filters_from, workload_from

CATALOG = load_catalog()

# A replica by hand: a 1,000-token prompt takes 0.1 s alone and 0.1 ms of compute per token riding on a step;
# a decode step of b sequences takes 10 ms of weight reads + 0.1 ms per sequence + 2 ms fixed; 20 ms per request.
TERMS = QueueTerms(prefill_s=0.1, prompt_token_s=1e-4, reads0=0.010, reads1=1e-4, compute1=0.0, fixed=0.002, extra1=0.0,
                   input_tokens=1000, output_tokens=101, max_running=100, token_budget=8192, request_overhead_s=0.02)


def test_a_trickle_of_requests_sees_the_unloaded_replica():
    """At a rate near zero: TTFT = overhead + the prefill step, which samples the first token: the prompt's
    0.1 s of compute (it outlasts the 10.1 ms of reads it overlaps) + the step's 2 ms fixed cost = 0.02 + 0.1 +
    0.002; the 100 later tokens come one step apart."""
    step_1 = 0.010 + 1e-4 + 0.002
    low = loaded_latency(TERMS, request_rate=1e-9)
    assert low.stable
    assert low.ttft_p50_s == pytest.approx(0.02 + 0.1 + 0.002, rel=1e-6)
    assert low.ttft_p90_s == pytest.approx(low.ttft_p50_s, rel=1e-6)
    assert low.itl_s == pytest.approx(step_1, rel=1e-6)
    assert low.e2e_p50_s == pytest.approx(0.02 + 0.1 + 0.002 + 100 * step_1, rel=1e-6)
    one = loaded_latency(TERMS, concurrency=1)  # one client: nobody to wait behind
    assert one.ttft_mean_s == pytest.approx(0.02 + 0.1 + 0.002, rel=1e-3)


def test_a_short_prompt_costs_the_weight_reads_not_a_step_more():
    """A prompt whose compute (0.5 ms for 5 tokens) is shorter than the step's reads (10.1 ms) waits for the
    reads, once: TTFT = 0.02 + 0.0101 + 0.002, not the prompt plus a whole decode step on top."""
    short = dataclasses.replace(TERMS, prefill_s=0.0101, input_tokens=5)
    low = loaded_latency(short, request_rate=1e-9)
    assert low.ttft_mean_s == pytest.approx(0.02 + 0.0101 + 0.002, rel=1e-6)


def test_two_requests_a_second_by_hand():
    """Rate 2/s: prompts take u = 2 x 1000 x 1e-4 = 0.2 of the replica; the decoding batch solves
    b = q (0.010 + 0.002) / (1 - q 1e-4) with q = 2 x 100 / (1 - u) = 250; steps stretch by 1 / (1 - u);
    prompts wait M/D/1 behind each other on the prompt stream."""
    u, q = 0.2, 250.0
    b = q * 0.012 / (1 - q * 1e-4)
    step_b = 0.012 + 1e-4 * b
    itl = step_b / (1 - u)
    per_prompt = 1000 * (step_b / (8192 - b) + 1e-4)
    rho = 2 * per_prompt
    wait = rho / (2 * (1 - rho)) * per_prompt
    got = loaded_latency(TERMS, request_rate=2.0)
    assert got.stable
    assert got.running_sequences == pytest.approx(b, rel=1e-9)
    assert got.itl_s == pytest.approx(itl, rel=1e-9)
    assert got.prefill_utilisation == pytest.approx(rho, rel=1e-9)
    # its own prefill rides on one step of b decodes: the prompt's compute outlasts the step's reads, then the fixed cost
    service = max(0.1, 0.010 + 1e-4 * b) + 0.002
    # it arrives during a step with the probability that anyone else is in flight (L = 2/s x its time in the
    # replica, others Poisson) and waits out half of that step
    in_flight = 2.0 * (service + 100 * itl)
    in_progress = (1 - math.exp(-in_flight)) * itl / 2
    assert 0.005 < in_progress < itl / 2
    assert got.ttft_mean_s == pytest.approx(0.02 + in_progress + service + wait, rel=1e-9)
    # the wait is 0 with probability 1 - rho (p50 here) and exponential beyond: p90 = W / rho x ln(rho / 0.1)
    assert got.ttft_p50_s == pytest.approx(0.02 + in_progress + service, rel=1e-9)
    assert got.ttft_p90_s == pytest.approx(0.02 + in_progress + service + wait / rho * math.log(rho / 0.1), rel=1e-9)
    assert got.ttft_p99_s == pytest.approx(0.02 + in_progress + service + wait / rho * math.log(rho / 0.01), rel=1e-9)
    assert got.e2e_p90_s == pytest.approx(got.ttft_p90_s + 100 * itl, rel=1e-9)


def test_an_arrival_waits_out_the_step_in_progress():
    """The engine schedules between steps: a client of a closed loop of two arrives while the other decodes and
    waits half a step on average (inter-token latency / 2); a lone client finds the engine idle."""
    one = loaded_latency(TERMS, concurrency=1)
    two = loaded_latency(TERMS, concurrency=2)
    prompt_wait = two.prefill_utilisation / (2 * (1 - two.prefill_utilisation))  # x per-prompt time, capped at one prompt
    assert one.ttft_mean_s == pytest.approx(0.02 + 0.1 + 0.002, rel=1e-3)
    service = max(0.1, 0.010 + 1e-4 * two.running_sequences) + 0.002
    per_prompt = 1000 * ((0.012 + 1e-4 * two.running_sequences) / (8192 - two.running_sequences) + 1e-4)
    assert two.ttft_mean_s == pytest.approx(0.02 + two.itl_s / 2 + service + min(prompt_wait, 1.0) * per_prompt, rel=1e-6)
    # Little's law holds with the wait counted: X x (TTFT + 100 ITL) = 2 clients
    assert two.requests_per_s * (two.ttft_mean_s + 100 * two.itl_s) == pytest.approx(2, rel=1e-3)


def test_prompts_queue_as_m_d_1_when_decode_is_free():
    """No decode to speak of (one output token, no step time): the prompt stream is an M/D/1 queue whose
    service is one prompt's compute, 0.1 s; at rho = 0.5 the mean wait is rho / (2 (1 - rho)) x 0.1 = 0.05 s."""
    terms = QueueTerms(prefill_s=0.1, prompt_token_s=1e-4, reads0=0.0, reads1=0.0, compute1=0.0, fixed=0.0, extra1=0.0,
                       input_tokens=1000, output_tokens=1, max_running=100, token_budget=8192)
    got = loaded_latency(terms, request_rate=5.0)
    assert got.prefill_utilisation == pytest.approx(0.5)
    assert got.ttft_mean_s == pytest.approx(0.1 + 0.05)


def test_past_capacity_the_queue_is_reported_unstable():
    """Prompts alone fill the replica at 10 requests/s (1000 x 0.1 ms); a cap of 3 running sequences is passed
    at 2/s, where 3.3 sequences hold the cache on average."""
    over = loaded_latency(TERMS, request_rate=12.0)
    assert not over.stable and math.isinf(over.ttft_p90_s) and "prompts alone" in over.reason
    capped = loaded_latency(QueueTerms(**{**TERMS.__dict__, "max_running": 3}), request_rate=2.0)
    assert not capped.stable and "runs at once" in capped.reason
    assert loaded_latency(QueueTerms(**{**TERMS.__dict__, "max_running": 4}), request_rate=2.0).stable


def test_closed_loop_past_the_cache_waits_for_a_slot():
    """Closed loop with twice as many clients as slots: the running ones obey Little's law, and the rest
    wait (clients - slots) / X for a slot."""
    terms = QueueTerms(**{**TERMS.__dict__, "max_running": 8})
    full = loaded_latency(terms, concurrency=8)
    double = loaded_latency(terms, concurrency=16)
    assert double.requests_per_s == pytest.approx(full.requests_per_s, rel=1e-6)
    assert double.ttft_mean_s - full.ttft_mean_s == pytest.approx(8 / full.requests_per_s, rel=1e-6)
    # Little's law over the slots: X x (TTFT + 100 ITL) = 8
    assert full.requests_per_s * (full.ttft_mean_s + 100 * full.itl_s) == pytest.approx(8, rel=1e-3)


def test_a_drain_spreads_the_slot_wait_over_the_run():
    """24 requests sent at once to 8 slots, nobody sending again: past the slots the k-th waits (k - 8) / X, so the
    16 waiting ones wait 0 to 16 / X, 8 / X on average - not the steady state's 16 / X each. The first 8 take the
    burst's times."""
    terms = QueueTerms(**{**TERMS.__dict__, "max_running": 8})
    full = loaded_latency(terms, concurrency=8)
    rate = full.requests_per_s
    drain = loaded_latency(terms, concurrency=24, requests=24)
    steady_part = full.ttft_mean_s + 8 / rate  # service and prompt wait of a full replica, then the even slot wait
    from planner.estimate.queueing import burst_start
    burst = float(np.mean(burst_start(terms, 8)))
    assert drain.ttft_mean_s == pytest.approx(8 / 24 * burst + 16 / 24 * steady_part, rel=1e-3)
    assert drain.ttft_mean_s < loaded_latency(terms, concurrency=24).ttft_mean_s  # the steady state waits 16 / X each


def test_a_finite_run_past_capacity_ends_with_a_backlog():
    """A run of 1,000 requests at 12/s where prompts alone fill the replica at 10/s: the open loop is unstable, but
    the run ends. The engine runs at its full closed-loop rate X; request k waits k (1/X - 1/12), so the run's
    median waits half the longest, 999 (1/X - 1/12) / 2, beyond a full replica's own time to first token."""
    from planner.estimate.queueing import overloaded_run
    assert not loaded_latency(TERMS, request_rate=12.0).stable
    full = loaded_latency(TERMS, concurrency=TERMS.max_running)
    run = overloaded_run(TERMS, 12.0, 1000)
    longest = 999 * (1 / full.requests_per_s - 1 / 12)
    assert run.ttft_p50_s == pytest.approx(full.ttft_p50_s + longest / 2, rel=1e-9)
    assert run.ttft_p90_s == pytest.approx(full.ttft_p90_s + 0.9 * longest, rel=1e-9)
    assert run.itl_s == pytest.approx(full.itl_s) and "queues for up to" in run.reason


def test_largest_rate_meets_the_target_and_no_more():
    rate = float(largest_rate(TERMS, 0.5, iterations=40))
    assert open_loop(TERMS, rate)[3] <= 0.5 + 1e-9
    assert not open_loop(TERMS, rate * 1.01)[3] <= 0.5


def test_token_budgets_are_the_engines_defaults():
    gpus = CATALOG.gpus
    assert token_budget_per_step("vllm", gpus["h100-sxm"]) == 8192
    assert token_budget_per_step("vllm", gpus["a100-80gb"]) == 2048  # vLLM excludes A100s from the larger default
    assert token_budget_per_step("sglang", gpus["rtx-4090"]) == 2048
    assert token_budget_per_step("sglang", gpus["h100-sxm"]) == 8192
    assert token_budget_per_step("sglang", gpus["mi300x"]) == 16384


def test_estimate_reports_latency_at_a_rate_or_says_it_is_unstable():
    model, quant, gpu, engine = CATALOG.model("meta-llama/Llama-3.3-70B-Instruct"), CATALOG.quants["fp8"], CATALOG.gpus["h100-sxm"], CATALOG.engines["vllm"]
    calm = estimate(CATALOG, model, quant, gpu, engine, gpus=2, input_tokens=2000, output_tokens=200, request_rate=0.01)["load"]
    busy = estimate(CATALOG, model, quant, gpu, engine, gpus=2, input_tokens=2000, output_tokens=200, request_rate=2.0)["load"]
    flood = estimate(CATALOG, model, quant, gpu, engine, gpus=2, input_tokens=2000, output_tokens=200, request_rate=500.0)["load"]
    unloaded = estimate_speed(CATALOG, model, quant, gpu, engine, 2, 2000, 200, 1, kv_cache_dtype="fp16")
    assert calm["stable"] and calm["ttft_p50_s"] == pytest.approx(unloaded.ttft_s, rel=0.02)
    assert busy["stable"] and busy["ttft_p90_s"] > calm["ttft_p90_s"] and busy["itl_s"] > calm["itl_s"]
    assert not flood["stable"] and flood["reason"]


def _grid(c: Constraints):
    a = resolve_assumptions(CATALOG, c.utilisation, c.amortisation_months, c.power_usd_per_kwh, c.gpu_usd_per_hour, c.gpu_price_for)
    return build_grid(CATALOG, workload_from(c), filters_from(c), [CATALOG.model(m) for m in c.models], a)


def test_the_plan_holds_ttft_under_load_with_the_estimators_function():
    """A busy service with a tight TTFT target: every workable row's 90th-percentile TTFT at the peak per replica
    meets the (pessimistic) target, and equals what the single estimate's queue gives at that rate."""
    c = Constraints(models=["Qwen/Qwen3-8B"], requests_per_day=3_000_000, input_tokens=4000, output_tokens=200, max_ttft_s=1.0,
                    min_tokens_per_s=None)
    grid = _grid(c)
    v = grid.values
    peak = c.requests_per_day / 86_400 * c.peak_to_average
    checked = 0
    for i in np.flatnonzero(v["latency_ok"] & v["fits"] & ~v["offload"]):
        quant, engine = grid.pairs[grid.p[i]]
        hw = grid.hardware[grid.h[i]]
        cap = min(v["batch_by_memory"][i], max_running_sequences(engine.id, hw.gpu) or 256)
        terms = queue_terms(CATALOG, grid.models[grid.m[i]], quant, hw.gpu, engine, hw.count, c.input_tokens, c.output_tokens, cap,
                            kv_cache_dtype="fp16")
        p90 = float(open_loop(terms, peak / v["replicas"][i])[3])
        assert v["ttft_at_peak_s"][i] == pytest.approx(p90, rel=1e-6), (quant.id, engine.id, hw.gpu.id, hw.count)
        assert p90 <= c.max_ttft_s
        checked += 1
    assert checked >= 5
    relaxed = _grid(c.model_copy(update={"max_ttft_s": None}))
    assert relaxed.values["replicas"].sum() < v["replicas"].sum()  # holding TTFT under load costs replicas
