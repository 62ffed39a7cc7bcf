"""Turn pydantic's validation errors into positioned, actionable diagnostics."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from wfrun import constants as C
from wfrun.errors import Diagnostic, brief
from wfrun.spec.source import PathKey, Source, value_at

_MAX_CANDIDATES = 100


def suggest(word: str, choices: Sequence[str]) -> str:
    """'did you mean 'x'?' for a near miss, else '' (difflib, as pip and git do).

    Not among more than 100 names: difflib compares the word with each, and a file
    can hold thousands of names and thousands of misspellings of them.
    """
    if len(choices) > _MAX_CANDIDATES or len(word) > 100:
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {brief(close[0])}?" if close else ""


def listing(names: Sequence[str], limit: int = 10) -> str:
    """'a, b, c' for a hint; past `limit` names, the first few and how many in all."""
    shown = ", ".join(name if len(name) <= 40 else f"{name[:40]}…" for name in names[:limit])
    return shown if len(names) <= limit else f"{shown}, … ({len(names):,} in all)"


def dotted(path: PathKey) -> str:
    """`phases.a.agents[0]`; a key of 100,000 characters is cut short."""
    out = ""
    for part in path:
        key = str(part) if len(str(part)) <= 40 else f"{str(part)[:40]}…"
        out += f"[{part}]" if isinstance(part, int) else (f".{key}" if out else key)
    return out or "(top level)"


def diagnostics_from(
    exc: ValidationError,
    source: Source,
    prefix: PathKey,
    model: type[BaseModel],
    *,
    ignore: Callable[[PathKey], bool] = lambda _path: False,
    limit: int = C.MAX_DIAGNOSTICS,
) -> list[Diagnostic]:
    """One diagnostic per pydantic error, placed at the key or value it is about.

    `prefix` is where the validated mapping sits in the file. pydantic's `loc` mixes
    data keys with union-member tags ('list[str]'); we follow only the parts that exist
    in the data, so the position is always a real node.
    """
    data = source.value(prefix)
    found: list[Diagnostic] = []
    for error in _without_losing_branches(exc.errors(include_url=False), data):
        if len(found) >= limit:
            break
        path, at_key = _follow(data, error["loc"])
        full = (*prefix, *path)
        if ignore(full):
            continue
        message, hint, key_position = _explain(error, path, model)
        where = source.at(full, key=at_key or key_position)
        text = _cut(f"{dotted(full)}: {message}" if full else message)
        found.append(Diagnostic(where, text, hint, path=dotted(full)))
    return found


def _cut(message: str, limit: int = 300) -> str:
    """Config models of built-in and plugin types may quote a value whole, however long."""
    return message if len(message) <= limit else f"{message[: limit - 1]}…"


def _without_losing_branches(errors: list[Any], data: Any) -> list[Any]:
    """Drop "wrong type" errors of union members when another member got further.

    For `run: list[str] | str` given a list with a bad item, pydantic reports both
    "not a string" (the str member, loc ends in the tag 'str') and the item's error (the
    list member); only the second helps. A loc part that is a real key in the data is
    never a union tag, so real errors are never dropped.
    """

    def is_tag(loc: tuple[Any, ...], i: int) -> bool:
        node = _data_at_loc(data, loc[:i])
        part = loc[i]
        if isinstance(node, dict):
            return part not in node
        return isinstance(node, list) and not isinstance(part, int)

    kept = []
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"].endswith("_type") and loc and is_tag(loc, len(loc) - 1):
            stem, tag = loc[:-1], loc[-1]
            deeper = any(
                len(other["loc"]) > len(loc)
                and tuple(other["loc"][: len(stem)]) == stem
                and other["loc"][len(stem)] != tag
                and is_tag(tuple(other["loc"]), len(stem))
                for other in errors
            )
            if deeper:
                continue
        kept.append(error)
    return kept


def _data_at_loc(data: Any, loc: tuple[Any, ...]) -> Any:
    """Follow the parts of `loc` that exist in the data (skipping union tags)."""
    return value_at(data, _follow(data, loc)[0])


def _follow(data: Any, loc: tuple[int | str, ...]) -> tuple[PathKey, bool]:
    path: list[str | int] = []
    for part in loc:
        if part == "[key]":
            return tuple(path), True
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if in_list or (isinstance(data, dict) and part in data):
            data = data[part]
            path.append(part)
    return tuple(path), False


def _explain(error: Any, path: PathKey, model: type[BaseModel]) -> tuple[str, str, bool]:
    """(message, hint, point-at-the-key) for one pydantic error."""
    kind, loc = error["type"], error["loc"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(model, path[:-1])
        hint = suggest(key, allowed) or (f"allowed keys: {', '.join(allowed)}" if allowed else "")
        return f"unknown key {brief(key)}", hint, True
    if kind == "missing":
        key = str(loc[-1])
        return f"missing required key {brief(key)}", f"add `{key}:` here", True
    if kind == "string_pattern_mismatch" and "[key]" in loc:
        return f"{brief(error['input'])} is not a valid name", C.NAME_HINT, True
    if kind == "string_pattern_mismatch" and error["ctx"].get("pattern") == C.NAME_PATTERN:
        return f"{brief(error['input'])} is not a valid name", C.NAME_HINT, False
    if kind == "string_too_long" and error["ctx"].get("max_length") == C.MAX_NAME_CHARS:
        hint = f"names are at most {C.MAX_NAME_CHARS} characters: they become file names"
        return f"{brief(error['input'])} is too long for a name", hint, "[key]" in loc
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    shown = repr(error.get("input"))
    if (
        kind not in ("model_type", "dict_type", "list_type")
        and _short(error.get("input"))
        and (shown not in message)
    ):
        message = f"{message} (got {brief(error['input'])})"
    return message, "", False


def _short(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(repr(value)) <= 60


def _allowed_keys(model: type[BaseModel], path: PathKey) -> list[str]:
    """Keys allowed at `path` inside `model`, read from its JSON Schema."""
    schema = _schema(model)
    node: Any = schema
    for part in path:
        node = _resolve(schema, node)
        if isinstance(part, int):
            node = node.get("items", {})
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        else:
            patterns = list(node.get("patternProperties", {}).values())
            node = patterns[0] if patterns else node.get("additionalProperties", {})
    node = _resolve(schema, node)
    return list(node.get("properties", {}))


def _resolve(schema: dict[str, Any], node: Any) -> dict[str, Any]:
    while isinstance(node, dict):
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
            continue
        options = node.get("anyOf") or node.get("oneOf")
        if options:
            objects = [_resolve(schema, o) for o in options]
            node = next((o for o in objects if "properties" in o), objects[0])
            continue
        return node
    return {}


@cache
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(by_alias=True)
