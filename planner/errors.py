"""Errors the planner raises, each with a message a person can act on.

    PlannerError
    ├── CatalogError      a data file or row is invalid (names the file, row and field)
    ├── LookupFailed      an id or alias names nothing in the catalogue
    └── ConstraintError   the architect's input is invalid (names the field and what is allowed)
"""


class PlannerError(Exception):
    """Base of every error the planner raises on purpose."""


class CatalogError(PlannerError):
    """A data file or one of its rows failed validation."""


class LookupFailed(PlannerError, KeyError):
    """An id or alias matched nothing in the catalogue."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConstraintError(PlannerError, ValueError):
    """The constraints are invalid; `field` names the offending input."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field
