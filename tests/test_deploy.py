"""Deployment files: every file parses, and every file says the same thing as the plan.

Plans come from `recommend` where the recommender produces the case; engines and layouts it does
not produce today (a 16-GPU replica, SGLang, TGI, TensorRT-LLM, Ollama) are made by editing a real
plan's JSON and validating it back into a `Plan`.
"""

from __future__ import annotations

import io
import re
import shlex
import shutil
import subprocess
import zipfile

import pytest

from planner.catalog.loading import load_catalog
import yaml

from planner.deploy.files import (
    VERIFIED_FLAGS,
    deployment_files,
    deployment_zip,
    launch_commands,
    layout,
    write_deploy_dir,
)
from planner.plan.constraints import Constraints
from planner.plan.model import Plan
from planner.plan.recommend import recommend

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"
LLAMA_405B = "meta-llama/Llama-3.1-405B-Instruct"


def edited(plan: Plan, **changes) -> Plan:
    """A copy of `plan` whose top pick has `changes` (memory.* keys edit the memory estimate)."""
    data = plan.to_json_dict()
    top = data["recommendation"]
    for key, value in changes.items():
        if key.startswith("memory."):
            top["memory"][key.split(".", 1)[1]] = value
        else:
            top[key] = value
    top["total_gpus"] = top["gpus"] * top["replicas"]
    top["memory"]["gpus"] = top["gpus"]
    return Plan.model_validate(data)


@pytest.fixture(scope="module")
def small_plan() -> Plan:
    """One consumer GPU, owned, llama.cpp with a q8_0 KV cache."""
    plan = recommend(Constraints(models=["llama3.1:8b"], gpus_available=[{"gpu": "rtx-4090", "count": 1}],
                                 privacy="on-prem", kv_cache_dtype="q8_0"))
    assert plan.recommendation is not None
    if plan.recommendation.engine != "llama.cpp" or plan.recommendation.quant not in {"q8_0", "q4_k_m", "bf16", "fp16", "q6_k"}:
        plan = edited(plan, engine="llama.cpp", quant="q8_0", **{"memory.kv_cache_dtype": "q8_0", "memory.split": "single"})
    return plan


@pytest.fixture(scope="module")
def vllm_plan() -> Plan:
    """Llama 3.1 405B on owned H100s: a tensor-parallel vLLM replica inside one node."""
    plan = recommend(Constraints(models=[LLAMA_405B], gpus_available=[{"gpu": "h100-sxm", "count": 16}],
                                 min_tokens_per_s=5, max_ttft_s=None))
    assert plan.recommendation is not None
    top = plan.recommendation
    if top.engine != "vllm" or top.gpus < 2:
        plan = edited(plan, engine="vllm", quant="fp8", gpus=8, replicas=1, **{"memory.split": "tensor-parallel"})
    return plan


@pytest.fixture(scope="module")
def multi_node_plan(vllm_plan) -> Plan:
    """The same model on 16 GPUs per replica (two 8-GPU nodes). The recommender plans at most 8
    GPUs per replica, so this layout is made by editing the plan."""
    return edited(vllm_plan, engine="vllm", quant="fp8", gpus=16, replicas=1,
                  **{"memory.split": "tensor-parallel", "memory.kv_cache_dtype": "fp8"})


def scripts(files: dict[str, str]) -> dict[str, str]:
    return {name: text for name, text in files.items() if name.endswith(".sh")}


def command_args(script: str, program: str) -> list[str]:
    """The argument list of the first command in `script` that starts with `program`."""
    joined = re.sub(r"\\\n\s*", " ", script)
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped.startswith(program + " ") or stripped == program:
            return shlex.split(stripped)
    raise AssertionError(f"no {program!r} command in:\n{script}")


def option(args: list[str], *names: str) -> str:
    for i, arg in enumerate(args):
        if arg in names:
            return args[i + 1]
        for name in names:
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    raise AssertionError(f"none of {names} in {args}")


def check_all_parse(files: dict[str, str]) -> tuple[dict, list[dict]]:
    """YAML parses, compose has services, every shell command splits and passes `bash -n`."""
    compose = yaml.safe_load(files["docker-compose.yaml"])
    assert compose["services"], "compose file without services"
    manifests = [doc for doc in yaml.safe_load_all(files["kubernetes.yaml"]) if doc]
    assert manifests and all("apiVersion" in doc and "kind" in doc for doc in manifests)
    for name, text in scripts(files).items():
        assert text.startswith("#!/usr/bin/env bash"), name
        shlex.split(re.sub(r"\\\n", " ", text), comments=True)
        if shutil.which("bash"):
            result = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True, check=False)
            assert result.returncode == 0, f"{name}: {result.stderr}"
    for extra in (n for n in files if n.endswith(".yaml") and n not in {"docker-compose.yaml", "kubernetes.yaml"}):
        yaml.safe_load(files[extra])
    assert "README.md" in files
    return compose, manifests


