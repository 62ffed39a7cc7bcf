"""`wfrun types`: what types exist, what their `with:` takes, what attributes they offer."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic.fields import FieldInfo
from rich.console import Console
from rich.table import Table

from wfrun.errors import UsageError
from wfrun.registry import Registry, TypeSpec
from wfrun.spec.locate import suggest


def render(console: Console, registry: Registry, name: str | None = None) -> None:
    """A table of every type, or one type's fields in full."""
    if name is not None:
        matches = [spec for spec in registry if spec.name == name]
        if not matches:
            hint = suggest(name, [spec.name for spec in registry]) or "run `wfrun types`"
            message = f"no resource or agent type named {name!r}"
            raise UsageError(message, hint=hint)
        for spec in matches:
            _render_one(console, spec)
        return
    table = Table(title="wfrun types", title_justify="left", expand=False)
    for column in ("kind", "type", "with: fields", "attributes", "from"):
        table.add_column(column)
    for spec in registry:
        fields = ", ".join(_key(n, f) for n, f in spec.config.model_fields.items())
        table.add_row(spec.kind, spec.name, fields, ", ".join(spec.attributes), spec.origin)
    console.print(table)
    console.print("Run `wfrun types NAME` for one type's fields in full.")


def _render_one(console: Console, spec: TypeSpec) -> None:
    console.print(f"{spec.kind} type {spec.name!r} ({spec.origin})", style="bold")
    if spec.doc:
        console.print(spec.doc.strip())
    if spec.attributes:
        attrs = ", ".join(f"${{resources.NAME.{a}}}" for a in spec.attributes)
        console.print(f"attributes: {attrs}")
    table = Table("with:", "type", "default", "description")
    for field_name, info in spec.config.model_fields.items():
        table.add_row(
            _key(field_name, info), _annotation(info), _default(info), info.description or ""
        )
    console.print(table)


def _key(name: str, info: FieldInfo) -> str:
    return info.alias or name


def _annotation(info: FieldInfo) -> str:
    return _type_name(info.annotation)


def _type_name(annotation: Any) -> str:
    """`list[str] | None` as a person writes it: no Annotated metadata, no module paths."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (types.UnionType, typing.Union):
        return " | ".join(_type_name(arg) for arg in args)
    if origin is typing.Literal:
        return " | ".join(repr(arg) for arg in args)
    if origin is not None:
        inner = ", ".join(_type_name(arg) for arg in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "(required)"
    if info.default_factory is not None:
        return repr(info.default_factory())  # type: ignore[call-arg]
    return repr(info.default)
