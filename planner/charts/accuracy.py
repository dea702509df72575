"""How far the estimator is from published measurements: frames and plotly figures for the Accuracy page.

The frame functions return plain pandas frames (one row per benchmark row, per error group, per
source, per fitted factor, per user calibration); the figure functions draw them. Nothing here
imports streamlit, so the page caches the frames and the tests call the builders directly.

Units: speeds in tokens/s, errors in percent of the measured value, efficiencies as fractions of
the physical roofline (effective_tflops: TFLOPS).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from planner.catalog.loading import Catalog
from planner.catalog.records import AccuracyBand, Benchmark
from planner.estimate.backtest import (
    SPEED_METRICS,
    not_predicted_reason,
    predict,
    source_family,
    usable_rows,
)
from planner.estimate.fit import leave_one_source_out
from planner.estimate.speed import calibrated_decode_factor, efficiencies

IN_SAMPLE = "in-sample"
LEAVE_ONE_SOURCE_OUT = "leave-one-source-out"
METHODS = (LEAVE_ONE_SOURCE_OUT, IN_SAMPLE)
METRIC_LABELS = {
    "decode_tokens_per_s": "Decode (tokens/s per stream)",
    "prefill_tokens_per_s": "Prefill (tokens/s)",
    "throughput_tokens_per_s": "Aggregate throughput (tokens/s)",
    "decode_throughput_tokens_per_s": "Batched decode, prefill excluded (tokens/s)",
    "ttft_s": "Time to first token at the run's load (s)",
    "itl_s": "Inter-token latency at the run's load (s)",
    "kv_cache_tokens": "KV cache at start-up (tokens)",
}
# The metrics of the error tables: the speeds and times, and the KV cache an engine logs at start-up.
TABLE_METRICS = (*SPEED_METRICS, "kv_cache_tokens")
METRIC_COLOURS = {"decode_tokens_per_s": "#4C78A8", "prefill_tokens_per_s": "#F58518", "throughput_tokens_per_s": "#54A24B",
                  "decode_throughput_tokens_per_s": "#B279A2", "ttft_s": "#E45756", "itl_s": "#72B7B2"}
TIME_METRICS = ("ttft_s", "itl_s")  # in seconds, drawn on their own axes (planner.estimate.queueing)
FACTOR_MEANINGS = {
    "decode_bandwidth": "fraction of the memory bandwidth the device sustains (its measured stream rate, data/gpus.csv) one decoding stream reaches",
    "prefill_compute": "fraction of the dense FLOP/s the device sustains (its measured GEMM rate, data/gpus.csv) reached while prefilling a prompt",
    "effective_tflops": "measured prefill compute (TFLOPS) of devices whose vendor publishes no peak",
    "tensor_parallel": "speed kept per doubling of GPUs in tensor parallel",
    "batch_compute": "fraction of the sustained dense FLOP/s at which each sequence in a decode step is computed (the step takes the longer of this compute and its reads)",
    "moe_kernels": "speed a serving engine keeps on a mixture of experts against its fit to all models (expert kernels, routing)",
    "request_overhead_s": "a serving engine's fixed seconds per request before its first token (tokenising, scheduling, HTTP), from time to first token under load",
    "decode_overhead_s": "a decode step's fixed seconds whatever its size (kernel launches, sampling), fitted with decode_bandwidth",
    "vllm_non_torch_gib": "memory outside PyTorch that vLLM's start-up profiling counts per GPU, fitted to its logged KV cache sizes",
    "vllm_sampler_copies": "FP32 copies of the logits vLLM's sampler holds at its profiling peak, fitted with vllm_non_torch_gib",
    "pcie_allreduce_share": "share of a PCIe link's bandwidth tensor-parallel all-reduces reach between GPUs with peer-to-peer",
    "host_allreduce_share": "the same between GPUs without peer-to-peer, whose transfers go through host memory (AWS's A10G)",
}
PREDICTION_COLUMNS = ["id", "metric", "engine", "model", "quant", "gpu", "gpu_family", "gpus", "concurrency",
                      "measured", "predicted", "ratio", "abs_error_pct", "source", "source_family", "as_of"]
ERROR_COLUMNS = ["metric", "engine", "gpu_family", "n", "median_abs_error_pct", "p90_abs_error_pct"]
SOURCE_COLUMNS = ["source_family", "link", "rows", "rows_usable", "rows_predicted", "as_of_from", "as_of_to", "documents",
                  "metrics"]
USER_PROBES = "your probes"
_CODE_HOSTS = {"github.com", "huggingface.co"}
_ROW_IDS = re.compile(r"rows ([\w;-]+)")


# ---------------------------------------------------------------- frames

def prediction_frame(catalog: Catalog, method: str = LEAVE_ONE_SOURCE_OUT) -> pd.DataFrame:
    """Every usable speed measurement beside the estimator's prediction of it.

    `method` is "in-sample" (the catalogue's fitted factors predict every row) or
    "leave-one-source-out" (each source's rows are predicted by factors fitted without that source;
    the seconds-long one). `ratio` is measured ÷ predicted; `abs_error_pct` is |predicted − measured|
    as a percentage of measured, as bench/accuracy.py reports it.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    rows = usable_rows(catalog)  # every row, so the held-out fits see what calibrate.py's do (times to first token too)
    if method == IN_SAMPLE:
        pairs = [(r, predict(catalog, r)) for r in rows if r.metric in TABLE_METRICS]
    else:
        pairs = leave_one_source_out(catalog, rows)
    records = [_prediction_record(catalog, r, p) for r, p in pairs if r.metric in TABLE_METRICS and p is not None and p > 0]
    return pd.DataFrame(records, columns=PREDICTION_COLUMNS)


def _prediction_record(catalog: Catalog, r: Benchmark, predicted: float) -> dict:
    return {
        "id": r.id, "metric": r.metric, "engine": r.engine, "model": r.model, "quant": r.quant, "gpu": r.gpu,
        "gpu_family": catalog.gpus[r.gpu].family, "gpus": r.gpus, "concurrency": r.concurrency,
        "measured": r.value, "predicted": predicted, "ratio": r.value / predicted,
        "abs_error_pct": abs(predicted - r.value) / r.value * 100,
        "source": r.source.split()[0], "source_family": source_family(r.source), "as_of": r.as_of.isoformat(),
    }


def error_summary(predictions: pd.DataFrame, by: Iterable[str] = ("metric",)) -> pd.DataFrame:
    """Median and 90th-percentile absolute percentage error and the row count, per group.

    Percentiles interpolate linearly, as `backtest.accuracy_bands` does, so the per-metric
    leave-one-source-out figures match the bands in data/accuracy.csv.
    """
    by = list(by)
    columns = [*by, "n", "median_abs_error_pct", "p90_abs_error_pct"]
    if predictions.empty:
        return pd.DataFrame(columns=columns)
    grouped = predictions.groupby(by, sort=False)["abs_error_pct"]
    out = grouped.agg(n="size", median_abs_error_pct="median",
                      p90_abs_error_pct=lambda s: float(np.quantile(s, 0.9))).reset_index()
    out["metric_order"] = out["metric"].map({m: i for i, m in enumerate(TABLE_METRICS)}) if "metric" in by else 0
    out = out.sort_values(["metric_order", *by]).drop(columns="metric_order")
    return out[columns].reset_index(drop=True)


def error_by_group(predictions: pd.DataFrame) -> pd.DataFrame:
    """Error per metric, engine and GPU family (columns: ERROR_COLUMNS)."""
    return error_summary(predictions, ("metric", "engine", "gpu_family"))


def method_comparison(in_sample: pd.DataFrame, held_out: pd.DataFrame) -> pd.DataFrame:
    """Per metric, in-sample against leave-one-source-out error (a gap between them is over-fitting), with the
    independent sources of the held-out rows: the figures bench/accuracy.py prints."""
    a = error_summary(in_sample).set_index("metric")
    b = error_summary(held_out).set_index("metric")
    sources = held_out.groupby("metric")["source_family"].nunique() if not held_out.empty else pd.Series(dtype=int)
    metrics = [m for m in TABLE_METRICS if m in a.index or m in b.index]
    return pd.DataFrame([{
        "metric": m, "n": int(b["n"].get(m, a["n"].get(m, 0))), "sources": int(sources.get(m, 0)),
        "in_sample_median_pct": a["median_abs_error_pct"].get(m), "in_sample_p90_pct": a["p90_abs_error_pct"].get(m),
        "held_out_median_pct": b["median_abs_error_pct"].get(m), "held_out_p90_pct": b["p90_abs_error_pct"].get(m),
    } for m in metrics])


def band_sentence(band: AccuracyBand) -> str:
    """One sentence saying what a plan's 80% band for this metric means."""
    label = METRIC_LABELS.get(band.metric, band.metric)
    if band.metric in TIME_METRICS:
        return (f"**{label}:** in 80% of {band.n_rows} measurements predicted by factors fitted without their own source, "
                f"the measured time was between {band.ratio_p10:.2f}× and {band.ratio_p90:.2f}× the estimate under load "
                f"(median {band.ratio_p50:.2f}×).")
    example = 100
    # planner.estimate.speed.uncertainty_ranges caps the decode band at the roofline.
    cap = " (never above the physical roofline)" if band.metric == "decode_tokens_per_s" else ""
    return (f"**{label}:** in 80% of {band.n_rows} measurements predicted by factors fitted without their own source, "
            f"the measured value was between {band.ratio_p10:.2f}× and {band.ratio_p90:.2f}× the estimate "
            f"(median {band.ratio_p50:.2f}×), so a plan shows an estimate of {example} tokens/s with the range "
            f"{example * band.ratio_p10:,.0f}–{example * band.ratio_p90:,.0f}{cap}.")


def efficiency_frame(catalog: Catalog) -> pd.DataFrame:
    """The fitted factors in data/efficiency.csv, with the independent sources of the rows behind each."""
    family_of = {b.id: source_family(b.source) for b in catalog.benchmarks}
    rows = []
    for f in catalog.efficiency:
        match = _ROW_IDS.search(f.source)
        ids = match.group(1).split(";") if match else []
        families = sorted({family_of[i] for i in ids if i in family_of})
        rows.append({"factor": f.factor, "engine": f.engine, "hardware_family": f.hardware_family, "value": f.value,
                     "n_rows": f.n_rows, "median_abs_error_pct": f.median_abs_error_pct,
                     "sources": "; ".join(families) or "none (assumed)",
                     "as_of": f.as_of.isoformat()})
    return pd.DataFrame(rows, columns=["factor", "engine", "hardware_family", "value", "n_rows", "median_abs_error_pct",
                                       "sources", "as_of"])


def device_rates_frame(catalog: Catalog) -> pd.DataFrame:
    """The rates estimates start from, per datacenter device: the share of each datasheet figure
    (BF16 and FP8 dense compute, memory bandwidth) it sustains, measured or taken from a median."""
    rows = []
    for gpu in catalog.gpus.values():
        if gpu.kind != "datacenter":
            continue
        rows.append({"gpu": gpu.id, "fp16_share": catalog.sustained_share(gpu, "bf16"),
                     "fp8_share": catalog.sustained_share(gpu, "fp8") if gpu.fp8_tflops_dense else None,
                     "bandwidth_share": catalog.bandwidth_share(gpu),
                     "compute_basis": catalog.sustained_basis(gpu, "bf16"), "bandwidth_basis": catalog.bandwidth_basis(gpu)})
    frame = pd.DataFrame(rows, columns=["gpu", "fp16_share", "fp8_share", "bandwidth_share", "compute_basis", "bandwidth_basis"])
    measured = frame["compute_basis"].str.startswith("measured") | frame["bandwidth_basis"].str.startswith("measured")
    return pd.concat([frame[measured], frame[~measured]], ignore_index=True)


def sources_frame(catalog: Catalog, calibrations: list[dict] | None = None,
                  predictions: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per independent source of measurements: rows, metrics, dates, a link.

    `rows_usable` name a model, GPU, quantization and engine the catalogue has; `rows_predicted`
    (given `predictions` from `prediction_frame`) are the speed rows the estimator predicted.
    The user's probe calibrations, when there are any, are a source of their own (no link: a local file).
    """
    predicted = predictions["source_family"].value_counts() if predictions is not None else None
    used = {r.id for r in usable_rows(catalog)}
    by_family: dict[str, list[Benchmark]] = {}
    for b in catalog.benchmarks:
        by_family.setdefault(source_family(b.source), []).append(b)
    rows = []
    for family, members in sorted(by_family.items(), key=lambda kv: -len(kv[1])):
        urls = pd.Series([b.source.split()[0] for b in members])
        rows.append({"source_family": family, "link": _link(family, urls.value_counts().index[0]), "rows": len(members),
                     "rows_usable": sum(b.id in used for b in members),
                     "rows_predicted": int(predicted.get(family, 0)) if predicted is not None else None,
                     "metrics": ", ".join(sorted({b.metric for b in members})),
                     "as_of_from": min(b.as_of for b in members).isoformat(),
                     "as_of_to": max(b.as_of for b in members).isoformat(), "documents": urls.nunique()})
    if calibrations:
        dates = sorted(str(e.get("measured_at", ""))[:10] for e in calibrations)
        rows.append({"source_family": USER_PROBES, "link": None, "rows": len(calibrations),
                     "rows_usable": len(calibrations), "rows_predicted": None, "metrics": "decode_efficiency", "as_of_from": dates[0],
                     "as_of_to": dates[-1], "documents": 1})
    return pd.DataFrame(rows, columns=SOURCE_COLUMNS)


def not_predicted_frame(catalog: Catalog) -> pd.DataFrame:
    """Usable aggregate-throughput rows kept in the data but not predicted, counted by reason and source."""
    rows = [{"reason": reason, "source_family": source_family(r.source)}
            for r in usable_rows(catalog) if (reason := not_predicted_reason(r)) is not None]
    frame = pd.DataFrame(rows, columns=["reason", "source_family"])
    return frame.groupby(["reason", "source_family"]).size().reset_index(name="rows").sort_values(["reason", "rows"], ascending=[True, False])


def _link(family: str, example_url: str) -> str:
    """The repository for code hosts (one source, many files), else the most cited page."""
    return f"https://{family}" if urlparse(example_url).netloc.lower() in _CODE_HOSTS else example_url


def calibration_frame(catalog: Catalog, calibrations: list[dict]) -> pd.DataFrame:
    """The user's probe calibrations and what each does to the decode factor of its engine and GPU.

    Mirrors `planner.estimate.speed.efficiencies`: an entry matches on engine and GPU id, is capped at the
    datasheet roofline (planner.estimate.speed.calibrated_decode_factor), and when several match, the last one
    stored is the one in effect.
    """
    rows = []
    for i, entry in enumerate(calibrations):
        gpu = catalog.gpus.get(entry.get("gpu"))
        later = any(e.get("engine") == entry.get("engine") and e.get("gpu") == entry.get("gpu") for e in calibrations[i + 1:])
        fitted = efficiencies(catalog, entry["engine"], gpu).decode if gpu else None
        used = calibrated_decode_factor(catalog, gpu, entry["decode_efficiency"]) if gpu and not later else None
        predicted = entry.get("predicted_decode_tokens_per_s")
        rows.append({
            "engine": entry.get("engine"), "gpu": entry.get("gpu"), "quant": entry.get("quant"), "model": entry.get("model"),
            "decode_efficiency": entry.get("decode_efficiency"),
            "measured_decode_tokens_per_s": entry.get("measured_decode_tokens_per_s"),
            "predicted_decode_tokens_per_s": predicted,
            "measured_vs_predicted": entry["measured_decode_tokens_per_s"] / predicted if predicted else None,
            "fitted_decode_factor": fitted, "decode_factor_used": used,
            "change_pct": (used / fitted - 1) * 100 if used is not None and fitted else None,
            "status": ("in effect" if used is not None else
                       "GPU not in the catalogue: not applied" if gpu is None else "replaced by a later entry"),
            "endpoint_host": entry.get("endpoint_host"), "measured_at": entry.get("measured_at"),
        })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- figures

def predicted_measured_figure(predictions: pd.DataFrame, method: str = LEAVE_ONE_SOURCE_OUT, times: bool = False) -> go.Figure:
    """Predicted against measured speed on log-log axes, one trace per metric, with the identity line; with
    `times`, time to first token under load (seconds) instead."""
    title = f"Predicted against measured {'time to first token under load' if times else 'speed'} ({method})"
    unit = "s" if times else "tokens/s"
    fig = go.Figure()
    if not predictions.empty:
        predictions = predictions[predictions["metric"].isin(TIME_METRICS) == times]
    if predictions.empty:
        return _empty(fig, title, "No benchmark row could be predicted.")
    for metric in SPEED_METRICS:
        part = predictions[predictions["metric"] == metric]
        if part.empty:
            continue
        custom = np.column_stack([
            part["engine"], part["model"].str.split("/").str[-1], part["quant"],
            [f"{g}× {gpu}" for g, gpu in zip(part["gpus"], part["gpu"])],
            part["concurrency"].map(lambda c: "—" if pd.isna(c) else f"{int(c):,}"),
            part["source_family"], part["abs_error_pct"], part["id"],
        ])
        fig.add_scatter(
            x=part["measured"], y=part["predicted"], mode="markers", name=f"{METRIC_LABELS[metric]} (n={len(part)})",
            marker={"color": METRIC_COLOURS[metric], "size": 8, "opacity": 0.8, "line": {"width": 0.5, "color": "white"}},
            customdata=custom,
            hovertemplate=("<b>%{customdata[0]}</b> · %{customdata[1]} · %{customdata[2]}<br>GPU: %{customdata[3]}"
                           " · concurrency %{customdata[4]}<br>measured %{x:,.3~g} · predicted %{y:,.3~g} " + unit +
                           " (error %{customdata[6]:.0f}%)<br>source: %{customdata[5]}<extra>%{customdata[7]}</extra>"),
        )
    low = min(predictions["measured"].min(), predictions["predicted"].min()) / 1.5
    high = max(predictions["measured"].max(), predictions["predicted"].max()) * 1.5
    fig.add_scatter(x=[low, high], y=[low, high], mode="lines", name="Prediction = measurement",
                    line={"color": "#333333", "dash": "dash", "width": 1.5}, hoverinfo="skip")
    # Two segments in one trace (None breaks the line), so the legend has one entry for both.
    fig.add_scatter(x=[low, high / 2, None, low * 2, high], y=[low * 2, high, None, low, high / 2], mode="lines",
                    name="Off by a factor of 2", line={"color": "#AAAAAA", "dash": "dot", "width": 1}, hoverinfo="skip")
    fig.update_layout(title=title, xaxis_title=f"Measured ({unit})", yaxis_title=f"Predicted ({unit})",
                      height=600)
    # The same range on both axes keeps the identity line on the diagonal; ticks at powers of ten only.
    for update in (fig.update_xaxes, fig.update_yaxes):
        update(type="log", range=[np.log10(low), np.log10(high)], dtick=1)
    return _style(fig)


def error_figure(errors: pd.DataFrame, method: str = LEAVE_ONE_SOURCE_OUT) -> go.Figure:
    """Median and 90th-percentile absolute percentage error per metric, engine and GPU family (horizontal bars)."""
    title = f"Error by engine and GPU family ({method})"
    fig = go.Figure()
    if errors.empty:
        return _empty(fig, title, "No benchmark row could be predicted.")
    labels = [f"{METRIC_LABELS[m].split(' (')[0]} · {e} on {f} (n={n})"
              for m, e, f, n in zip(errors["metric"], errors["engine"], errors["gpu_family"], errors["n"])]
    for column, name, colour in (("median_abs_error_pct", "Median", "#4C78A8"), ("p90_abs_error_pct", "90th percentile", "#F58518")):
        fig.add_bar(y=labels, x=errors[column], name=name, orientation="h", marker_color=colour,
                    text=[f"{v:.0f}%" for v in errors[column]], textposition="outside", cliponaxis=False,
                    hovertemplate=f"%{{y}}<br>{name}: %{{x:.1f}}%<extra></extra>")
    fig.update_layout(title=title, barmode="group", xaxis_title="Absolute percentage error (% of measured)",
                      yaxis_title="", legend_title_text="Error", height=max(320, 60 + 56 * len(errors)))
    fig.update_yaxes(autorange="reversed")
    return _style(fig)


def _style(fig: go.Figure) -> go.Figure:
    fig.update_layout(template="plotly_white", margin={"l": 60, "r": 40, "t": 60, "b": 60}, hovermode="closest",
                      legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0})
    return fig


def _empty(fig: go.Figure, title: str, message: str) -> go.Figure:
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_layout(title=title, xaxis={"visible": False}, yaxis={"visible": False}, template="plotly_white")
    return fig
