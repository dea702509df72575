"""Speed: prefill and decode rates from a roofline, scaled by efficiencies fitted to measurements.

Decode is bound by memory bandwidth: each step reads the active weights once and each sequence's
KV cache. Prefill is bound by compute: about 2 FLOPs per active parameter per token, plus attention.
Real engines reach a fraction of the bound; that fraction is fitted by `bench/calibrate.py` to
`data/benchmarks.csv` and stored in `data/efficiency.csv`. Efficiencies are at most 1, so no
estimate exceeds the physical roofline.

The functions take numbers or numpy arrays alike (see `planner.estimate.memory`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from planner.catalog.loading import Catalog
from planner.catalog.records import Engine, Gpu, ModelSpec, Quant
from planner.estimate.bands import uncertainty_ranges
from planner.estimate.memory import (
    GGUF_ENGINES,
    GPUS_PER_NODE,
    KV_BYTES_PER_ELEMENT,
    attention_flops_per_token_layer,
    held_tokens,
    kv_bytes_per_token_layer,
    kv_cache_bytes,
    kv_read_copies,
    layer_split,
    model_weight_bytes,
    prefill_attention_flops_per_token,
    state_token_layers,
)
from planner.estimate.interconnect import pcie_allreduce_share, replica_comm
from planner.estimate.rates import (  # noqa: F401  CPU_FALLBACK_TFLOPS and compute_is_placeholder re-exported for planner.plan
    CPU_FALLBACK_TFLOPS,
    compute_is_placeholder,
    peak_flops,
    sustained_bandwidth,
    sustained_flops,
)
from planner.estimate.kv_capacity import running_cap, vllm_profile_terms  # noqa: F401  the running cap re-exported, where the speed code kept it
from planner.estimate.queueing import (  # noqa: F401  re-exported for planner.plan
    DEFAULT_MAX_CONCURRENCY,
    QueueTerms,
    max_running_sequences,
    open_loop,
    token_budget_per_step,
    unloaded_ttft_s,
)

class SpeedEstimate(BaseModel):
    """Speed of one replica. Rates are tokens/s; times are seconds."""

    model_config = ConfigDict(frozen=True)

    prefill_tokens_per_s: float
    ttft_s: float
    decode_tokens_per_s: float
    decode_tokens_per_s_at_concurrency: float
    throughput_tokens_per_s: float  # output tokens/s of the replica at its concurrency, less the time spent prefilling
    decode_throughput_tokens_per_s: float  # batched decode alone: concurrency / step time
    prefill_share_s: float  # replica time one request's prefill costs at this concurrency (the weight read shared)
    concurrency: int
    decode_roofline_tokens_per_s: float
    prefill_roofline_tokens_per_s: float
    bound: str
    efficiency: dict[str, float]
    efficiency_basis: dict[str, str]
    # An 80% band per figure from the leave-one-source-out error in data/accuracy.csv: [low, high].
    ranges: dict[str, list[float]] = {}


@dataclass(frozen=True)
class Efficiencies:
    """Fractions of the roofline reached, and where each came from."""

    decode: float
    prefill: float
    batch: float
    tensor_parallel: float
    basis: dict[str, str]
    decode_overhead_s: float = 0.0  # fixed time per decode step, whatever the bytes read
    moe: float = 1.0  # a mixture of experts runs at this fraction of the speed the other factors give


def efficiencies(catalog: Catalog, engine_id: str, gpu: Gpu, calibrations: list[dict] | None = None) -> Efficiencies:
    """Look up fitted factors, most specific first: (engine, family), (engine, *), (*, family), (*, *).

    A probe calibration for this engine and GPU, when the user stored one, overrides decode.
    """
    found: dict[str, tuple[float, str]] = {}
    for factor in ("decode_bandwidth", "prefill_compute", "batch_compute", "tensor_parallel"):
        found[factor] = _fitted(catalog, factor, engine_id, gpu.family)
    found["decode_overhead_s"] = _fitted(catalog, "decode_overhead_s", engine_id, gpu.family, default=0.0)
    found["moe_kernels"] = _fitted(catalog, "moe_kernels", engine_id, gpu.family, default=1.0)
    if not gpu.fp16_tflops_dense:  # its compute figure is already the measured, effective one
        found["prefill_compute"] = (1.0, "the device's effective TFLOPS is itself fitted to measured prefill")
    for entry in calibrations or []:
        if entry.get("engine") == engine_id and entry.get("gpu") == gpu.id and entry.get("decode_efficiency"):
            value = calibrated_decode_factor(catalog, gpu, entry["decode_efficiency"])
            basis = f"your probe of {entry.get('endpoint_host', 'an endpoint')} on {entry.get('measured_at', '?')}"
            found["decode_bandwidth"] = (value, basis)
            found["decode_overhead_s"] = (0.0, basis)  # the probe's efficiency already includes any overhead
    return Efficiencies(
        decode=found["decode_bandwidth"][0],
        prefill=found["prefill_compute"][0],
        batch=found["batch_compute"][0],
        tensor_parallel=found["tensor_parallel"][0],
        basis={k: v[1] for k, v in found.items()},
        decode_overhead_s=found["decode_overhead_s"][0],
        moe=found["moe_kernels"][0],
    )


def calibrated_decode_factor(catalog: Catalog, gpu: Gpu, decode_efficiency: float) -> float:
    """A probe's decode efficiency (measured ÷ the datasheet roofline, planner.probe.calibration) as the
    factor estimate_speed applies to the bandwidth the device sustains: divided by that share, and
    capped so that no prediction passes the datasheet roofline."""
    return min(1.0, float(decode_efficiency)) / catalog.bandwidth_share(gpu)


# Engines that run another engine's kernels share its fitted factors: Ollama runs llama.cpp's ggml
# (github.com/ollama/ollama: "Get up and running with ... built on llama.cpp").
SAME_KERNELS = {"ollama": "llama.cpp"}


def _fitted(catalog: Catalog, factor: str, engine_id: str, family: str, default: float = 0.5) -> tuple[float, str]:
    engine_id = SAME_KERNELS.get(engine_id, engine_id)
    index = catalog.efficiency_index
    for key in ((factor, engine_id, family), (factor, engine_id, "*"), (factor, "*", family), (factor, "*", "*")):
        row = index.get(key)
        if row is not None:
            return row.value, f"fitted to {row.n_rows} measurements ({row.engine}, {row.hardware_family}) in data/efficiency.csv"
    return default, f"no fitted factor in data/efficiency.csv; {default:g} assumed"


def decode_bytes_per_step(weight_bytes_active, weight_bytes_total, experts_total, experts_active, batch):
    """Weight bytes read per decode step. A mixture of experts reads only the experts routed to.

    With `batch` sequences each picking k of E experts, about E(1-(1-k/E)^batch) distinct experts are
    read per layer (independent routing), so a large batch reads nearly all of them.
    """
    total = np.asarray(weight_bytes_total, dtype=float)
    active = np.asarray(weight_bytes_active, dtype=float)
    experts = np.maximum(np.asarray(experts_total, dtype=float), 1)
    k = np.minimum(np.asarray(experts_active, dtype=float), experts)
    moe = experts > k
    per_expert = np.where(moe, (total - active) / np.maximum(experts - k, 1), 0.0)
    shared = active - k * per_expert
    touched = experts * (1 - (1 - k / experts) ** np.asarray(batch, dtype=float))
    return np.where(moe, shared + per_expert * touched, active)


@dataclass(frozen=True)
class DecodeStep:
    """One decode step of a batch, in parts: its reads (the weights, then every sequence's KV copies, at
    the fitted share of the sustained bandwidth), its compute at the sustained rate (every sequence's
    decode_flops_per_token; the fitted batch factor divides it) and the engine's fixed time per step
    (kernel launches, sampling)."""

    reads_s: float
    compute_at_rate_s: float
    fixed_s: float

    def seconds(self, eff_batch, slowdown: float = 1.0):
        """A roofline: the longer of reads and compute, plus the fixed time. A mixture's expert kernels
        (`slowdown`) stretch the reads and the compute, not the fixed time.

        With the sustained device rates and each sequence's KV copies and attention counted, this form
        fits the published serving runs with interior compute shares (0.28-0.57); the sum of reads and
        compute needed compute at 100% of the sustained rate and still came out slow at large batches
        (README, Accuracy)."""
        return np.maximum(self.reads_s, self.compute_at_rate_s / np.asarray(eff_batch)) * slowdown + self.fixed_s


def decode_flops_per_token(active_params, attention_flops_per_token_layer, held_token_layers):
    """FLOPs to decode one token: 2 per active parameter, plus attention over every cached token-layer
    (planner.estimate.memory.attention_flops_per_token_layer, planner.estimate.memory.held_tokens)."""
    return 2 * np.asarray(active_params) + np.asarray(attention_flops_per_token_layer) * np.asarray(held_token_layers)


def closed_loop_tokens_per_s(concurrency, output_tokens, prefill_s, step_s):
    """Output tokens/s of a replica kept full with `concurrency` requests: each request's prefill
    takes the replica's turn, then its output tokens share decode steps with the others. The same
    holds for a static batch of that size (all prefills, then the shared steps)."""
    return np.asarray(output_tokens) / (np.asarray(prefill_s) + np.asarray(output_tokens) * np.asarray(step_s) / np.asarray(concurrency))


def prefill_flops_per_token(active_params, attention_flops):
    """FLOPs to prefill one token: 2 per active parameter, plus its attention
    (planner.estimate.memory.prefill_attention_flops_per_token)."""
    return 2 * np.asarray(active_params) + np.asarray(attention_flops)


def prefill_s(prompt_tokens, flops_per_token, flops_s, eff_prefill, weight_bytes, bandwidth_bytes_s, eff_decode, requests=1):
    """Seconds to prefill a prompt: compute-bound, but never faster than reading the weights once.

    With `requests` prompts in flight, an engine prefills them in the same forward passes (or lets
    them ride along the decode steps), so the one weight read is shared: this is each request's
    share of the replica's time, which is what a kept-full replica's throughput pays.
    """
    compute = np.asarray(prompt_tokens) * flops_per_token / (flops_s * eff_prefill)
    memory = weight_bytes / (bandwidth_bytes_s * eff_decode) / np.maximum(np.asarray(requests, dtype=float), 1)
    return np.maximum(compute, memory)


def tensor_parallel_scale(gpus, tensor_parallel: bool, eff_tp: float, domain=GPUS_PER_NODE):
    """Bandwidth and compute multiplier of a replica: TP adds GPUs at a fitted efficiency per doubling;
    a layer split (and a pipeline stage on another node) runs one stage at a time, so a token sees one
    stage's bandwidth. Tensor parallelism spans at most one NVLink domain (`domain` GPUs: a node of 8,
    or 72 in an NVL72 rack)."""
    tp_size = np.minimum(np.asarray(gpus, dtype=float), domain)
    if not tensor_parallel:
        return np.ones_like(tp_size)
    return tp_size * eff_tp ** np.log2(np.maximum(tp_size, 1))


@dataclass(frozen=True)
class _Decoder:
    """What a configuration's decode steps are made of, at its workload's mean context."""

    eff: Efficiencies
    bandwidth: float  # bytes/s the replica sustains (tensor parallel scaling included)
    flops: float  # FLOP/s it sustains at the format's compute precision
    prefill_flops: float  # ... in prefill: tensor parallelism's large GEMMs scale ideally (the fitted per-doubling loss is decode's)
    decode_flops: float  # the same, or inf where the device publishes no peak (decode then memory-bound)
    total_bytes: float
    active_bytes: float
    experts: tuple[int, int]
    kv_seq: float  # one sequence's KV cache
    kv_read: float  # what a step reads of it, over the replica's copies
    flops_per_sequence: float
    comm_s: float = 0.0  # the step's all-reduces and pipeline hops whatever its size (planner.estimate.interconnect)
    comm_per_token_s: float = 0.0  # ... and per token in the step

    def weights(self, batch: float) -> float:
        return float(decode_bytes_per_step(self.active_bytes, self.total_bytes, *self.experts, batch))

    def step(self, batch: float) -> DecodeStep:
        return DecodeStep((self.weights(batch) + batch * self.kv_read) / (self.bandwidth * self.eff.decode),
                          self.flops_per_sequence * batch / self.decode_flops,
                          self.eff.decode_overhead_s + self.comm_s + self.comm_per_token_s * batch)


def _decoder(catalog: Catalog, model: ModelSpec, quant: Quant, gpu: Gpu, engine: Engine, gpus: int, input_tokens: int,
             output_tokens: int, kv_cache_dtype: str, calibrations: list[dict] | None) -> _Decoder:
    eff = efficiencies(catalog, engine.id, gpu, calibrations)
    tp = gpus > 1 and engine.tensor_parallel
    scale = float(tensor_parallel_scale(gpus, tp, eff.tensor_parallel, gpu.scale_up_gpus))
    flops = sustained_flops(gpu, quant.compute_dtype, catalog) * scale
    prefill_flops = sustained_flops(gpu, quant.compute_dtype, catalog) * float(tensor_parallel_scale(gpus, tp, 1.0, gpu.scale_up_gpus))
    total_bytes, active_bytes = model_weight_bytes(model, quant, engine.id)
    full, windowed, window = layer_split(model)
    mean_context = input_tokens + output_tokens / 2
    state = state_token_layers(model)
    kv_seq = float(kv_cache_bytes(kv_bytes_per_token_layer(model, KV_BYTES_PER_ELEMENT[kv_cache_dtype]), full, windowed, window,
                                  mean_context, 1, state))
    comm, comm_per_token = replica_comm(model, gpu, gpus, tp, pcie_allreduce_share(catalog))
    return _Decoder(
        eff=eff, bandwidth=sustained_bandwidth(gpu, catalog) * scale, flops=flops, prefill_flops=prefill_flops,
        decode_flops=flops if gpu.fp16_tflops_dense else math.inf,
        total_bytes=total_bytes, active_bytes=active_bytes, experts=(model.experts_total or 1, model.experts_active or 1),
        kv_seq=kv_seq, kv_read=kv_seq * float(kv_read_copies(model, gpus, tp, gpu.scale_up_gpus)),
        flops_per_sequence=float(decode_flops_per_token(model.params_active_b * 1e9, attention_flops_per_token_layer(model),
                                                        held_tokens(full, windowed, window, mean_context, state))),
        comm_s=comm, comm_per_token_s=comm_per_token)


def decode_step(catalog: Catalog, model: ModelSpec, quant: Quant, gpu: Gpu, engine: Engine, gpus: int, input_tokens: int,
                output_tokens: int, batch: int, kv_cache_dtype: str = "fp16") -> DecodeStep:
    """The parts of one decode step of `batch` sequences, as estimate_speed computes them (fitted
    factors only, no probe calibration): what the calibration fit solves the batch factor from."""
    d = _decoder(catalog, model, quant, gpu, engine, gpus, max(input_tokens, 1), max(output_tokens, 1), kv_cache_dtype, None)
    return d.step(batch)


@dataclass(frozen=True)
class _Replica:
    """A configuration's decode step and prefill, as every speed figure reads them."""

    d: _Decoder
    step: object  # seconds of a decode step at a batch (offloaded layers and the mixture slowdown included)
    line: tuple[float, float, float, float, float]  # the step as lines: reads0, reads1, compute1, fixed, extra1 (QueueTerms)
    prefill_s: float  # one prompt alone
    prompt_token_s: float  # compute seconds per prompt token riding on a decode step
    flops_per_token: float
    moe_slowdown: float


