"""`shell` and `check`: real commands each turn."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from builtin_helpers import turn, wait_dead, wait_for_file
from pydantic import ValidationError

from wfrun.builtins.shell import PREVIOUS_LIMIT, TYPES, ShellConfig
from wfrun.engine.api import AgentContext, TurnResult

pytest_plugins = ["builtin_fixtures"]

MakeCtx = Callable[..., AgentContext]
SHOW_TURN = (
    "import os; print(os.getcwd()); "
    "print(*(os.environ[k] for k in ('WFRUN_PHASE', 'WFRUN_ITERATION', "
    "'WFRUN_PREVIOUS', 'WFRUN_RUN_DIR', 'EXTRA')), sep='|')"
)
FACTORIES = {spec.name: spec.factory for spec in TYPES}


def act(ctx: AgentContext, kind: str = "shell", **config: object) -> TurnResult:
    agent = FACTORIES[kind](ShellConfig.model_validate(config), ctx)  # type: ignore[misc]
    return cast(TurnResult, agent.act(turn(ctx)))


def test_argv_runs_in_the_workflow_folder_with_the_turn_in_its_environment(
    agent_ctx: MakeCtx, flow_dir: Path, run_dir: Path
) -> None:
    ctx = agent_ctx()
    agent = FACTORIES["shell"](  # type: ignore[misc]
        ShellConfig.model_validate(
            {
                "run": [
                    sys.executable,
                    "-c",
                    SHOW_TURN,
                ],
                "env": {"EXTRA": 7},
            }
        ),
        ctx,
    )
    result = agent.act(turn(ctx, iteration=2, previous="found it"))
    assert result.output == f"{flow_dir}\np|2|found it|{run_dir}|7"
    assert (result.done, result.success) == (True, True)
    assert result.usage["exit_code"] == 0


def test_a_string_runs_through_sh_in_cwd(agent_ctx: MakeCtx, flow_dir: Path) -> None:
    (flow_dir / "sub").mkdir()
    result = act(agent_ctx(), run="echo hi > f.txt && cat f.txt; pwd", shell=True, cwd="sub")
    assert result.output == f"hi\n{flow_dir / 'sub'}"
    assert (flow_dir / "sub" / "f.txt").exists()


def test_a_string_needs_shell_true() -> None:
    with pytest.raises(ValidationError, match="a string `run:` needs `shell: true`"):
        ShellConfig.model_validate({"run": "echo hi"})


def test_success_rules(agent_ctx: MakeCtx) -> None:
    ctx = agent_ctx()
    failed = act(ctx, run="echo nope; exit 1", shell=True)
    assert (failed.output, failed.done, failed.success) == ("nope", True, False)
    assert act(ctx, run="exit 2", shell=True, success={"exit_code": 2}).success
    stderr_only = "echo FLAG{x} >&2"
    rule = {"stdout_matches": r"FLAG\{\w+\}"}
    assert not act(ctx, run=stderr_only, shell=True, success=rule).success
    assert act(ctx, run="echo FLAG{x}", shell=True, success=rule).success
    wrong_code = act(ctx, run="echo FLAG{x}; exit 1", shell=True, success=rule)
    assert not wrong_code.success


def test_until_success_and_check_keep_going_until_it_works(
    agent_ctx: MakeCtx, flow_dir: Path
) -> None:
    script = "n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; [ $n -ge 2 ]"
    for kind, config in (("shell", {"until_success": True}), ("check", {})):
        (flow_dir / "n").unlink(missing_ok=True)
        ctx = agent_ctx()
        agent = FACTORIES[kind](  # type: ignore[misc]
            ShellConfig.model_validate({"run": script, "shell": True, **config}), ctx
        )
        results = [agent.act(turn(ctx, iteration=i)) for i in (1, 2, 3)]
        assert [(r.done, r.success) for r in results] == [
            (False, False),
            (False, False),
            (True, True),
        ], kind


def test_timeout_kills_the_whole_group(agent_ctx: MakeCtx, flow_dir: Path) -> None:
    began = time.monotonic()
    result = act(agent_ctx(), run="sleep 30 & echo $! > pid; wait", shell=True, timeout=0.4)
    assert time.monotonic() - began < 3
    assert result.output == "\n[killed: no exit within the 0.4s timeout]"
    assert not result.success
    assert wait_dead([int(wait_for_file(flow_dir / "pid"))]) == []


def test_cancel_kills_it_promptly(agent_ctx: MakeCtx) -> None:
    ctx = agent_ctx()
    agent = FACTORIES["check"](ShellConfig.model_validate({"run": ["sleep", "30"]}), ctx)  # type: ignore[misc]
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    began = time.monotonic()
    result = agent.act(turn(ctx, cancelled=cancel))
    assert time.monotonic() - began < 3
    assert result.output == "\n[killed: the run was cancelled]"
    assert not result.success


def test_output_is_bounded_to_its_tail(agent_ctx: MakeCtx) -> None:
    code = "for i in range(5000): print(i)"
    result = act(agent_ctx(), run=[sys.executable, "-c", code], max_output=20)
    assert result.output.startswith("[output cut: only the last 20 characters are kept]\n")
    assert result.output.endswith("\n4998\n4999")


def test_a_long_previous_is_cut_to_its_tail(agent_ctx: MakeCtx) -> None:
    ctx = agent_ctx()
    agent = FACTORIES["shell"](  # type: ignore[misc]
        ShellConfig.model_validate({"run": 'printf %s "$WFRUN_PREVIOUS" | wc -c', "shell": True}),
        ctx,
    )
    result = agent.act(turn(ctx, previous="x" * 500_000))
    assert result.output.strip() == str(PREVIOUS_LIMIT)
    assert agent.act(turn(ctx, previous=None)).output.strip() == "0"


def test_a_missing_command_is_a_failed_turn(agent_ctx: MakeCtx) -> None:
    result = act(agent_ctx(), run=["wfrun-no-such-tool", "x"])
    assert (result.output, result.success) == ("command not found: wfrun-no-such-tool", False)
    assert result.usage["exit_code"] == 127
