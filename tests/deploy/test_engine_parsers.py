"""Generated deployment files, checked by the tools that will read them: the engines' own argument
parsers (vLLM, SGLang), `bash -n` and shellcheck, kubernetes-validate, and the compose-spec schema.

One scenario per engine and hardware class. The arguments checked are the ones the engine would get:
each launch script runs with the engine programs replaced by a recorder (so bash's quoting and
variable expansion are applied), and each compose service and Kubernetes container is read back the
same way (a `sh -c` line runs through the recorder; a plain argument list is taken as it is).

llama.cpp's parser is `llama-server` itself, built from source by `make llama-server` (part of
`make test`); without the build that check skips. Engines whose parser cannot be installed here skip
that one check with the reason: TensorRT-LLM (`trtllm-serve`'s module imports the CUDA-built
tensorrt_llm package at import time), TGI and Ollama (Rust and Go binaries no registry here ships).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from planner.deploy.files import deployment_files, layout, layout_files
from planner.deploy.layout import Layout
from planner.plan.constraints import Constraints
from planner.plan.recommend import recommend

from .parsers_support import (
    after,
    compose_complaints,
    compose_interpolate,
    kubernetes_complaints,
    kubernetes_substitute,
    llama_server_rejection,
    record_calls,
    sglang_rejection,
    shell_complaints,
    vllm_rejection,
)
from .support import make_layout, two_node_layout

GGUF = {"quant_format": "gguf", "quant": "q4_k_m"}
AMD = {"vendor": "amd", "gpu": "mi300x", "gpu_name": "AMD Instinct MI300X"}
CPU = {"vendor": "cpu", "gpu": "cpu", "gpu_name": "CPU", "gpus": 0, "gpu_layers": 0}

SCENARIOS: dict[str, Layout] = {
    "vllm-nvidia-1gpu": make_layout(),
    "vllm-nvidia-tp4-fp8": make_layout(gpus=4, tensor_parallel=4, quant="fp8", kv_cache_dtype="fp8", cpu_offload_gib=2.1),
    "vllm-nvidia-awq-3-replicas": make_layout(quant="awq-int4", replicas=3),
    "vllm-nvidia-2-nodes": two_node_layout(),
    "vllm-amd-gptq-tp2": make_layout(**AMD, quant="gptq-int4", gpus=2, tensor_parallel=2),
    "vllm-nvidia-gguf": make_layout(**GGUF),
    "sglang-nvidia-tp2-fp8": make_layout(engine="sglang", gpus=2, tensor_parallel=2, quant="fp8", kv_cache_dtype="fp8"),
    "sglang-nvidia-bnb": make_layout(engine="sglang", quant="bnb-nf4"),
    "sglang-nvidia-2-nodes": two_node_layout(engine="sglang", tensor_parallel=16, pipeline_parallel=1),
    "tensorrt-llm-nvidia-tp2-fp8-cache": make_layout(engine="tensorrt-llm", gpus=2, tensor_parallel=2, kv_cache_dtype="fp8"),
    "tgi-nvidia": make_layout(engine="tgi", gpus=2, tensor_parallel=2),
    "tgi-amd": make_layout(engine="tgi", **AMD),
    "llama.cpp-nvidia-2gpu-partial": make_layout(engine="llama.cpp", **GGUF, gpus=2, gpu_layers=20, kv_cache_dtype="q8_0"),
    "llama.cpp-cpu": make_layout(engine="llama.cpp", **GGUF, **CPU),
    "ollama-nvidia": make_layout(engine="ollama", **GGUF),
    "ollama-amd": make_layout(engine="ollama", **GGUF, **AMD),
    # a hybrid model run in its non-thinking mode: the chat-template switch as the server's default
    "vllm-nvidia-non-thinking": make_layout(reasoning_mode="non-thinking", chat_template_kwargs={"enable_thinking": False}),
    "llama.cpp-nvidia-non-thinking": make_layout(engine="llama.cpp", **GGUF, reasoning_mode="non-thinking",
                                                 chat_template_kwargs={"enable_thinking": False}),
}

# The words that start each engine's server, and where a container leaves them to the image's entrypoint.
PROGRAM = {"vllm": ["vllm", "serve"], "sglang": ["python3", "-m", "sglang.launch_server"], "llama.cpp": ["llama-server"]}
PARSER = {"vllm": vllm_rejection, "sglang": sglang_rejection, "llama.cpp": llama_server_rejection}
# Images whose entrypoint is the server, so a container's args are the server's arguments.
ENTRYPOINT_SERVES = {"vllm", "llama.cpp"}
NO_PARSER = {
    "tensorrt-llm": "trtllm-serve's parser lives in tensorrt_llm.commands.serve, which imports the CUDA-built "
                    "tensorrt_llm package at import time",
    "ollama": "ollama is a Go binary that no registry reached here ships",
    "tgi": "text-generation-launcher is a Rust binary that no registry reached here ships",
}
# What a two-node launch needs from its surroundings: the role and leader (scripts), LWS's variables
# (Kubernetes), LEADER_ADDRESS (compose).
SCRIPT_RUNS = {"vllm.sh": [["leader"], ["worker", "10.0.0.1"]]}
SCRIPT_ENV = {"NODE_RANK": "1", "LEADER_ADDRESS": "10.0.0.1"}
# LWS puts these in every pod of a group (https://lws.sigs.k8s.io/docs/reference/labels-annotations-and-environment-variables/).
LWS_ENV = {"LWS_GROUP_SIZE": "2", "LWS_LEADER_ADDRESS": "llama-0.llama.default", "LWS_WORKER_INDEX": "1"}
LAUNCH_SCRIPTS = {"vllm": "vllm.sh", "sglang": "sglang.sh", "llama.cpp": "llama-server.sh"}


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def scenario(request) -> tuple[str, Layout, dict[str, str]]:
    lay = SCENARIOS[request.param]
    return request.param, lay, layout_files(lay)


def containers(doc: dict) -> list[tuple[str, dict]]:
    if doc["kind"] == "Deployment":
        return [(doc["kind"], c) for c in doc["spec"]["template"]["spec"]["containers"]]
    if doc["kind"] == "LeaderWorkerSet":
        template = doc["spec"]["leaderWorkerTemplate"]
        return [(role, c) for role in ("leaderTemplate", "workerTemplate") if role in template
                for c in template[role]["spec"]["containers"]]
    return []


def shell_lines(files: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """Every `sh -c` line in the compose file and the manifests: (where, line as the shell gets it, env)."""
    found = []
    for name, service in yaml.safe_load(files["docker-compose.yaml"])["services"].items():
        if service.get("entrypoint") == ["sh", "-c"]:
            found.append((f"compose {name}", service["command"][0].replace("$$", "$"), SCRIPT_ENV))
        elif (service.get("command") or [None])[:2] == ["sh", "-c"]:
            found.append((f"compose {name}", service["command"][2].replace("$$", "$"), SCRIPT_ENV))
    for doc in (d for d in yaml.safe_load_all(files["kubernetes.yaml"]) if d):
        for where, c in containers(doc):
            if (c.get("command") or [None])[:2] == ["sh", "-c"]:
                found.append((f"kubernetes {where}", kubernetes_substitute(c["command"][2], LWS_ENV), {}))
    return found


def engine_calls(lay: Layout, files: dict[str, str], tmp_path: Path) -> list[tuple[str, list[str]]]:
    """(where, arguments after the engine's program words) for every place the files start the engine."""
    program = PROGRAM[lay.engine]
    calls: list[tuple[str, list[str]]] = []
    script = LAUNCH_SCRIPTS[lay.engine]
    (tmp_path / script).write_text(files[script])
    for extra in SCRIPT_RUNS.get(script, [[]]):
        for argv in record_calls(tmp_path, ["bash", script, *extra], SCRIPT_ENV):
            if argv[:len(program)] == program:
                calls.append((f"{script} {' '.join(extra)}".strip(), after(argv, program)))
    for where, line, env in shell_lines(files):
        for argv in record_calls(tmp_path, ["sh", "-c", line], env):
            if argv[:len(program)] == program:
                calls.append((where, after(argv, program)))
    plain = [(f"compose {name}", s.get("command"), s.get("entrypoint"))
             for name, s in yaml.safe_load(files["docker-compose.yaml"])["services"].items()]
    plain += [(f"kubernetes {where}", (c.get("command") or []) + c.get("args", []), c.get("command"))
              for doc in yaml.safe_load_all(files["kubernetes.yaml"]) if doc for where, c in containers(doc)]
    for where, words, entrypoint in plain:
        if not words or words[:2] == ["sh", "-c"] or entrypoint == ["sh", "-c"]:
            continue
        if where.startswith("compose"):
            words = [compose_interpolate(w, SCRIPT_ENV) for w in words]
        if words[:len(program)] == program:
            calls.append((where, after(words, program)))
        elif entrypoint is None and lay.engine in ENTRYPOINT_SERVES:
            calls.append((where, words))
    return calls


# Commands the engine's parser rejects today, reported to the owner of planner/deploy (strict: a fix makes
# the test say so). vLLM 0.33.0 has no "bitsandbytes" in QUANTIZATION_METHODS, nor as a load format.
KNOWN_REJECTIONS = {
}


def engine_complaints(name: str, lay: Layout, files: dict[str, str], tmp_path: Path) -> dict[str, str]:
    calls = engine_calls(lay, files, tmp_path)
    places = {where.split()[0] for where, _ in calls}
    assert places == {LAUNCH_SCRIPTS[lay.engine], "compose", "kubernetes"}, f"{name}: engine started in {places} only"
    rejected = {where: PARSER[lay.engine](args) for where, args in calls}
    return {where: why for where, why in rejected.items() if why}


def script_complaints(name: str, files: dict[str, str]) -> dict[str, str]:
    scripts = {n: t for n, t in files.items() if n.endswith(".sh")}
    assert scripts, name
    complaints = {n: shell_complaints(t) for n, t in scripts.items()}
    complaints |= {where: shell_complaints(line, "sh") for where, line, _ in shell_lines(files)}
    return {n: c for n, c in complaints.items() if c}


def manifest_complaints(lay: Layout, files: dict[str, str]) -> list[str]:
    complaints, kinds = kubernetes_complaints(files["kubernetes.yaml"])
    assert "Service" in kinds
    assert ("PodTemplate" in kinds) == lay.multi_node and ("Deployment" in kinds) != lay.multi_node
    return complaints


def test_the_engine_accepts_every_command(scenario, tmp_path, request):
    name, lay, files = scenario
    if name in KNOWN_REJECTIONS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_REJECTIONS[name]))
    if lay.engine in NO_PARSER:
        pytest.skip(f"{lay.engine}: {NO_PARSER[lay.engine]}")
    assert engine_complaints(name, lay, files, tmp_path) == {}, name