def _replica(catalog: Catalog, model: ModelSpec, quant: Quant, gpu: Gpu, engine: Engine, gpus: int, input_tokens: int, output_tokens: int,
             gpu_layer_fraction: float, kv_cache_dtype: str, calibrations: list[dict] | None) -> _Replica:
    d = _decoder(catalog, model, quant, gpu, engine, gpus, input_tokens, output_tokens, kv_cache_dtype, calibrations)
    eff = d.eff
    host_bw = catalog.assumption("host_ram_bandwidth_gb_s") * 1e9
    # Expert kernels are slower per byte and per FLOP: a mixture's reads, compute and prefill take 1/moe
    # as long; the engine's fixed time per step (sampling, scheduling) is the same as for a dense model.
    moe_slowdown = 1 / eff.moe if d.experts[0] > d.experts[1] else 1.0

    def step(batch: float) -> float:
        seconds = float(d.step(batch).seconds(eff.batch, moe_slowdown))
        if gpu_layer_fraction < 1:  # layers on the CPU are read from host RAM at its bandwidth
            cpu_bytes = (d.weights(batch) + batch * d.kv_seq) * (1 - gpu_layer_fraction)
            seconds = seconds * gpu_layer_fraction + cpu_bytes / (host_bw * eff.decode)
        return seconds

    f = gpu_layer_fraction
    read_s = d.bandwidth * eff.decode
    host_s = host_bw * eff.decode
    line = (f * d.weights(1) / read_s * moe_slowdown, f * d.kv_read / read_s * moe_slowdown,
            f * d.flops_per_sequence / d.decode_flops / eff.batch * moe_slowdown,
            f * eff.decode_overhead_s + d.comm_s + (d.weights(1) * (1 - f) / host_s if f < 1 else 0.0),
            d.comm_per_token_s + (d.kv_seq * (1 - f) / host_s if f < 1 else 0.0))
    flops_per_token = float(prefill_flops_per_token(model.params_active_b * 1e9, prefill_attention_flops_per_token(model, input_tokens)))
    # a prompt's all-reduces carry every prompt token (planner.estimate.interconnect)
    prefill = (float(prefill_s(input_tokens, flops_per_token, d.prefill_flops, eff.prefill, d.total_bytes, d.bandwidth, eff.decode)) * moe_slowdown
               + d.comm_s + d.comm_per_token_s * input_tokens)
    slower = 1.0
    if gpu_layer_fraction < 1:
        slower = 1 / max(gpu_layer_fraction, 1e-6) if gpu_layer_fraction < 0.5 else 2
    return _Replica(d, step, line, prefill * slower,
                    (flops_per_token / (d.prefill_flops * eff.prefill) * moe_slowdown + d.comm_per_token_s) * slower, flops_per_token, moe_slowdown)


