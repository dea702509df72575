"""The chart builders in planner/charts.py: frames, break-even arithmetic and figure labelling."""

import math

import numpy as np
import pytest

from planner.catalog.loading import load_catalog
from planner.charts import plan as charts
from planner.plan.constraints import Constraints
from planner.plan.model import ApiOption
from planner.plan.recommend import recommend
from planner.units import MILLION


@pytest.fixture(scope="module")
def plan():
    return recommend(Constraints())


@pytest.fixture(scope="module")
def busy_plan():
    return recommend(Constraints(requests_per_day=5_000_000))


@pytest.fixture(scope="module")
def multi_gpu_plan():
    # A 70B model on 24 GB cards cannot fit one GPU: every candidate splits it.
    return recommend(Constraints(models=["meta-llama/Llama-3.3-70B-Instruct"], gpus_available=[{"gpu": "rtx-4090", "count": 8}]))


@pytest.fixture(scope="module")
def empty_plan():
    # No configuration costs under a cent a month.
    return recommend(Constraints(budget_usd_per_month=0.01))


def _api(usd_per_mtok: float, api_id: str = "test/api") -> ApiOption:
    return ApiOption(id=api_id, provider="test", model="m", open_weights=False, same_model=False, usd_per_month=0.0,
                     usd_per_mtok=usd_per_mtok, capability_score=None, break_even_tokens_per_month=None, allowed=True,
                     source="test", as_of="2026-11-25")


def test_memory_breakdown_columns_and_parts(plan):
    df = charts.memory_breakdown(plan)
    assert list(df.columns) == ["candidate", "component", "gib", "capacity_gib"]
    assert set(df["component"]) == {"weights", "kv_cache", "overhead"}
    assert (df["gib"] >= 0).all()
    top = plan.recommendation
    first = df[df["candidate"] == df["candidate"].iloc[0]]
    # The three parts add up to the estimator's busiest-GPU figure and sit under the capacity.
    assert first["gib"].sum() == pytest.approx(top.memory.per_gpu_gib, rel=1e-6)
    assert first["capacity_gib"].iloc[0] == pytest.approx(top.memory.capacity_gib)
    assert first["gib"].sum() <= top.memory.capacity_gib
    assert df["candidate"].nunique() == min(6, 1 + len(plan.alternatives))


def test_memory_breakdown_of_a_multi_gpu_replica_is_per_gpu(multi_gpu_plan):
    multi = [c for c in [multi_gpu_plan.recommendation, *multi_gpu_plan.alternatives] if c.gpus > 1]
    assert multi, "a 70B model on 24 GB cards must be split over GPUs"
    parts = charts.per_gpu_parts_gib(multi[0])
    assert parts["weights"] <= multi[0].memory.weights_gib / multi[0].gpus + 1e-9
    assert sum(parts.values()) == pytest.approx(multi[0].memory.per_gpu_gib, rel=1e-6)


def test_cost_curve_columns_kinds_and_own_volume(plan):
    own = charts.plan_tokens_per_month(plan)
    df = charts.cost_curve(plan, [own / 100, own, own * 1000])
    assert list(df.columns) == ["tokens_per_month", "series", "usd_per_month", "kind"]
    assert set(df["kind"]) == {"self-host", "api"}
    self_host = df[df["kind"] == "self-host"]
    # At the plan's own volume the curve reproduces the plan's monthly cost.
    at_own = self_host[np.isclose(self_host["tokens_per_month"], own)]["usd_per_month"].iloc[0]
    assert at_own == pytest.approx(plan.recommendation.cost.usd_per_month)
    # More volume never costs less; a thousandfold volume needs more replicas.
    assert list(self_host["usd_per_month"]) == sorted(self_host["usd_per_month"])
    assert self_host["usd_per_month"].iloc[-1] > at_own


def test_cost_curve_apis_are_price_times_volume(plan):
    volumes = [1e6, 1e9]
    df = charts.cost_curve(plan, volumes)
    apis = {a.id: a for a in plan.apis}
    for api_id, part in df[df["kind"] == "api"].groupby("series"):
        expected = np.array(volumes) / MILLION * apis[api_id].usd_per_mtok
        assert np.allclose(part["usd_per_month"], expected)


def test_cost_curve_reproduces_replicas_of_a_busy_plan(busy_plan):
    own = charts.plan_tokens_per_month(busy_plan)
    cost = charts.self_host_usd_per_month(busy_plan, [own])[0]
    assert cost == pytest.approx(busy_plan.recommendation.cost.usd_per_month)


def test_break_even_where_expected(plan):
    top = plan.recommendation
    per_replica = top.cost.usd_per_month / top.replicas
    capacity = charts.replica_capacity_tokens_per_month(plan)
    floor = charts.min_replicas(plan)  # the plan never runs fewer replicas (redundancy), so its curve starts there
    # An API priced so one replica's monthly cost buys half a replica's capacity crosses where the floor's cost is paid.
    price = per_replica / (capacity / 2) * MILLION
    crossing = floor * per_replica / price * MILLION
    [point] = charts.break_even_points(plan, [_api(price)])
    assert point["tokens_per_month"] == pytest.approx(crossing)
    assert point["usd_per_month"] == pytest.approx(floor * per_replica)
    below = charts.self_host_usd_per_month(plan, [crossing * 0.9])[0]
    above = charts.self_host_usd_per_month(plan, [crossing * 1.1])[0]
    assert below > crossing * 0.9 / MILLION * price  # API cheaper below
    assert above < crossing * 1.1 / MILLION * price  # self-hosting cheaper above


