"""Hostile config.json and params.json files at `add-model`: a file is added as a plausible model (exit 0)
or refused in one clean line naming the file and the field (exit 2); never a traceback, and a refusal
leaves the user's models file and data/ as they were."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.catalog.hf_checks import INT_FIELDS
from planner.catalog.loading import DATA_DIR
from planner.catalog.plausible import architecture_fault
from planner.catalog.user_models import load_user_models, user_models_path
from tests.hostile_support import DATA, PEAK_RSS_LIMIT_MIB, assert_one_clean_line, peak_rss_mib, run_main, snapshot, strict_json

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
BASES = {name: json.loads((DATA_DIR / "configs" / name).read_text()) for name in (
    "HuggingFaceTB__SmolLM3-3B.json", "Qwen__Qwen3-Next-80B-A3B-Instruct.json", "moonshotai__Kimi-K2-Instruct.json",
    "nvidia__NVIDIA-Nemotron-Nano-9B-v2.json", "Qwen__Qwen3-Coder-30B-A3B-Instruct.json")}
# A Mistral params.json (mistral-inference's names), with a mixture-of-experts block.
MISTRAL = {"dim": 4096, "n_layers": 32, "head_dim": 128, "hidden_dim": 14336, "n_heads": 32, "n_kv_heads": 8,
           "vocab_size": 32768, "max_seq_len": 32768, "moe": {"num_experts": 8, "num_experts_per_tok": 2}}
MISTRAL_FIELDS = ["dim", "n_layers", "head_dim", "hidden_dim", "n_heads", "n_kv_heads", "vocab_size", "max_seq_len", "moe"]

hostile = st.one_of(
    st.sampled_from([0, -1, -5, 1, 2, 3, 7, True, False, None, "4096", "", 1.5, 1e30, 1e308, -0.0, 10**12, 10**18, 2**63,
                     [], {}, [0], ["x"], {"num_experts": "8"}, {"num_experts": 0, "num_experts_per_tok": 9}]),
    st.integers(-10, 10**7), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
)


@pytest.fixture(autouse=True)
def user_file(tmp_path, monkeypatch):
    path = tmp_path / "user-models.json"
    monkeypatch.setenv("PLANNER_USER_MODELS_FILE", str(path))
    path.write_text("[]")
    return path


@pytest.fixture(scope="module", autouse=True)
def data_untouched():
    before = snapshot(DATA)
    yield
    assert snapshot(DATA) == before, "a file under data/ changed"


def _add(tmp_path, raw: bytes, file_name: str = "acme__hostile.json") -> tuple[int, str, str, bytes, bytes]:
    user = user_models_path()
    before = user.read_bytes()
    path = tmp_path / file_name
    path.write_bytes(raw)
    code, out, err = run_main(["add-model", "--config", str(path), "--json"])
    return code, out, err, before, user.read_bytes()


def _check(code: int, out: str, err: str, before: bytes, after: bytes, *names: str) -> None:
    assert code in (0, 2), err
    if code == 0:
        assert [m["id"] for m in strict_json(out)] == ["acme/hostile"]
    if code == 2:
        assert_one_clean_line(err, *names)
        assert "acme__hostile.json" in err
        assert after == before, "a refused file changed the user's models"
    else:
        added = load_user_models()[-1]
        assert architecture_fault(lambda f: getattr(added, f)) is None


# A width that is plausible alone can make a model too large: the message then names the parameter count.
DERIVED = ("params_total_b", "params_active_b")


@SETTINGS
@given(base=st.sampled_from(sorted(BASES)), field=st.sampled_from(sorted(INT_FIELDS) + ["num_hidden_layers", "text_config",
       "attn_type_list", "layer_types", "hybrid_override_pattern", "linear_attn_config", "multi_query"]), value=hostile)
def test_a_config_with_any_value_in_any_field_is_added_or_refused_naming_it(base, field, value, tmp_path):
    cfg = {**BASES[base], field: value}
    code, out, err, before, after = _add(tmp_path, json.dumps(cfg).encode())
    _check(code, out, err, before, after, field, *DERIVED)


@SETTINGS
@given(field=st.sampled_from(MISTRAL_FIELDS), value=hostile)
def test_a_mistral_params_json_with_any_value_is_added_or_refused_naming_it(field, value, tmp_path):
    code, out, err, before, after = _add(tmp_path, json.dumps({**MISTRAL, field: value}).encode())
    _check(code, out, err, before, after, field, *DERIVED)


RAW = {
    "not UTF-8": (b'{"model_type": "caf\xe9"}', "not UTF-8"),
    "nested 5,000 deep": (b'{"text_config": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "nested"),
    "nested 50,000 deep": (b'{"text_config": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "lists and objects"),
    "a 5,000-digit integer": (b'{"num_hidden_layers": ' + b"9" * 5_000 + b"}", "num_hidden_layers"),
    "NaN": (b'{"hidden_size": NaN}', "hidden_size"),
    "a 2 MB file": (json.dumps({"notes": "x" * 2_000_000}).encode(), "larger than"),
    "an escape sequence in a field name": (json.dumps({**BASES["HuggingFaceTB__SmolLM3-3B.json"], "\x1b[31mx": 1}).encode(), "field name"),
    "a lone surrogate in model_type": (json.dumps({**BASES["HuggingFaceTB__SmolLM3-3B.json"], "model_type": "\ud800"}).encode(), "model_type"),
}


@pytest.mark.parametrize("name", list(RAW))
def test_hostile_files_are_refused_and_add_nothing(name, tmp_path):
    raw, needle = RAW[name]
    code, out, err, before, after = _add(tmp_path, raw)
    assert code == 2 and not out
    assert_one_clean_line(err, needle)
    assert after == before


@pytest.mark.parametrize("change, needle", [
    ({"num_attention_heads": 0}, "num_attention_heads"), ({"num_attention_heads": True}, "num_attention_heads"),
    ({"num_key_value_heads": 0}, "num_key_value_heads"), ({"num_key_value_heads": 64}, "num_key_value_heads"),
    ({"num_key_value_heads": 3}, "num_key_value_heads"), ({"head_dim": 0}, "head_dim"),
    ({"intermediate_size": -5}, "intermediate_size"), ({"num_hidden_layers": 10**12}, "num_hidden_layers"),
    ({"hidden_size": "2048"}, "hidden_size"), ({"head_dim": None, "hidden_size": 2049}, "hidden_size"),
    ({"num_local_experts": 8, "num_experts_per_tok": 9}, "num_experts_per_tok"), ({"vocab_size": 1e30}, "vocab_size"),
    ({"num_hidden_layers": 1000, "hidden_size": 131072, "num_attention_heads": 1024, "intermediate_size": 1048576}, "params_total_b"),
])
def test_implausible_architectures_are_refused_naming_the_field(change, needle, tmp_path):
    code, out, err, before, after = _add(tmp_path, json.dumps({**BASES["HuggingFaceTB__SmolLM3-3B.json"], **change}).encode())
    assert code == 2, out
    assert_one_clean_line(err, needle)
    assert after == before


def test_a_folder_of_too_many_files_is_refused(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(300):
        (folder / f"acme__m{i}.json").write_text("{}")
    code, out, err = run_main(["add-model", "--config", str(folder)])
    assert code == 2
    assert_one_clean_line(err, "--config")


def test_add_model_names_are_printable_and_short(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(BASES["HuggingFaceTB__SmolLM3-3B.json"]))
    for name in ("\x1b[31macme/red", "acme/" + "m" * 500):
        code, out, err = run_main(["add-model", "--config", str(path), "--name", name])
        assert code == 2
        assert_one_clean_line(err, "--name")


def test_peak_memory_of_a_hostile_config_is_bounded(tmp_path):
    path = tmp_path / "acme__deep.json"
    path.write_bytes(b"[" * 1_000 + b"1.5," * 240_000 + b"1" + b"]" * 1_000)  # just under 1 MiB, deep and long
    code, peak_mib, err = peak_rss_mib(["add-model", "--config", str(path)], env={"PLANNER_USER_MODELS_FILE": str(tmp_path / "u.json")})
    assert code == 2, err
    assert peak_mib < PEAK_RSS_LIMIT_MIB, f"peak {peak_mib:.0f} MiB"
    assert not (tmp_path / "u.json").exists()


@pytest.mark.parametrize("change, needle", [
    ({"params_total_b": 1e12, "params_active_b": 1e12}, "params_total_b"), ({"head_dim": 0}, "head_dim"),
    ({"kv_heads": 3}, "kv_heads"), ({"layers": 10**12}, "layers"), ({"intermediate_size": -1}, "intermediate_size"),
])
def test_a_hand_edited_user_models_file_is_refused_naming_the_field(change, needle, user_file):
    """An implausible model in the user's own file is never planned: every command that reads it says which field."""
    from planner.catalog.loading import load_catalog

    row = load_catalog().models["meta-llama/Llama-3.1-8B-Instruct"].model_dump(mode="json")
    user_file.write_text(json.dumps([{**row, "id": "acme/edited", **change}]))
    before = user_file.read_bytes()
    code, out, err = run_main(["estimate", "--model", "acme/edited", "--quant", "fp16", "--gpu", "h100-sxm"])
    assert code == 2 and not out
    assert_one_clean_line(err, needle)
    assert user_file.read_bytes() == before


def test_a_failed_save_leaves_the_users_models_as_they_were(tmp_path, user_file, monkeypatch):
    import os

    def refuse(src, dst):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    code, out, err, before, after = _add(tmp_path, json.dumps(BASES["HuggingFaceTB__SmolLM3-3B.json"]).encode())
    assert code == 1 and not out
    assert_one_clean_line(err, "cannot write")
    assert after == before and [p.name for p in user_file.parent.iterdir() if p.name.endswith(".tmp")] == []
