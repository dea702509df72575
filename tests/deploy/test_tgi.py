"""planner.deploy.tgi: launcher arguments, `docker run` and tgi.sh."""

from __future__ import annotations

import pytest

from planner.deploy.render import join
from planner.deploy.tgi import tgi_docker_args, tgi_launcher_args, tgi_script

from .support import bash_syntax_ok, make_layout, option, script_command, shell_words


def test_launcher_arguments():
    args = tgi_launcher_args(make_layout(engine="tgi", gpus=2, tensor_parallel=2, kv_cache_dtype="fp8"))
    assert option(args, "--model-id") == "meta-llama/Llama-3.1-8B-Instruct" and option(args, "--num-shard") == "2"
    assert option(args, "--max-total-tokens") == "8192" and option(args, "--max-input-tokens") == str(8192 - 300)
    assert option(args, "--hostname") == "0.0.0.0" and option(args, "--port") == "80"
    assert option(args, "--kv-cache-dtype") == "fp8_e4m3fn" and "--quantize" not in args


def test_max_input_stays_below_the_total_when_the_output_fills_the_context():
    args = tgi_launcher_args(make_layout(engine="tgi", context_tokens=256, output_tokens=300))
    assert option(args, "--max-input-tokens") == "1"


@pytest.mark.parametrize(("quant", "flag"), [("fp8", "fp8"), ("bnb-nf4", "bitsandbytes-nf4"), ("awq-int4", "awq"),
                                             ("gptq-int4", "gptq")])
def test_quantize_flag(quant, flag):
    assert option(tgi_launcher_args(make_layout(engine="tgi", quant=quant)), "--quantize") == flag


def test_docker_command_round_trips_and_keeps_pwd_for_the_shell():
    lay = make_layout(engine="tgi", gpus=2, tensor_parallel=2)
    args = tgi_docker_args(lay)
    rendered = join(args)
    assert "$PWD/data:/data" in rendered  # unquoted, so the shell expands it
    assert shell_words(rendered) == args
    assert option(args, "--gpus") == "2" and option(args, "-p") == "8080:80"
    image = "ghcr.io/huggingface/text-generation-inference:3.3.5"
    assert args[args.index(image) + 1:] == tgi_launcher_args(lay)


def test_amd_gets_devices_and_the_rocm_image():
    args = tgi_docker_args(make_layout(engine="tgi", vendor="amd", gpu="mi300x"))
    assert "--gpus" not in args and args.count("--device") == 2
    assert "ghcr.io/huggingface/text-generation-inference:3.3.5-rocm" in args


def test_script():
    lay = make_layout(engine="tgi", quant="gptq-int4")
    script = tgi_script(lay)
    bash_syntax_ok(script)
    assert script_command(script, "docker") == tgi_docker_args(lay)
    assert "/models/Llama-3.1-8B-Instruct-GPTQ-INT4" in script
