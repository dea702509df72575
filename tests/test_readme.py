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


def test_readme_three_plans_are_what_the_cli_prints():
    """The README's owned-server, rented-service and office-box plans: the top pick and the lines under it."""
    from planner.cli.main import summary
    from planner.plan.constraints import load_constraints
    from planner.plan.recommend import recommend

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("owned-8x-h100", "rented-chat-service", "office-box"):
        assert f"== {name}" in readme
        lines = summary(recommend(load_constraints(str(ROOT / "examples" / f"{name}.json")))).splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("top pick:"))
        shown = [lines[start]] + [line for line in lines[start + 1:] if line.startswith("  ") and not line.startswith("  alt")][:4]
        for line in shown:
            if line.startswith(("  checkpoint", "  image", "top pick")):
                assert line in readme, line
