"""A type's `with:`: its config model, what it names on disk, and the type's own checks.

Which model checks `with:` depends on `type`, so this runs after the structure is known
(`spec.document` leaves `with:` a plain mapping).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from wfrun.errors import brief, clip
from wfrun.registry import Kind, OnDisk, TypeSpec
from wfrun.spec.checks.context import Context
from wfrun.spec.document import AgentDoc, ResourceDoc
from wfrun.spec.interpolate import is_run_time
from wfrun.spec.locate import diagnostics_from, dotted, listing, suggest
from wfrun.spec.source import PathKey, Source


def typed(ctx: Context, kind: Kind, section: str, name: str, doc: ResourceDoc | AgentDoc) -> None:
    """`doc.type` must be registered, and `doc.with_` must fit its config model."""
    type_name = doc.type
    spec = ctx.registry.get(kind, type_name)
    if spec is None:
        known = ctx.registry.names(kind)
        hint = suggest(type_name, known) or f"known {kind} types: {listing(known, 12)}"
        message = f"unknown {kind} type {brief(type_name)}"
        ctx.add(ctx.source.at((section, name, "type")), message, hint)
        return
    try:
        config = spec.config.model_validate(doc.with_)
        _on_disk(ctx, spec.config, doc.with_, (section, name, "with"))
    except ValidationError as exc:
        ctx.found += diagnostics_from(
            exc,
            ctx.source,
            (section, name, "with"),
            spec.config,
            ignore=lambda path: _is_run_time(ctx.source, path),
        )
    except RecursionError:
        # Hostile input, not a bug in the type: its check recursed over something nested
        # deeply (re.compile of a regex nested 5,000 deep). Other exceptions are bugs
        # in the type, and stay internal errors (exit 3, with a log).
        where = ctx.source.at((section, name, "with"), key=True)
        message = f"the {kind} type {brief(type_name)} cannot check `with:`: nested too deeply"
        ctx.add(where, message, "simplify the settings (a regex with fewer groups?)")
    else:
        _own_checks(ctx, spec, config, (section, name, "with"))


def _own_checks(ctx: Context, spec: TypeSpec, config: Any, prefix: PathKey) -> None:
    """The type's checks beside the workflow (a `call:` module imports...), if it has any."""
    if spec.check is None or ctx.base_dir is None:
        return
    for finding in spec.check(config, ctx.base_dir):
        path = (*prefix, *finding.path)
        if _is_run_time(ctx.source, path):
            continue
        raw = ctx.source.value(path)
        if finding.offset is not None and isinstance(raw, str) and "${" not in raw:
            where = ctx.source.within(path, finding.offset)  # as written: exact column
        else:
            where = ctx.source.at(path)
        ctx.add(where, f"{dotted(path)}: {finding.message}", finding.hint)


def _on_disk(ctx: Context, model: type[BaseModel], data: Any, path: PathKey) -> None:
    """Check the values of `data` that `model` marks as naming something on disk."""
    if ctx.base_dir is None or not isinstance(data, Mapping):
        return
    for field_name, info in model.model_fields.items():
        key = info.alias or field_name
        if key in data:
            _marked(ctx, info.annotation, tuple(info.metadata), data[key], (*path, key))


def _marked(
    ctx: Context, annotation: Any, metadata: tuple[Any, ...], value: Any, path: PathKey
) -> None:
    for marker in metadata:
        if isinstance(marker, OnDisk) and isinstance(value, str) and not ctx.full:
            _exists(ctx, marker, value, path)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        _marked(ctx, args[0], args[1:], value, path)
    elif origin in (list, tuple) and isinstance(value, list) and args:
        for i, item in enumerate(value):
            _marked(ctx, args[0], (), item, (*path, i))
    elif origin in (Union, UnionType):
        for arg in args:
            _marked(ctx, arg, (), value, path)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        _on_disk(ctx, annotation, value, path)


def _exists(ctx: Context, marker: OnDisk, value: str, path: PathKey) -> None:
    if ctx.base_dir is None:
        return
    where = ctx.source.at(path)
    if _is_run_time(ctx.source, path):
        message = f"{clip(value)} is made at run time, so validate cannot check the {marker.what}"
        ctx.add(where, message, "", "warning")
        return
    problem = marker.problem(value, ctx.base_dir)
    if problem is not None:
        ctx.add(where, problem[0], problem[1])


def _is_run_time(source: Source, path: PathKey) -> bool:
    """True if the value at `path` is a string holding a run-time placeholder."""
    return is_run_time(source.value(path))