def request_overhead_s(catalog: Catalog, engine_id: str, gpu: Gpu) -> float:
    """The engine's fitted fixed time per request before its first token (data/efficiency.csv; 0 where none)."""
    return _fitted(catalog, "request_overhead_s", engine_id, gpu.family, default=0.0)[0]


def queue_terms(catalog: Catalog, model: ModelSpec, quant: Quant, gpu: Gpu, engine: Engine, gpus: int = 1, input_tokens: int = 1000,
                output_tokens: int = 300, max_running: float = DEFAULT_MAX_CONCURRENCY, gpu_layer_fraction: float = 1.0,
                kv_cache_dtype: str = "fp16", calibrations: list[dict] | None = None, batch_hint: float = 1.0) -> QueueTerms:
    """The terms of planner.estimate.queueing for one configuration: its step as lines (a mixture's weights
    read at `batch_hint` sequences), its prefill, the engine's token budget and fixed cost per request."""
    r = _replica(catalog, model, quant, gpu, engine, gpus, input_tokens, output_tokens, gpu_layer_fraction, kv_cache_dtype, calibrations)
    reads0, reads1, compute1, fixed, extra1 = r.line
    if r.d.experts[0] > r.d.experts[1] and batch_hint > 1:
        reads0 = reads0 * r.d.weights(batch_hint) / r.d.weights(1)
    overhead = request_overhead_s(catalog, engine.id, gpu)
    return QueueTerms(prefill_s=r.prefill_s + 0.0, prompt_token_s=r.prompt_token_s, reads0=reads0, reads1=reads1, compute1=compute1,
                      fixed=fixed, extra1=extra1, input_tokens=input_tokens, output_tokens=output_tokens, max_running=max_running,
                      token_budget=token_budget_per_step(engine.id, gpu), request_overhead_s=overhead)


