"""Shared by the hostile-input suites (tests/test_hostile_*.py): run the CLI in this process or in a child
whose peak memory is read from the kernel, check a refusal is one clean line, snapshot files that must not
change."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from planner.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
# The kernel's peak resident memory of one CLI run on hostile input. A whole-catalogue plan peaks near 100 MiB;
# 10,000 repeated models took 2 GB before the door de-duplicated and bounded the list.
PEAK_RSS_LIMIT_MIB = 400
_ESCAPE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `python -m planner ARGV` in this process; argparse's exits are caught."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def assert_one_clean_line(err: str, *names: str, max_chars: int = 2_100) -> None:
    """A refusal: one line starting `error: `, no traceback, no control character, no value echoed whole,
    naming at least one of `names` (the field, or the file for a fault of the whole file)."""
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1, err[:500]
    assert "Traceback" not in err and not _ESCAPE.search(err), ascii(err[:500])
    assert len(err) <= max_chars, f"a {len(err):,}-character message"
    assert not re.search(r"\S{161,}", err), "a value echoed whole"
    if names:
        assert any(n in err for n in names), f"names none of {names}: {err}"


def strict_json(text: str):
    """JSON as the standard has it: NaN and Infinity are not JSON."""
    def refuse(name):
        raise AssertionError(f"{name} in the JSON output")

    return json.loads(text, parse_constant=refuse)


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` (a file added or removed shows too)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def peak_rss_mib(argv: list[str], env: dict | None = None, timeout_s: float = 120) -> tuple[int, float, str]:
    """(exit code, peak resident MiB, stderr) of `python -m planner ARGV` in a child process, the peak from
    the kernel's rusage of that child alone (os.wait4)."""
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen([sys.executable, "-m", "planner", *argv], cwd=ROOT, stdout=devnull, stderr=subprocess.PIPE,
                                env={**os.environ, **(env or {})})
        try:
            err = proc.stderr.read().decode("utf-8", "replace")  # small: one line
            _, status, usage = _wait4(proc, timeout_s)
        finally:
            proc.stderr.close()
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024, err  # Linux: ru_maxrss in KiB


def _wait4(proc: subprocess.Popen, timeout_s: float):
    import signal
    import threading

    timer = threading.Timer(timeout_s, lambda: os.kill(proc.pid, signal.SIGKILL))
    timer.start()
    try:
        result = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(result[1])  # reaped here; keep Popen from waiting again
    return result
