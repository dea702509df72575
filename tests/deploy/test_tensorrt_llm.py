"""planner.deploy.tensorrt_llm: `trtllm-serve` arguments, trtllm-serve.sh and the extra options file."""

from __future__ import annotations

import yaml

from planner.deploy.render import join
from planner.deploy.tensorrt_llm import trtllm_args, trtllm_extra, trtllm_script

from .support import bash_syntax_ok, make_layout, option, script_command, shell_words


def test_arguments():
    args = trtllm_args(make_layout(engine="tensorrt-llm", gpus=4, tensor_parallel=4))
    assert shell_words(join(args)) == args
    assert args[:4] == ["trtllm-serve", "meta-llama/Llama-3.1-8B-Instruct", "--backend", "pytorch"]
    assert option(args, "--tp_size") == "4" and option(args, "--pp_size") == "1"
    assert option(args, "--max_seq_len") == "8192" and option(args, "--max_batch_size") == "16"
    assert option(args, "--kv_cache_free_gpu_memory_fraction") == "0.9"
    assert "--extra_llm_api_options" not in args


def test_fp8_kv_cache_goes_through_the_extra_options_file():
    args = trtllm_args(make_layout(engine="tensorrt-llm", kv_cache_dtype="fp8"))
    assert option(args, "--extra_llm_api_options") == "trtllm-extra.yaml"
    assert yaml.safe_load(trtllm_extra()) == {"kv_cache_config": {"dtype": "fp8"}}


def test_script_with_a_pre_quantized_checkpoint():
    lay = make_layout(engine="tensorrt-llm", quant="int8")
    script = trtllm_script(lay)
    bash_syntax_ok(script)
    args = script_command(script, "trtllm-serve")
    assert args == trtllm_args(lay) and args[1] == "/models/Llama-3.1-8B-Instruct-W8A8-INT8"
    assert "int8 weights are not made on load" in script
