"""Latency under load: time to first token, inter-token latency and end-to-end time of one replica at a
request rate (open loop) or a number of requests kept in flight (closed loop).

What a request waits for, in order:
  - a slot: the running batch is capped by the KV cache and the engine's sequence limit; past it, requests
    wait outside the engine (closed loop: Little's law on the waiting queue; open loop: unstable);
  - the prompts ahead of it: prompts are prefilled first-come first-served in chunks of at most the
    engine's token budget per step, less one token per running decode (vLLM's and SGLang's chunked
    prefill: decodes are scheduled first, then prompt chunks fill the budget). Arrivals are Poisson, so
    the wait is M/D/1's, rho / (2 (1 - rho)) x the time one prompt holds the prefill stream;
  - its own prefill: the unloaded prefill (planner.estimate.speed.prefill_s) plus one decode step per
    chunk it rides on, at the running batch;
  - the engine's fixed cost per request (tokenising, scheduling, detokenising, HTTP).
Decode steps are stretched by the prompt chunks riding on them: with a share u = rate x prompt x
seconds-per-prompt-token of the replica's time spent on prompts, ITL = step(running batch) / (1 - u).
The running batch itself follows from Little's law, b = rate x (output - 1) x ITL, with the step linear
in b on each side of its roofline (planner.estimate.speed.DecodeStep), so b has a closed form.

At a rate near zero everything reduces to the unloaded figure (unloaded_ttft_s): TTFT = overhead + the prefill
step, which samples the first token: the prompt's compute or the step's reads, whichever binds, and the step's
fixed cost. (Adding a whole decode step after the prefill counted the weight reads twice: 2x too slow on short
prompts, against TensorRT-LLM's 128-token first-token latencies.)
Percentiles: the M/D/1 wait is zero with probability 1 - rho and roughly exponential beyond (the
heavy-traffic form, Kingman 1961), so its q-quantile is (W / rho) ln(rho / (1 - q)) when q > 1 - rho.

The functions take numbers or numpy arrays alike, so the candidate grid (planner.plan.grid) and the
single estimate (planner.estimate.speed.estimate_speed) call the same ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from planner.catalog.records import Gpu

# Sequences an engine batches at once: vLLM's default --max-num-seqs (docs.vllm.ai engine arguments),
# used for every engine without a device rule of its own (see max_running_sequences).
DEFAULT_MAX_CONCURRENCY = 256


def max_running_sequences(engine_id: str, gpu: Gpu) -> int | None:
    """The engine's default cap on sequences decoding at once, where it has a published rule.

    vLLM (V1 engine, vllm/engine/arg_utils.py `get_batch_defaults`): --max-num-seqs 1024 on GPUs with
    at least 70 GiB that are not A100s ("For GPUs like H100 and MI300x, use larger default values"),
    256 on the others. Other engines size their batch from the KV cache or a build-time limit: None.
    """
    if engine_id == "vllm":
        return 1024 if gpu.memory_gib >= 70 and not gpu.id.startswith("a100") else 256
    return None


# Prompt tokens one engine step may carry (the chunked-prefill budget), by engine, where it is documented:
# - vLLM V1 (vllm/engine/arg_utils.py, EngineArgs.get_batch_defaults): --max-num-batched-tokens 8192 for the
#   OpenAI server on GPUs of at least 70 GiB that are not A100s, else 2048.
# - SGLang (python/sglang/srt/server_args.py, _handle_chunked_prefill_size): --chunked-prefill-size 2048 below
#   35 GB of GPU memory, 8192 below 160 GB, 16384 above (B200, MI300X).
# - TensorRT-LLM (trtllm-serve --max_num_tokens, tensorrt_llm/llmapi BuildConfig default): 8192.
# - Text Generation Inference (launcher --max-batch-prefill-tokens): 4096.
# - llama.cpp (llama-server --batch-size, logical batch): 2048; Ollama (num_batch): 512.
def token_budget_per_step(engine_id: str, gpu: Gpu) -> int:
    """The engine's default token budget for one scheduler step."""
    if engine_id == "vllm":
        return 8192 if gpu.memory_gib >= 70 and not gpu.id.startswith("a100") else 2048
    if engine_id == "sglang":
        gb = gpu.memory_gib * 1.073741824
        return 2048 if gb < 35 else 8192 if gb < 160 else 16384
    return {"tensorrt-llm": 8192, "tgi": 4096, "llama.cpp": 2048, "ollama": 512}.get(engine_id, 2048)


