"""planner.deploy.sglang: `sglang.launch_server` arguments and sglang.sh."""

from __future__ import annotations

from planner.deploy.render import join
from planner.deploy.sglang import sglang_args, sglang_script

from .support import bash_syntax_ok, make_layout, option, script_command, shell_words, two_node_layout


def test_arguments_survive_shell_quoting():
    lay = make_layout(engine="sglang", gpus=2, tensor_parallel=2, quant="fp8", kv_cache_dtype="fp8")
    args = sglang_args(lay)
    assert shell_words(join(args)) == args
    assert args[:3] == ["python3", "-m", "sglang.launch_server"]
    assert option(args, "--model-path") == lay.model and option(args, "--served-model-name") == lay.model
    assert option(args, "--tp") == "2" and option(args, "--context-length") == "8192"
    assert option(args, "--port") == "30000" and option(args, "--max-running-requests") == "16"
    assert option(args, "--quantization") == "fp8" and option(args, "--kv-cache-dtype") == "fp8_e4m3"
    assert "--nnodes" not in args


def test_bitsandbytes_is_a_load_format():
    args = sglang_args(make_layout(engine="sglang", quant="bnb-nf4"))
    assert option(args, "--load-format") == "bitsandbytes" and "--quantization" not in args


def test_multi_node_flags():
    args = sglang_args(two_node_layout(engine="sglang", tensor_parallel=16, pipeline_parallel=1), 1, "10.0.0.1:20000")
    assert option(args, "--tp") == "16" and option(args, "--nnodes") == "2"
    assert option(args, "--node-rank") == "1" and option(args, "--dist-init-addr") == "10.0.0.1:20000"


def test_single_node_script():
    lay = make_layout(engine="sglang")
    script = sglang_script(lay)
    bash_syntax_ok(script)
    assert script_command(script, "python3") == sglang_args(lay)


def test_multi_node_script_takes_rank_and_leader_from_the_environment():
    script = sglang_script(two_node_layout(engine="sglang", tensor_parallel=16, pipeline_parallel=1))
    bash_syntax_ok(script)
    assert ': "${NODE_RANK:?set NODE_RANK}" "${LEADER_ADDRESS:?set LEADER_ADDRESS}"' in script
    args = script_command(script.replace('"$NODE_RANK"', "1").replace('"$LEADER_ADDRESS:20000"', "head:20000"), "python3")
    assert option(args, "--node-rank") == "1" and option(args, "--dist-init-addr") == "head:20000"
