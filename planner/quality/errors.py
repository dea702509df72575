"""The quality check's errors: a bad sample file (every bad line, numbered) or an unusable endpoint."""

from __future__ import annotations

from planner.errors import PlannerError


class QualityError(PlannerError):
    """The quality check cannot run; the message says why."""


class SampleFileError(QualityError, ValueError):
    """A sample file has bad lines; `problems` holds one 'line N: ...' sentence each."""

    def __init__(self, name: str, problems: list[str]):
        self.problems = problems
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        super().__init__(f"{name} has {len(problems)} bad line(s):\n  " + "\n  ".join(shown)
                         if len(problems) > 1 or problems[0].startswith("line") else f"{name}: {problems[0]}")
