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


# Runs `python -m planner ARGV` and, at exit, writes the process's VmHWM (peak resident set of its own address
# space) to the file named by PLANNER_TEST_PEAK_FILE. The kernel's rusage (wait4, RUSAGE_CHILDREN) would not do:
# Linux carries the parent's high-water mark into a child across exec, so a test that built a big file first
# would measure itself.
_WRAPPER = (
    "import atexit, os, runpy, sys\n"
    "def _peak():\n"
    "    line = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
    "    open(os.environ['PLANNER_TEST_PEAK_FILE'], 'w').write(line.split()[1])\n"
    "atexit.register(_peak)\n"
    "sys.argv = ['planner', *sys.argv[1:]]\n"
    "runpy.run_module('planner', run_name='__main__', alter_sys=True)\n"
)


def peak_rss_mib(argv: list[str], env: dict | None = None, timeout_s: float = 120) -> tuple[int, float, str]:
    """(exit code, peak resident MiB, stderr) of `python -m planner ARGV` in a child process."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        peak_file = Path(folder) / "peak"
        proc = subprocess.run([sys.executable, "-c", _WRAPPER, *argv], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout_s,
                              env={**os.environ, **(env or {}), "PLANNER_TEST_PEAK_FILE": str(peak_file)})
        peak_kib = int(peak_file.read_text())
    return proc.returncode, peak_kib / 1024, proc.stderr.decode("utf-8", "replace")
