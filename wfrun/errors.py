"""wfrun's exceptions. Each carries data; none prints. The CLI maps them to exit codes.

WfrunError
├── UsageError          bad command-line input (exit 2)
├── SpecError           the workflow file is invalid: carries list[Diagnostic] (exit 2)
├── PlanError           a valid spec that cannot be planned (exit 2)
└── RunError            the run itself went wrong (exit 1)
    └── ResourceStartError
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Position:
    """A place in a source file; line and column are 1-based, as editors show them."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a workflow: where, what, and how to fix it."""

    position: Position
    message: str
    hint: str = ""
    severity: Severity = "error"
    path: str = field(default="", compare=False)

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.position.file, self.position.line, self.position.col, self.message)

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.position.file,
            "line": self.position.line,
            "col": self.position.col,
            "severity": self.severity,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


def brief(value: object, limit: int = 40) -> str:
    """`repr(value)` for a message, cut after `limit` characters.

    Messages quote what the user wrote; a 100,000-character name or value quoted whole
    would bury the message (and the next ten thousand with it) in a terminal or CI log.
    """
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value):,} characters)"
    text = repr(value)
    return text if len(text) <= limit + 2 else f"{text[:limit]}… ({len(text):,} characters)"


def clip(text: str, limit: int = 60) -> str:
    """`text` for a message, unquoted, cut after `limit` characters (see `brief`)."""
    return text if len(text) <= limit else f"{text[:limit]}…"


class WfrunError(Exception):
    """Base of every error wfrun raises on purpose."""


class UsageError(WfrunError, ValueError):
    """The command line asked for something impossible (a bad -p, a missing file)."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class SpecError(WfrunError, ValueError):
    """A workflow file is invalid. Carries every problem found, sorted by position."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        first = self.diagnostics[0] if self.diagnostics else None
        summary = f"{first.position}: {first.message}" if first else "invalid workflow"
        super().__init__(summary)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


class PlanError(WfrunError):
    """A valid workflow that cannot be planned."""


class RunError(WfrunError):
    """A run failed in a way that ends it."""


class ResourceStartError(RunError):
    """A resource could not be started."""

    def __init__(self, *, resource: str, reason: str) -> None:
        super().__init__(f"resource {resource!r} failed to start: {reason}")
        self.resource = resource
        self.reason = reason
