"""`${...}` placeholders: params and env now, resources and phases at run time.

`"${params.port}"` alone keeps the param's type (an int stays an int); inside a longer
string it is formatted. `$${` writes a literal `${`. Run-time references are left in
place and collected, so their names can be checked before anything runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wfrun.errors import brief
from wfrun.spec.locate import listing, suggest
from wfrun.spec.source import PathKey

PLACEHOLDER = re.compile(r"\$\$\{|\$\{([^{}]*)\}")
_REFERENCE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)+)\s*$")
LOAD_TIME = ("params", "env")
RUN_TIME = ("resources", "phases")


@dataclass(frozen=True)
class Reference:
    """A `${namespace.a.b}` placeholder: where it is and what it names."""

    namespace: str
    parts: tuple[str, ...]
    path: PathKey
    offset: int

    @property
    def text(self) -> str:
        """The placeholder as written, for messages; a long one is cut short."""
        dotted = ".".join((self.namespace, *self.parts))
        return "${" + (dotted if len(dotted) <= 60 else f"{dotted[:60]}…") + "}"


class PlaceholderError(ValueError):
    """A placeholder that cannot be resolved; `offset` is where it starts in the string."""

    def __init__(self, message: str, *, offset: int, hint: str = "") -> None:
        super().__init__(message)
        self.offset = offset
        self.hint = hint


def holds_placeholder(value: Any) -> bool:
    """Whether a value, or anything nested in it, holds a `${...}` (or a `$${` escape)."""
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, Mapping):
        return any(holds_placeholder(k) or holds_placeholder(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(map(holds_placeholder, value))
    return False


def is_run_time(value: Any) -> bool:
    """Whether a string holds a placeholder resolved only at run time (`${resources...}`,
    `${phases...}`): what such a value will be cannot be checked before the run."""
    return isinstance(value, str) and any(
        m.group(1) and m.group(1).strip().startswith(tuple(f"{ns}." for ns in RUN_TIME))
        for m in PLACEHOLDER.finditer(value)
    )


def format_value(value: Any) -> str:
    """How a typed value reads inside a longer string (YAML spelling for scalars)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)  # YAML dates and times are not JSON types
    return str(value)


def parse_reference(inner: str, offset: int, path: PathKey) -> Reference:
    match = _REFERENCE.match(inner)
    if match is None:
        msg = f"malformed placeholder {brief('${' + inner + '}')}"
        hint = "write ${params.NAME}, ${env.NAME}, ${resources.NAME.ATTR} or ${phases.NAME.output}"
        raise PlaceholderError(msg, offset=offset, hint=hint)
    namespace, *parts = match.group(1).split(".")
    if namespace not in LOAD_TIME + RUN_TIME:
        msg = f"unknown namespace {brief(namespace)} in {brief('${' + inner.strip() + '}')}"
        hint = "placeholders start with params., env., resources. or phases."
        raise PlaceholderError(msg, offset=offset, hint=hint)
    return Reference(namespace, tuple(parts), path, offset)


@dataclass
class Interpolator:
    """Substitutes load-time placeholders through a data tree, collecting problems.

    `resolve` turns a load-time Reference into a value or raises PlaceholderError.
    """

    resolve: Callable[[Reference], Any]
    final: bool = False  # at run time: resolve every namespace, and `$${` becomes `${`
    errors: list[tuple[PathKey, PlaceholderError]] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    max_errors: int | None = None  # then stop resolving: the load has failed already
    max_chars: int | None = None  # of substituted text in all; then stop, with an error
    _spent: int = field(default=0, init=False, repr=False)
    _sizes: dict[int, int] = field(default_factory=dict, init=False, repr=False)

    @property
    def full(self) -> bool:
        """True once `max_errors` were found (one string can hold 50,000 bad placeholders)
        or `max_chars` were substituted."""
        errors = self.max_errors is not None and len(self.errors) >= self.max_errors
        return errors or (self.max_chars is not None and self._spent > self.max_chars)

    def _spend(self, value: Any) -> bool:
        """Count a substitution's size; True when that is over `max_chars`.

        Like an alias, a placeholder copies its value: a 200 KB list param used 20,000
        times is 4 GB of text from a 300 KB file. A whole value is not copied, but it is
        checked again at every use, so it counts too. Sizes are memoised per object.
        """
        if self.max_chars is None:
            return False
        if id(value) not in self._sizes:
            size = len(value) if isinstance(value, str) else len(format_value(value))
            self._sizes[id(value)] = size
        self._spent += self._sizes[id(value)]
        return self._spent > self.max_chars

    def render(self, value: Any, path: PathKey) -> Any:
        if isinstance(value, str):
            return self._string(value, path)
        if isinstance(value, dict):
            return {key: self.render(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.render(item, (*path, i)) for i, item in enumerate(value)]
        return value

    def _string(self, text: str, path: PathKey) -> Any:
        if "${" not in text or self.full:
            return text
        matches = list(PLACEHOLDER.finditer(text))
        first = matches[0] if matches else None
        whole = len(matches) == 1 and first is not None and first.group() != "$${"
        whole = whole and first is not None and first.span() == (0, len(text))
        pieces: list[str] = []
        last = 0
        for match in matches:
            pieces.append(text[last : match.start()])
            last = match.end()
            if match.group() == "$${":
                pieces.append("${" if self.final else "$${")  # unescaped at last use
                continue
            try:
                ref = parse_reference(match.group(1), match.start(), path)
                if ref.namespace in RUN_TIME and not self.final:
                    self.references.append(ref)
                    pieces.append(match.group())
                    continue
                resolved = self.resolve(ref)
            except PlaceholderError as exc:
                self.errors.append((path, exc))
                pieces.append(match.group())
                if self.full:
                    break
                continue
            if self._spend(resolved):
                message = f"placeholders expand to more than {self.max_chars:,} characters"
                hint = "is a long param used in many places?"
                error = PlaceholderError(message, offset=match.start(), hint=hint)
                self.errors.append((path, error))
                pieces.append(match.group())
                break
            if whole:
                return resolved
            pieces.append(format_value(resolved))
        pieces.append(text[last:])
        return "".join(pieces)


def resolve_in(mapping: Mapping[str, Any], ref: Reference, *, kind: str) -> Any:
    """Follow `ref.parts` into a (possibly nested) mapping of params or env."""
    value: Any = mapping
    for depth, part in enumerate(ref.parts):
        if not isinstance(value, Mapping) or part not in value:
            where = ".".join((ref.namespace, *ref.parts[: depth + 1]))
            choices = [str(key) for key in value] if isinstance(value, Mapping) else []
            msg = f"unknown {kind} {brief(where)}"
            hint = suggest(part, choices) or (
                f"declared: {listing(choices)}" if choices else f"no {kind}s are declared here"
            )
            raise PlaceholderError(msg, offset=ref.offset, hint=hint)
        value = value[part]
    return value
