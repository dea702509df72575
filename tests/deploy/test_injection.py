"""Hostile text cannot become a command or break a manifest (issue 20).

Two walls: model ids must be Hugging Face repo ids where they enter (the catalogue record, add-model, a
plan file handed to the deployment files), and every generated file escapes what it interpolates anyway
(shell quoting, comments kept on one line, YAML through the YAML library). The second wall is checked by
running the generated scripts for real, with stub programs on PATH, and by parsing the YAML files.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.catalog.hf_config import model_from_hf_config
from planner.catalog.repo_id import is_repo_id
from planner.catalog.user_models import models_from_configs
from planner.deploy.files import layout_files
from planner.errors import CatalogError
from tests.deploy.support import make_layout, two_node_layout

PAYLOADS = [
    "evil/x\ntouch \"$MARK\"",
    "evil/x\rtouch \"$MARK\"",
    "evil/x\u2028touch \"$MARK\"",
    "evil/x\x85touch \"$MARK\"",
    "evil/$(touch \"$MARK\")",
    "evil/`touch \"$MARK\"`",
    "evil/x'; touch \"$MARK\"; echo '",
    'evil/x"; touch "$MARK"; echo "',
    "evil/x\n---\nkind: Pod\n# ",
]

CONFIG = {"num_hidden_layers": 4, "hidden_size": 256, "num_attention_heads": 4, "num_key_value_heads": 2,
          "vocab_size": 1000, "intermediate_size": 512, "max_position_embeddings": 4096, "model_type": "llama"}


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_hostile_model_id_is_refused_where_it_enters(payload):
    assert not is_repo_id(payload)
    with pytest.raises(CatalogError, match="'id'"):
        model_from_hf_config(CONFIG, payload)
    # add-model / the Catalogue upload: `_name_or_path` from a third-party config.json
    with pytest.raises(CatalogError, match="model id|_name_or_path|Hugging Face repo id"):
        models_from_configs([("org__model.json", __import__("json").dumps({**CONFIG, "_name_or_path": payload}).encode())])


def test_repo_ids_of_the_hub_grammar_pass():
    for good in ["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen3-235B-A22B-Instruct-2507", "a/b", "org_1/name.v2"]:
        assert is_repo_id(good)
    for bad in ["noslash", "a/b/c", "-a/b", "a/b.", "a--b/c", "a/b..c", "a/" + "x" * 97, "a b/c", "ä/b"]:
        assert not is_repo_id(bad)


LAYOUTS = {
    "vllm": {}, "sglang": {"engine": "sglang"}, "tgi": {"engine": "tgi"}, "tensorrt-llm": {"engine": "tensorrt-llm"},
    "llama.cpp": {"engine": "llama.cpp", "quant": "q4_k_m", "quant_format": "gguf"},
    "ollama": {"engine": "ollama", "quant": "q4_k_m", "quant_format": "gguf"},
    "vllm-awq": {"quant": "awq-int4", "quant_format": "awq"},
}


def _stub_path(tmp: Path) -> Path:
    """Programs the scripts call, replaced by stubs that only exit 0 (python3 stays real)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for program in ["vllm", "llama-server", "ollama", "hf", "docker", "trtllm-serve", "text-generation-launcher", "sleep"]:
        stub = bin_dir / program
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def _render_everything(text: str) -> dict[str, str]:
    files = {}
    for key, changes in LAYOUTS.items():
        lay = make_layout(model=text, model_name=text, gpu_name=text, **changes)
        files.update({f"{key}/{n}": t for n, t in layout_files(lay).items()})
    files.update({f"two-node/{n}": t for n, t in layout_files(two_node_layout(model=text, model_name=text)).items()})
    return files


def _check_files(files: dict[str, str], tmp: Path) -> None:
    mark = tmp / "PWNED"
    bin_dir = _stub_path(tmp) if not (tmp / "bin").exists() else tmp / "bin"
    llama_dir = tmp / "llama.cpp"
    (llama_dir / "build" / "bin").mkdir(parents=True, exist_ok=True)
    (llama_dir / "convert_hf_to_gguf.py").write_text("")
    quantize = llama_dir / "build" / "bin" / "llama-quantize"
    quantize.write_text("#!/bin/sh\nexit 0\n")
    quantize.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MARK": str(mark), "LLAMA_CPP_DIR": str(llama_dir),
           "MODELS_DIR": str(tmp / "models"), "HOME": str(tmp)}
    for name, text in files.items():
        if name.endswith((".yaml", ".yml")):
            docs = list(yaml.safe_load_all(text))
            assert all(d is None or isinstance(d, dict) for d in docs), name
            assert not any(isinstance(d, dict) and d.get("kind") == "Pod" and "evil" in str(d) for d in docs), name
        elif name.endswith(".sh"):
            script = tmp / "script.sh"
            script.write_text(text)
            args = ["leader"] if "two-node" in name else []
            subprocess.run(["bash", str(script), *args], env=env, cwd=tmp, capture_output=True, timeout=30, check=False)
            assert not mark.exists(), f"{name} ran an injected command:\n{text}"
        elif name.endswith("Modelfile"):
            directives = [ln.split()[0] for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
            assert directives == ["FROM", "PARAMETER"], text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_generated_files_never_run_or_parse_injected_text(payload, tmp_path):
    payload = payload.replace('"$MARK"', str(tmp_path / "PWNED")).replace("$MARK", str(tmp_path / "PWNED"))
    _check_files(_render_everything(payload), tmp_path)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40))
def test_generated_files_stay_inert_for_any_text(tmp_path_factory, text):
    tmp = tmp_path_factory.mktemp("any")
    hostile = f"x/{text}\ntouch {tmp / 'PWNED'}"
    _check_files(_render_everything(hostile), tmp)


def test_a_plan_file_with_a_hostile_model_id_writes_no_files(tmp_path):
    from planner.deploy.files import write_deploy_dir
    from planner.deploy.layout import DeploymentError
    from planner.plan.constraints import Constraints
    from planner.plan.recommend import recommend

    plan = recommend(Constraints.model_validate({"requests_per_day": 100, "models": ["meta-llama/Llama-3.1-8B-Instruct"]}))
    assert plan.recommendation is not None
    hostile = plan.model_copy(update={"recommendation": plan.recommendation.model_copy(
        update={"model": "evil/x\ntouch /tmp/PWNED"})})
    with pytest.raises(DeploymentError, match="Hugging Face repo id"):
        write_deploy_dir(hostile, tmp_path / "deploy")
    assert not (tmp_path / "deploy").exists() or not any((tmp_path / "deploy").iterdir())
