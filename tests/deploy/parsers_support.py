"""The real checkers for generated deployment files: the engines' own argument parsers (vLLM, SGLang),
shellcheck, kubernetes-validate and the compose-spec JSON schema, plus a recorder that runs a launch
script with the engine programs replaced, so the arguments checked are the ones bash would pass.

Every checker returns the tool's complaint as text ('' when it accepts), so a failing test shows the
engine's own message. A tool that is not installed skips with the reason; `make install-dev` installs
them all (requirements-engines.txt, DEBIAN_PACKAGES).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# Docker's compose-spec schema, vendored: tests/fixtures/compose-spec.README.md gives its source and licence.
COMPOSE_SCHEMA = FIXTURES / "compose-spec.json"

# Programs a launch script may start; the recorder stands in for each. `bash` too: vLLM's multi-node
# script runs the image's Ray helper with `bash "$script" leader`, which does not exist here.
RECORDED = ("vllm", "python3", "llama-server", "trtllm-serve", "ollama", "docker", "bash", "hf")
_STUB = """#!/bin/sh
# Records one call: the program's name and its arguments, NUL-separated, one file per call.
f=$(mktemp "$RECORD_DIR/call.XXXXXX")
printf '%s\\0' "$(basename "$0")" "$@" > "$f"
"""


def _exit_message(stderr: str, code: object) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit {code}"


# --- vLLM -----------------------------------------------------------------------------------------

@functools.cache
def _vllm_parser():
    # vLLM picks its platform when the parser builds its device config; without a GPU it finds none and
    # stops. VLLM_TARGET_DEVICE=cpu is vLLM's own switch for its CPU platform; the flags are the same.
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
    try:
        from vllm.entrypoints.common.cli_args import make_arg_parser
        from vllm.utils.argparse_utils import FlexibleArgumentParser
    except ImportError as exc:
        pytest.skip(f"vLLM's argument parser is not installed ({exc}); `make install-dev` installs it")
    return make_arg_parser(FlexibleArgumentParser(prog="vllm serve"))


def vllm_rejection(argv: list[str]) -> str:
    """What `vllm serve` says about `argv` (the words after `vllm serve`), '' when it accepts them.

    The same steps as `vllm serve` before it loads anything: parse, validate_parsed_serve_args, and
    AsyncEngineArgs.from_cli_args (which the API server calls next). vLLM's parser takes any string for
    --kv-cache-dtype and --quantization and checks them when it builds its configs from the model's
    Hugging Face config, which cannot be fetched here; so the two checks that need no model run as vLLM
    runs them: CacheConfig (a pydantic dataclass that validates cache_dtype) and ModelConfig's
    _verify_quantization test against QUANTIZATION_METHODS, with its message."""
    parser = _vllm_parser()
    from vllm.config import CacheConfig
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.entrypoints.common.cli_args import validate_parsed_serve_args
    from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS

    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            args = parser.parse_args(argv)
        validate_parsed_serve_args(args)
        engine = AsyncEngineArgs.from_cli_args(args)
        CacheConfig(cache_dtype=engine.kv_cache_dtype, gpu_memory_utilization=engine.gpu_memory_utilization)
    except SystemExit as exc:
        return _exit_message(stderr.getvalue(), exc.code)
    except (TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        return " ".join(str(exc).split())
    if engine.quantization is not None and engine.quantization not in QUANTIZATION_METHODS:
        return f"Unknown quantization method: {engine.quantization}. Must be one of {QUANTIZATION_METHODS}."
    return ""


# --- SGLang ---------------------------------------------------------------------------------------

@functools.cache
def _sglang_parser() -> argparse.ArgumentParser:
    try:
        from sglang.srt.server_args import ServerArgs
    except ImportError as exc:
        pytest.skip(f"SGLang's argument parser is not installed ({exc}); `make install-dev` installs it")
    parser = argparse.ArgumentParser(prog="sglang.launch_server")
    ServerArgs.add_cli_args(parser)
    return parser


def sglang_rejection(argv: list[str]) -> str:
    """What `python3 -m sglang.launch_server` says about `argv`, '' when it accepts them.

    The steps of sglang.srt.server_args.prepare_server_args (parse, ServerArgs.from_cli_args), without
    its logging.basicConfig(force=True), which would take pytest's log handlers away."""
    parser = _sglang_parser()
    from sglang.srt.server_args import ServerArgs

    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            args = parser.parse_args(argv)
        ServerArgs.from_cli_args(args)
    except SystemExit as exc:
        return _exit_message(stderr.getvalue(), exc.code)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return ""


# --- llama.cpp ------------------------------------------------------------------------------------

LLAMA_SERVER_BUILD = Path(__file__).resolve().parents[2] / ".venv" / "llama-server" / "bin" / "llama-server"


def llama_server_binary() -> str:
    found = shutil.which("llama-server") or (str(LLAMA_SERVER_BUILD) if LLAMA_SERVER_BUILD.exists() else None)
    if not found:
        pytest.skip("llama-server is not built: `make llama-server` compiles it from llama.cpp's source "
                    "(no registry package ships the binary)")
    return found


