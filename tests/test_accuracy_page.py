"""The Accuracy page: its frame and figure builders (planner/accuracy_charts.py) and the page itself through AppTest."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from planner.catalog.loading import load_catalog
from planner.charts import accuracy as ac
from planner.estimate.backtest import SPEED_METRICS, usable_rows
from planner.estimate.speed import efficiencies
from planner.probe.calibration import CALIBRATION_FILE_ENV

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
PAGE = "pages/accuracy.py"
TIMEOUT_S = 60


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def held_out(catalog):
    return ac.prediction_frame(catalog, ac.LEAVE_ONE_SOURCE_OUT)


@pytest.fixture(scope="module")
def in_sample(catalog):
    return ac.prediction_frame(catalog, ac.IN_SAMPLE)


def _entry(**changes):
    entry = {"engine": "vllm", "gpu": "h100-sxm", "quant": "fp8", "model": "meta-llama/Llama-3.1-8B-Instruct",
             "decode_efficiency": 0.6, "measured_decode_tokens_per_s": 120.0, "predicted_decode_tokens_per_s": 100.0,
             "endpoint_host": "gpu-box.example", "measured_at": "2026-11-20T10:00:00+00:00"}
    return {**entry, **changes}


# ---------------------------------------------------------------- frames

def test_prediction_frames_cover_the_usable_speed_rows(catalog, held_out, in_sample):
    speed_rows = [r for r in usable_rows(catalog) if r.metric in ac.TABLE_METRICS]
    assert list(held_out.columns) == ac.PREDICTION_COLUMNS
    assert 0 < len(held_out) <= len(speed_rows)
    assert len(in_sample) <= len(speed_rows)
    assert set(held_out["metric"]) <= set(ac.TABLE_METRICS) and "kv_cache_tokens" in set(held_out["metric"])
    assert (held_out["predicted"] > 0).all()
    np.testing.assert_allclose(held_out["ratio"], held_out["measured"] / held_out["predicted"])
    np.testing.assert_allclose(held_out["abs_error_pct"], (held_out["predicted"] - held_out["measured"]).abs() / held_out["measured"] * 100)
    with pytest.raises(ValueError, match="method"):
        ac.prediction_frame(catalog, "cross-validated")


def test_error_by_group_counts_every_row_once(held_out):
    errors = ac.error_by_group(held_out)
    assert list(errors.columns) == ac.ERROR_COLUMNS
    assert errors["n"].sum() == len(held_out)
    assert (errors["p90_abs_error_pct"] >= errors["median_abs_error_pct"]).all()
    # Ordered decode, prefill, throughput, as the page reads top-down.
    order = [ac.TABLE_METRICS.index(m) for m in errors["metric"]]
    assert order == sorted(order)


def test_held_out_error_matches_the_bands_plans_use(catalog, held_out):
    # data/accuracy.csv is written from the same leave-one-source-out predictions; only a data edit
    # since the last bench/calibrate.py run would make these drift.
    summary = ac.error_summary(held_out).set_index("metric")
    for band in catalog.accuracy:
        if band.metric in summary.index and summary.loc[band.metric, "n"] == band.n_rows:
            assert summary.loc[band.metric, "median_abs_error_pct"] == pytest.approx(band.median_abs_error_pct, abs=0.1)
            assert summary.loc[band.metric, "p90_abs_error_pct"] == pytest.approx(band.p90_abs_error_pct, abs=0.1)


def test_method_comparison_has_both_methods(in_sample, held_out):
    table = ac.method_comparison(in_sample, held_out)
    assert list(table["metric"]) == [m for m in ac.TABLE_METRICS if m in set(held_out["metric"])]
    assert table[["in_sample_median_pct", "held_out_median_pct"]].notna().all().all()
    # the independent sources of each metric's held-out rows, as bench/accuracy.py counts them
    for row in table.itertuples():
        assert row.sources == held_out.loc[held_out["metric"] == row.metric, "source_family"].nunique() >= 1


def test_band_sentence_reads_the_band(catalog):
    band = catalog.band("decode_tokens_per_s")
    if band is None:
        pytest.skip("no data/accuracy.csv")
    sentence = ac.band_sentence(band)
    assert f"{band.ratio_p10:.2f}×" in sentence and f"{band.ratio_p90:.2f}×" in sentence
    assert f"{100 * band.ratio_p10:,.0f}–{100 * band.ratio_p90:,.0f}" in sentence
    assert sentence.count(".") >= 1 and "roofline" in sentence


def test_efficiency_frame_names_the_sources_of_each_factor(catalog):
    table = ac.efficiency_frame(catalog)
    assert len(table) == len(catalog.efficiency)
    assert {"factor", "value", "n_rows", "sources"} <= set(table.columns)
    fitted = table[table["n_rows"] > 0]
    assert not fitted["sources"].str.contains("none").any()
    assert (table.loc[table["n_rows"] == 0, "sources"] == "none (assumed)").all()


def test_device_rates_frame_lists_measured_devices_first_with_their_basis(catalog):
    table = ac.device_rates_frame(catalog)
    h100 = table[table["gpu"] == "h100-sxm"].iloc[0]
    assert h100["fp16_share"] == pytest.approx(720 / 989.5) and h100["bandwidth_share"] == pytest.approx(2970 / 3350)
    assert "semianalysis.com" in h100["compute_basis"] and "AI-benchmarking-guide" in h100["bandwidth_basis"]
    measured = table["compute_basis"].str.startswith("measured") | table["bandwidth_basis"].str.startswith("measured")
    assert measured.iloc[: int(measured.sum())].all() and not measured.iloc[int(measured.sum()):].any()
    assert set(table["gpu"]) == {g.id for g in catalog.gpus.values() if g.kind == "datacenter"}


def test_sources_frame_counts_rows_and_links_each_source(catalog, held_out):
    table = ac.sources_frame(catalog, predictions=held_out)
    assert list(table.columns) == ac.SOURCE_COLUMNS
    assert table["rows"].sum() == len(catalog.benchmarks)
    assert table["rows_usable"].sum() == len(usable_rows(catalog))
    assert table["rows_predicted"].sum() == len(held_out)
    assert (table["rows_predicted"] <= table["rows_usable"]).all()
    assert table["source_family"].is_unique
    assert table["link"].str.startswith("https://").all()
    assert (table["as_of_from"] <= table["as_of_to"]).all()
    assert ac.sources_frame(catalog)["rows_predicted"].isna().all()
    with_probes = ac.sources_frame(catalog, [_entry(), _entry(gpu="rtx-4090", measured_at="2026-11-24T08:00:00+00:00")])
    probes = with_probes.iloc[-1]
    assert probes["source_family"] == ac.USER_PROBES and probes["rows"] == 2
    assert (probes["as_of_from"], probes["as_of_to"]) == ("2026-11-20", "2026-11-24")


def test_calibration_frame_shows_the_decode_factor_the_estimator_uses(catalog):
    entries = [_entry(decode_efficiency=0.5), _entry(decode_efficiency=0.6), _entry(gpu="no-such-gpu"),
               _entry(gpu="rtx-4090", engine="llama.cpp", decode_efficiency=1.3)]
    table = ac.calibration_frame(catalog, entries)
    assert list(table["status"]) == ["replaced by a later entry", "in effect", "GPU not in the catalogue: not applied", "in effect"]
    for row, entry in zip(table.itertuples(), entries):
        if row.status != "in effect":
            continue
        gpu = catalog.gpus[entry["gpu"]]
        assert row.fitted_decode_factor == pytest.approx(efficiencies(catalog, entry["engine"], gpu).decode)
        # The same figure planner.estimate.speed applies when given the stored entries.
        assert row.decode_factor_used == pytest.approx(efficiencies(catalog, entry["engine"], gpu, entries).decode)
        assert row.change_pct == pytest.approx((row.decode_factor_used / row.fitted_decode_factor - 1) * 100)
    assert table["decode_factor_used"].iloc[3] == 1.0  # capped at the roofline (an RTX 4090 has no measured bandwidth share)
    assert table["measured_vs_predicted"].iloc[0] == pytest.approx(1.2)


# ---------------------------------------------------------------- figures

def test_scatter_has_a_trace_per_metric_and_the_identity_line(held_out):
    fig = ac.predicted_measured_figure(held_out, ac.LEAVE_ONE_SOURCE_OUT)
    times = ac.predicted_measured_figure(held_out, ac.LEAVE_ONE_SOURCE_OUT, times=True)  # TTFT in seconds, its own axes
    names = [t.name for t in fig.data] + [t.name for t in times.data]
    metrics = [m for m in SPEED_METRICS if m in set(held_out["metric"])]
    assert len(metrics) == len(SPEED_METRICS)
    for metric in metrics:
        assert sum(n.startswith(ac.METRIC_LABELS[metric]) for n in names) == 1
    speeds = held_out[~held_out["metric"].isin(ac.TIME_METRICS)]
    identity = next(t for t in fig.data if t.name == "Prediction = measurement")
    assert list(identity.x) == list(identity.y)
    assert identity.x[0] <= min(speeds["measured"].min(), speeds["predicted"].min())
    assert identity.x[-1] >= max(speeds["measured"].max(), speeds["predicted"].max())
    assert times.layout.xaxis.title.text == "Measured (s)"
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert "leave-one-source-out" in fig.layout.title.text
    assert fig.layout.xaxis.title.text == "Measured (tokens/s)"
    assert fig.layout.yaxis.title.text == "Predicted (tokens/s)"
    decode = next(t for t in fig.data if t.name.startswith(ac.METRIC_LABELS["decode_tokens_per_s"]))
    assert len(decode.x) == (held_out["metric"] == "decode_tokens_per_s").sum()
    for word in ("concurrency", "GPU", "source", "measured", "predicted"):
        assert word in decode.hovertemplate
    # customdata: engine, model, quant, GPU, concurrency, source, error, id.
    first = held_out[held_out["metric"] == "decode_tokens_per_s"].iloc[0]
    assert decode.customdata[0][0] == first["engine"] and decode.customdata[0][5] == first["source_family"]


def test_scatter_title_follows_the_method(in_sample):
    assert "in-sample" in ac.predicted_measured_figure(in_sample, ac.IN_SAMPLE).layout.title.text


def test_error_figure_has_median_and_p90_bars(held_out):
    errors = ac.error_by_group(held_out)
    fig = ac.error_figure(errors)
    assert [t.name for t in fig.data] == ["Median", "90th percentile"]
    assert all(t.type == "bar" and t.orientation == "h" and len(t.y) == len(errors) for t in fig.data)
    assert list(fig.data[1].x) == pytest.approx(list(errors["p90_abs_error_pct"]))
    assert "engine and GPU family" in fig.layout.title.text
    assert "percentage error" in fig.layout.xaxis.title.text
    assert all(f"(n={n})" in label for label, n in zip(fig.data[0].y, errors["n"]))


def test_figures_of_nothing_say_so():
    empty = pd.DataFrame(columns=ac.PREDICTION_COLUMNS)
    for fig in (ac.predicted_measured_figure(empty), ac.error_figure(ac.error_by_group(empty))):
        assert not fig.data
        assert "No benchmark row" in fig.layout.annotations[0].text


# ---------------------------------------------------------------- the page

def _in_navigation() -> bool:
    return PAGE in APP.read_text(encoding="utf-8")


def _standalone_page():
    """The page framed as the entry file frames it, for while the entry file does not list it yet."""
    import runpy
    import sys

    root = "__ROOT__"
    if root not in sys.path:
        sys.path.insert(0, root)
    from ui import state

    with state.framing():
        state.init()
        runpy.run_path(f"{root}/pages/accuracy.py", run_name="__main__")


def accuracy_page() -> AppTest:
    if _in_navigation():
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
        return at.switch_page(PAGE).run()
    import inspect
    import textwrap

    source = textwrap.dedent(inspect.getsource(_standalone_page)).replace("__ROOT__", str(ROOT))
    return AppTest.from_string(source + "\n_standalone_page()\n", default_timeout=TIMEOUT_S).run()


def _table(at: AppTest, *columns: str):
    for frame in at.dataframe:
        if set(columns) <= set(frame.value.columns):
            return frame.value
    raise AssertionError(f"no table with columns {columns}")


def _assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_page_renders_every_table_and_says_no_probes_yet(tmp_path, monkeypatch):
    monkeypatch.setenv(CALIBRATION_FILE_ENV, str(tmp_path / "calibration.json"))
    at = accuracy_page()
    _assert_clean(at)
    assert [t.value for t in at.title] == ["Accuracy"]
    headers = [h.value for h in at.header]
    assert headers == ["Predicted against measured", "Error by engine and GPU family", "The 80% ranges in plans",
                       "Fitted efficiency factors", "Sources", "Your probe calibrations"]
    assert len(_table(at, "engine", "gpu_family", "median_abs_error_pct", "p90_abs_error_pct", "n")) > 0
    assert len(_table(at, "in_sample_median_pct", "held_out_median_pct")) == len(ac.TABLE_METRICS)
    assert len(_table(at, "factor", "n_rows", "sources")) > 0
    rates = _table(at, "gpu", "fp16_share", "bandwidth_share", "compute_basis")
    assert "measured by" in rates.iloc[0]["compute_basis"] + rates.iloc[0]["bandwidth_basis"]  # measured devices first
    sources = _table(at, "source_family", "link", "as_of_from")
    assert ac.USER_PROBES not in set(sources["source_family"])
    assert any(i.value.startswith("None yet") for i in at.info)
    assert not any(str(tmp_path) in c.value for c in at.caption), "a server path is shown to visitors"
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any("Prediction = measurement" in [t.get("name") for t in c["data"]] for c in charts)
    assert any("leave-one-source-out" in c["layout"]["title"]["text"] for c in charts)
    band = load_catalog().band("decode_tokens_per_s")
    if band is not None:
        assert any(ac.band_sentence(band) in m.value for m in at.markdown)


def test_page_toggles_to_in_sample_and_lists_probe_calibrations(tmp_path, monkeypatch):
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps([_entry(), _entry(gpu="rtx-4090", engine="llama.cpp", decode_efficiency=0.8)]), encoding="utf-8")
    monkeypatch.setenv(CALIBRATION_FILE_ENV, str(path))
    at = accuracy_page()
    at.radio(key="accuracy_method").set_value(ac.IN_SAMPLE).run()
    _assert_clean(at)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert all("in-sample" in c["layout"]["title"]["text"] for c in charts)
    probes = _table(at, "decode_efficiency", "endpoint_host", "measured_at")
    assert list(probes["engine"]) == ["vllm", "llama.cpp"]
    assert list(probes["status"]) == ["in effect", "in effect"]
    assert ac.USER_PROBES in set(_table(at, "source_family", "link")["source_family"])
    assert any(m.value.startswith("- **vllm on h100-sxm:** decode factor") for m in at.markdown)


def test_rows_kept_but_not_predicted_are_listed_with_their_reason(catalog):
    from planner.estimate.backtest import SHORT_OUTPUT, VARIED_DRAIN

    frame = ac.not_predicted_frame(catalog)
    assert list(frame.columns) == ["reason", "source_family", "rows"]
    by = {(r.reason, r.source_family): r.rows for r in frame.itertuples()}
    assert by[(VARIED_DRAIN, "github.com/gpustack")] >= 30  # 1,000 ShareGPT prompts sent at once
    assert by[(SHORT_OUTPUT, "github.com/gpustack")] >= 10  # 128 in / 4 out
    # none of them is among the predictions
    predicted = set(ac.prediction_frame(catalog, ac.IN_SAMPLE)["id"])
    drains = {r.id for r in catalog.benchmarks if r.lengths == "varied" and r.requests == r.concurrency}
    assert drains and not drains & predicted