def test_shell_scripts_pass_bash_n_and_shellcheck(scenario):
    name, _, files = scenario
    assert script_complaints(name, files) == {}


def test_kubernetes_manifests_validate(scenario):
    name, lay, files = scenario
    assert manifest_complaints(lay, files) == [], name


def test_compose_file_matches_the_compose_spec(scenario):
    name, _, files = scenario
    assert compose_complaints(files["docker-compose.yaml"]) == [], name


# What the recommender itself picks for a few hardware classes, through deployment_files(plan).
PLANNED = {
    "8b-on-h100": Constraints(models=["llama3.1:8b"], gpus_available=[{"gpu": "h100-sxm", "count": 8}]),
    "8b-on-mi300x": Constraints(models=["llama3.1:8b"], gpus_available=[{"gpu": "mi300x", "count": 8}]),
    # a hybrid (thinking by default) planned non-thinking for summaries, on vLLM and on llama.cpp
    "qwen3.5-summaries-on-h100": Constraints(models=["Qwen/Qwen3.5-35B-A3B"], task="summarization",
                                             gpus_available=[{"gpu": "h100-sxm", "count": 8}]),
    "qwen3.5-summaries-on-one-rtx-5090": Constraints(task="summarization", requests_per_day=300,
                                                     gpus_available=[{"gpu": "rtx-5090", "count": 1}]),
    "8b-on-one-rtx-4090-on-prem": Constraints(models=["llama3.1:8b"], gpus_available=[{"gpu": "rtx-4090", "count": 1}],
                                              privacy="on-prem"),
}


