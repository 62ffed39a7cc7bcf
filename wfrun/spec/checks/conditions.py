"""`if:` expressions: they parse, read only names that will exist (and have finished),
and compare them with values they can hold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfrun.errors import Position, brief, clip
from wfrun.spec import expr
from wfrun.spec.checks.context import Context
from wfrun.spec.document import PhaseDoc, TemplateDoc
from wfrun.spec.interpolate import format_value
from wfrun.spec.locate import listing, suggest
from wfrun.spec.source import PathKey
from wfrun.status import PHASE_FIELDS

PHASE_STATUSES = ("succeeded", "failed", "skipped", "timeout", "error", "cancelled")
BOOLEAN_FIELDS = ("success", "failed", "skipped")
IF_NAMESPACES = ("phases", "params", "env")


def check_conditions(
    ctx: Context, phases: Mapping[str, PhaseDoc], templates: Mapping[str, TemplateDoc]
) -> None:
    """Every `if:` of phases and templates."""
    for section, entries in (("phases", phases), ("templates", templates)):
        for name, entry in entries.items():
            if entry.if_ is None:
                continue
            if ctx.full:
                return
            path = (section, name, "if")
            try:
                tree = expr.parse(entry.if_)
            except expr.ExpressionError as exc:
                where = _in_condition(ctx, path, entry.if_, exc.offset)
                ctx.add(where, f"if: {exc}", exc.hint)
                continue
            own = entry.params if isinstance(entry, TemplateDoc) else {}
            params = {**ctx.params, **own}
            before = len(ctx.found)
            for ref in expr.names(tree):
                _condition_name(ctx, path, entry.if_, name, section, ref, params, phases)
            if len(ctx.found) == before:  # names are sound: do the values fit them?
                for comparison in expr.comparisons(tree):
                    _compared(ctx, path, entry.if_, comparison, params)


def _in_condition(ctx: Context, path: PathKey, text: object, offset: int) -> Position:
    """Character `offset` of the `if:` text, if that is what the file holds; where a
    placeholder (`if: ${params.when}`) changed it, the offset is into the substituted
    text, so the `if:` value's start is the best place."""
    if ctx.source.value(path) == text:
        return ctx.source.within(path, offset)
    return ctx.source.at(path)


def _condition_name(
    ctx: Context,
    path: PathKey,
    text: str,
    phase: str,
    section: str,
    name: expr.Name,
    params: Mapping[str, Any],
    phases: Mapping[str, PhaseDoc],
) -> None:
    where = _in_condition(ctx, path, text, name.offset)
    head, *rest = name.parts
    if head not in IF_NAMESPACES:
        hint = suggest(head, IF_NAMESPACES) or "names start with phases., params. or env."
        if len(name.parts) == 1:
            hint += "; quote text: 'like this'"
        ctx.add(where, f"if: unknown name {brief(name.dotted)}", hint)
    elif head == "env" and len(rest) != 1:
        ctx.add(where, f"if: {brief(name.dotted)} should be env.NAME", "write env.NAME")
    elif head == "params" and (not rest or rest[0] not in params):
        wanted = rest[0] if rest else ""
        hint = (
            suggest(wanted, list(params)) or f"declared params: {listing(list(params)) or 'none'}"
        )
        ctx.add(where, f"if: unknown param {brief(name.dotted)}", hint)
    elif head == "params":
        _param_field(ctx, where, name, params[rest[0]])
    elif head == "phases":
        _phase_name(ctx, where, phase, section, name, phases)


def _param_field(ctx: Context, where: Position, name: expr.Name, value: Any) -> None:
    """`params.p.k...` must name keys of p's default: there is no attribute access,
    so `params.p.upper` on a string would fail only at run time, mid-workflow."""
    for depth, part in enumerate(name.parts[2:], start=2):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
            continue
        above = ".".join(name.parts[:depth])
        if isinstance(value, Mapping):
            keys = [str(key) for key in value]
            hint = suggest(part, keys) or f"its keys: {listing(keys) or 'none'}"
            message = f"if: {brief(above)} has no key {brief(part)}"
        else:
            hint = f"write {clip(above)} itself; there is no attribute access"
            message = f"if: {brief(above)} is a {_kind(value)}, so it has no {brief(part)}"
        ctx.add(where, message, hint)
        return


