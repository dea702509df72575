"""Stopping a server process a test started: terminate, then kill if it will not go, and close its log."""

from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen, log=None, wait_s: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=wait_s)
    if log is not None:
        log.close()
