"""`python`: user code beside the workflow, imported for real."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from builtin_helpers import turn

from wfrun.builtins.errors import AgentSetupError
from wfrun.builtins.python_agent import PythonAgent, PythonConfig
from wfrun.engine.api import AgentContext, TurnResult

pytest_plugins = ["builtin_fixtures"]

MakeCtx = Callable[..., AgentContext]

AGENTS = """
from wfrun.engine.api import TurnResult

def echo(ctx):
    return f"{ctx.phase}/{ctx.agent}#{ctx.iteration}: {ctx.previous}"

def with_args(ctx, args):
    return TurnResult(output=args["greeting"], done=True, success=args["ok"])

def lazy(ctx):
    import helper_mod_for_lazy  # found in the workflow folder at turn time
    return helper_mod_for_lazy.VALUE

class Counter:
    def __init__(self, start=0):
        self.count = start

    def act(self, ctx):
        self.count += 1
        return TurnResult(output=str(self.count), done=self.count >= 3)

NOT_CALLABLE = 3
"""


@pytest.fixture
def module(flow_dir: Path) -> str:
    """A uniquely named module in the workflow folder (the import system caches names)."""
    name = f"agents_{flow_dir.parent.name.replace('-', '_')}"
    (flow_dir / f"{name}.py").write_text(AGENTS)
    return name


def agent(ctx: AgentContext, call: str, **args: object) -> PythonAgent:
    return PythonAgent(PythonConfig(call=call, args=args), ctx)


def test_a_function_gets_the_turn_context(agent_ctx: MakeCtx, module: str) -> None:
    ctx = agent_ctx("fixer")
    before = list(sys.path)
    assert agent(ctx, f"{module}:echo").act(turn(ctx, iteration=2, previous="x")) == "p/fixer#2: x"
    assert sys.path == before  # the workflow folder was on sys.path only while needed


def test_a_two_parameter_function_also_gets_args(agent_ctx: MakeCtx, module: str) -> None:
    ctx = agent_ctx()
    result = agent(ctx, f"{module}:with_args", greeting="hi", ok=False).act(turn(ctx))
    assert result == TurnResult(output="hi", done=True, success=False)


def test_a_class_is_built_with_args_and_keeps_state(agent_ctx: MakeCtx, module: str) -> None:
    ctx = agent_ctx()
    counter = agent(ctx, f"{module}:Counter", start=1)
    results = [counter.act(turn(ctx, iteration=i)) for i in (1, 2)]
    assert [(r.output, r.done) for r in results] == [("2", False), ("3", True)]  # type: ignore[union-attr]


def test_lazy_imports_in_the_agent_find_the_workflow_folder(
    agent_ctx: MakeCtx, module: str, flow_dir: Path
) -> None:
    (flow_dir / "helper_mod_for_lazy.py").write_text("VALUE = 'from the folder'\n")
    ctx = agent_ctx()
    try:
        assert agent(ctx, f"{module}:lazy").act(turn(ctx)) == "from the folder"
    finally:
        sys.modules.pop("helper_mod_for_lazy", None)


def test_each_workflow_gets_its_own_module_of_a_shared_name(
    agent_ctx: MakeCtx, flow_dir: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (flow_dir / "fixers.py").write_text("def fix(ctx):\n    return 'first'\n")
    (other / "fixers.py").write_text("def fix(ctx):\n    return 'second'\n")
    ctx = agent_ctx()
    try:
        assert agent(ctx, "fixers:fix").act(turn(ctx)) == "first"
        second = AgentContext(**{**ctx.__dict__, "base_dir": other})
        assert agent(second, "fixers:fix").act(turn(second)) == "second"
    finally:
        sys.modules.pop("fixers", None)


def test_an_import_error_names_the_module_and_folder(agent_ctx: MakeCtx, flow_dir: Path) -> None:
    with pytest.raises(AgentSetupError) as caught:
        agent(agent_ctx("fixer"), "no_such_module_here:run")
    assert str(caught.value) == (
        "python agent 'fixer': no module named 'no_such_module_here' beside the workflow or "
        f"installed (create {flow_dir}/no_such_module_here.py, or install it)"
    )


def test_a_module_that_raises_on_import(agent_ctx: MakeCtx, flow_dir: Path) -> None:
    (flow_dir / "broken_on_import.py").write_text("raise RuntimeError('bad config')\n")
    with pytest.raises(AgentSetupError) as caught:
        agent(agent_ctx("fixer"), "broken_on_import:run")
    assert str(caught.value) == (
        "python agent 'fixer': importing 'broken_on_import' raised RuntimeError: bad config "
        f"(raised at {flow_dir / 'broken_on_import.py'}:1; fix the module)"
    )
    assert "broken_on_import" not in sys.modules


def test_a_missing_name_suggests_a_close_one(
    agent_ctx: MakeCtx, module: str, flow_dir: Path
) -> None:
    with pytest.raises(AgentSetupError) as caught:
        agent(agent_ctx("fixer"), f"{module}:ecko")
    assert str(caught.value) == (
        f"python agent 'fixer': module {module!r} ({flow_dir / module}.py) has no 'ecko' "
        "(did you mean 'echo'?)"
    )


@pytest.mark.parametrize(
    ("call", "args", "message"),
    [
        (":NOT_CALLABLE", {}, ":NOT_CALLABLE is a int, not a function or class"),
        (":echo", {"x": 1}, ":echo takes one parameter (ctx), so it cannot receive args"),
        (":Counter", {"nope": 1}, ":Counter: cannot create Counter(**args) with args ['nope']"),
    ],
)
def test_unusable_targets_are_explained(
    agent_ctx: MakeCtx, module: str, call: str, args: dict[str, object], message: str
) -> None:
    with pytest.raises(AgentSetupError) as caught:
        agent(agent_ctx(), module + call, **args)
    assert module + message in str(caught.value)


def test_call_must_look_like_module_colon_name() -> None:
    with pytest.raises(ValueError, match="expected module:function or module:Class"):
        PythonConfig(call="fixers.apply_patch")
