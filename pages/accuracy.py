"""Accuracy: how far the speed estimates land from published measurements, and where plans' error bands come from."""

import pandas as pd
import streamlit as st

from planner.charts import accuracy as ac
from planner.probe.calibration import load_calibrations
from ui import render, state

state.ensure_framed()

METHOD_LABELS = {
    ac.LEAVE_ONE_SOURCE_OUT: "Leave-one-source-out: each source predicted by factors fitted without it",
    ac.IN_SAMPLE: "In-sample: factors fitted to every row, the predicted one included",
}
# What the probe changes first, then what it measured.
PROBE_COLUMNS = ["engine", "gpu", "quant", "model", "fitted_decode_factor", "decode_factor_used", "change_pct", "status",
                 "decode_efficiency", "measured_decode_tokens_per_s", "predicted_decode_tokens_per_s",
                 "measured_vs_predicted", "endpoint_host", "measured_at"]


@st.cache_data(show_spinner="Refitting the efficiency factors without each source…")
def _predictions(method: str) -> pd.DataFrame:
    # Published data only, so the base catalogue: uploaded models have no measurements.
    return ac.prediction_frame(state.base_catalog(), method)


st.title("Accuracy")
catalog = state.base_catalog()
held_out = _predictions(ac.LEAVE_ONE_SOURCE_OUT)
st.write(f"Every speed in a plan is a roofline estimate scaled by efficiency factors fitted to {len(held_out)} "
         f"published speed measurements from {held_out['source_family'].nunique()} independent sources. "
         "This page shows how far the estimates land from those measurements, the ranges plans carry because of it, "
         "the fitted factors and the sources.")

st.header("Predicted against measured")
method = st.radio("Predictions", list(METHOD_LABELS), format_func=METHOD_LABELS.get, key="accuracy_method",
                  horizontal=True, help="Leave-one-source-out is the fair test: it is how a configuration no source "
                  "measured is predicted. A large gap to in-sample means the factors over-fit.")
predictions = held_out if method == ac.LEAVE_ONE_SOURCE_OUT else _predictions(method)
st.plotly_chart(ac.predicted_measured_figure(predictions, method), key="accuracy_scatter", config=render.PLOTLY_CONFIG)
st.caption("Points on the dashed line are predicted exactly; the dotted lines are a factor of 2 off. "
           "Hover a point for its engine, model, quantization, GPU, concurrency and source.")
st.plotly_chart(ac.predicted_measured_figure(predictions, method, times=True), key="accuracy_ttft_scatter", config=render.PLOTLY_CONFIG)
st.caption("Time to first token of serving runs at their stated concurrency, predicted under load: the wait behind other "
           "prompts, chunked prefill sharing steps with running decodes, the running batch capped by the KV cache and the "
           "engine's sequence limit, and the engine's fitted fixed cost per request.")
st.subheader("Absolute percentage error per metric")
comparison = ac.method_comparison(_predictions(ac.IN_SAMPLE), held_out)
st.dataframe(comparison.assign(metric=comparison["metric"].map(ac.METRIC_LABELS)), hide_index=True, key="accuracy_overall",
             column_config={"metric": "Metric", "n": "Rows", "sources": "Independent sources",
                            "in_sample_median_pct": st.column_config.NumberColumn("In-sample median", format="%.1f%%"),
                            "in_sample_p90_pct": st.column_config.NumberColumn("In-sample p90", format="%.1f%%"),
                            "held_out_median_pct": st.column_config.NumberColumn("Held-out median", format="%.1f%%"),
                            "held_out_p90_pct": st.column_config.NumberColumn("Held-out p90", format="%.1f%%")})
st.caption("Held out: each source's rows predicted by factors fitted without that source (leave-one-source-out). "
           "The same figures as `bench/accuracy.py` and the README's Accuracy section.")

st.header("Error by engine and GPU family")
errors = ac.error_by_group(predictions)
st.caption(f"{METHOD_LABELS[method]}. Absolute percentage error = |predicted − measured| ÷ measured.")
st.dataframe(errors.assign(metric=errors["metric"].map(ac.METRIC_LABELS)), hide_index=True, key="accuracy_errors", column_config={
    "metric": "Metric", "engine": "Engine", "gpu_family": "GPU family", "n": "Rows",
    "median_abs_error_pct": st.column_config.NumberColumn("Median error", format="%.0f%%"),
    "p90_abs_error_pct": st.column_config.NumberColumn("90th percentile error", format="%.0f%%")})
st.plotly_chart(ac.error_figure(errors, method), key="accuracy_error_chart", config=render.PLOTLY_CONFIG)

st.header("The 80% ranges in plans")
if catalog.accuracy:
    st.markdown("\n".join(f"- {ac.band_sentence(band)}" for band in catalog.accuracy))
    as_of = max(band.as_of for band in catalog.accuracy)
    st.caption(f"From data/accuracy.csv (written by bench/calibrate.py; newest measurement {as_of:%Y-%m-%d}). "
               "Time to first token moves inversely with the prefill range.")
else:
    st.info("data/accuracy.csv is missing, so plans show no ranges. Run `bench/calibrate.py` to write it.")

st.header("Fitted efficiency factors")
st.markdown("\n".join(f"- `{name}`: {meaning}" for name, meaning in ac.FACTOR_MEANINGS.items()))
st.caption("The most specific factor wins: (engine, family), then (engine, any), (any, family), (any, any). "
           "Decode is a line fit over its rows, batch compute the value with the least total error over its rows, "
           "the PCIe shares the least absolute log error over the runs that cross such a link, vLLM's profiling terms "
           "the pair that best reproduces its start-up logs, the rest medians; `*` means any. From data/efficiency.csv.")
