"""Diagnostics as text (for people), JSON (for tools) and GitHub annotations (for CI logs)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

from wfrun.errors import Diagnostic

Format = Literal["text", "json", "github"]


def render(diagnostics: Sequence[Diagnostic], files: int, fmt: Format) -> str:
    """The whole report for `wfrun validate`, ending in a newline."""
    if fmt == "json":
        return json.dumps([d.as_dict() for d in diagnostics], indent=2) + "\n"
    lines = [_github(d) if fmt == "github" else _text(d) for d in diagnostics]
    if fmt == "text":
        lines.append(summary(diagnostics, files))
    return "".join(line + "\n" for line in lines)


def _text(d: Diagnostic) -> str:
    text = f"{d.position}: {d.severity}: {d.message}"
    return f"{text}\n    hint: {d.hint}" if d.hint else text


def _github(d: Diagnostic) -> str:
    # Workflow commands need %, CR and LF escaped in the message, and also ',' ':' in props.
    def escape(value: str, *, prop: bool = False) -> str:
        value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return value.replace(":", "%3A").replace(",", "%2C") if prop else value

    level = "error" if d.severity == "error" else "warning"
    props = f"file={escape(d.position.file, prop=True)},line={d.position.line},col={d.position.col}"
    message = f"{d.message} ({d.hint})" if d.hint else d.message
    return f"::{level} {props}::{escape(message)}"


def summary(diagnostics: Sequence[Diagnostic], files: int) -> str:
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    checked = f"{files} file{'s' if files != 1 else ''}"
    if not diagnostics:
        return f"ok: {checked} valid"
    parts = [f"{errors} error{'s' if errors != 1 else ''}"] if errors else []
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    verdict = "invalid" if errors else "valid"
    return f"{' and '.join(parts)} in {checked} ({verdict})"