def unloaded_ttft_s(prefill_s, step_reads_s, step_compute_s, step_fixed_s, request_overhead_s=0.0):
    """Time to first token of a lone request: the engine's cost per request, then the prefill step (the prompt's
    compute beside one sequence's, or the step's reads of weights and cache, whichever binds) and the step's
    fixed cost. Numbers or arrays (planner.estimate.speed and the candidate grid call it alike)."""
    return request_overhead_s + np.maximum(prefill_s + step_compute_s, step_reads_s) + step_fixed_s


@dataclass(frozen=True)
class QueueTerms:
    """What a replica's latency under load is made of (seconds; arrays or numbers).

    The decode step at b sequences is max(reads0 + reads1·b, compute1·b) + fixed + extra1·b: the
    roofline of planner.estimate.speed.DecodeStep written as lines (extra1: terms outside the roofline,
    host-RAM reads of offloaded layers, tensor-parallel all-reduces)."""

    prefill_s: object  # one prompt alone, unloaded (planner.estimate.speed.prefill_s, mixture slowdown included)
    prompt_token_s: object  # compute seconds per prompt token riding on a decode step (the weights read by the step)
    reads0: object
    reads1: object
    compute1: object
    fixed: object
    extra1: object
    input_tokens: object
    output_tokens: object
    max_running: object  # sequences the engine runs at once: KV capacity and its sequence limit
    token_budget: object  # tokens per step (chunked prefill)
    request_overhead_s: object = 0.0

    def step(self, batch):
        b = np.asarray(batch, dtype=float)
        return np.maximum(self.reads0 + self.reads1 * b, self.compute1 * b) + self.fixed + self.extra1 * b


class LoadedLatency(BaseModel):
    """Latency of one replica at a load (seconds). `stable` False: the load exceeds what it sustains,
    and the times are infinite."""

    model_config = ConfigDict(frozen=True)

    load: str  # "rate" (open loop, requests/s) or "concurrency" (closed loop, requests in flight)
    requests_per_s: float
    concurrency: float
    stable: bool
    running_sequences: float
    prefill_utilisation: float  # share of the prefill stream's capacity in use (rho)
    ttft_mean_s: float
    ttft_p50_s: float
    ttft_p90_s: float
    itl_s: float
    e2e_p50_s: float
    e2e_p90_s: float
    reason: str = ""
    ttft_p99_s: float = float("nan")


