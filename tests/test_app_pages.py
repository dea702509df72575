"""Every page through Streamlit's AppTest: renders, reacts to its widgets, and reports bad input in place."""

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "streamlit_app.py")
PAGES = ["pages/plan.py", "pages/whatif.py", "pages/compare.py", "pages/catalogue.py", "pages/hardware.py",
         "pages/finetune.py", "pages/accuracy.py", "pages/probe.py", "pages/export.py"]
TIMEOUT_S = 60  # the What-if page computes a sweep of plans on a cold cache


def app(query_params: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    if query_params:
        at.query_params = dict(query_params)
    return at.run()


def shown(markdown: str) -> str:
    """What a reader sees of Markdown that escapes user text (ui.text.plain): backslashes and
    zero-width spaces dropped."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u200b", "")


def top_pick_model(at: AppTest) -> str:
    return shown(next(m.value for m in at.markdown if m.value.startswith("### ")).removeprefix("### "))


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def verdict_text(at: AppTest) -> str:
    return next(box.value for box in [*at.success, *at.info, *at.warning] if box.value.startswith("**Verdict"))


def table_with(at: AppTest, *columns: str):
    """The first data frame shown that has these columns (AppTest does not expose a frame's key)."""
    for frame in at.dataframe:
        value = frame.value
        if set(columns) <= set(value.columns):
            return value
    raise AssertionError(f"no table with columns {columns}")


def side_by_side(at: AppTest):
    """The Compare page's table: a column per scenario, a row per figure."""
    return next(f.value for f in at.dataframe if "Cost ($/month)" in f.value.index)


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_by_default(page):
    at = app()
    if page != "pages/plan.py":
        at.switch_page(page).run()
    assert_clean(at)
    assert at.title, f"{page} has no title"
    assert not at.error, [e.value for e in at.error]


def test_plan_page_default_shows_a_real_plan():
    at = app()
    assert_clean(at)
    assert top_pick_model(at)
    assert metric(at, "Monthly cost ($/month)").startswith("$")
    assert int(metric(at, "Replicas")) >= 1
    assert "Verdict" in verdict_text(at)
    assert any(d for d in at.dataframe), "the alternatives table is missing"
    # The findings name their rule ids.
    assert any("`guide." in m.value or "`prefer." in m.value for m in at.markdown)


def test_more_requests_change_the_plan():
    at = app()
    before = (top_pick_model(at), metric(at, "Replicas"), metric(at, "Monthly cost ($/month)"))
    at.number_input(key="requests_per_day").set_value(5_000_000).run()
    assert_clean(at)
    after = (top_pick_model(at), metric(at, "Replicas"), metric(at, "Monthly cost ($/month)"))
    assert after[:2] != before[:2], "neither the pick nor the replicas changed with 250× the traffic"
    assert after[2] != before[2]


def test_offline_privacy_makes_the_verdict_self_host():
    at = app()
    at.selectbox(key="privacy").set_value("offline").run()
    assert_clean(at)
    assert "Self-host" in verdict_text(at)
    assert any("privacy.offline" in m.value for m in at.markdown)


def test_context_smaller_than_the_request_is_reported_at_the_field():
    at = app()
    at.number_input(key="context_tokens").set_value(500).run()
    assert_clean(at)
    messages = [shown(e.value) for e in at.error]
    assert any("Context length (500) must hold" in m for m in messages), messages
    assert not any("context_tokens" in m for m in messages), "a field name, not its label, is shown"
    # Drawn in the sidebar under the widget, and the value the user typed is kept.
    assert any("Context length" in shown(e.value) for e in at.sidebar.error)
    assert at.number_input(key="context_tokens").value == 500
    assert not [m for m in at.markdown if m.value.startswith("### ")], "a stale plan is still shown"
    # Fixing the value brings the plan back.
    at.number_input(key="context_tokens").set_value(8192).run()
    assert not at.error
    assert top_pick_model(at)


def test_choosing_to_own_gpus_keeps_the_plan_until_one_is_chosen():
    at = app()
    at.radio(key="hardware_mode").set_value("own").run()
    assert_clean(at)
    assert top_pick_model(at), "switching to owned GPUs cleared the plan before a GPU could be chosen"
    assert any("Choose the GPUs you own" in i.value for i in at.sidebar.info)
    at.multiselect(key="gpus_owned").set_value(["rtx-4090"]).run()
    at.number_input(key="gpu_count__rtx-4090").set_value(2).run()
    assert_clean(at)
    assert not at.error
    assert "RTX 4090" in shown(next(m.value for m in at.markdown if "per replica" in m.value))


def test_constraints_persist_across_pages():
    at = app()
    at.number_input(key="requests_per_day").set_value(123_000).run()
    at.switch_page("pages/catalogue.py").run()
    at.switch_page("pages/plan.py").run()
    assert_clean(at)
    assert at.number_input(key="requests_per_day").value == 123_000
    assert any("123,000 requests/day" in shown(c.value) for c in at.sidebar.caption)


def test_url_parameters_reproduce_a_plan():
    at = app({"requests_per_day": "5000000", "privacy": "offline", "gpus_available": "h100-sxm:8"})
    assert_clean(at)
    assert at.number_input(key="requests_per_day").value == 5_000_000
    assert at.selectbox(key="privacy").value == "offline"
    assert at.multiselect(key="gpus_owned").value == ["h100-sxm"]
    assert at.number_input(key="gpu_count__h100-sxm").value == 8
    assert "Self-host" in verdict_text(at)


def test_owned_gpus_without_a_power_figure_show_a_cost_floor_not_zero():
    """Four owned A10Gs: no power figure is published, so the monthly cost metric says power is not counted."""
    at = app({"requests_per_day": "3000", "gpus_available": "a10g:4"})
    assert_clean(at)
    cost = next(m for m in at.metric if m.label == "Monthly cost ($/month)")
    assert cost.value.endswith("+") and "power not counted" in cost.proto.delta
    assert any("**Power not counted**" in m.value and "is a floor, not an estimate" in shown(m.value) for m in at.markdown)


def test_an_invalid_url_parameter_is_named_and_the_rest_of_the_link_applies():
    at = app({"requests_per_day": "lots", "commercial_use": "maybe", "privacy": "offline"})
    assert_clean(at)
    notice = " ".join(shown(w.value) for w in at.warning)
    assert "Requests a day" in notice and "Commercial use" in notice, notice
    assert at.number_input(key="requests_per_day").value == 20_000
    assert at.selectbox(key="privacy").value == "offline", "one bad parameter dropped the whole link"


def test_whatif_volume_slider_moves_the_pick_and_marks_changes():
    at = app()
    at.switch_page("pages/whatif.py").run()
    assert_clean(at)
    assert at.select_slider(key="whatif_volume")
    # Either the volumes where the pick changes are spelled out, or that it never does.
    changes = [i.value for i in at.info if "pick changes" in i.value]
    same = [c.value for c in at.caption if "same at every sampled volume" in c.value]
    assert changes or same
    if changes:
        figure = json.loads(at.get("plotly_chart")[0].proto.spec)
        labels = [a.get("text", "") for a in figure["layout"].get("annotations", [])]
        assert any(label.startswith("→") for label in labels), "the chart does not mark where the pick changes"
    low = at.select_slider(key="whatif_volume").set_value(1e5).run()
    low_text = next(m.value for m in low.markdown if "replica" in m.value and "/month" in m.value)
    high = at.select_slider(key="whatif_volume").set_value(1e12).run()
    assert_clean(high)
    high_text = next(m.value for m in high.markdown if "replica" in m.value and "/month" in m.value)
    assert low_text != high_text


def test_whatif_cost_sliders_change_cost_and_become_constraints():
    at = app()
    at.switch_page("pages/whatif.py").run()
    before = next(m.value for m in at.markdown if "replica" in m.value and "/month" in m.value)
    at.select_slider(key="gpu_usd_per_hour").set_value(8.0).run()
    assert_clean(at)
    after = next(m.value for m in at.markdown if "replica" in m.value and "/month" in m.value)
    assert after != before
    assert at.session_state["form_values"]["gpu_usd_per_hour"] == 8.0


def test_compare_shows_saved_scenarios_side_by_side():
    at = app()
    at.text_input(key="scenario_name").set_value("small").run()
    at.button(key="save_scenario").click().run()
    at.number_input(key="requests_per_day").set_value(5_000_000).run()
    at.text_input(key="scenario_name").set_value("big").run()
    at.button(key="save_scenario").click().run()
    at.switch_page("pages/compare.py").run()
    assert_clean(at)
    assert [s.value for s in at.subheader][:2] == ["small", "big"]
    table = side_by_side(at)
    assert list(table.columns) == ["small", "big"]
    dollars = [float(v.strip("$").replace(",", "")) for v in table.loc["Cost ($/month)"]]
    assert dollars[1] > dollars[0]
    assert {"Capability", "Verdict", "Priority"} <= set(table.index)
    differ = next(f.value for f in at.dataframe if "small" in f.value.columns and "Verdict" not in f.value.index)
    assert list(differ.index) == ["Requests a day"], "the settings that differ are not listed"
    # The scenarios ride in the URL, so a reload keeps them.
    assert at.query_params.get("scenarios")
    at.button(key="scenario_remove_0").click().run()
    assert list(side_by_side(at).columns) == ["big"]


def test_compare_quick_add_makes_two_scenarios():
    at = app()
    at.switch_page("pages/compare.py").run()
    at.button(key="compare_quick_add").click().run()
    assert_clean(at)
    assert len(side_by_side(at).columns) == 2


def test_catalogue_filters_tables():
    at = app()
    at.switch_page("pages/catalogue.py").run()
    total = len(table_with(at, "memory_bandwidth_gb_s"))
    at.text_input(key="filter_gpus").set_value("H100").run()
    assert_clean(at)
    filtered = table_with(at, "memory_bandwidth_gb_s")
    assert 0 < len(filtered) < total
    assert "h100-sxm" in set(filtered["id"]) and "rtx-4090" not in set(filtered["id"])
    assert {"source", "as_of"} <= set(filtered.columns)


BAD_CONFIG = b'{"hidden_size": 4096, "num_attention_heads": 32, "vocab_size": 32000}'
GOOD_CONFIG = b"""{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
 "intermediate_size": 8192, "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8,
 "vocab_size": 128256, "max_position_embeddings": 131072, "tie_word_embeddings": true}"""


def test_catalogue_rejects_a_bad_config_with_a_clear_message():
    at = app()
    at.switch_page("pages/catalogue.py").run()
    at.file_uploader(key="hf_config").set_value(("config.json", BAD_CONFIG, "application/json"))
    at.button(key="hf_add").click().run()
    assert_clean(at)
    assert any("num_hidden_layers" in shown(e.value) for e in at.error), [e.value for e in at.error]
    at.file_uploader(key="hf_config").set_value(("config.json", b"not json", "application/json"))
    at.button(key="hf_add").click().run()
    assert any("not valid JSON" in shown(e.value) for e in at.error)


def test_catalogue_adds_a_custom_model_that_plans_consider():
    at = app()
    at.switch_page("pages/catalogue.py").run()
    at.file_uploader(key="hf_config").set_value(("config.json", GOOD_CONFIG, "application/json"))
    at.text_input(key="hf_model_id").set_value("acme/tiny-llama").run()
    at.button(key="hf_add").click().run()
    assert_clean(at)
    assert any("acme/tiny-llama" in shown(s.value) for s in at.success)
    assert "acme/tiny-llama" in list(table_with(at, "params_total_b")["id"])
    line = next(shown(m.value) for m in at.markdown if "acme/tiny-llama" in shown(m.value))
    assert "with your constraints" in line or "ruled out" in line
    # Restricting the plan to the new model gives a plan for it.
    at.switch_page("pages/plan.py").run()
    at.multiselect(key="models").set_value(["acme/tiny-llama"]).run()
    assert_clean(at)
    assert top_pick_model(at) == "tiny-llama"


def test_catalogue_adds_several_configs_at_once_and_flags_stale_prices():
    """The upload takes several config.json files at once, as `add-model --config FOLDER` does, each named by
    its file (org__model.json); prices older than 180 days are flagged above the tables."""
    root = Path(__file__).resolve().parent.parent / "data" / "configs"
    at = app()
    at.switch_page("pages/catalogue.py").run()
    assert any("older than 180 days" in w.value for w in at.warning), [w.value for w in at.warning]
    files = [("acme__next.json", (root / "Qwen__Qwen3-Next-80B-A3B-Instruct.json").read_bytes(), "application/json"),
             ("acme__nano.json", (root / "nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.json").read_bytes(), "application/json")]
    at.file_uploader(key="hf_config").set_value(files)
    at.button(key="hf_add").click().run()
    assert_clean(at)
    message = next(shown(s.value) for s in at.success)
    assert "acme/next" in message and "acme/nano" in message and "hybrid linear attention" in message
    ids = set(table_with(at, "params_total_b")["id"])
    assert {"acme/next", "acme/nano"} <= ids


def test_hardware_page_says_plainly_when_there_is_no_gpu(monkeypatch):
    import planner.catalog.local_gpus

    monkeypatch.setattr(planner.catalog.local_gpus, "detect_gpus",
                        lambda nvml=None: planner.catalog.local_gpus.Detection(gpus=[], reason="No driver."))
    at = app()
    at.switch_page("pages/hardware.py").run()
    assert_clean(at)
    assert any("No NVIDIA GPU was found" in i.value for i in at.info)


def test_plan_page_sets_the_objective_and_shows_the_decision():
    at = app({"requests_per_day": "20000"})
    at.selectbox(key="priority").set_value("quality").run()
    assert not at.exception
    objective = [m.value for m in at.markdown if m.value.startswith("**Objective**")]
    assert objective and "quality" in objective[0]
    assert any(m.value.startswith(("*More capable:*", "*Cheaper:*")) for m in at.markdown)
    assert at.query_params.get("priority") in ("quality", ["quality"])


def test_a_link_carries_the_objective_fields():
    at = app({"priority": "cost", "deployment": "office", "min_replicas": "3", "needs_max_capability": "true"})
    assert not at.exception
    assert at.selectbox(key="priority").value == "cost" and at.selectbox(key="deployment").value == "office"
    assert at.number_input(key="min_replicas").value == 3 and at.toggle(key="needs_max_capability").value is True


def test_finetune_opens_on_the_plans_model_and_hardware():
    from planner.plan.constraints import Constraints
    from planner.plan.recommend import recommend

    top = recommend(Constraints(requests_per_day=200_000)).recommendation
    at = app({"requests_per_day": "200000"})
    at.switch_page("pages/finetune.py").run()
    assert_clean(at)
    assert at.selectbox(key="ft_model").value == top.model
    from planner.catalog.loading import load_catalog

    if load_catalog().gpus[top.gpu].kind not in {"apple", "cpu"}:  # the page trains on GPUs only
        assert at.selectbox(key="ft_gpu").value == top.gpu and at.number_input(key="ft_gpus").value == top.gpus
    assert any("plan's model" in shown(c.value) for c in at.caption)


def test_whatif_opens_at_the_plans_volume_and_asks_owned_hardware_for_power_not_rent():
    from planner.plan import whatif
    from planner.plan.constraints import Constraints

    at = app({"requests_per_day": "12345"})
    at.switch_page("pages/whatif.py").run()
    assert_clean(at)
    assert at.select_slider(key="whatif_volume").value == whatif.tokens_per_month_for(Constraints(requests_per_day=12345))
    assert any("your plan's volume" in c.value for c in at.caption)
    assert at.select_slider(key="gpu_usd_per_hour") and at.select_slider(key="utilisation")
    owned = app({"gpus_available": "rtx-4090:2"})
    owned.switch_page("pages/whatif.py").run()
    assert_clean(owned)
    keys = {s.key for s in owned.select_slider}
    assert {"amortisation_months", "power_usd_per_kwh"} <= keys and "gpu_usd_per_hour" not in keys