@pytest.mark.parametrize("name", sorted(PLANNED))
def test_planned_deployment_files_pass_every_check(name, tmp_path):
    plan = recommend(PLANNED[name])
    assert plan.recommendation is not None, name
    lay = layout(plan)
    files = deployment_files(plan)
    assert script_complaints(name, files) == {}
    assert manifest_complaints(lay, files) == []
    assert compose_complaints(files["docker-compose.yaml"]) == []
    if lay.engine in PARSER:
        assert engine_complaints(name, lay, files, tmp_path) == {}


# --- the checkers catch what they are there to catch ------------------------------------------------

def test_vllm_parser_rejects_unknown_flags_and_bad_values():
    good = ["meta-llama/Llama-3.1-8B-Instruct", "--tensor-parallel-size", "2", "--kv-cache-dtype", "fp8"]
    assert vllm_rejection(good) == ""
    # TensorRT-LLM's and SGLang's names for vLLM's flags
    assert "unrecognized arguments: --max-batch-size 16" in vllm_rejection([*good, "--max-batch-size", "16"])
    assert "unrecognized arguments: --tp 2" in vllm_rejection([good[0], "--tp", "2"])
    assert "Invalid kv_cache_dtype: 'fp8_e4m3fn'" in vllm_rejection([good[0], "--kv-cache-dtype", "fp8_e4m3fn"])  # TGI's name
    assert "Unknown quantization method: awq-int4" in vllm_rejection([good[0], "--quantization", "awq-int4"])
    assert "invalid int value: 'two'" in vllm_rejection([good[0], "--max-num-seqs", "two"])


