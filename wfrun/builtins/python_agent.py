"""`python`: an agent written as a Python function or class.

What `call:` names is resolved the same way by `validate` (the type's `check`, so a
module that is missing or raises at import, a missing name or one that cannot be called
is a positioned error, exit 2) and when a phase builds the agent (a `call:` that only
run-time placeholders complete, or a module changed since).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import re
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

from pydantic import Field, field_validator

from wfrun.builtins import imports
from wfrun.builtins.config import Config
from wfrun.builtins.errors import AgentSetupError
from wfrun.engine.api import AgentContext, TurnContext, TurnResult
from wfrun.registry import Finding, TypeSpec

Act = Callable[[TurnContext], TurnResult | str | None]
CALL_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$"


class PythonConfig(Config):
    """`module:function(ctx)` or `module:Class` with `act(ctx)`, found beside the workflow."""

    call: str = Field(description="module:function or module:Class")
    args: dict[str, Any] = Field(
        default_factory=dict,
        description="function(ctx, args) if it takes two parameters; Class(**args)",
    )

    @field_validator("call")
    @classmethod
    def _module_colon_name(cls, value: str) -> str:
        if not re.match(CALL_PATTERN, value):
            msg = f"expected module:function or module:Class, such as fixers:apply_patch, got {value!r}"
            raise ValueError(msg)
        return value


class CallError(AgentSetupError):
    """`call:` names something that cannot be an agent; says where in `call:` and how to fix it."""

    def __init__(self, message: str, hint: str = "", offset: int = 0) -> None:
        super().__init__(f"{message} ({hint})" if hint else message)
        self.message, self.hint, self.offset = message, hint, offset


class PythonAgent:
    """Calls the user's function (or the user's object's `act`) once per turn."""

    def __init__(self, config: PythonConfig, ctx: AgentContext) -> None:
        self.ctx = ctx
        self.call = config.call
        self.args = dict(config.args)
        try:
            target = resolve(config.call, self.args, ctx.base_dir)
        except CallError as exc:
            msg = f"python agent {ctx.name!r}: {exc}"
            raise AgentSetupError(msg) from exc
        self._act = _bind(target, self.args, config.call)

    def act(self, ctx: TurnContext) -> TurnResult | str | None:
        with imports.search_first(self.ctx.base_dir):  # lazy imports in the agent find its folder
            return self._act(ctx)


def check(config: PythonConfig, base_dir: Path) -> Iterator[Finding]:
    """`validate`: import the module as a run would and look at what `call:` names."""
    try:
        resolve(config.call, config.args, base_dir)
    except CallError as exc:
        yield Finding(("call",), exc.message, exc.hint, exc.offset)


def resolve(call: str, args: dict[str, Any], base_dir: Path) -> Any:
    """The function or class `call:` names; CallError if it cannot be an agent."""
    module_name, _, attribute = call.partition(":")
    module = _import(module_name, base_dir)
    at_name = len(module_name) + 1  # where the attribute starts in `call:`
    if not hasattr(module, attribute):
        names = [name for name in dir(module) if not name.startswith("_")]
        close = difflib.get_close_matches(attribute, names, n=1)
        where = getattr(module, "__file__", None) or module_name
        hint = f"did you mean {close[0]!r}?" if close else f"define {attribute}(ctx) in {where}"
        msg = f"module {module_name!r} ({where}) has no {attribute!r}"
        raise CallError(msg, hint, at_name)
    target = getattr(module, attribute)
    if inspect.isclass(target):
        if not callable(getattr(target, "act", None)):
            msg = f"class {call} has no act(ctx) method"
            raise CallError(msg, "add `def act(self, ctx):` to it", at_name)
    elif not callable(target):
        msg = f"{call} is a {type(target).__name__}, not a function or class"
        raise CallError(msg, "name a function taking ctx, or a class with act(ctx)", at_name)
    elif args and _positional_count(target) < 2:
        msg = f"{call} takes one parameter (ctx), so it cannot receive args"
        raise CallError(msg, "add a second parameter: def f(ctx, args)", at_name)
    return target


def _import(module_name: str, base_dir: Path) -> Any:
    """The module, imported beside the workflow first; CallError saying why it cannot be."""
    try:
        return imports.import_from(module_name, base_dir)
    except ModuleNotFoundError as exc:
        if exc.name is not None and f"{module_name}.".startswith(f"{exc.name}."):  # itself
            msg = f"no module named {exc.name!r} beside the workflow or installed"
            hint = f"create {base_dir / module_name.replace('.', '/')}.py, or install it"
            raise CallError(msg, hint) from exc
        msg = f"importing {module_name!r} failed: {exc}"
        raise CallError(msg, _raised_at(exc, base_dir)) from exc
    except (Exception, SystemExit) as exc:  # the user's module ran and raised (or exited)
        msg = f"importing {module_name!r} raised {type(exc).__name__}: {exc}"
        raise CallError(msg, _raised_at(exc, base_dir)) from exc


def _raised_at(exc: BaseException, base_dir: Path) -> str:
    """Where in the user's code an import failed: their deepest frame, or the bad line."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"at {exc.filename}:{exc.lineno}; fix the module"
    frames = traceback.extract_tb(exc.__traceback__)
    base = str(base_dir.resolve())
    mine = [f for f in frames if f.filename.startswith(base)] or frames[-1:]
    if not mine:
        return "fix the module"
    return f"raised at {mine[-1].filename}:{mine[-1].lineno}; fix the module"


def _bind(target: Any, args: dict[str, Any], call: str) -> Act:
    """A one-argument callable for `act`: the function, or a method of a new instance
    (`target` passed `resolve`: a class with `act`, or a function that fits `args`)."""
    if inspect.isclass(target):
        try:
            instance = target(**args)
        except TypeError as exc:
            msg = f"{call}: cannot create {target.__name__}(**args) with args {sorted(args)}: {exc}"
            raise AgentSetupError(msg) from exc
        except Exception as exc:  # the user's constructor: the phase fails, saying why
            msg = f"{call}: {target.__name__}(**args) raised {type(exc).__name__}: {exc}"
            raise AgentSetupError(msg) from exc
        return cast(Act, cast(Any, instance).act)  # `resolve` made sure the class has one
    if _positional_count(target) >= 2:
        return lambda ctx: target(ctx, args)
    return cast(Act, target)


def _positional_count(function: Callable[..., Any]) -> int:
    """How many positional arguments `function` takes; 2 for *args. Looked up once per
    function (a cache by identity): `inspect.signature` cost more than a no-op phase."""
    try:
        return _counted(function)
    except TypeError:  # an unhashable callable object: no cache
        return _count(function)


@functools.lru_cache(maxsize=256)
def _counted(function: Callable[..., Any]) -> int:
    return _count(function)


def _count(function: Callable[..., Any]) -> int:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 1
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return 2
    return sum(1 for p in parameters if p.kind in kinds)


TYPES = [
    TypeSpec(
        kind="agent",
        name="python",
        config=PythonConfig,
        factory=PythonAgent,
        check=check,
        doc="Calls module:function (or module:Class.act) with the turn's context.",
    )
]
