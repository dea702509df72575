"""planner.deploy.ollama: the Modelfile, the server's environment and ollama.sh."""

from __future__ import annotations

import shlex

from planner.deploy.ollama import modelfile, ollama_env, ollama_name, ollama_script

from .support import bash_syntax_ok, make_layout

OLLAMA = {"engine": "ollama", "quant_format": "gguf", "context_tokens": 4096}


def directives(text: str) -> dict[str, str]:
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in text.splitlines() if line and not line.startswith("#")}


def test_library_tag_when_its_default_weights_are_the_planned_ones():
    text = modelfile(make_layout(**OLLAMA, quant="q4_k_m"))
    assert directives(text) == {"FROM": "llama3.1:8b", "PARAMETER": "num_ctx 4096"}


def test_the_gguf_file_otherwise_with_a_note_on_the_tag():
    text = modelfile(make_layout(**OLLAMA, quant="q6_k"))
    assert directives(text)["FROM"] == "/models/Llama-3.1-8B-Instruct-Q6_K.gguf"
    assert "The library tag llama3.1:8b ships Q4_K_M weights instead" in text


def test_name_and_environment():
    lay = make_layout(**OLLAMA, quant="q4_k_m", gpus=2, sequences=3, kv_cache_dtype="q8_0")
    assert ollama_name(lay) == "llama-3-1-8b-instruct:q4_k_m"
    assert ollama_env(lay) == {"OLLAMA_HOST": "0.0.0.0:11434", "OLLAMA_NUM_PARALLEL": "3", "OLLAMA_FLASH_ATTENTION": "1",
                               "OLLAMA_KV_CACHE_TYPE": "q8_0", "OLLAMA_SCHED_SPREAD": "1"}
    assert ollama_env(make_layout(**OLLAMA)) == {"OLLAMA_HOST": "0.0.0.0:11434", "OLLAMA_NUM_PARALLEL": "16"}


def test_script_exports_the_environment_and_creates_the_model():
    lay = make_layout(**OLLAMA, quant="q4_k_m", kv_cache_dtype="q8_0")
    script = ollama_script(lay)
    bash_syntax_ok(script)
    exports = dict(shlex.split(line)[1].split("=", 1) for line in script.splitlines() if line.startswith("export "))
    assert exports == ollama_env(lay)
    assert f"ollama create {ollama_name(lay)} -f Modelfile" in script
