"""Type name -> (config model, factory): the one table of resource and agent types.

Built-ins register through the same path as plugins: each built-in module exposes
`TYPES`, a list of `TypeSpec`, exactly what an entry point in the `wfrun.resources` or
`wfrun.agents` group must point at. The registry's keys are the schema's enum, so the
JSON Schema, `validate` and `wfrun types` can never disagree.

Types are imported when first named, not when the registry is made: `wfrun validate`
runs in every pre-commit hook, and importing every type's module (and building its
config model) cost more than the rest of a small file's check. The names are known
without importing anything: built-ins from `BUILTIN_TYPES` (a test holds it to each
module's `TYPES`), plugins from their entry points' names.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from wfrun.errors import WfrunError

Kind = Literal["resource", "agent"]
KINDS: tuple[Kind, ...] = ("resource", "agent")
ENTRY_POINT_GROUPS: dict[Kind, str] = {"resource": "wfrun.resources", "agent": "wfrun.agents"}

# module -> the (kind, name) of each type in its `TYPES`, in that order.
BUILTIN_TYPES: dict[str, tuple[tuple[Kind, str], ...]] = {
    "wfrun.builtins.workspace": (("resource", "workspace"),),
    "wfrun.builtins.process": (("resource", "process"),),
    "wfrun.builtins.memory": (("resource", "memory"),),
    "wfrun.builtins.container": (("resource", "container"),),
    "wfrun.builtins.model": (("resource", "model"),),
    "wfrun.builtins.shell": (("agent", "shell"), ("agent", "check")),
    "wfrun.builtins.python_agent": (("agent", "python"),),
    "wfrun.builtins.executor": (("agent", "executor"),),
}


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


class _Deferred:
    """Types not imported yet: a built-in module or an entry point, loaded on first use.

    The result is kept, so a registry's copies (`with_plugins`) import it once.
    """

    def __init__(self, origin: str, load: Callable[[], list[TypeSpec]]) -> None:
        self.origin = origin
        self._load = load
        self._specs: list[TypeSpec] | None = None

    def specs(self) -> list[TypeSpec]:
        if self._specs is None:
            self._specs = [
                spec if spec.origin == self.origin else replace(spec, origin=self.origin)
                for spec in self._load()
            ]
        return self._specs


class Registry:
    """Resource and agent types by name, in registration order.

    A name may stand for a `_Deferred` until something asks for its type (`get`, or
    `of_kind` and iteration, which load every type): then its module is imported.
    `names` never imports anything.
    """

    def __init__(self) -> None:
        self._types: dict[Kind, dict[str, TypeSpec | _Deferred]] = {kind: {} for kind in KINDS}
        # Entry points whose types may have names other than the entry point's: a name
        # the table lacks loads them before it is called unknown.
        self._inexact: list[_Deferred] = []

    def add(self, spec: TypeSpec) -> None:
        """Register a type; a plugin may not silently replace a type of another origin."""
        if not isinstance(spec, TypeSpec):
            msg = f"expected a TypeSpec, got {type(spec).__name__}"
            raise PluginError(msg)
        self._claim(spec.kind, spec.name, spec.origin)
        self._types[spec.kind][spec.name] = spec

    def add_deferred(self, names: Iterable[tuple[Kind, str]], deferred: _Deferred) -> None:
        """Register names whose types `deferred` loads when one of them is first used."""
        for kind, name in names:
            self._claim(kind, name, deferred.origin)
            self._types[kind][name] = deferred

    def _claim(self, kind: Kind, name: str, origin: str) -> None:
        known = self._types[kind].get(name)
        if known is not None and known.origin != origin:
            msg = f"{kind} type {name!r} from {origin} clashes with the one from {known.origin}"
            raise PluginError(msg)

    def copy(self) -> Registry:
        clone = Registry()
        for kind in KINDS:
            clone._types[kind] = dict(self._types[kind])
        clone._inexact = list(self._inexact)
        return clone

    def get(self, kind: Kind, name: str) -> TypeSpec | None:
        """The type named `name`, its module imported now if it was not yet."""
        found = self._types[kind].get(name)
        if found is None and self._inexact:
            for deferred in list(self._inexact):
                self._resolve(deferred)
            found = self._types[kind].get(name)
        if isinstance(found, _Deferred):
            self._resolve(found)
            found = self._types[kind].get(name)
        return found if isinstance(found, TypeSpec) else None

    def names(self, kind: Kind) -> list[str]:
        return list(self._types[kind])

    def of_kind(self, kind: Kind) -> list[TypeSpec]:
        self._resolve_all()
        return [spec for spec in self._types[kind].values() if isinstance(spec, TypeSpec)]

    def __iter__(self) -> Iterator[TypeSpec]:
        self._resolve_all()
        for kind in KINDS:
            yield from (spec for spec in self._types[kind].values() if isinstance(spec, TypeSpec))

    def _resolve_all(self) -> None:
        for kind in KINDS:
            for found in list(self._types[kind].values()):
                if isinstance(found, _Deferred):
                    self._resolve(found)
        for deferred in list(self._inexact):
            self._resolve(deferred)

    def _resolve(self, deferred: _Deferred) -> None:
        """Put `deferred`'s types in place of its names (a name it turns out not to
        have goes); a name someone else has registered since is left alone."""
        if deferred in self._inexact:
            self._inexact.remove(deferred)
        for spec in deferred.specs():
            known = self._types[spec.kind].get(spec.name)
            if known is deferred or known is None:
                self._types[spec.kind][spec.name] = spec
            else:  # another origin's is a clash; the same origin's newer one stays
                self._claim(spec.kind, spec.name, spec.origin)
        for kind in KINDS:
            table = self._types[kind]
            for name in [name for name, found in table.items() if found is deferred]:
                del table[name]

    def load_module(self, module_name: str, *, origin: str | None = None) -> None:
        """Register every TypeSpec in `module_name`'s `TYPES` list."""
        self.add_all(_module_types(module_name), origin=origin or module_name)

    def add_all(self, specs: Iterable[TypeSpec] | TypeSpec, *, origin: str) -> None:
        if isinstance(specs, TypeSpec):
            specs = [specs]
        for spec in specs:
            self.add(spec if origin == spec.origin else replace(spec, origin=origin))

    def load_entry_points(self) -> None:
        """Register the types plugins publish under the `wfrun.*` entry-point groups.

        Nothing is imported: an entry point's name is its type's (a list of types may
        name others; a name nobody has then loads these before it is called unknown).
        """
        published = entry_points()  # one scan of the installed distributions, not one per group
        for kind, group in ENTRY_POINT_GROUPS.items():
            for point in published.select(group=group):
                origin = f"plugin {point.dist.name if point.dist else point}"
                deferred = _Deferred(origin, functools.partial(_entry_point_types, point, kind))
                self.add_deferred([(kind, point.name)], deferred)
                self._inexact.append(deferred)