def llama_server_rejection(argv: list[str]) -> str:
    """What `llama-server` says about `argv` (the words after the program), '' when its parser accepts them.

    llama-server prints "initializing ..." right after common_params_parse accepts the arguments, then
    loads the model, which fails here (no GGUF file): that failure is not the parser's. It listens on
    127.0.0.1 and a free port (the arguments are appended, and the last one wins), and a model to be
    fetched from Hugging Face (-hf) is refused before the program runs: nothing goes off this machine."""
    assert not {"-hf", "--hf-repo", "-hfr", "-mu", "--model-url"} & set(argv), "would download a model"
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [llama_server_binary(), *argv, "--host", "127.0.0.1", "--port", str(port)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        output = result.stdout + result.stderr
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode() + (exc.stderr or b"").decode()
    if "initializing ..." in output:
        return ""
    errors = [line for line in output.splitlines() if "error" in line.lower()]
    return errors[0] if errors else output.strip()[-400:]


# --- shell ----------------------------------------------------------------------------------------

def shell_complaints(text: str, dialect: str = "bash") -> str:
    """`<dialect> -n` and `shellcheck --severity=warning` on a script or a one-line `sh -c` command."""
    shell = shutil.which(dialect)
    if not shell:
        pytest.skip(f"no {dialect}")
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (Debian package `shellcheck`, in the Makefile's DEBIAN_PACKAGES)")
    syntax = subprocess.run([shell, "-n"], input=text, text=True, capture_output=True, check=False, timeout=60)
    if syntax.returncode:
        return f"{dialect} -n: {syntax.stderr.strip()}"
    check = subprocess.run(["shellcheck", "--severity=warning", f"--shell={dialect}", "--format=gcc", "-"],
                           input=text, text=True, capture_output=True, check=False, timeout=60)
    return check.stdout.strip() if check.returncode else ""


def record_calls(tmp_path: Path, shell_line: list[str], env: dict[str, str] | None = None) -> list[list[str]]:
    """Run `shell_line` (e.g. ["bash", "vllm.sh", "leader"]) with RECORDED programs replaced by a recorder
    on PATH; the argv (program name first) of every call they got, as bash expanded it."""
    stubs, records = tmp_path / "stubs", tmp_path / "calls"
    stubs.mkdir(exist_ok=True)
    records.mkdir(exist_ok=True)
    for name in RECORDED:
        stub = stubs / name
        stub.write_text(_STUB)
        stub.chmod(0o755)
    shell = shutil.which(shell_line[0])
    if not shell:
        pytest.skip(f"no {shell_line[0]}")
    run_env = {"PATH": f"{stubs}{os.pathsep}{os.environ.get('PATH', '')}", "RECORD_DIR": str(records),
               "HOME": str(tmp_path), **(env or {})}
    result = subprocess.run([shell, *shell_line[1:]], cwd=tmp_path, env=run_env, capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, f"{shell_line} failed: {result.stderr}"
    calls = [p.read_bytes().split(b"\0")[:-1] for p in sorted(records.iterdir())]
    for p in records.iterdir():
        p.unlink()
    return [[word.decode() for word in call] for call in calls]


def after(argv: list[str], program: list[str]) -> list[str]:
    """The words after `program` (e.g. ["vllm", "serve"]) in one recorded call."""
    assert argv[:len(program)] == program, f"expected {program}, got {argv}"
    return argv[len(program):]


# --- Kubernetes -----------------------------------------------------------------------------------

def kubernetes_complaints(text: str) -> tuple[list[str], list[str]]:
    """kubernetes-validate (strict: unknown fields are errors) on every document, against the newest
    Kubernetes version it ships. Returns (complaints, kinds validated).

    kubernetes-validate ships core and built-in API schemas only, not the LeaderWorkerSet CRD; that
    kind's own fields go unchecked, and its leader and worker pod templates are validated as v1
    PodTemplates, which is what LWS embeds."""
    try:
        import kubernetes_validate
        from kubernetes_validate.utils import latest_version
    except ImportError as exc:
        pytest.skip(f"kubernetes-validate is not installed ({exc})")
    docs = [d for d in yaml.safe_load_all(text) if d]
    found: list[str] = []
    resources: list[dict] = []
    for doc in docs:
        if doc.get("kind") == "LeaderWorkerSet":
            template = doc["spec"]["leaderWorkerTemplate"]
            for role in ("leaderTemplate", "workerTemplate"):
                if role in template:
                    resources.append({"apiVersion": "v1", "kind": "PodTemplate",
                                      "metadata": {"name": f"{doc['metadata']['name']}-{role}"},
                                      "template": template[role]})
        else:
            resources.append(doc)
    complaints = []
    for resource in resources:
        try:
            kubernetes_validate.validate(resource, latest_version(), strict=True)
            found.append(resource["kind"])
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            complaints.append(f"{resource['kind']}/{resource['metadata'].get('name')}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            complaints.append(f"{resource['kind']}: no schema ({exc.message})")
    return complaints, found


# --- compose --------------------------------------------------------------------------------------

@functools.cache
def _compose_validator():
    import jsonschema

    schema = json.loads(COMPOSE_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def compose_complaints(text: str) -> list[str]:
    """The compose-spec schema's errors for a compose file (the schema Docker Compose validates with)."""
    doc = yaml.safe_load(text)
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
            for e in _compose_validator().iter_errors(doc)]


def kubernetes_substitute(command: str, env: dict[str, str]) -> str:
    """Kubernetes' own $(VAR) expansion of a container command, done by the kubelet before the shell runs."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), command)


def compose_interpolate(word: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:?message} and ${VAR:-default} interpolation of one word ($$ is a literal $)."""
    def value(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if name in env and (env[name] or op not in {":-", ":?"}):
            return env[name]
        assert op not in {"?", ":?"}, f"compose needs {name}: {arg}"
        return arg or ""
    parts = word.split("$$")
    return "$".join(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[?-])([^}]*))?\}", value, p) for p in parts)
