"""planner.deploy.llama_cpp: `llama-server` arguments, llama-server.sh and prepare-gguf.sh."""

from __future__ import annotations

from planner.deploy.llama_cpp import llama_server_args, llama_server_script, prepare_gguf_script
from planner.deploy.render import join

from .support import bash_syntax_ok, make_layout, option, script_command, shell_words

GGUF = {"engine": "llama.cpp", "quant_format": "gguf"}


def test_arguments_for_a_whole_model_on_one_gpu():
    args = llama_server_args(make_layout(**GGUF, quant="q4_k_m", sequences=4, context_tokens=4096))
    assert shell_words(join(args)) == args
    assert option(args, "-m") == "/models/Llama-3.1-8B-Instruct-Q4_K_M.gguf"
    assert option(args, "-ngl") == "999"  # every layer, whatever the count
    assert option(args, "-c") == str(4096 * 4) and option(args, "-np") == "4"  # one pool shared by the slots
    assert option(args, "--alias") == "meta-llama/Llama-3.1-8B-Instruct" and option(args, "--port") == "8080"
    assert "-sm" not in args and "-ctk" not in args


def test_partial_offload_multi_gpu_and_q8_cache():
    args = llama_server_args(make_layout(**GGUF, quant="q8_0", gpu_layers=20, gpus=2, kv_cache_dtype="q8_0"))
    assert option(args, "-ngl") == "20" and option(args, "-sm") == "layer"
    assert option(args, "-fa") == "on" and option(args, "-ctk") == "q8_0" and option(args, "-ctv") == "q8_0"


def test_gpt_oss_mxfp4_comes_from_the_ggml_org_repository():
    args = llama_server_args(make_layout(**GGUF, model="openai/gpt-oss-20b", quant="mxfp4"))
    assert option(args, "-hf") == "ggml-org/gpt-oss-20b-GGUF" and "-m" not in args


def test_server_script():
    lay = make_layout(**GGUF, quant="q6_k")
    script = llama_server_script(lay)
    bash_syntax_ok(script)
    assert script_command(script, "llama-server") == llama_server_args(lay)


def test_prepare_gguf_converts_directly_for_q8_0():
    script = prepare_gguf_script(make_layout(**GGUF, quant="q8_0"))
    bash_syntax_ok(script)
    convert = script_command(script, "python3")
    assert option(convert, "--outtype") == "q8_0"
    assert option(convert, "--outfile") == "$MODELS_DIR/Llama-3.1-8B-Instruct-Q8_0.gguf"
    assert "llama-quantize" not in script.split("set -euo pipefail", 1)[1]


def test_prepare_gguf_quantizes_from_bf16_otherwise():
    script = prepare_gguf_script(make_layout(**GGUF, quant="iq4_xs"))
    bash_syntax_ok(script)
    assert option(script_command(script, "python3"), "--outtype") == "bf16"
    quantize = script_command(script, '"$LLAMA_CPP_DIR/build/bin/llama-quantize"')
    assert quantize[1:] == ["$MODELS_DIR/Llama-3.1-8B-Instruct-BF16.gguf", "$MODELS_DIR/Llama-3.1-8B-Instruct-IQ4_XS.gguf",
                            "IQ4_XS"]
    assert "--imatrix" in script
