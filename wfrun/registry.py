"""Type name -> (config model, factory): the one table of resource and agent types.

Built-ins register through the same path as plugins: each built-in module exposes
`TYPES`, a list of `TypeSpec`, exactly what an entry point in the `wfrun.resources` or
`wfrun.agents` group must point at. The registry's keys are the schema's enum, so the
JSON Schema, `validate` and `wfrun types` can never disagree.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from wfrun.errors import WfrunError

Kind = Literal["resource", "agent"]
KINDS: tuple[Kind, ...] = ("resource", "agent")
ENTRY_POINT_GROUPS: dict[Kind, str] = {"resource": "wfrun.resources", "agent": "wfrun.agents"}

BUILTIN_MODULES = (
    "wfrun.builtins.workspace",
    "wfrun.builtins.process",
    "wfrun.builtins.memory",
    "wfrun.builtins.container",
    "wfrun.builtins.model",
    "wfrun.builtins.shell",
    "wfrun.builtins.python_agent",
    "wfrun.builtins.executor",
)


class PluginError(WfrunError):
    """A plugin could not be loaded, or registered something malformed."""


class OnDisk(ABC):
    """Marks a `with:` field (`Annotated[str, marker]`) as naming something on disk.

    `validate` asks each marked value it finds (in lists and nested models too) for its
    `problem` and reports it at the value, so a type declares what it reads from the
    workflow's folder once, in its config model, and no checker knows about the type.
    A value made at run time (`${resources...}`, `${phases...}`) cannot be checked:
    that is a warning.
    """

    what = "path"  # for the run-time warning: "... so validate cannot check the path"

    @abstractmethod
    def problem(self, value: str, base_dir: Path) -> tuple[str, str] | None:
        """(message, hint) if `value` is not there, relative to `base_dir`; else None."""


@dataclass(frozen=True)
class Finding:
    """A problem a type's own `check` found in a valid `with:`: where (a path inside
    `with:`, and optionally a character offset in that string), what, and how to fix it."""

    path: tuple[str | int, ...]
    message: str
    hint: str = ""
    offset: int | None = None


@dataclass(frozen=True, kw_only=True)
class TypeSpec:
    """One resource or agent type.

    `attributes` are the names usable as `${resources.r.<attr>}`; checked at load time.
    `factory` builds the live object from the validated config (see `wfrun.engine.api`);
    `cleanup` undoes a resource's journal entry after a hard kill (`wfrun cleanup`).
    `check(config, base_dir)` finds what `validate` can know only by looking beside the
    workflow (a module to import, a file to read); placed at the `with:` values it names.
    """

    kind: Kind
    name: str
    config: type[BaseModel]
    factory: Callable[..., Any] | None = None
    cleanup: Callable[..., str] | None = None
    check: Callable[[Any, Path], Iterable[Finding]] | None = None
    attributes: tuple[str, ...] = ()
    doc: str = ""
    origin: str = field(default="wfrun", compare=False)

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""


class Registry:
    """Resource and agent types by name, in registration order."""

    def __init__(self) -> None:
        self._types: dict[Kind, dict[str, TypeSpec]] = {kind: {} for kind in KINDS}

    def add(self, spec: TypeSpec) -> None:
        """Register a type; a plugin may not silently replace a type of another origin."""
        if not isinstance(spec, TypeSpec):
            msg = f"expected a TypeSpec, got {type(spec).__name__}"
            raise PluginError(msg)
        known = self._types[spec.kind].get(spec.name)
        if known is not None and known.origin != spec.origin:
            msg = (
                f"{spec.kind} type {spec.name!r} from {spec.origin} clashes with the one "
                f"from {known.origin}"
            )
            raise PluginError(msg)
        self._types[spec.kind][spec.name] = spec

    def copy(self) -> Registry:
        clone = Registry()
        for kind in KINDS:
            clone._types[kind] = dict(self._types[kind])
        return clone

    def get(self, kind: Kind, name: str) -> TypeSpec | None:
        return self._types[kind].get(name)

    def names(self, kind: Kind) -> list[str]:
        return list(self._types[kind])

    def of_kind(self, kind: Kind) -> list[TypeSpec]:
        return list(self._types[kind].values())

    def __iter__(self) -> Iterator[TypeSpec]:
        for kind in KINDS:
            yield from self._types[kind].values()

    def load_module(self, module_name: str, *, origin: str | None = None) -> None:
        """Register every TypeSpec in `module_name`'s `TYPES` list."""
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            msg = f"cannot import plugin module {module_name!r}: {exc}"
            raise PluginError(msg) from exc
        specs = getattr(module, "TYPES", None)
        if specs is None:
            msg = f"module {module_name!r} has no TYPES list of wfrun TypeSpecs"
            raise PluginError(msg)
        self.add_all(specs, origin=origin or module_name)

    def add_all(self, specs: Iterable[TypeSpec] | TypeSpec, *, origin: str) -> None:
        if isinstance(specs, TypeSpec):
            specs = [specs]
        for spec in specs:
            self.add(spec if origin == spec.origin else replace(spec, origin=origin))

    def load_entry_points(self) -> None:
        """Register the types plugins publish under the `wfrun.*` entry-point groups."""
        published = entry_points()  # one scan of the installed distributions, not one per group
        for kind, group in ENTRY_POINT_GROUPS.items():
            for point in published.select(group=group):
                try:
                    loaded = point.load()
                except Exception as exc:
                    msg = f"cannot load entry point {point.name!r} ({point.value}): {exc}"
                    raise PluginError(msg) from exc
                specs = [loaded] if isinstance(loaded, TypeSpec) else list(loaded)
                for spec in specs:
                    if spec.kind != kind:
                        msg = f"entry point {point.value} in {group} registers a {spec.kind} type"
                        raise PluginError(msg)
                self.add_all(specs, origin=f"plugin {point.dist.name if point.dist else point}")


