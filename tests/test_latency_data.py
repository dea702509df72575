"""Serving runs as data (request rate, statistic, engine settings) and what the estimator does with them:
planner.catalog.engine_args, planner.estimate.backtest, planner.estimate.queueing.burst_start, the fitted vLLM
profiling terms (planner.estimate.fit) and the compute of a GPU without a published peak (planner.estimate.rates)."""

import math

import numpy as np
import pytest

from planner.catalog.engine_args import parse_engine_args
from planner.catalog.loading import load_catalog
from planner.catalog.records import Benchmark
from planner.errors import PlannerError
from planner.estimate.backtest import kv_cache_tokens, not_predicted_reason, predict, row_loaded_latency
from planner.estimate.fit_serving import vllm_profile_fit
from planner.estimate.queueing import QueueTerms, burst_start, loaded_latency
from planner.estimate.rates import CPU_FALLBACK_TFLOPS, peak_flops

CATALOG = load_catalog()


def _row(**fields) -> Benchmark:
    base = dict(id="t1", engine="vllm", model="meta-llama/Llama-3.1-8B-Instruct", quant="bf16", gpu="h100-sxm", gpus=1,
                input_tokens=1000, output_tokens=200, metric="ttft_s", value=0.1, source="https://example.org/run", as_of="2026-12-01")
    return Benchmark.model_validate({**base, **fields})


# ---------------------------------------------------------------- engine settings

def test_engine_args_parse_with_the_engines_own_names_and_aliases():
    args = parse_engine_args("gpu_memory_utilization=0.95;max_running_requests=64;chunked_prefill_size=4096;enforce_eager=true")
    assert args.gpu_memory_utilization == 0.95 and args.memory_fraction == 0.95
    assert args.max_num_seqs == 64 and args.max_num_batched_tokens == 4096 and args.enforce_eager is True
    assert parse_engine_args("").max_num_seqs is None


@pytest.mark.parametrize("text, named", [("gpu_memory_utilisation=0.9", "gpu_memory_utilisation"),
                                         ("gpu_memory_utilization=1.5", "gpu_memory_utilization"),
                                         ("max_num_seqs", "max_num_seqs")])
def test_a_bad_setting_is_refused_naming_it(text, named):
    with pytest.raises(PlannerError) as caught:
        parse_engine_args(text)
    assert named in str(caught.value) and "\n" not in str(caught.value)


def test_a_benchmark_row_with_a_bad_setting_does_not_load():
    with pytest.raises(ValueError, match="engine_args"):
        _row(engine_args="max_num_seqs=-3")


# ---------------------------------------------------------------- loads as the runs sent them

def test_a_row_at_a_request_rate_is_predicted_open_loop_with_its_statistic():
    at_rate = _row(request_rate=4.0, statistic="median")
    loaded = row_loaded_latency(CATALOG, at_rate)
    assert loaded.load == "rate" and loaded.requests_per_s == 4.0
    assert predict(CATALOG, at_rate) == pytest.approx(loaded.ttft_p50_s)
    assert predict(CATALOG, at_rate.model_copy(update={"statistic": "mean"})) == pytest.approx(loaded.ttft_mean_s)


def test_a_rate_under_a_concurrency_cap_is_a_closed_loop_once_the_cap_binds():
    """vLLM's serving benchmark holds the requests past --max-concurrency on a semaphore before its clock starts:
    16,000-token prompts at 1/s with a cap of 1 are one client in a closed loop, not an unstable open loop."""
    capped = _row(request_rate=1.0, concurrency=1, requests=30, input_tokens=16000)
    assert not row_loaded_latency(CATALOG, capped.model_copy(update={"concurrency": None, "requests": None})).stable
    loaded = row_loaded_latency(CATALOG, capped)
    assert loaded.load == "concurrency" and loaded.concurrency == 1 and loaded.stable
    assert loaded.ttft_mean_s == pytest.approx(row_loaded_latency(CATALOG, _row(concurrency=1, requests=30, input_tokens=16000)).ttft_mean_s)
    light = _row(request_rate=0.01, concurrency=4)  # under the cap: an open loop
    assert row_loaded_latency(CATALOG, light).load == "rate"


