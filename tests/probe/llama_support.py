"""Running llama-cpp-python's OpenAI-compatible server for tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.process_support import stop_process

try:
    import llama_cpp  # noqa: F401

    HAVE_LLAMA_CPP = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_LLAMA_CPP = False

requires_llama_cpp = pytest.mark.skipif(
    not HAVE_LLAMA_CPP,
    reason="llama_cpp is not importable: install 'llama-cpp-python[server]' (make test does) "
           "to run the real llama.cpp server tests",
)

LLAMA_MODEL_ALIAS = "tiny"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """A `python -m llama_cpp.server` subprocess on a loopback port."""

    def __init__(self, model: Path, log_path: Path):
        self.port = _free_port()
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
             "--port", str(self.port), "--n_ctx", "512", "--n_threads", "1",
             "--model_alias", LLAMA_MODEL_ALIAS, "--verbose", "False",
             # Default True: a new request would cut the stream in progress; a
             # load test needs queued requests to wait instead.
             "--interrupt_requests", "False"],
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                if requests.get(self.url + "/models", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("llama_cpp.server did not become ready")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        stop_process(self.proc, self._log)