def test_no_break_even_when_a_full_replica_still_costs_more(plan):
    top = plan.recommendation
    capacity = charts.replica_capacity_tokens_per_month(plan)
    cheap = top.cost.usd_per_month / top.replicas / capacity * MILLION / 10  # a tenth of the self-host rate
    [point] = charts.break_even_points(plan, [_api(cheap)])
    assert point["tokens_per_month"] is None
    assert "stays cheaper" in point["text"]


def test_memory_figure_has_title_axes_and_hover(plan):
    fig = charts.memory_figure(plan)
    assert fig.layout.title.text
    assert "GiB" in fig.layout.xaxis.title.text
    assert fig.layout.yaxis.title.text
    assert fig.layout.barmode == "stack"
    names = {t.name for t in fig.data}
    assert {"Weights", "KV cache", "Engine overhead", "Usable GPU memory"} <= names
    assert all(t.hovertemplate and "GiB" in t.hovertemplate for t in fig.data)


def test_cost_figure_has_title_axes_break_even_and_changes(plan):
    changes = [{"tokens_per_month": 3e9, "label": "→ something else"}]
    fig = charts.cost_figure(plan, pick_changes=changes)
    assert "cost" in fig.layout.title.text.lower()
    assert "tokens per month" in fig.layout.xaxis.title.text
    assert "US$ per month" in fig.layout.yaxis.title.text
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert any(t.name == "Break-even" for t in fig.data)
    texts = [a.text for a in fig.layout.annotations]
    assert "→ something else" in texts
    assert any(t.startswith("this plan") for t in texts)
    # Annotations on a log axis are placed in log10 units.
    change = next(a for a in fig.layout.annotations if a.text == "→ something else")
    assert change.x == pytest.approx(math.log10(3e9))
    assert all(t.hovertemplate for t in fig.data)


def test_capability_cost_figure():
    catalog = load_catalog()
    fig = charts.capability_cost_figure(catalog)
    assert fig.layout.title.text
    assert "per million tokens" in fig.layout.xaxis.title.text
    assert "MMLU" in fig.layout.yaxis.title.text
    assert sum(len(t.x) for t in fig.data) == len(charts.capability_cost_frame(catalog))
    assert len(charts.capability_cost_frame(catalog)) > 5


def test_empty_plan_gives_empty_frames_and_labelled_figures(empty_plan):
    assert empty_plan.recommendation is None
    assert charts.memory_breakdown(empty_plan).empty
    assert list(charts.memory_breakdown(empty_plan).columns) == ["candidate", "component", "gib", "capacity_gib"]
    assert set(charts.cost_curve(empty_plan)["kind"]) <= {"api"}
    assert charts.break_even_points(empty_plan) == []
    assert charts.memory_figure(empty_plan).layout.title.text
    assert charts.cost_figure(empty_plan).layout.title.text


def test_format_tokens():
    assert charts.format_tokens(1_234_567) == "1.23M"
    assert charts.format_tokens(2e12) == "2T"
    assert charts.format_tokens(950) == "950"


def test_a_plan_of_no_requests_draws_without_error():
    """?requests_per_day=0 once raised 'math domain error' from the chart's log10 of the volume."""
    from planner.plan.constraints import Constraints
    from planner.plan.recommend import recommend

    fig = charts.cost_figure(recommend(Constraints(requests_per_day=0)))
    assert fig.data, "the chart is empty"
    assert not any("this plan" in (a.text or "") for a in fig.layout.annotations), "a zero volume has no place on a log axis"


def test_log_axes_label_each_decade_in_words():
    """One tick a decade ('100k', '1M', '$10k'), never plotly's '1000, 2, 5, 10k'."""
    ticks = charts.decade_ticks(1e5, 1e12, charts.format_tokens)
    assert ticks["ticktext"] == ["100k", "1M", "10M", "100M", "1B", "10B", "100B", "1T"]
    dollars = charts.decade_ticks(1, 2e4, charts.usd_tick)
    assert dollars["ticktext"] == ["$1", "$10", "$100", "$1k", "$10k", "$100k"]


def test_names_from_uploads_show_as_typed_in_charts():
    """Plotly reads <a href>, <b> and <span> in labels: a model named with markup must not become a link."""
    plan = recommend(Constraints())
    evil = "<a href='x'>click<b>"  # (no '/': the label keeps what follows the last one)
    top = plan.recommendation.model_copy(update={"model": f"acme/{evil}", "model_name": evil})
    fig = charts.memory_figure(plan.model_copy(update={"recommendation": top}))
    labels = [*fig.layout.yaxis.categoryarray, *[t.name or "" for t in fig.data]]
    assert not any("<a " in label for label in labels) and any("&lt;a " in label for label in labels)
    cost = charts.cost_figure(plan.model_copy(update={"recommendation": top}))
    assert not any("<a " in (t.name or "") for t in cost.data)
