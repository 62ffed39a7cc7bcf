"""Whether a turn's spawn requests may be honoured: checked where the turn's result is taken.

A spawn names a template the spawning phase declares in `may_spawn` (the planner holds
exactly those templates' resources for it, so nothing it needs was released), and only
params the template declares, typed like their defaults (as `-p` values are). A refused
request fails the turn with the reason; nothing is spawned, nothing re-created empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wfrun.engine.api import Spawn
from wfrun.errors import brief
from wfrun.spec.locate import listing, suggest
from wfrun.spec.model import Phase, Workflow


def refusal(workflow: Workflow, spawner: Phase, name: str, requests: Sequence[Spawn]) -> str:
    """Why one of `requests` made by phase `name` cannot be honoured, or ''."""
    for request in requests:
        problem = _refused(workflow, spawner, name, request)
        if problem:
            return problem
    return ""


def _refused(workflow: Workflow, spawner: Phase, name: str, request: Spawn) -> str:
    if not isinstance(request, Spawn):
        return f"phase {brief(name)} asked to spawn {request!r}, which is not a Spawn"
    template = request.template
    declared = spawner.may_spawn
    if template not in workflow.templates:
        known = list(workflow.templates)
        hint = suggest(str(template), known) or (
            f"templates: {listing(known)}" if known else "the workflow declares no templates"
        )
        return (
            f"phase {brief(name)} asked to spawn unknown template {brief(str(template))} ({hint})"
        )
    if template not in declared:
        allowed = f"it may spawn {listing(list(declared))}" if declared else "it may spawn none"
        return (
            f"phase {brief(name)} asked to spawn template {brief(template)}, which is not in "
            f"its `may_spawn` ({allowed}; add {brief(template)} to `may_spawn`)"
        )
    if not isinstance(request.params, Mapping):
        return f"spawn of {brief(template)}: params must be a mapping, not {request.params!r}"
    own = workflow.templates[template].params
    for key, value in request.params.items():
        if key not in own:
            hint = suggest(str(key), list(own)) or (
                f"its params: {listing(list(own))}"
                if own
                else f"declare it under `templates.{template}.params`"
            )
            return f"spawn of {brief(template)}: unknown param {brief(str(key))} ({hint})"
        expected = _mismatch(own[key], value)
        if expected:
            return (
                f"spawn of {brief(template)}: param {brief(key)} should be {expected}, "
                f"like its default {own[key]!r}, not {value!r}"
            )
    return ""


def _mismatch(default: Any, value: Any) -> str:
    """What `value` should be to match `default`'s type ('' if it does); None takes anything."""
    if default is None:
        return ""
    if isinstance(default, bool) or isinstance(value, bool):
        return "" if isinstance(default, bool) and isinstance(value, bool) else _kind(default)
    if isinstance(default, float):
        return "" if isinstance(value, int | float) else _kind(default)
    for kind in (int, str, list, dict):
        if isinstance(default, kind):
            return "" if isinstance(value, kind) else _kind(default)
    return ""


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    names = {int: "a whole number", float: "a number", str: "text", list: "a list"}
    return names.get(type(value), "a mapping" if isinstance(value, dict) else "a value")
