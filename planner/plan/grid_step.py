"""A decode step and a replica's capacity over arrays of candidates: the step's roofline terms
(planner.estimate.speed.DecodeStep), the largest batch the latency targets allow, and the requests/s one
replica sustains at the peak."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from planner.estimate.interconnect import (
    FALLBACK_SCALE_OUT_GB_S,
    HOP_LATENCY_S,
    link_class,
    pipeline_comm,
    scale_up_bytes_s,
    tensor_parallel_comm,
)
from planner.estimate.queueing import QueueTerms, largest_rate, token_budget_per_step, ttft_p90_open_loop
from planner.estimate.speed import closed_loop_tokens_per_s, decode_bytes_per_step, request_overhead_s

BATCH_GRID = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], dtype=float)


MAX_BUSY = 0.85  # a replica planned busier than this queues without bound at the peak (M/D/1)


def replica_capacity_requests_per_s(batch, latency_s, prefill_s, step_s, output_tokens, ttft_budget_s, prefill_share_s):
    """Requests/s one replica sustains at the peak: the least of three limits.

    Little's law: `batch` requests in flight, each taking `latency_s`. GPU time: every request
    costs its prefill plus its share of the batched decode steps, and the replica stays under
    MAX_BUSY. Queueing: prefills queue (M/D/1 mean wait rho/(2(1-rho)) x prefill), so the load is
    capped where that wait would push time to first token past its budget.
    """
    # GPU time: each prefill (its share, the batch's prompts reading the weights once) + its share of the steps
    gpu_seconds = output_tokens / closed_loop_tokens_per_s(batch, output_tokens, prefill_share_s, step_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.maximum(ttft_budget_s - prefill_s, 0) / prefill_s  # allowed wait in units of prefill
        rho_ttft = np.where(np.isfinite(k), 2 * k / (1 + 2 * k), 1.0)
    return np.minimum(np.minimum(batch / latency_s, MAX_BUSY / gpu_seconds), np.maximum(rho_ttft, 1e-3) / prefill_s)


@dataclass(frozen=True)
class StepTerms:
    """Per-row terms of a decode step (planner.estimate.speed.DecodeStep, with CPU-offloaded layers):
    max(read·f/bw_eff + m1·b, c1·b) + fixed + read·(1-f)/host + h1·b for `read` weight bytes and b sequences."""

    f: np.ndarray
    bw_eff: np.ndarray
    host: np.ndarray
    m1: np.ndarray
    h1: np.ndarray
    c1: np.ndarray
    fixed: np.ndarray

    def step(self, read, batch):
        gpu_reads = read * self.f / self.bw_eff + self.m1 * batch
        return np.maximum(gpu_reads, self.c1 * batch) + self.fixed + read * (1 - self.f) / self.host + self.h1 * batch

    def largest_batch(self, read, allowed):
        """The largest (real) b whose step meets `allowed`: both sides of the max must."""
        host0 = read * (1 - self.f) / self.host
        with np.errstate(divide="ignore", invalid="ignore"):
            by_reads = np.where(self.m1 + self.h1 > 0, (allowed - self.fixed - host0 - read * self.f / self.bw_eff) / (self.m1 + self.h1), np.inf)
            by_compute = np.where(self.c1 + self.h1 > 0, (allowed - self.fixed - host0) / (self.c1 + self.h1), np.inf)
        return np.minimum(by_reads, by_compute)

    def rows(self, mask) -> StepTerms:
        return StepTerms(*(getattr(self, field.name)[mask] for field in dataclasses.fields(self)))


def moe_batch(M, m, weights_active, weights_total, terms: StepTerms, allowed, cap):
    """Largest whole batch, up to BATCH_GRID's last size, whose step meets `allowed`, for mixture-of-experts rows:
    BATCH_GRID's sizes bracket it, then bisection between the last usable size and the next (a mixture reads
    more experts as its batch grows, so there is no closed form). Whole numbers as the dense closed form's
    floor: without the second search a 1% slower factor halved a replica's batch at a power of two."""
    experts_total, experts_active = M["experts_total"][m], M["experts_active"][m]

    def usable(batch):  # (rows, sizes) -> does that batch's step meet the targets within the cap
        read = decode_bytes_per_step(weights_active[:, None], weights_total[:, None], experts_total[:, None],
                                     experts_active[:, None], batch)
        column = StepTerms(*(getattr(terms, field.name)[:, None] for field in dataclasses.fields(terms)))
        return (column.step(read, batch) <= allowed[:, None]) & (batch <= cap[:, None])

    ok = usable(BATCH_GRID[None, :])
    # usable sizes form a prefix (a bigger batch never steps faster): take the last usable one
    last = ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
    low = np.where(ok.any(axis=1), BATCH_GRID[last], 0.0)  # usable (or 0: not even one sequence)
    high = np.where((low > 0) & (low < BATCH_GRID[-1]), 2 * low, low)  # unusable, or low itself where nothing is left to search
    while np.any(high - low > 1):
        mid = np.floor((low + high) / 2)
        fits = usable(mid[:, None])[:, 0]
        searching = high - low > 1
        low = np.where(searching & fits, mid, low)
        high = np.where(searching & ~fits, mid, high)
    return low


