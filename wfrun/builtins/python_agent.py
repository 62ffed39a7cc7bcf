"""`python`: an agent written as a Python function or class."""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable
from typing import Annotated, Any, cast

from pydantic import Field, field_validator

from wfrun.builtins import imports
from wfrun.builtins.config import CallTarget, Config
from wfrun.builtins.errors import AgentSetupError
from wfrun.engine.api import AgentContext, TurnContext, TurnResult
from wfrun.registry import TypeSpec

Act = Callable[[TurnContext], TurnResult | str | None]
CALL_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$"


class PythonConfig(Config):
    """`module:function(ctx)` or `module:Class` with `act(ctx)`, found beside the workflow."""

    call: Annotated[str, CallTarget()] = Field(description="module:function or module:Class")
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


class PythonAgent:
    """Calls the user's function (or the user's object's `act`) once per turn."""

    def __init__(self, config: PythonConfig, ctx: AgentContext) -> None:
        self.ctx = ctx
        self.call = config.call
        self.args = dict(config.args)
        module_name, _, attribute = config.call.partition(":")
        target = _resolve(module_name, attribute, ctx)
        self._act = _bind(target, self.args, config.call)

    def act(self, ctx: TurnContext) -> TurnResult | str | None:
        with imports.search_first(self.ctx.base_dir):  # lazy imports in the agent find its folder
            return self._act(ctx)


def _resolve(module_name: str, attribute: str, ctx: AgentContext) -> Any:
    try:
        module = imports.import_from(module_name, ctx.base_dir)
    except ImportError as exc:
        msg = (
            f"python agent {ctx.name!r}: cannot import {module_name!r} "
            f"(looked in the workflow folder {ctx.base_dir} first, then sys.path): {exc}"
        )
        raise AgentSetupError(msg) from exc
    except Exception as exc:
        msg = f"python agent {ctx.name!r}: importing {module_name!r} raised {type(exc).__name__}: {exc}"
        raise AgentSetupError(msg) from exc
    if not hasattr(module, attribute):
        names = [name for name in dir(module) if not name.startswith("_")]
        close = difflib.get_close_matches(attribute, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        where = getattr(module, "__file__", module_name)
        msg = f"python agent {ctx.name!r}: module {module_name!r} ({where}) has no {attribute!r}{hint}"
        raise AgentSetupError(msg)
    return getattr(module, attribute)


def _bind(target: Any, args: dict[str, Any], call: str) -> Act:
    """A one-argument callable for `act`: the function, or a method of a new instance."""
    if inspect.isclass(target):
        try:
            instance = target(**args)
        except TypeError as exc:
            msg = f"{call}: cannot create {target.__name__}(**args) with args {sorted(args)}: {exc}"
            raise AgentSetupError(msg) from exc
        act = getattr(instance, "act", None)
        if not callable(act):
            msg = f"{call}: class {target.__name__} has no act(ctx) method"
            raise AgentSetupError(msg)
        return cast(Act, act)
    if not callable(target):
        msg = f"{call} is a {type(target).__name__}, not a function or class"
        raise AgentSetupError(msg)
    if _positional_count(target) >= 2:
        return lambda ctx: target(ctx, args)
    if args:
        msg = f"{call} takes one parameter (ctx), so it cannot receive args; add a second one"
        raise AgentSetupError(msg)
    return cast(Act, target)


def _positional_count(function: Callable[..., Any]) -> int:
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
        doc="Calls module:function (or module:Class.act) with the turn's context.",
    )
]