def _module_types(module_name: str) -> list[TypeSpec]:
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        msg = f"cannot import plugin module {module_name!r}: {exc}"
        raise PluginError(msg) from exc
    specs = getattr(module, "TYPES", None)
    if specs is None:
        msg = f"module {module_name!r} has no TYPES list of wfrun TypeSpecs"
        raise PluginError(msg)
    return [specs] if isinstance(specs, TypeSpec) else list(specs)


def _entry_point_types(point: EntryPoint, kind: Kind) -> list[TypeSpec]:
    try:
        loaded = point.load()
    except Exception as exc:
        msg = f"cannot load entry point {point.name!r} ({point.value}): {exc}"
        raise PluginError(msg) from exc
    specs = [loaded] if isinstance(loaded, TypeSpec) else list(loaded)
    for spec in specs:
        if not isinstance(spec, TypeSpec):
            msg = f"expected a TypeSpec, got {type(spec).__name__}"
            raise PluginError(msg)
        if spec.kind != kind:
            msg = f"entry point {point.value} in {point.group} registers a {spec.kind} type"
            raise PluginError(msg)
    return specs


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
    """A registry with only the types that ship with wfrun (imported when first used)."""
    registry = Registry()
    for module, names in BUILTIN_TYPES.items():
        registry.add_deferred(names, _Deferred("wfrun", functools.partial(_module_types, module)))
    return registry


def default_registry() -> Registry:
    """Built-ins plus installed plugins: what the CLI uses."""
    registry = builtin_registry()
    registry.load_entry_points()
    return registry
