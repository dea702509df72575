"""planner.deploy.vllm: `vllm serve` arguments and vllm.sh."""

from __future__ import annotations

import pytest

from planner.deploy.render import join
from planner.deploy.vllm import vllm_args, vllm_script

from .support import bash_syntax_ok, make_layout, option, script_command, shell_words, two_node_layout


def test_arguments_survive_shell_quoting():
    args = vllm_args(make_layout(gpus=2, tensor_parallel=2, cpu_offload_gib=2.1))
    assert shell_words(join(args)) == args == shell_words(join(args, indent=None))
    assert args[:3] == ["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct"]
    assert option(args, "--tensor-parallel-size") == "2" and option(args, "--pipeline-parallel-size") == "1"
    assert option(args, "--max-model-len") == "8192" and option(args, "--max-num-seqs") == "16"
    assert option(args, "--cpu-offload-gb") == "3"  # rounded up, never down
    assert option(args, "--gpu-memory-utilization") == "0.9" and option(args, "--kv-cache-dtype") == "auto"


@pytest.mark.parametrize(("quant", "gpu", "vendor", "flag"), [
    ("fp8", "h100-sxm", "nvidia", "fp8"),
    ("awq-int4", "h100-sxm", "nvidia", "awq_marlin"), ("gptq-int4", "a100-80gb", "nvidia", "gptq_marlin"),
    ("awq-int4", "t4", "nvidia", "awq"), ("gptq-int4", "mi300x", "amd", "gptq"), ("bf16", "h100-sxm", "nvidia", None),
    ("int8", "h100-sxm", "nvidia", None),
])
def test_quantization_flag(quant, gpu, vendor, flag):
    args = vllm_args(make_layout(quant=quant, gpu=gpu, vendor=vendor))
    assert (option(args, "--quantization") if "--quantization" in args else None) == flag


def test_pre_quantized_checkpoints_are_local_and_served_under_the_plan_id():
    args = vllm_args(make_layout(quant="awq-int4"))
    assert args[2] == "/models/Llama-3.1-8B-Instruct-AWQ-INT4"
    assert option(args, "--served-model-name") == "meta-llama/Llama-3.1-8B-Instruct"
    script = vllm_script(make_layout(quant="awq-int4"))
    assert "put a checkpoint of meta-llama/Llama-3.1-8B-Instruct" in script


def test_gguf_is_served_from_the_file_with_the_model_tokenizer():
    args = vllm_args(make_layout(quant="q4_k_m", quant_format="gguf"))
    assert args[2] == "/models/Llama-3.1-8B-Instruct-Q4_K_M.gguf"
    assert option(args, "--tokenizer") == "meta-llama/Llama-3.1-8B-Instruct"


def test_program_can_be_left_to_the_image_entrypoint():
    args = vllm_args(make_layout(), program=())
    assert args[0] == "meta-llama/Llama-3.1-8B-Instruct"


def test_single_node_script_parses_and_runs_the_arguments():
    lay = make_layout(gpus=4, tensor_parallel=4, kv_cache_dtype="fp8")
    script = vllm_script(lay)
    bash_syntax_ok(script)
    assert script.startswith("#!/usr/bin/env bash\n")
    assert script_command(script, "vllm") == vllm_args(lay)


def test_two_node_script_starts_ray_then_serves_on_the_leader():
    lay = two_node_layout()
    script = vllm_script(lay)
    bash_syntax_ok(script)
    assert 'bash "$script" leader --ray_cluster_size=2' in script
    assert 'bash "$script" worker --ray_address="${2:?leader address}"' in script
    args = script_command(script, "vllm")
    assert args == vllm_args(lay)
    assert option(args, "--tensor-parallel-size") == "8" and option(args, "--pipeline-parallel-size") == "2"
    assert option(args, "--distributed-executor-backend") == "ray"