def gpu_reservation(service: dict) -> int:
    devices = service["deploy"]["resources"]["reservations"]["devices"][0]
    assert devices["driver"] == "nvidia" and devices["capabilities"] == ["gpu"]
    return devices["count"] if "count" in devices else len(devices["device_ids"])


def containers(manifest: dict) -> list[dict]:
    if manifest["kind"] == "Deployment":
        return manifest["spec"]["template"]["spec"]["containers"]
    template = manifest["spec"]["leaderWorkerTemplate"]
    return template["leaderTemplate"]["spec"]["containers"] + template["workerTemplate"]["spec"]["containers"]


# --- single-GPU llama.cpp ----------------------------------------------------------------------


def test_small_plan_llama_cpp_files_match_the_plan(small_plan):
    top = small_plan.recommendation
    lay = layout(small_plan)
    files = deployment_files(small_plan)
    compose, manifests = check_all_parse(files)
    assert {"llama-server.sh", "Modelfile", "ollama.sh", "docker-compose.yaml", "kubernetes.yaml"} <= set(files)

    args = command_args(files["llama-server.sh"], "llama-server")
    context = top.memory.kv_tokens_per_sequence
    slots = top.memory.sequences
    assert option(args, "-np", "--parallel") == str(slots)
    assert option(args, "-c", "--ctx-size") == str(max(context * slots, layout(small_plan).request_limit))
    ngl = int(option(args, "-ngl", "--n-gpu-layers"))
    assert ngl == top.memory.gpu_layers or (top.memory.gpu_layers >= lay.layers and ngl >= lay.layers)
    assert option(args, "--alias") == top.model
    assert option(args, "--host") == "0.0.0.0" and option(args, "--port") == "8080"
    model_file = option(args, "-m", "--model")
    assert model_file.endswith(".gguf") and lay.model.split("/")[-1] in model_file
    if top.memory.kv_cache_dtype == "q8_0":
        assert option(args, "-ctk", "--cache-type-k") == "q8_0" and option(args, "-ctv", "--cache-type-v") == "q8_0"

    modelfile = files["Modelfile"]
    assert f"PARAMETER num_ctx {layout(small_plan).request_limit}" in modelfile
    from_line = next(line for line in modelfile.splitlines() if line.startswith("FROM "))
    assert from_line == f"FROM {model_file}" or ":" in from_line  # the same GGUF, or an Ollama library tag
    assert f"OLLAMA_NUM_PARALLEL={slots}" in files["ollama.sh"]

    (service,) = compose["services"].values()
    assert gpu_reservation(service) == 1
    assert service["command"] == args[1:]  # the image's entrypoint is llama-server
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    (container,) = containers(deployment)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == top.gpus
    assert container["args"] == args[1:]
    assert deployment["spec"]["replicas"] == top.replicas
    assert any(m["kind"] == "Service" for m in manifests)


def test_ollama_plan_uses_the_library_tag_when_its_default_weights_are_planned(small_plan):
    plan = edited(small_plan, engine="ollama", quant="q4_k_m", **{"memory.kv_cache_dtype": "fp16"})
    files = deployment_files(plan)
    compose, manifests = check_all_parse(files)
    assert "FROM llama3.1:8b" in files["Modelfile"]
    assert f"PARAMETER num_ctx {layout(plan).request_limit}" in files["Modelfile"]
    assert any(m["kind"] == "ConfigMap" and "Modelfile" in m["data"] for m in manifests)
    server = compose["services"][layout(plan).name]
    assert server["image"].startswith("ollama/ollama") and gpu_reservation(server) == 1


def test_partial_offload_sets_gpu_layers(small_plan):
    plan = edited(small_plan, **{"memory.gpu_layers": 20, "memory.cpu_offload_gib": 3.5})
    args = command_args(deployment_files(plan)["llama-server.sh"], "llama-server")
    assert option(args, "-ngl") == "20"


# --- multi-GPU vLLM ----------------------------------------------------------------------------