def engine_queue_tables(catalog, engine_ids, hardware) -> tuple[np.ndarray, np.ndarray]:
    """(token budget per step, fixed seconds per request), (engine, hardware option) tables for the queue
    (planner.estimate.queueing.token_budget_per_step, planner.estimate.speed.request_overhead_s), looked up
    once per (engine, device) and (engine, family)."""
    gpus = {x.gpu.id: x.gpu for x in hardware}
    column = np.array([list(gpus).index(x.gpu.id) for x in hardware]) if hardware else np.zeros(0, dtype=int)
    budget = np.array([[token_budget_per_step(e, gpu) for gpu in gpus.values()] for e in engine_ids], dtype=float).reshape(len(engine_ids), len(gpus))
    overhead = np.array([[request_overhead_s(catalog, e, gpu) for gpu in gpus.values()] for e in engine_ids]).reshape(len(engine_ids), len(gpus))
    return budget[:, column], overhead[:, column]


def replicas_for_ttft(q: QueueTerms, peak_requests_per_s: float, replicas, ttft_target_s, rows):
    """Replicas and per-replica capacity once time to first token is held under load: the 90th
    percentile of planner.estimate.queueing.open_loop at the peak per replica must meet the target.
    Rows (`rows`, a mask) that miss it at their replicas get the largest rate that meets it
    (planner.estimate.queueing.largest_rate); a rate of 0 means not even a trickle does.
    Returns (replicas, capacity per replica where it was limited else inf, TTFT p90 at the peak per replica)."""
    ttft_p90 = ttft_p90_open_loop(q, peak_requests_per_s / replicas)
    capacity = np.full(len(replicas), np.inf)
    miss = rows & ~(ttft_p90 <= ttft_target_s)
    if miss.any():
        sub = QueueTerms(*(v[miss] if isinstance(v, np.ndarray) and v.shape == miss.shape else v
                           for v in (getattr(q, f.name) for f in dataclasses.fields(q))))
        rate = largest_rate(sub, ttft_target_s, peak_requests_per_s / replicas[miss])
        capacity[miss] = rate
        with np.errstate(divide="ignore"):
            replicas = replicas.copy()
            replicas[miss] = np.where(rate > 0, np.maximum(replicas[miss], np.ceil(peak_requests_per_s / np.maximum(rate, 1e-300))), replicas[miss])
        ttft_p90[miss] = ttft_p90_open_loop(sub, peak_requests_per_s / replicas[miss])
    return replicas, capacity, ttft_p90


def comm_tables(models, hardware, pcie_share: float | dict[str, float] = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(seconds per step, seconds per token) of a tensor-parallel replica's communication, (model, hardware
    option) tables: planner.estimate.interconnect.replica_comm over arrays (where the pair runs tensor parallel)."""
    layers = np.array([m.layers for m in models], dtype=float)[:, None]
    hidden = np.array([m.hidden_size for m in models], dtype=float)[:, None]
    count = np.array([x.count for x in hardware], dtype=float)
    tp = np.minimum(count, [x.gpu.scale_up_gpus for x in hardware])
    bandwidth = np.array([scale_up_bytes_s(x.gpu, pcie_share) for x in hardware])
    hop = np.array([HOP_LATENCY_S[link_class(x.gpu)] for x in hardware])
    out = np.array([(x.gpu.scale_out_bandwidth_gb_s or FALLBACK_SCALE_OUT_GB_S) * 1e9 for x in hardware])
    fixed, per_token = tensor_parallel_comm(layers, hidden, tp[None, :], bandwidth[None, :], hop[None, :])
    pf, pt = pipeline_comm(hidden, np.ceil(count / tp)[None, :], out[None, :])
    return np.asarray(fixed + pf), np.asarray(per_token + pt)
