"""80% bands on the speed estimates, from the leave-one-source-out error in data/accuracy.csv, and their
pessimistic ends, at which a plan's latency targets must hold."""

from __future__ import annotations

from planner.catalog.loading import Catalog

GGUF_BATCHED_BAND = "throughput_tokens_per_s"  # llama.cpp/Ollama at batch > 1: one source measures it, so the widest band


def pessimistic_decode_share(catalog: Catalog, concurrency: float, gguf_engine: bool) -> float:
    """The low end of the decode band (measured ÷ predicted, 10th percentile) at this many sequences.

    One stream takes single-stream decode's band; a batch takes batched decode's; llama.cpp and Ollama
    batching rests on one source's DGX Spark rows, so it takes the aggregate-throughput band, the widest.
    Plans must meet the tokens/s target at this end of the band.
    """
    band = catalog.band(_decode_band_metric(concurrency, gguf_engine))
    return band.ratio_p10 if band is not None else 1.0


def _decode_band_metric(concurrency: float, gguf_engine: bool) -> str:
    return "decode_tokens_per_s" if concurrency <= 1 else (GGUF_BATCHED_BAND if gguf_engine else "decode_throughput_tokens_per_s")


def pessimistic_prefill_share(catalog: Catalog) -> float:
    """The low end of the prefill band: time to first token at the pessimistic end is TTFT ÷ this."""
    band = catalog.band("prefill_tokens_per_s")
    return band.ratio_p10 if band is not None else 1.0


def uncertainty_ranges(catalog: Catalog, s, gguf_engine: bool = False) -> dict[str, list[float]]:
    """80% bands on a planner.estimate.speed.SpeedEstimate `s`: each estimate times the 10th and 90th percentile of measured ÷ predicted.

    Decode can never beat the roofline, so its band is capped there. Time to first token moves
    inversely with the prefill rate.
    """
    out: dict[str, list[float]] = {}
    for metric, value in (("decode_tokens_per_s", s.decode_tokens_per_s), ("prefill_tokens_per_s", s.prefill_tokens_per_s),
                          ("throughput_tokens_per_s", s.throughput_tokens_per_s)):
        band = catalog.band(metric)
        if band is not None:
            high = value * band.ratio_p90
            if metric == "decode_tokens_per_s":
                high = min(high, s.decode_roofline_tokens_per_s)
            out[metric] = [value * band.ratio_p10, max(high, value * band.ratio_p10)]
    if s.concurrency == 1 and "decode_tokens_per_s" in out:  # one stream: throughput is decode
        out["throughput_tokens_per_s"] = list(out["decode_tokens_per_s"])
    prefill_band = catalog.band("prefill_tokens_per_s")
    if prefill_band is not None:
        out["ttft_s"] = [s.ttft_s / prefill_band.ratio_p90, s.ttft_s / prefill_band.ratio_p10]
    stream_band = catalog.band(_decode_band_metric(s.concurrency, gguf_engine))
    if stream_band is not None:  # one stream's tokens/s at the replica's concurrency
        value = s.decode_tokens_per_s_at_concurrency
        out["decode_tokens_per_s_at_concurrency"] = [value * stream_band.ratio_p10,
                                                     max(min(value * stream_band.ratio_p90, s.decode_roofline_tokens_per_s), value * stream_band.ratio_p10)]
    return out