def test_vllm_plan_files_match_the_plan(vllm_plan):
    top = vllm_plan.recommendation
    files = deployment_files(vllm_plan)
    compose, manifests = check_all_parse(files)
    args = command_args(files["vllm.sh"], "vllm")
    assert args[:3] == ["vllm", "serve", top.model] or option(args, "--served-model-name") == top.model
    assert option(args, "--served-model-name") == top.model
    assert option(args, "--tensor-parallel-size") == str(top.gpus)
    assert option(args, "--pipeline-parallel-size") == "1"
    assert option(args, "--max-model-len") == str(layout(vllm_plan).request_limit)
    assert option(args, "--max-num-seqs") == str(top.memory.sequences)
    assert option(args, "--kv-cache-dtype") == ("fp8" if top.memory.kv_cache_dtype == "fp8" else "auto")
    expected_quant = {"fp8": "fp8", "bnb-nf4": "bitsandbytes", "awq-int4": "awq_marlin", "gptq-int4": "gptq_marlin"}.get(top.quant)
    lay = layout(vllm_plan)
    if lay.checkpoint_repo and top.quant == "fp8":  # a published FP8 checkpoint is served as published, config and all
        assert args[2] == lay.checkpoint_repo and "--quantization" not in args
    elif expected_quant:
        assert option(args, "--quantization") == expected_quant
    else:
        assert "--quantization" not in args

    services = compose["services"]
    assert sum(gpu_reservation(s) for s in services.values()) in {top.gpus, top.gpus * top.replicas}
    for service in services.values():
        assert service["command"][:2] == ["--model", args[2]]
        assert option(service["command"], "--tensor-parallel-size") == str(top.gpus)
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    (container,) = containers(deployment)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == top.gpus
    assert option(container["args"], "--max-model-len") == str(layout(vllm_plan).request_limit)
    assert deployment["spec"]["replicas"] == top.replicas


@pytest.mark.parametrize(("quant", "flag"), [("fp8", "fp8"), ("awq-int4", "awq_marlin"),
                                             ("gptq-int4", "gptq_marlin"), ("bf16", None)])
def test_vllm_quantization_flag(vllm_plan, quant, flag):
    plan = edited(vllm_plan, engine="vllm", quant=quant)
    files = deployment_files(plan)
    check_all_parse(files)
    args = command_args(files["vllm.sh"], "vllm")
    lay = layout(plan)
    if flag is None:
        assert "--quantization" not in args and args[2] == (lay.checkpoint_repo or plan.recommendation.model)
    elif quant == "fp8" and lay.checkpoint_repo:  # published: served as is, vLLM reads its quantization config
        assert "--quantization" not in args and args[2] == lay.checkpoint_repo
    else:
        assert option(args, "--quantization") == flag
    if quant in {"awq-int4", "gptq-int4"}:  # pre-quantized weights: the published checkpoint, served under the plan's id
        from planner.catalog.checkpoints import default_checkpoints

        published = default_checkpoints().checkpoints_for(plan.recommendation.model, quant)
        if published:
            assert args[2] == published[0].repo and "/models/" not in files["vllm.sh"]
        else:  # nobody published it: the user's own checkpoint, mounted where the command looks
            assert args[2].startswith("/models/") and "checkpoint" in files["vllm.sh"]
        assert option(args, "--served-model-name") == plan.recommendation.model


def test_pre_ampere_gpus_do_not_get_marlin_kernels(vllm_plan):
    plan = edited(vllm_plan, engine="vllm", quant="awq-int4", gpu="t4", gpu_name="NVIDIA T4", gpus=1, replicas=1)
    assert option(command_args(deployment_files(plan)["vllm.sh"], "vllm"), "--quantization") == "awq"


# --- multi-node --------------------------------------------------------------------------------