def test_a_run_predicted_unstable_is_a_miss_held_out_not_a_gap():
    """A latency row the estimator finds unstable (an open loop past capacity, no request count to end it) gets no
    figure from predict, but leave_one_source_out counts it as a miss (inf): the median error cannot improve by
    dropping the rows the estimator gets most wrong. Its accuracy band takes it as a ratio of 0."""
    from planner.estimate.backtest import accuracy_bands, predicted_unstable
    from planner.estimate.fit import leave_one_source_out
    flood = _row(request_rate=500.0, statistic="median")
    assert predict(CATALOG, flood) is None and predicted_unstable(CATALOG, flood)
    assert predicted_unstable(CATALOG, _row(request_rate=0.5)) is False
    [(row, predicted)] = leave_one_source_out(CATALOG, [flood])
    assert row.id == flood.id and math.isinf(predicted)
    [band] = accuracy_bands([(flood, predicted), (_row(id="t2", concurrency=1), 0.1)])
    assert band.ratio_p10 == pytest.approx(0.1) and math.isinf(band.p90_abs_error_pct)
    finite = _row(request_rate=500.0, requests=1000)  # a run of 1,000 ends: predicted with its backlog
    assert row_loaded_latency(CATALOG, finite).stable and predict(CATALOG, finite) > 1


def test_engine_settings_of_a_row_reach_the_queue():
    """A row run with --max-num-seqs 8 holds at most 8 sequences: 64 clients then wait for a slot."""
    wide = row_loaded_latency(CATALOG, _row(concurrency=64))
    narrow = row_loaded_latency(CATALOG, _row(concurrency=64, engine_args="max_num_seqs=8"))
    assert narrow.running_sequences <= 8 < wide.running_sequences
    assert narrow.ttft_mean_s > wide.ttft_mean_s


def test_a_p99_row_is_kept_but_not_predicted():
    p99 = _row(concurrency=16, statistic="p99")
    assert predict(CATALOG, p99) is None
    assert "99th percentile" in not_predicted_reason(p99)


def test_a_latency_without_its_load_is_kept_but_not_predicted():
    """A latency row must say what load it was measured at: without one (or where the client did not hold the
    concurrency it was set to, left blank) there is nothing to predict it at - not a single client by default."""
    for metric in ("ttft_s", "itl_s", "throughput_tokens_per_s"):
        unloaded = _row(metric=metric)
        assert predict(CATALOG, unloaded) is None and not_predicted_reason(unloaded) is not None
    assert predict(CATALOG, _row(concurrency=1)) is not None
    # Philipp Schmid's llmperf runs at 64 clients held 16-19 in flight (Little's law on their own counts): kept, not predicted
    fell_short = [r for r in CATALOG.benchmarks if "LOAD NOT HELD" in (r.notes or "")]
    assert len(fell_short) == 9 and all(r.concurrency is None and predict(CATALOG, r) is None for r in fell_short)


def test_an_in_process_run_pays_no_server_cost():
    """TensorRT-LLM's gptSessionBenchmark times the engine with no API server: no per-request cost is added."""
    served = _row(engine="tensorrt-llm", quant="fp8", concurrency=1, output_tokens=1)
    in_process = served.model_copy(update={"engine_args": "server=false"})
    gap = predict(CATALOG, served) - predict(CATALOG, in_process)
    assert gap == pytest.approx(row_loaded_latency(CATALOG, served).ttft_mean_s - row_loaded_latency(CATALOG, in_process).ttft_mean_s)
    assert gap >= 0


# A replica by hand: prompts of 1,000 tokens, 0.1 ms of compute a prompt token, 10 ms of weight reads a step, 2 ms
# fixed a step, an 8,192-token budget, 20 ms a request at the server.
TERMS = QueueTerms(prefill_s=0.1, prompt_token_s=1e-4, reads0=0.010, reads1=1e-4, compute1=0.0, fixed=0.002, extra1=0.0,
                   input_tokens=1000, output_tokens=101, max_running=100, token_budget=8192, request_overhead_s=0.02)


