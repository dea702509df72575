"""What each kind of benchmark row says about prefill compute efficiency (planner.estimate.fit fits the
`prefill_compute` factor as the median of these ratios): a measured prefill rate, a time to first token of
one long prompt, and a kept-full run whose time goes mostly to prefill. Tensor parallelism's prefill GEMMs
scale ideally; the prompt's all-reduces (planner.estimate.interconnect) are taken out of the measured time."""

from __future__ import annotations

from planner.catalog.loading import Catalog
from planner.catalog.records import Benchmark
from planner.estimate.backtest import row_kv_dtype, running_batch
from planner.estimate.interconnect import pcie_allreduce_share, replica_comm
from planner.estimate.memory import model_weight_bytes, prefill_attention_flops_per_token
from planner.estimate.speed import (
    decode_step,
    efficiencies,
    estimate_speed,
    prefill_flops_per_token,
    sustained_bandwidth,
    sustained_flops,
    tensor_parallel_scale,
)

PREFILL_DOMINATED = 10  # prompt / answer length from which a kept-full run's time is mostly prefill
# A served run's time to first token also holds the API server's cost per request (tens of milliseconds,
# planner.estimate.fit's request_overhead_s, fitted after this factor): only prompts whose compute at the
# device's sustained rate takes this long say something about prefill compute (the cost then under ~20%).
SERVED_PROMPT_S = 0.15


def prefill_ratio(catalog: Catalog, r: Benchmark) -> float | None:
    model, quant, gpu = catalog.model(r.model), catalog.quants[r.quant], catalog.gpus[r.gpu]
    flops = prefill_flops_per_token(model.params_active_b * 1e9, prefill_attention_flops_per_token(model, r.input_tokens or 512))
    return r.value * float(flops) / sustained_flops(gpu, quant.compute_dtype, catalog)


def ttft_prefill_ratio(catalog: Catalog, r: Benchmark) -> float | None:
    """Prefill compute efficiency from a time to first token of one request: the time less one
    decode step is the prefill. Only prompts long enough for compute to bind (at least twice the
    time of reading the weights) say anything about compute."""
    model, quant, gpu, engine = catalog.model(r.model), catalog.quants[r.quant], catalog.gpus[r.gpu], catalog.engines[r.engine]
    if r.gpus > 1 and not engine.tensor_parallel:
        return None
    speed = estimate_speed(catalog, model, quant, gpu, engine, r.gpus, max(r.input_tokens or 1, 1), 1, 1)
    scale = float(tensor_parallel_scale(r.gpus, r.gpus > 1, catalog_tp(catalog, engine.id, gpu)))
    ideal = float(tensor_parallel_scale(r.gpus, r.gpus > 1, 1.0, gpu.scale_up_gpus))  # prefill's GEMMs scale ideally
    flops = prefill_flops_per_token(model.params_active_b * 1e9, prefill_attention_flops_per_token(model, r.input_tokens or 1))
    compute_at_rate = (r.input_tokens or 1) * float(flops) / (sustained_flops(gpu, quant.compute_dtype, catalog) * ideal)
    weights_read = model_weight_bytes(model, quant, engine.id)[0] / (sustained_bandwidth(gpu, catalog) * scale)
    comm, comm_per_token = replica_comm(model, gpu, r.gpus, r.gpus > 1, pcie_allreduce_share(catalog))  # the prompt's all-reduces (planner.estimate.interconnect)
    prefill = r.value - 1 / speed.decode_tokens_per_s - comm - comm_per_token * (r.input_tokens or 1)
    if compute_at_rate < 2 * weights_read or prefill <= 0:
        return None
    if r.args.server is not False and compute_at_rate < SERVED_PROMPT_S:  # the server's own cost would pass for prefill
        return None
    return compute_at_rate / prefill


def throughput_prefill_ratio(catalog: Catalog, r: Benchmark) -> float | None:
    """Prefill compute efficiency from a kept-full run whose replica time goes mostly to prefill:
    prompts at least PREFILL_DOMINATED times longer than the answers. Each request's time less its
    share of the decode steps' memory time is its prefill. The test is on the workload, not on a
    predicted split of the time: a run whose decode is slower than predicted must not pass for one
    with a slow prefill."""
    model, quant, gpu, engine = catalog.model(r.model), catalog.quants[r.quant], catalog.gpus[r.gpu], catalog.engines[r.engine]
    if (r.gpus > 1 and not engine.tensor_parallel) or r.input_tokens < PREFILL_DOMINATED * r.output_tokens:
        return None
    batch = running_batch(catalog, r)
    step = decode_step(catalog, model, quant, gpu, engine, r.gpus, r.input_tokens, r.output_tokens, batch, row_kv_dtype(r))
    decode_share = r.output_tokens * (step.reads_s + step.fixed_s) / batch
    prefill = r.output_tokens / r.value - decode_share
    if prefill < 2 * decode_share:
        return None
    ideal = float(tensor_parallel_scale(r.gpus, r.gpus > 1, 1.0, gpu.scale_up_gpus))  # prefill's GEMMs scale ideally
    comm, comm_per_token = replica_comm(model, gpu, r.gpus, r.gpus > 1, pcie_allreduce_share(catalog))
    prefill -= comm / batch + comm_per_token * r.input_tokens
    if prefill <= 0:
        return None
    flops = prefill_flops_per_token(model.params_active_b * 1e9, prefill_attention_flops_per_token(model, r.input_tokens))
    return r.input_tokens * float(flops) / (sustained_flops(gpu, quant.compute_dtype, catalog) * ideal) / prefill


def catalog_tp(catalog: Catalog, engine_id: str, gpu) -> float:
    return efficiencies(catalog, engine_id, gpu).tensor_parallel