def test_multi_node_plan_is_a_leaderworkerset_with_ray(multi_node_plan):
    top = multi_node_plan.recommendation
    lay = layout(multi_node_plan)
    assert (lay.nodes, lay.gpus_per_node, lay.tensor_parallel, lay.pipeline_parallel) == (2, 8, 8, 2)
    files = deployment_files(multi_node_plan)
    compose, manifests = check_all_parse(files)
    lws = next(m for m in manifests if m["kind"] == "LeaderWorkerSet")
    assert lws["apiVersion"] == "leaderworkerset.x-k8s.io/v1"
    assert lws["spec"]["leaderWorkerTemplate"]["size"] == 2
    assert lws["spec"]["replicas"] == top.replicas
    leader, worker = containers(lws)
    for container in (leader, worker):
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 8
    leader_script = leader["command"][2]
    assert "multi-node-serving.sh leader --ray_cluster_size=$(LWS_GROUP_SIZE)" in leader_script.replace("$S", "multi-node-serving.sh")
    assert "worker --ray_address=$(LWS_LEADER_ADDRESS)" in worker["command"][2]
    vllm_args = shlex.split(leader_script.split("; ")[-1])
    assert vllm_args[:3] == ["vllm", "serve", layout(multi_node_plan).checkpoint_repo or top.model]
    assert option(vllm_args, "--tensor-parallel-size") == "8"
    assert option(vllm_args, "--pipeline-parallel-size") == "2"
    assert option(vllm_args, "--distributed-executor-backend") == "ray"
    assert ("--quantization" in vllm_args) == (layout(multi_node_plan).checkpoint_repo is None)  # the published FP8 repo carries its config
    assert option(vllm_args, "--max-model-len") == str(layout(multi_node_plan).request_limit)
    service = next(m for m in manifests if m["kind"] == "Service")
    assert service["spec"]["selector"] == {"leaderworkerset.sigs.k8s.io/name": lws["metadata"]["name"], "role": "leader"}
    assert not any(m["kind"] == "Deployment" for m in manifests)  # no home-made scheduler

    services = compose["services"]
    assert len(services) == 2 and all(gpu_reservation(s) == 8 for s in services.values())
    script_args = command_args(files["vllm.sh"], "vllm")
    assert option(script_args, "--tensor-parallel-size") == "8" and option(script_args, "--pipeline-parallel-size") == "2"


def test_sglang_multi_node_uses_its_own_flags_in_a_leaderworkerset(multi_node_plan):
    plan = edited(multi_node_plan, engine="sglang")
    files = deployment_files(plan)
    _, manifests = check_all_parse(files)
    lws = next(m for m in manifests if m["kind"] == "LeaderWorkerSet")
    leader, worker = containers(lws)
    leader_args = shlex.split(leader["command"][2])
    assert option(leader_args, "--tp") == "16" and option(leader_args, "--nnodes") == "2"
    assert option(leader_args, "--node-rank") == "0"
    assert "--node-rank $(LWS_WORKER_INDEX)" in worker["command"][2]


# --- the other engines --------------------------------------------------------------------------


def test_sglang_command(vllm_plan):
    plan = edited(vllm_plan, engine="sglang", quant="fp8", **{"memory.kv_cache_dtype": "fp8"})
    top = plan.recommendation
    files = deployment_files(plan)
    compose, manifests = check_all_parse(files)
    args = command_args(files["sglang.sh"], "python3")
    assert args[:3] == ["python3", "-m", "sglang.launch_server"]
    assert option(args, "--model-path") == (layout(plan).checkpoint_repo or top.model)
    assert option(args, "--tp") == str(top.gpus)
    assert option(args, "--context-length") == str(layout(plan).request_limit)
    assert ("--quantization" in args) == (layout(plan).checkpoint_repo is None)  # fp8 made on load only if unpublished
    assert option(args, "--kv-cache-dtype") == "fp8_e4m3"
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    assert containers(deployment)[0]["command"] == args


def test_tgi_command(vllm_plan):
    plan = edited(vllm_plan, engine="tgi", quant="bnb-nf4")
    top = plan.recommendation
    files = deployment_files(plan)
    compose, _ = check_all_parse(files)
    args = command_args(files["tgi.sh"], "docker")
    image = next(a for a in args if "text-generation-inference" in a)
    launcher = args[args.index(image) + 1:]
    assert option(launcher, "--model-id") == top.model
    assert option(launcher, "--num-shard") == str(top.gpus)
    assert option(launcher, "--max-total-tokens") == str(layout(plan).request_limit)
    assert int(option(launcher, "--max-input-tokens")) < layout(plan).request_limit
    assert option(launcher, "--quantize") == "bitsandbytes-nf4"
    assert all(s["command"] == launcher for s in compose["services"].values())


def test_trtllm_command(vllm_plan):
    plan = edited(vllm_plan, engine="tensorrt-llm", quant="bf16", **{"memory.kv_cache_dtype": "fp8"})
    top = plan.recommendation
    files = deployment_files(plan)
    _, manifests = check_all_parse(files)
    args = command_args(files["trtllm-serve.sh"], "trtllm-serve")
    assert args[1] == top.model
    assert option(args, "--tp_size") == str(top.gpus) and option(args, "--pp_size") == "1"
    assert option(args, "--max_seq_len") == str(layout(plan).request_limit)
    assert option(args, "--extra_llm_api_options") == "trtllm-extra.yaml"
    assert yaml.safe_load(files["trtllm-extra.yaml"]) == {"kv_cache_config": {"dtype": "fp8"}}
    assert any(m["kind"] == "ConfigMap" for m in manifests)


