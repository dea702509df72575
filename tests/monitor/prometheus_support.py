"""A real Prometheus (Debian's `prometheus` package) on a loopback port, scraping test servers every second."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.process_support import stop_process

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")

requires_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None,
    reason="Prometheus is not installed: `make test` installs Debian's prometheus package (server and promtool)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, workdir: Path, targets: dict[str, list[str]], rules: str | None = None,
                 *, metrics_paths: dict[str, str] | None = None):
        """`targets`: {job: [host:port, ...]}; `metrics_paths`: {job: path} where it is not /metrics."""
        workdir.mkdir(parents=True, exist_ok=True)
        paths = metrics_paths or {}
        config: dict = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                        "scrape_configs": [{"job_name": job, "metrics_path": paths.get(job, "/metrics"),
                                            "static_configs": [{"targets": hosts}]} for job, hosts in targets.items()]}
        if rules is not None:
            (workdir / "rules.yaml").write_text(rules, encoding="utf-8")
            config["rule_files"] = [str(workdir / "rules.yaml")]
        (workdir / "prometheus.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "prometheus.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={workdir / 'prometheus.yaml'}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self._log, stderr=subprocess.STDOUT)
        self._wait(f"{self.url}/-/ready", 60)

    def _wait(self, url: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                if requests.get(url, timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("prometheus did not become ready")

    def query(self, expr: str) -> list[dict]:
        return requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5).json()["data"]["result"]

    def wait_for(self, expr: str, *, timeout_s: float = 30.0, at_least: float = 1.0) -> float:
        """Poll until `expr` returns a value ≥ at_least; returns it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result and float(result[0]["value"][1]) >= at_least:
                return float(result[0]["value"][1])
            time.sleep(0.25)
        raise AssertionError(f"{expr} did not reach {at_least} within {timeout_s} s")

    def alerts(self) -> dict[str, str]:
        """{alert name: state} of the alerts now pending or firing."""
        data = requests.get(f"{self.url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        return {a["labels"]["alertname"]: a["state"] for a in data}

    def wait_firing(self, name: str, timeout_s: float = 40.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.alerts().get(name) == "firing":
                return
            time.sleep(0.25)
        raise AssertionError(f"alert {name} did not fire within {timeout_s} s; alerts: {self.alerts()}")

    def wait_quiet(self, name: str, timeout_s: float = 20.0) -> None:
        """Poll until alert `name` is neither pending nor firing."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if name not in self.alerts():
                return
            time.sleep(0.25)
        raise AssertionError(f"alert {name} stayed active for {timeout_s} s")

    def stop(self) -> None:
        stop_process(self.proc, self._log)