def _phase_name(
    ctx: Context,
    where: Position,
    phase: str,
    section: str,
    name: expr.Name,
    phases: Mapping[str, PhaseDoc],
) -> None:
    parts = name.parts[1:]
    if len(parts) != 2 or parts[1] not in PHASE_FIELDS:
        hint = f"write phases.NAME.FIELD, FIELD one of {', '.join(PHASE_FIELDS)}"
        if len(parts) == 2:
            hint = suggest(parts[1], PHASE_FIELDS) or hint
        ctx.add(where, f"if: {brief(name.dotted)} is not a phase field", hint)
        return
    other = parts[0]
    if other not in ctx.declared["phases"]:
        hint = suggest(other, ctx.names["phases"]) or "name a phase declared under `phases:`"
        ctx.add(where, f"if: unknown phase {brief(other)}", hint)
        return
    if section != "phases":
        return
    if ctx.execution == "sequential" and ctx.order[other] >= ctx.order[phase]:
        message = f"if: phase {brief(phase)} reads phase {brief(other)}, which runs after it"
        ctx.add(where, message, "a phase can only read phases listed before it")
    elif ctx.execution == "graph" and not ctx.needs("phases", phases).of(phase, other):
        message = f"if: phase {brief(phase)} reads phase {brief(other)} but does not need it"
        ctx.add(where, message, f"add {brief(other)} to its `needs`, so it has finished")


def _compared(
    ctx: Context, path: PathKey, text: str, node: expr.Compare, params: Mapping[str, Any]
) -> None:
    """A literal compared with a name must be something the name can hold:
    `status == 'success'` and `params.level >= 2` (a string) are never true."""
    pairs: list[tuple[expr.Name, expr.Literal]] = []
    left, right = node.left, node.right
    membership = node.op in ("in", "not in")
    if isinstance(left, expr.Name) and isinstance(right, expr.Literal) and not membership:
        pairs.append((left, right))
    elif isinstance(left, expr.Literal) and isinstance(right, expr.Name) and not membership:
        pairs.append((right, left))
    elif isinstance(left, expr.Name) and isinstance(right, expr.ListLit) and membership:
        pairs += [(left, i) for i in right.items if isinstance(i, expr.Literal)]
    for name, literal in pairs:
        problem = _misfit(name, literal.value, params)
        if problem is not None:
            where = _in_condition(ctx, path, text, literal.offset)
            ctx.add(where, f"if: {problem[0]}", problem[1])


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {str: "string", int: "number", float: "number", list: "list"}.get(type(value), "value")


def _misfit(name: expr.Name, value: Any, params: Mapping[str, Any]) -> tuple[str, str] | None:
    """(message, hint) if `name` can never hold a value like the literal `value`."""
    head, parts, shown = name.parts[0], name.parts[1:], _literal(value)
    dotted = clip(name.dotted)
    if head == "phases" and parts[-1] in BOOLEAN_FIELDS and not isinstance(value, bool):
        return (
            f"{dotted} is true or false, never {shown}",
            f"compare with true or false, or write {dotted} alone",
        )
    if head == "phases" and parts[-1] == "status" and value not in PHASE_STATUSES:
        hint = (suggest(value, PHASE_STATUSES) if isinstance(value, str) else "") or (
            f"statuses: {', '.join(PHASE_STATUSES)}"
        )
        return f"{dotted} is never {shown}", hint
    if head == "env" and isinstance(value, int | float):  # a bool is an int too
        return (
            f"{dotted} is text (or null when unset), compared with a {_kind(value)} {shown}",
            f"compare with text: '{format_value(value)}'",
        )
    if head == "params":
        default: Any = params
        for part in parts:
            default = default[part]
        have, want = _kind(default), _kind(value)
        if "value" not in (have, want) and have != want:
            return (
                f"{dotted} is a {have} ({clip(_literal(default))}), compared with a {want} {shown}",
                f"compare with a {have} or make the default a {want}",
            )
    return None


def _literal(value: Any) -> str:
    """A value as an `if:` expression spells it."""
    if isinstance(value, str):
        return repr(value) if "'" not in value else f'"{value}"'
    return format_value(value) if value is not None else "null"