def _running_batch(t: QueueTerms, rate, busy):
    """Decoding sequences b = rate (N-1) step(b) / (1 - busy), solved on each side of the roofline; inf where
    no fixed point exists (the decode steps cannot keep up)."""
    q = rate * np.maximum(np.asarray(t.output_tokens, dtype=float) - 1, 0) / np.maximum(1 - busy, 1e-12)
    d1 = 1 - q * (t.reads1 + t.extra1)
    d2 = 1 - q * (t.compute1 + t.extra1)
    ok = (d1 > 0) & (d2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.maximum(q * (t.reads0 + t.fixed) / d1, q * t.fixed / d2)
    return np.where(ok, b, np.inf)


def _wait_quantile(mean_wait, rho, q):
    """q-quantile of the M/D/1 wait: zero with probability 1 - rho, exponential beyond (see the module doc)."""
    rho = np.asarray(rho, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.where(rho > 0, mean_wait / rho * np.log(np.maximum(rho / (1 - q), 1.0)), 0.0)
    return np.where(rho > 1 - q, tail, 0.0)


def _parts(t: QueueTerms, rate):
    """Per rate: (busy, running batch, ITL, rho, prompt stream seconds per prompt, own prefill service)."""
    rate = np.asarray(rate, dtype=float)
    prompt = np.asarray(t.input_tokens, dtype=float)
    busy = rate * prompt * t.prompt_token_s
    b = _running_batch(t, rate, busy)
    b_step = np.maximum(np.where(np.isfinite(b), b, 1.0), 1.0)
    step_b = t.step(b_step)
    itl = step_b / np.maximum(1 - busy, 1e-12)
    chunk = np.maximum(np.asarray(t.token_budget, dtype=float) - b_step, 1.0)
    chunks = np.ceil(prompt / chunk)
    per_prompt = prompt * (step_b / chunk + t.prompt_token_s)  # the prompt stream's time for one prompt (steps shared by chunks)
    rho = rate * per_prompt
    # Its own prefill: the steps its chunks ride on, each as long as the prompt's compute beside the running decodes
    # or the weight and cache reads, whichever binds (the prefill already reads the weights once), plus each
    # step's fixed cost.
    body = np.maximum(t.prefill_s + chunks * t.compute1 * b_step, chunks * (t.reads0 + t.reads1 * b_step))
    service = body + chunks * (t.fixed + t.extra1 * b_step)
    return busy, b, itl, rho, per_prompt, service


def step_in_progress_s(itl, others_in_flight):
    """The mean wait for the step the engine is running when a request arrives: the engine schedules between steps
    (vLLM's and SGLang's engine loops, TensorRT-LLM's in-flight batching, llama.cpp's slot loop), so an arrival
    while others decode waits out the rest of the current step, half a step on average (a step's length is the
    inter-token latency). The engine is busy with the probability that anyone else is in flight: 1 - exp(-L) for
    L others on average (a Poisson count, as arrivals are); in a closed loop of C clients the C - 1 others always are."""
    others = np.maximum(np.asarray(others_in_flight, dtype=float), 0.0)
    return (1 - np.exp(-others)) * np.asarray(itl, dtype=float) / 2


def open_loop(t: QueueTerms, rate):
    """Latency at `rate` requests/s (Poisson arrivals): arrays of (stable, ttft mean, p50, p90, itl, e2e p50,
    e2e p90, running batch, rho, ttft p99). Unstable rows carry inf times."""
    busy, b, itl, rho, per_prompt, service = _parts(t, rate)
    rate = np.asarray(rate, dtype=float)
    n_after = np.maximum(np.asarray(t.output_tokens, dtype=float) - 1, 0)
    slots = rate * (service + n_after * itl)  # sequences holding KV (waiting ones hold none)
    stable = (busy < 1) & np.isfinite(b) & (rho < 1) & (slots <= t.max_running)
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.where(rho < 1, rho / (2 * (1 - rho)) * per_prompt, np.inf)
    base = t.request_overhead_s + service + np.where(stable, step_in_progress_s(itl, slots), 0.0)
    out = [stable]
    for value in (base + wait, base + _wait_quantile(wait, rho, 0.5), base + _wait_quantile(wait, rho, 0.9)):
        out.append(np.where(stable, value, np.inf))
    out.append(np.where(stable, itl, np.inf))
    out += [np.where(stable, out[2] + n_after * itl, np.inf), np.where(stable, out[3] + n_after * itl, np.inf), b, rho,
            np.where(stable, base + _wait_quantile(wait, rho, 0.99), np.inf)]
    return out


def loaded_latency(t: QueueTerms, request_rate: float | None = None, concurrency: float | None = None,
                   requests: float | None = None) -> LoadedLatency:
    """One replica's latency at a request rate (open loop) or at `concurrency` requests kept in flight
    (closed loop: each client sends its next request when the last one ends; with `requests`, a run of that many
    that opens with every client sending at once)."""
    if request_rate is not None:
        stable, mean, p50, p90, itl, e2e50, e2e90, b, rho, p99 = (float(x) for x in open_loop(t, request_rate))
        reason = "" if stable else _instability(t, request_rate)
        return LoadedLatency(load="rate", requests_per_s=float(request_rate), concurrency=float(request_rate) * e2e50 if stable else float("inf"),
                             stable=bool(stable), running_sequences=b if stable else float("inf"), prefill_utilisation=rho,
                             ttft_mean_s=mean, ttft_p50_s=p50, ttft_p90_s=p90, itl_s=itl, e2e_p50_s=e2e50, e2e_p90_s=e2e90, reason=reason,
                             ttft_p99_s=p99)
    return closed_loop(t, float(concurrency or 1), requests)


def _instability(t: QueueTerms, rate: float) -> str:
    busy, b, _itl, rho, _pp, _s = (float(x) for x in _parts(t, rate))
    if busy >= 1:
        return f"prompts alone need {busy:.0%} of the replica's time"
    if rho >= 1:
        return f"the prompt stream is {rho:.0%} busy: prompts queue without bound"
    if not np.isfinite(b):
        return "the decode steps cannot keep up with the arrivals"
    return f"more sequences than the {float(t.max_running):,.0f} the engine runs at once (KV cache, sequence limit)"


def closed_loop(t: QueueTerms, concurrency: float, requests: float | None = None) -> LoadedLatency:
    """Closed loop: `concurrency` clients. Up to max_running of them hold a slot; the throughput X solves
    X x (wait + service + (N-1) ITL) = slots held (Little's law), the prompt wait capped at the others in
    slots; the rest wait for a slot, (concurrency - slots) / X on average.

    With `requests` (the run's total), the run starts with every client sending at once (burst_start), and its
    statistics are over the burst and the steady state that follows, weighted by their requests. A run that sends
    all its requests at once (concurrency >= requests) is a drain: past the slots, the k-th waits (k - slots) / X,
    so those waits run evenly from 0 to (requests - slots) / X (not the steady state's (concurrency - slots) / X
    for every one of them)."""
    slots = float(min(concurrency, float(t.max_running)))
    slots = max(slots, 1.0)
    n_after = max(float(t.output_tokens) - 1, 0.0)

    def evaluate(rate: float):
        busy, b, itl, rho, per_prompt, service = (float(x) for x in _parts(t, rate))
        if not np.isfinite(b) or b > slots:  # at most every slot decodes
            step = float(t.step(slots))
            itl = step / max(1 - busy, 1e-12)
            b = slots
        cap = (slots - 1) * per_prompt
        wait = min(rho / (2 * (1 - rho)) * per_prompt, cap) if rho < 1 else cap
        return busy, b, itl, rho, wait, cap, service

    hi = 1 / max(float(t.input_tokens) * float(t.prompt_token_s), 1e-12)
    lo = 0.0
    for _ in range(60):  # X (wait + service + (N-1) ITL) grows with X: bisection
        mid = (lo + hi) / 2
        busy, b, itl, rho, wait, cap, service = evaluate(mid)
        in_progress = float(step_in_progress_s(itl, math.inf if concurrency >= 2 else 0.0))
        held = mid * (float(t.request_overhead_s) + wait + in_progress + service + n_after * itl)
        lo, hi = (mid, hi) if held < slots else (lo, mid)
    rate = lo
    busy, b, itl, rho, wait, cap, service = evaluate(rate)
    slot_wait = (concurrency - slots) / rate if concurrency > slots and rate > 0 else 0.0
    base = float(t.request_overhead_s) + service + slot_wait + float(step_in_progress_s(itl, math.inf if concurrency >= 2 else 0.0))
    p50 = base + min(float(_wait_quantile(wait, min(rho, 0.999), 0.5)), cap)
    p90 = base + min(float(_wait_quantile(wait, min(rho, 0.999), 0.9)), cap)
    p99 = base + min(float(_wait_quantile(wait, min(rho, 0.999), 0.99)), cap)
    mean = base + wait
    if requests is not None and requests >= 1:
        burst = burst_start(t, min(concurrency, slots, requests))
        grid = (np.arange(_MIX_POINTS) + 0.5) / _MIX_POINTS
        steady = base + np.minimum(_wait_quantile(wait, min(rho, 0.999), grid), cap)
        if concurrency >= requests > slots:  # a drain: nobody sends again, so the k-th past the slots waits (k - slots) / X
            drained = (requests - slots) / rate if rate > 0 else float("inf")
            steady = base - slot_wait + min(wait, cap) + grid * drained
            mean = base - slot_wait + min(wait, cap) + drained / 2
        share = min(concurrency, slots, requests) / requests  # of the run's requests, those sent in the opening burst
        k = int(round(share * _MIX_POINTS))
        mixed = np.sort(np.concatenate([np.quantile(burst, (np.arange(k) + 0.5) / max(k, 1)) if k else np.empty(0),
                                        np.quantile(steady, (np.arange(_MIX_POINTS - k) + 0.5) / max(_MIX_POINTS - k, 1)) if k < _MIX_POINTS else np.empty(0)]))
        mean = share * float(burst.mean()) + (1 - share) * mean
        p50, p90, p99 = (float(np.quantile(mixed, q)) for q in (0.5, 0.9, 0.99))
    return LoadedLatency(load="concurrency", requests_per_s=rate, concurrency=concurrency, stable=True, running_sequences=b,
                         prefill_utilisation=rho, ttft_mean_s=mean, ttft_p50_s=p50, ttft_p90_s=p90, itl_s=itl,
                         e2e_p50_s=p50 + n_after * itl, e2e_p90_s=p90 + n_after * itl, ttft_p99_s=p99)


_MIX_POINTS = 400  # points of the run's TTFT distribution when a burst and a steady state mix


def overloaded_run(t: QueueTerms, rate: float, requests: float) -> LoadedLatency:
    """A finite run of `requests` arriving at `rate`, more than the replica sustains (open_loop finds it unstable): a
    published benchmark still ends and reports a time. The engine runs as many as it holds (closed_loop at max_running:
    its most requests a second, X); the rest wait for a slot, request k for k (1/X - 1/rate), so the run's backlog wait
    runs evenly from 0 to (requests - 1)(1/X - 1/rate) and adds to the full replica's own times. Where X keeps up after
    all (the open loop's fixed point and the full closed loop disagree near capacity) there is no backlog."""
    full = closed_loop(t, float(t.max_running))
    longest = max(float(requests) - 1, 0.0) * max(1 / max(full.requests_per_s, 1e-12) - 1 / float(rate), 0.0)
    n_after = max(float(t.output_tokens) - 1, 0.0)
    ttft = [full.ttft_mean_s + longest / 2, full.ttft_p50_s + longest / 2, full.ttft_p90_s + 0.9 * longest]
    return full.model_copy(update={
        "load": "rate", "concurrency": float(requests), "ttft_mean_s": ttft[0], "ttft_p50_s": ttft[1], "ttft_p90_s": ttft[2],
        "ttft_p99_s": full.ttft_p99_s + 0.99 * longest, "e2e_p50_s": ttft[1] + n_after * full.itl_s,
        "e2e_p90_s": ttft[2] + n_after * full.itl_s,
        "reason": f"{float(rate):g} requests/s is past the {full.requests_per_s:.3g} the replica sustains: a run of "
                  f"{float(requests):,.0f} queues for up to {longest:,.0f} s"})


def burst_start(t: QueueTerms, clients: float) -> np.ndarray:
    """Times to first token of `clients` requests sent at once to an idle replica (the start of a closed-loop run,
    or a run that sends everything at once): prompts are prefilled first come, first served, a step's token budget
    at a time, so the k-th waits for k prompts' worth of steps. A step of prompt tokens alone takes the longer of
    their compute and the weight reads, plus the step's fixed cost; the first token comes with the prompt's last
    chunk."""
    m = max(int(round(float(clients))), 1)
    prompt = float(t.input_tokens)
    budget = float(t.token_budget)
    per_token = max(float(t.prompt_token_s), float(t.reads0) / budget) + float(t.fixed) / budget
    k = np.arange(1, m + 1, dtype=float)
    alone = float(t.prefill_s) + float(t.fixed)  # the first prompt: its own prefill step
    return float(t.request_overhead_s) + np.maximum(alone, k * prompt * per_token)


def ttft_p90_open_loop(t: QueueTerms, rate):
    """The 90th-percentile time to first token of open_loop at `rate` (inf where unstable), with only the
    terms it needs: what the plan's latency rule evaluates over every candidate."""
    busy, b, itl, rho, per_prompt, service = _parts(t, rate)
    n_after = np.maximum(np.asarray(t.output_tokens, dtype=float) - 1, 0)
    stable = (busy < 1) & (rho < 1) & (np.asarray(rate, dtype=float) * (service + n_after * itl) <= t.max_running)  # b inf: itl finite, slots checked below
    stable &= np.isfinite(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = rho / (2 * (1 - rho)) * per_prompt
        in_progress = step_in_progress_s(itl, np.asarray(rate, dtype=float) * (service + n_after * itl))
    return np.where(stable, t.request_overhead_s + service + in_progress + _wait_quantile(wait, rho, 0.9), np.inf)


def largest_rate(t: QueueTerms, ttft_target_s, high=None, iterations: int = 12):
    """The highest request rate (per replica) whose 90th-percentile TTFT meets `ttft_target_s`: bisection
    on open_loop over arrays (the plan's latency rule), between 0 and `high` (a rate that misses; default
    the rate at which prompts alone fill the replica)."""
    target = np.asarray(ttft_target_s, dtype=float)
    prompt_s = np.maximum(np.asarray(t.input_tokens, dtype=float) * t.prompt_token_s, 1e-12)
    hi = (1 / prompt_s if high is None else np.asarray(high, dtype=float)) * np.ones(np.broadcast(target, prompt_s).shape)
    lo = np.zeros_like(hi)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        meets = ttft_p90_open_loop(t, mid) <= target
        lo, hi = np.where(meets, mid, lo), np.where(meets, hi, mid)
    return lo