def with_plugins(registry: Registry, modules: Iterable[str], base_dir: Path) -> Registry:
    """A copy of `registry` plus the types of a workflow's `plugins:` modules.

    The modules are imported with the workflow's folder first on sys.path, so a plugin
    can live next to the workflow file without being installed.
    """
    modules = list(modules)
    if not modules:
        return registry
    extended = registry.copy()
    base_dir = base_dir.resolve()
    folder = str(base_dir)
    sys.path.insert(0, folder)
    try:
        for module in modules:
            _forget_other_folders(module, base_dir)
            extended.load_module(module, origin=f"plugin {module}")
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
    return extended


_LOCAL_PLUGINS: set[str] = set()  # top-level names imported from a workflow's folder


def _forget_other_folders(module: str, base_dir: Path) -> None:
    """Make `import module` pick the copy beside *this* workflow.

    Two workflows may each have their own `local_types.py`; sys.modules would hand the
    second one the first one's. A local module that shadows a module wfrun already
    imported from elsewhere (say `json.py`) is refused rather than silently ignored.
    """
    top = module.split(".", 1)[0]
    if not ((base_dir / f"{top}.py").is_file() or (base_dir / top / "__init__.py").is_file()):
        return
    cached = sys.modules.get(top)
    if cached is not None:
        origin = Path(getattr(cached, "__file__", None) or "/").resolve()
        if origin.is_relative_to(base_dir):
            return
        if top not in _LOCAL_PLUGINS:
            msg = (
                f"plugin module {top!r} beside the workflow has the name of a module "
                f"already imported from {origin.parent}; rename it"
            )
            raise PluginError(msg)
        for name in [n for n in sys.modules if n == top or n.startswith(f"{top}.")]:
            del sys.modules[name]
    _LOCAL_PLUGINS.add(top)


def builtin_registry() -> Registry:
    """A registry with only the types that ship with wfrun."""
    registry = Registry()
    for module in BUILTIN_MODULES:
        registry.load_module(module, origin="wfrun")
    return registry


def default_registry() -> Registry:
    """Built-ins plus installed plugins: what the CLI uses."""
    registry = builtin_registry()
    registry.load_entry_points()
    return registry