def test_amd_gpus_use_amd_resources_and_devices(vllm_plan):
    plan = edited(vllm_plan, engine="vllm", quant="fp8", gpu="mi300x", gpu_name="AMD Instinct MI300X (OAM)", gpus=2, replicas=1)
    files = deployment_files(plan)
    compose, manifests = check_all_parse(files)
    (service,) = compose["services"].values()
    assert "/dev/kfd" in service["devices"] and "deploy" not in service
    (container,) = containers(next(m for m in manifests if m["kind"] == "Deployment"))
    assert container["resources"]["limits"] == {"amd.com/gpu": 2}


# --- packaging, README, no plan ------------------------------------------------------------------


def test_zip_and_directory_hold_the_same_files(tmp_path, vllm_plan):
    files = deployment_files(vllm_plan)
    with zipfile.ZipFile(io.BytesIO(deployment_zip(vllm_plan))) as archive:
        assert sorted(archive.namelist()) == sorted(files)
        assert archive.read("vllm.sh").decode() == files["vllm.sh"]
    assert deployment_zip(vllm_plan) == deployment_zip(vllm_plan)  # deterministic
    written = write_deploy_dir(vllm_plan, tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(files)
    assert (tmp_path / "out" / "vllm.sh").stat().st_mode & 0o111


def test_readme_lists_the_verified_flags_with_their_sources(vllm_plan):
    readme = deployment_files(vllm_plan)["README.md"]
    assert "--tensor-parallel-size" in readme and "https://docs.vllm.ai" in readme
    assert all(url.startswith("https://") for _, _, url in VERIFIED_FLAGS)


def test_no_secret_values_are_written(vllm_plan):
    for name, text in deployment_files(vllm_plan).items():
        assert "hf_" not in text.lower().replace("hf_token", ""), name


def test_plan_without_a_pick_gives_only_a_readme():
    plan = recommend(Constraints(models=[LLAMA_405B], gpus_available=[{"gpu": "rtx-3090", "count": 1}]))
    assert plan.recommendation is None
    files = deployment_files(plan)
    assert list(files) == ["README.md"] and "nothing to deploy" in files["README.md"]
    assert launch_commands(plan) == []


def test_launch_commands_match_the_files(vllm_plan, small_plan):
    for plan in (vllm_plan, small_plan):
        commands = launch_commands(plan)
        assert commands and all(shlex.split(cmd) for _, cmd in commands)
        assert plan.recommendation.model in " ".join(cmd for _, cmd in commands)


def test_the_deployment_accepts_the_longest_request_not_the_average(vllm_plan):
    """Per-request limits come from what the service must accept: MAX_REQUEST_MULTIPLE times the averages by
    default (or max_input_tokens / max_output_tokens), never below the planned context, within the model's own."""
    from planner.plan.constraints import MAX_REQUEST_MULTIPLE

    c = vllm_plan.constraints
    lay = layout(vllm_plan)
    longest = MAX_REQUEST_MULTIPLE * (c["input_tokens"] + c["output_tokens"])
    assert lay.request_limit == min(longest, load_catalog().model(lay.model).max_context_tokens) >= lay.context_tokens
    stated = vllm_plan.model_copy(update={"constraints": {**c, "max_input_tokens": 20_000, "max_output_tokens": 2_000}})
    assert option(command_args(deployment_files(stated)["vllm.sh"], "vllm"), "--max-model-len") == "22000"
    llama = edited(vllm_plan, engine="llama.cpp", quant="q4_k_m")
    args = command_args(deployment_files(llama)["llama-server.sh"], "llama-server")
    assert "--kv-unified" in args and int(option(args, "-c", "--ctx-size")) >= layout(llama).request_limit


def test_a_published_fp8_checkpoint_is_served_not_quantized_again(vllm_plan):
    """The files serve the checkpoint the plan names; --quantization fp8 (quantize on load) only where none is published."""
    from planner.catalog.checkpoints import default_checkpoints

    published = default_checkpoints().checkpoints_for("Qwen/Qwen3.5-397B-A17B", "fp8")
    assert published  # Qwen publishes its FP8 repo
    plan = edited(vllm_plan, model="Qwen/Qwen3.5-397B-A17B", model_name="Qwen3.5-397B-A17B", engine="vllm", quant="fp8")
    args = command_args(deployment_files(plan)["vllm.sh"], "vllm")
    assert args[2] == published[0].repo and "--quantization" not in args
