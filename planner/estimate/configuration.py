"""One configuration's memory and speed, with the basis a user needs to reproduce them."""

from __future__ import annotations

from planner.catalog.engine_support import combination_support
from planner.catalog.loading import Catalog
from planner.catalog.records import Engine, Gpu, ModelSpec, Quant
from planner.errors import ConstraintError
from planner.estimate.kv_capacity import kv_capacity, vllm_profile_terms
from planner.estimate.memory import estimate_memory
from planner.estimate.queueing import loaded_latency
from planner.estimate.kv_capacity import engine_memory_terms, running_cap, vllm_profile_terms
from planner.estimate.speed import estimate_speed, queue_terms


def default_engine(catalog: Catalog, quant: Quant, gpu: Gpu) -> Engine:
    """llama.cpp for GGUF or Apple/CPU devices, else vLLM: the usual first choice for each."""
    prefer = ("llama.cpp", "ollama") if quant.format == "gguf" or gpu.kind in {"apple", "cpu"} else ("vllm", "sglang", "tensorrt-llm", "tgi", "llama.cpp")
    for engine_id in prefer:
        engine = catalog.engines.get(engine_id)
        if engine and quant.id in engine.quants:
            return engine
    raise ConstraintError(f"Field 'quant': no engine in the catalogue runs {quant.id} on {gpu.name}.", field="quant")


def estimate(catalog: Catalog, model: ModelSpec, quant: Quant, gpu: Gpu, engine: Engine, gpus: int = 1,
             context_tokens: int | None = None, concurrency: int = 1, input_tokens: int = 1000, output_tokens: int = 300,
             kv_cache_dtype: str = "auto", calibrations: list[dict] | None = None, request_rate: float | None = None) -> dict:
    """`{"memory": {...}, "speed": {...}, "load": {...}, "support": {...}, "basis": {...}}` for one configuration (GiB,
    tokens/s, seconds).

    "load" is the replica under load (planner.estimate.queueing): at `request_rate` requests/s when given
    (open loop), else with `concurrency` requests kept in flight (closed loop). "support" is the engine support
    matrix's answer (planner.catalog.engine_support): a configuration it does not call supported is estimated
    all the same, but no plan recommends it, and the answer says why."""
    if quant.id not in engine.quants:
        raise ConstraintError(f"Field 'engine': {engine.id} does not run {quant.id}; it runs {', '.join(engine.quants)}.", field="engine")
    if gpus > 1 and not (engine.tensor_parallel or engine.pipeline_parallel):
        raise ConstraintError(f"Field 'gpus': {engine.id} cannot spread one model over {gpus} GPUs.", field="gpus")
    context = context_tokens or input_tokens + output_tokens
    capacity, overhead = engine_memory_terms(model, gpu, engine, gpus, vllm_profile_terms(catalog), max_num_seqs=concurrency)
    memory = estimate_memory(model, quant, gpu, engine, gpus, context, concurrency, kv_cache_dtype, capacity_gib=capacity,
                             overhead_gib=overhead)
    fraction = 1.0 if memory.gpu_layers >= model.layers else memory.gpu_layers / model.layers
    speed = estimate_speed(catalog, model, quant, gpu, engine, gpus, input_tokens, output_tokens, concurrency,
                           fraction, memory.kv_cache_dtype, calibrations)
    cap = running_cap(model, quant, gpu, engine, gpus, input_tokens + output_tokens, memory.kv_cache_dtype, vllm_profile_terms(catalog))
    terms = queue_terms(catalog, model, quant, gpu, engine, gpus, input_tokens, output_tokens, cap, fraction, memory.kv_cache_dtype,
                        calibrations, min(concurrency, cap))
    load = loaded_latency(terms, request_rate=request_rate, concurrency=None if request_rate is not None else concurrency)
    return {
        "model": model.id,
        "quant": quant.id,
        "engine": engine.id,
        "gpu": gpu.id,
        "gpus": gpus,
        "memory": memory.model_dump(mode="json"),
        "speed": speed.model_dump(mode="json"),
        "load": {**load.model_dump(mode="json"), "max_running_sequences": cap},
        "kv_capacity": kv_capacity(model, quant, gpu, engine, gpus, context, memory.kv_cache_dtype,
                                   slots=concurrency if engine.id in {"llama.cpp", "ollama"} else 1,
                                   **vllm_profile_terms(catalog)).model_dump(mode="json"),
        "support": combination_support(model, quant, engine, gpu).model_dump(mode="json"),
        "basis": {
            "model": model.source,
            "gpu": gpu.source,
            "quant": quant.bits_source,
            "engine_overhead": engine.overhead_source,
            "efficiency": speed.efficiency_basis,
        },
    }