def test_a_burst_is_prefilled_first_come_first_served():
    """Ten prompts sent at once: a step of prompt tokens costs max(1e-4, 0.010 / 8192) + 0.002 / 8192 a token, so the
    k-th first token comes after k x 1,000 of them (the first no sooner than its own prefill step, 0.102 s)."""
    per_token = max(1e-4, 0.010 / 8192) + 0.002 / 8192
    times = burst_start(TERMS, 10)
    expected = [0.02 + max(0.1 + 0.002, k * 1000 * per_token) for k in range(1, 11)]
    assert times == pytest.approx(expected)


def test_a_short_closed_loop_run_is_dominated_by_its_opening_burst():
    """64 clients, 64 requests: every request is in the opening burst, so the mean is the burst's mean; over
    6,400 requests the steady state takes over."""
    burst_only = loaded_latency(TERMS, concurrency=64, requests=64)
    assert burst_only.ttft_mean_s == pytest.approx(float(np.mean(burst_start(TERMS, 64))))
    long_run = loaded_latency(TERMS, concurrency=64, requests=6400)
    steady = loaded_latency(TERMS, concurrency=64)
    assert long_run.ttft_mean_s == pytest.approx(0.01 * burst_only.ttft_mean_s + 0.99 * steady.ttft_mean_s)


# ---------------------------------------------------------------- vLLM's start-up, fitted

def test_the_profiling_terms_fit_recovers_the_terms_that_made_the_logs():
    """Start-ups computed with 0.3 GiB of non-torch memory and 6 logits copies are fitted back to those terms."""
    made = {"non_torch_gib": 0.3, "sampler_copies": 6.0}
    shapes = [("meta-llama/Meta-Llama-3-8B-Instruct", "h200", 1, ""), ("Qwen/Qwen3-30B-A3B", "h100-sxm", 2, "max_num_seqs=64"),
              ("meta-llama/Llama-3.1-8B-Instruct", "a100-80gb", 1, "gpu_memory_utilization=0.5"),
              ("Qwen/Qwen3-32B", "h100-sxm", 4, ""), ("meta-llama/Llama-3.1-8B-Instruct", "l4", 1, "max_num_seqs=128")]
    rows = []
    for i, (model, gpu, gpus, args) in enumerate(shapes):
        row = _row(id=f"k{i}", model=model, gpu=gpu, gpus=gpus, input_tokens=8192, output_tokens=None, metric="kv_cache_tokens",
                   value=1.0, engine_args=args or None, source=f"https://logs{i % 3}.example.org/start-up")
        rows.append(row.model_copy(update={"value": kv_cache_tokens(CATALOG, row, made)}))
    fitted = {f.factor: f.value for f in vllm_profile_fit(CATALOG, rows, None)}
    assert fitted["vllm_non_torch_gib"] == pytest.approx(0.3, abs=0.051)
    assert fitted["vllm_sampler_copies"] == pytest.approx(6.0, abs=0.51)


def test_a_v0_start_up_is_kept_but_not_predicted():
    v0 = _row(metric="kv_cache_tokens", value=117_616.0, engine_args="vllm_use_v1=false")
    assert predict(CATALOG, v0) is None and "V0" in not_predicted_reason(v0)


# ---------------------------------------------------------------- a GPU without a published peak

def test_a_gpu_without_a_published_peak_takes_its_vendor_familys_flops_per_byte():
    """AWS's A10G has no NVIDIA datasheet: its 600 GB/s times the median FP16 FLOPs per byte of the other NVIDIA
    datacenter parts, not the CPU fallback; an Intel card without a figure has no NVIDIA siblings to borrow from."""
    a10g = CATALOG.gpus["a10g"]
    siblings = sorted(g.fp16_tflops_dense / g.memory_bandwidth_gb_s for g in CATALOG.gpus.values()
                      if g.family == a10g.family and g.vendor == a10g.vendor and g.fp16_tflops_dense)
    assert peak_flops(a10g, "bf16", CATALOG) == pytest.approx(siblings[len(siblings) // 2] * 600 * 1e12)
    assert peak_flops(CATALOG.gpus["intel-gaudi3-pcie"], "bf16", CATALOG) == pytest.approx(CPU_FALLBACK_TFLOPS * 1e12)
    assert math.isfinite(peak_flops(a10g, "bf16", None))
