"""The README's example output is what the command next to it prints."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_example_is_reproduced():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"^\.venv/bin/python -m planner (estimate [^\n]+)$", readme, re.M).group(1).split()
    block = re.search(r"Reproduced by the second command[^\n]*\n\n```\n(.*?)```", readme, re.S).group(1)
    out = subprocess.run([sys.executable, "-m", "planner", *command], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out == block


def test_readme_opens_with_the_two_commands():
    first_lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:6]
    assert any(line.startswith("make run") for line in first_lines)
    assert any(line.startswith("make test") for line in first_lines)
