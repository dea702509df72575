"""Fixtures for the live-probe tests: fake servers, a real llama.cpp server, a clean environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The helper modules sit beside this file; make them importable whatever
# pytest's import mode is.
sys.path.insert(0, str(Path(__file__).parent))

from llama_support import HAVE_LLAMA_CPP, LlamaServer  # noqa: E402
from probe_fakes import FakeLLMServer  # noqa: E402


@pytest.fixture(autouse=True)
def probe_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No allow-list, no key and a private calibration file unless a test sets them."""
    monkeypatch.delenv("PLANNER_PROBE_ALLOWED_HOSTS", raising=False)
    monkeypatch.delenv("PLANNER_PROBE_API_KEY", raising=False)
    monkeypatch.setenv("PLANNER_CALIBRATION_FILE", str(tmp_path / "calibration.json"))


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Imported here: only the llama.cpp tests need the gguf package.
    from tiny_gguf import write_tiny_llama

    return write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf")


@pytest.fixture(scope="session")
def llama_server(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    if not HAVE_LLAMA_CPP:
        pytest.skip("llama_cpp is not importable")
    server = LlamaServer(tiny_gguf, tmp_path_factory.mktemp("llama") / "server.log")
    yield server
    server.stop()


@pytest.fixture
def own_llama_server(tiny_gguf: Path, tmp_path: Path) -> Iterator[LlamaServer]:
    """A server for one test (e.g. one that kills it)."""
    if not HAVE_LLAMA_CPP:
        pytest.skip("llama_cpp is not importable")
    server = LlamaServer(tiny_gguf, tmp_path / "server.log")
    yield server
    server.stop()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


@pytest.fixture
def subprocess_env(repo_root: Path) -> dict[str, str]:
    """Environment for `python -m planner.probe` subprocesses (the repo importable)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(repo_root) + os.pathsep + env.get("PYTHONPATH", "")
    return env