def estimate_speed(
    catalog: Catalog,
    model: ModelSpec,
    quant: Quant,
    gpu: Gpu,
    engine: Engine,
    gpus: int = 1,
    input_tokens: int = 1000,
    output_tokens: int = 300,
    concurrency: int = 1,
    gpu_layer_fraction: float = 1.0,
    kv_cache_dtype: str = "fp16",
    calibrations: list[dict] | None = None,
    arrival_rate_per_s: float = 0.0,
) -> SpeedEstimate:
    """Speed of one replica at `concurrency` sequences in flight; with `arrival_rate_per_s`, its time to first
    token is the open loop's mean at that rate (planner.estimate.queueing), else the unloaded one."""
    r = _replica(catalog, model, quant, gpu, engine, gpus, input_tokens, output_tokens, gpu_layer_fraction, kv_cache_dtype, calibrations)
    d, eff, step, prefill, flops_per_token = r.d, r.d.eff, r.step, r.prefill_s, r.flops_per_token
    shared_prefill = (float(prefill_s(input_tokens, flops_per_token, d.prefill_flops, eff.prefill, d.total_bytes, d.bandwidth, eff.decode,
                                      concurrency)) * r.moe_slowdown + d.comm_s / max(concurrency, 1) + d.comm_per_token_s * input_tokens)
    if gpu_layer_fraction < 1:
        shared_prefill *= 1 / max(gpu_layer_fraction, 1e-6) if gpu_layer_fraction < 0.5 else 2
    busy = min(0.95, arrival_rate_per_s * prefill)  # share of time the replica spends prefilling
    step_1, step_c = step(1), step(concurrency)
    reads0, reads1, compute1, fixed, extra1 = r.line  # a lone request: planner.estimate.queueing.unloaded_ttft_s
    ttft = float(unloaded_ttft_s(prefill, reads0 + reads1, compute1, fixed + extra1, request_overhead_s(catalog, engine.id, gpu)))
    if arrival_rate_per_s > 0:
        cap = running_cap(model, quant, gpu, engine, gpus, input_tokens + output_tokens, kv_cache_dtype, vllm_profile_terms(catalog))
        terms = queue_terms(catalog, model, quant, gpu, engine, gpus, input_tokens, output_tokens, cap, gpu_layer_fraction, kv_cache_dtype,
                            calibrations, concurrency)
        loaded = open_loop(terms, arrival_rate_per_s)
        ttft = float(loaded[1]) if bool(loaded[0]) else math.inf
    tp_gpus = min(gpus, gpu.scale_up_gpus) if gpus > 1 and engine.tensor_parallel else 1
    at_concurrency = d.step(concurrency)
    estimate = SpeedEstimate(
        prefill_tokens_per_s=input_tokens / prefill,
        ttft_s=ttft,
        decode_tokens_per_s=1 / step_1,
        decode_tokens_per_s_at_concurrency=1 / step_c,
        throughput_tokens_per_s=concurrency / step_c * (1 - busy),
        decode_throughput_tokens_per_s=concurrency / step_c,
        prefill_share_s=shared_prefill,
        concurrency=concurrency,
        decode_roofline_tokens_per_s=gpu.memory_bandwidth_gb_s * 1e9 * tp_gpus / (d.active_bytes + d.kv_read),
        prefill_roofline_tokens_per_s=peak_flops(gpu, quant.compute_dtype, catalog) * tp_gpus / flops_per_token,
        bound="compute" if at_concurrency.compute_at_rate_s / eff.batch > at_concurrency.reads_s else "memory bandwidth",
        efficiency={"decode_bandwidth": eff.decode, "decode_overhead_s": eff.decode_overhead_s, "prefill_compute": eff.prefill,
                    "batch_compute": eff.batch, "tensor_parallel": eff.tensor_parallel, "moe_kernels": eff.moe},
        efficiency_basis=eff.basis,
    )
    return estimate.model_copy(update={"ranges": uncertainty_ranges(catalog, estimate, engine.id in GGUF_ENGINES)})