st.dataframe(ac.efficiency_frame(catalog), hide_index=True, key="accuracy_factors", column_config={
    "factor": "Factor", "engine": "Engine", "hardware_family": "Hardware family",
    "value": st.column_config.NumberColumn("Value", format="%.4g"), "n_rows": "Rows",
    "median_abs_error_pct": st.column_config.NumberColumn("Median error of the fit", format="%.0f%%"),
    "sources": st.column_config.TextColumn("Sources of the rows", width="large"), "as_of": "Newest row"})

st.subheader("The device rates the factors apply to")
st.caption("Datasheet peaks are not what a device sustains. Compute and bandwidth are taken at the share of their "
           "datasheet figures measured in published GEMM and stream benchmarks (data/gpus.csv, with quotes); a device "
           "not measured takes the median of its vendor's measured devices of its kind, else of its kind. Devices "
           "outside the datacenter kind have no measurement and keep their datasheet figures.")
rates = ac.device_rates_frame(catalog)
rates["gpu"] = rates["gpu"].map(lambda g: catalog.gpus[g].name if g in catalog.gpus else g)  # names, not ids
# No published FP8 figure reads as such, not as 'None'.
rates["fp8_share"] = rates["fp8_share"].map(lambda v: "no FP8 figure" if v is None or v != v else f"{v:.2%}")
st.dataframe(rates, hide_index=True, key="accuracy_device_rates", column_config={
    "gpu": "GPU", "fp16_share": st.column_config.NumberColumn("BF16/FP16 compute", format="percent"),
    "fp8_share": st.column_config.TextColumn("FP8 compute"),
    "bandwidth_share": st.column_config.NumberColumn("Memory bandwidth", format="percent"),
    "compute_basis": st.column_config.TextColumn("Compute from", width="large"),
    "bandwidth_basis": st.column_config.TextColumn("Bandwidth from", width="large")})

st.header("Sources")
calibrations = load_calibrations()
st.dataframe(ac.sources_frame(catalog, calibrations, held_out), hide_index=True, key="accuracy_sources", column_config={
    "source_family": st.column_config.TextColumn("Source", width="medium"),
    "link": st.column_config.LinkColumn("Link", display_text="Open ↗", width="small"),
    "rows": "Rows", "rows_usable": "Usable", "rows_predicted": "Predicted", "metrics": "Metrics",
    "as_of_from": "From", "as_of_to": "To", "documents": "Documents"})
st.caption("A source is a website, or one repository on a code host; its rows are left out together. Usable rows "
           "name a model, GPU, quantization and engine the catalogue has; predicted rows are the speed figures above "
           "(the throughput rows that are not are listed below).")

st.subheader("Kept but not predicted")
st.dataframe(ac.not_predicted_frame(catalog), hide_index=True, key="accuracy_not_predicted", column_config={
    "reason": st.column_config.TextColumn("Why not predicted", width="large"),
    "source_family": "Source", "rows": "Rows"})
st.caption("These throughput rows stay in data/benchmarks.csv as the record, but their workload does not determine "
           "the figure, so they are neither fitted to nor counted in the errors above.")

st.header("Your probe calibrations")
st.caption("Kept in a file on the server, written by the Probe page's calibration or the probe's `--calibrate` option "
           "(the operator can move it with PLANNER_CALIBRATION_FILE; deleting it forgets them).")
if not calibrations:
    st.info("None yet. Probe a running endpoint with `--plan plan.json --calibrate` to store how close its decode "
            "came to the plan's roofline. Plans made with your calibrations (`planner plan` reads this file) then use "
            "your measurement for that engine and GPU instead of the fitted factor.", icon=":material/speed:")
else:
    probes = ac.calibration_frame(catalog, calibrations)
    st.dataframe(probes[PROBE_COLUMNS], hide_index=True, key="accuracy_calibrations", column_config={
        "engine": "Engine", "gpu": "GPU", "quant": "Quantization", "model": "Model",
        "decode_efficiency": st.column_config.NumberColumn("Decode efficiency", format="%.3f"),
        "measured_decode_tokens_per_s": st.column_config.NumberColumn("Measured (tokens/s)", format="%.1f"),
        "predicted_decode_tokens_per_s": st.column_config.NumberColumn("Predicted (tokens/s)", format="%.1f"),
        "measured_vs_predicted": st.column_config.NumberColumn("Measured ÷ predicted", format="%.2f×"),
        "fitted_decode_factor": st.column_config.NumberColumn("Fitted decode factor", format="%.3f"),
        "decode_factor_used": st.column_config.NumberColumn("Decode factor with your probe", format="%.3f"),
        "change_pct": st.column_config.NumberColumn("Change", format="%+.0f%%"),
        "status": "Status", "endpoint_host": "Endpoint host", "measured_at": "Measured at (UTC)"})
    for row in probes.itertuples():
        if row.status == "in effect":
            st.markdown(f"- **{row.engine} on {row.gpu}:** decode factor {row.fitted_decode_factor:.3f} (fitted) → "
                        f"{row.decode_factor_used:.3f} (your probe), so decode estimates for this engine and GPU move "
                        f"by {row.change_pct:+.0f}%.")
    st.caption("A calibration matches on engine and GPU (any quantization and model). Its efficiency is measured ÷ the "
               "datasheet roofline; the factor used is that ÷ the share of the bandwidth the device sustains, so that a "
               "plan reproduces the measured decode, never above the datasheet roofline.")