def test_sglang_parser_rejects_unknown_flags_and_bad_values():
    good = ["--model-path", "meta-llama/Llama-3.1-8B-Instruct", "--tp", "2"]
    assert sglang_rejection(good) == ""
    assert "unrecognized arguments: --max-num-seqs 16" in sglang_rejection([*good, "--max-num-seqs", "16"])  # vLLM's name
    assert "invalid choice: 'fp9'" in sglang_rejection([*good, "--kv-cache-dtype", "fp9"])
    assert "invalid int value: '$NODE_RANK'" in sglang_rejection([*good, "--node-rank", "$NODE_RANK"])


def test_llama_server_rejects_unknown_flags_and_bad_values():
    good = ["-m", "/models/missing.gguf", "-c", "4096", "-np", "4", "-fa", "on", "-ctk", "q8_0", "-ctv", "q8_0"]
    assert llama_server_rejection(good) == ""  # the parser accepts; loading the missing file is not its business
    assert llama_server_rejection([*good, "--max-num-seqs", "4"]) == "error: invalid argument: --max-num-seqs"
    assert "unknown value for --flash-attn: 'maybe'" in llama_server_rejection([*good, "-fa", "maybe"])
    assert "Unsupported cache type: q9_9" in llama_server_rejection([*good, "-ctk", "q9_9"])


def test_schema_checks_reject_unknown_fields():
    compose = "services:\n  s:\n    image: x\n    gpus_count: 2\n"
    assert any("gpus_count" in c for c in compose_complaints(compose))
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
                  "spec": {"replicas": "two", "selector": {"matchLabels": {"app": "x"}},
                           "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "x"}]}}}}
    complaints, _ = kubernetes_complaints(yaml.safe_dump(deployment))
    assert any("spec.replicas" in c for c in complaints)
    assert "SC2164" in shell_complaints('#!/usr/bin/env bash\ncd "$1"\nrm -r -- ./*\n')  # cd without || exit
    assert shell_complaints("#!/usr/bin/env bash\nif true; then\n").startswith("bash -n:")


def test_a_hybrid_planned_without_reasoning_is_launched_without_it():
    """The plan counts no hidden tokens for a hybrid model on a summary task; the launch must make that the
    server's default, or the model thinks (its template's default) and every number in the plan is wrong. A
    reasoning task keeps the template's default (thinking)."""
    summaries = recommend(PLANNED["qwen3.5-summaries-on-one-rtx-5090"])
    assert summaries.recommendation.reasoning["mode"] == "non-thinking"
    lay = layout(summaries)
    assert lay.chat_template_kwargs == {"enable_thinking": False}
    files = deployment_files(summaries)
    assert "--chat-template-kwargs '{\"enable_thinking\":false}'" in files[LAUNCH_SCRIPTS[lay.engine]]
    assert "non-thinking mode" in files["README.md"]
    on_vllm = deployment_files(recommend(PLANNED["qwen3.5-summaries-on-h100"]))
    assert "--default-chat-template-kwargs '{\"enable_thinking\":false}'" in on_vllm["vllm.sh"]
    thinking = recommend(PLANNED["qwen3.5-summaries-on-h100"].model_copy(update={"task": "reasoning"}))
    assert thinking.recommendation.reasoning["mode"] == "thinking"
    assert layout(thinking).chat_template_kwargs is None
    assert not any("chat-template-kwargs" in text or "chat_template_kwargs" in text for text in deployment_files(thinking).values())
