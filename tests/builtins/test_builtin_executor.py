"""`executor`: the model-driven loop, with a replay script and with a real HTTP API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from builtin_helpers import started, turn
from pydantic import SecretStr

from tests.model_api import FakeAPI, completion
from wfrun.builtins.errors import AgentSetupError
from wfrun.builtins.executor import Executor, ExecutorConfig, extract_command
from wfrun.builtins.memory import Memory, MemoryConfig
from wfrun.builtins.model import Model, ModelConfig
from wfrun.builtins.process import Process, ProcessConfig
from wfrun.builtins.workspace import Workspace, WorkspaceConfig
from wfrun.engine.api import AgentContext, LiveResource, ResourceContext, TurnResult

pytest_plugins = ["builtin_fixtures"]

SCRIPT = """
- |
  I will create the file.
  ```sh
  echo hello > greeting.txt
  ```
- "```sh\\ncat greeting.txt; exit 3\\n```"
- DONE
"""


@pytest.fixture
def live(
    resource_ctx: Callable[..., ResourceContext], flow_dir: Path
) -> Iterator[dict[str, tuple[LiveResource, dict[str, Any]]]]:
    """A started workspace, replay model and memory, stopped afterwards."""
    (flow_dir / "answers.yaml").write_text(SCRIPT)
    resources: dict[str, LiveResource] = {
        "ws": Workspace(WorkspaceConfig(), resource_ctx("ws")),
        "llm": Model(ModelConfig(provider="replay", script="answers.yaml"), resource_ctx("llm")),
        "notes": Memory(MemoryConfig(), resource_ctx("notes")),
    }
    out = {name: (resource, dict(resource.start())) for name, resource in resources.items()}
    try:
        yield out
    finally:
        for resource, _ in reversed(out.values()):
            resource.stop()


def context(
    agent_ctx: Callable[..., AgentContext], live: dict[str, Any], *names: str
) -> AgentContext:
    return agent_ctx(
        "solver",
        resources={name: live[name][0] for name in names},
        attributes={name: live[name][1] for name in names},
    )


def run_until_done(agent: Executor, ctx: AgentContext, limit: int = 5) -> list[TurnResult]:
    results: list[TurnResult] = []
    for iteration in range(1, limit + 1):
        previous = results[-1].output if results else None  # as the engine passes it
        results.append(agent.act(turn(ctx, iteration=iteration, previous=previous)))
        if results[-1].done:
            break
    return results


def test_solves_a_task_in_the_workspace_with_a_replay_model(
    agent_ctx: Callable[..., AgentContext], live: dict[str, Any]
) -> None:
    ctx = context(agent_ctx, live, "llm", "ws")
    agent = Executor(ExecutorConfig(task="write hello to greeting.txt"), ctx)
    results = run_until_done(agent, ctx)
    path = Path(live["ws"][1]["path"])
    assert (path / "greeting.txt").read_text() == "hello\n"
    assert [r.output for r in results] == [
        "$ echo hello > greeting.txt\nexit code: 0",
        "$ cat greeting.txt; exit 3\nexit code: 3\nhello",
        "DONE",
    ]
    assert [(r.done, r.success) for r in results] == [(False, True), (False, False), (True, True)]
    assert results[0].usage == {"prompt_tokens": 0, "completion_tokens": 0, "latency_s": 0.0}
    assert [step["command"] for step in agent.history] == [
        "echo hello > greeting.txt",
        "cat greeting.txt; exit 3",
        None,
    ]


def test_history_is_kept_in_a_memory_and_shown_to_the_model(
    agent_ctx: Callable[..., AgentContext], live: dict[str, Any]
) -> None:
    ctx = context(agent_ctx, live, "llm", "ws", "notes")
    agent = Executor(ExecutorConfig(task="write hello"), ctx)
    agent.act(turn(ctx, previous="the last phase said hi"))
    agent.act(turn(ctx, iteration=2, previous="$ echo hello > greeting.txt\nexit code: 0"))
    agent.act(turn(ctx, iteration=3, previous="$ cat greeting.txt; exit 3\nexit code: 3\nhello"))
    memory: Memory = live["notes"][0]
    stored = memory.get("executor/solver/history")
    assert [step["observation"] for step in stored] == [
        "exit code: 0",
        "exit code: 3\nhello",
        None,
    ]
    messages = agent.messages()
    assert [m["role"] for m in messages] == [
        "system", "user", "assistant", "user", "assistant", "user", "assistant",
    ]  # fmt: skip
    assert "```sh" in messages[0]["content"]
    assert "reply with DONE" in messages[0]["content"]
    assert messages[1]["content"] == (
        "Task: write hello\n\nOutput of the previous phase:\nthe last phase said hi"
    )
    assert messages[3]["content"] == "exit code: 0"


def test_against_an_openai_compatible_server(
    agent_ctx: Callable[..., AgentContext],
    resource_ctx: Callable[..., ResourceContext],
    fake_api: FakeAPI,
) -> None:
    fake_api.replies += [
        (200, completion("```bash\nls -1\n```", prompt_tokens=50, completion_tokens=5)),
        (200, completion("The folder holds one file. DONE", prompt_tokens=80, completion_tokens=9)),
    ]
    workspace = Workspace(WorkspaceConfig(), resource_ctx("ws"))
    model = Model(
        ModelConfig(provider="openai", base_url=fake_api.url, model="m", api_key=SecretStr("k")),
        resource_ctx("llm"),
    )
    with started(workspace) as ws_attrs, started(model) as llm_attrs:
        Path(ws_attrs["path"], "only.txt").write_text("x")
        ctx = agent_ctx(
            "solver",
            resources={"ws": workspace, "llm": model},
            attributes={"ws": ws_attrs, "llm": llm_attrs},
        )
        agent = Executor(ExecutorConfig(task="list the files", model="llm", target="ws"), ctx)
        first, second = run_until_done(agent, ctx)
    assert first.output == "$ ls -1\nexit code: 0\nonly.txt"
    assert first.usage["prompt_tokens"] == 50
    assert (second.output, second.done, second.success) == (
        "The folder holds one file. DONE",
        True,
        True,
    )
    assert second.usage["completion_tokens"] == 9
    second_request = fake_api.requests[1]["json"]["messages"]
    assert second_request[1] == {"role": "user", "content": "Task: list the files"}
    assert second_request[-2:] == [
        {"role": "assistant", "content": "```bash\nls -1\n```"},
        {"role": "user", "content": "exit code: 0\nonly.txt"},
    ]


def test_a_stop_token_inside_a_command_does_not_stop(
    agent_ctx: Callable[..., AgentContext],
    resource_ctx: Callable[..., ResourceContext],
    flow_dir: Path,
) -> None:
    (flow_dir / "a.yaml").write_text('- "```sh\\necho DONE\\n```"\n- "no command here"\n')
    model = Model(ModelConfig(provider="replay", script="a.yaml"), resource_ctx("llm"))
    with started(model) as attrs:
        ctx = agent_ctx(resources={"llm": model}, attributes={"llm": attrs})
        agent = Executor(ExecutorConfig(task="t", command_timeout=5), ctx)
        ran = agent.act(turn(ctx))
        assert (ran.output, ran.done) == ("$ echo DONE\nexit code: 0\nDONE", False)
        prose = agent.act(turn(ctx, iteration=2))
    assert (prose.done, prose.success) == (False, False)  # prose is never run
    assert prose.output == "no command here\n[no command found in the reply: nothing was run]"


def test_a_slow_command_is_killed(
    agent_ctx: Callable[..., AgentContext],
    resource_ctx: Callable[..., ResourceContext],
    flow_dir: Path,
) -> None:
    (flow_dir / "a.yaml").write_text('- "```sh\\nsleep 30\\n```"\n')
    model = Model(ModelConfig(provider="replay", script="a.yaml"), resource_ctx("llm"))
    with started(model) as attrs:
        ctx = agent_ctx(resources={"llm": model}, attributes={"llm": attrs})
        result = Executor(ExecutorConfig(task="t", command_timeout=0.3), ctx).act(turn(ctx))
    assert result.output == (
        "$ sleep 30\nexit code: none (killed)\n\n[killed: no exit within the 0.3s timeout]"
    )
    assert not result.success


def test_without_a_model_it_says_what_to_add(agent_ctx: Callable[..., AgentContext]) -> None:
    with pytest.raises(AgentSetupError) as caught:
        Executor(ExecutorConfig(task="t"), agent_ctx("solver"))
    assert str(caught.value) == (
        "executor 'solver' needs a model resource: add one to its requires:"
    )
    with pytest.raises(AgentSetupError, match="model 'gpt' is not among its resources"):
        Executor(ExecutorConfig(task="t", model="gpt"), agent_ctx("solver"))


@pytest.mark.parametrize(
    ("reply", "command"),
    [
        ("```sh\nls -la\n```", "ls -la"),
        ("Let me look.\n```\ncat a.txt\n```\nthen more", "cat a.txt"),
        ("$ pwd\nmore prose", None),  # prose is never a command, prompt or not
        ("", None),
        ("```sh\n\n```", None),
    ],
)
def test_extract_command(reply: str, command: str | None) -> None:
    assert extract_command(reply) == command


def test_a_process_target_runs_commands_in_its_folder(
    agent_ctx: Callable[..., AgentContext],
    resource_ctx: Callable[..., ResourceContext],
    flow_dir: Path,
) -> None:
    (flow_dir / "srv").mkdir()
    (flow_dir / "a.yaml").write_text('- "```sh\\npwd\\n```"\n')
    model = Model(ModelConfig(provider="replay", script="a.yaml"), resource_ctx("llm"))
    service = Process(
        ProcessConfig(command=["sleep", "60"], cwd="srv", grace=0.2), resource_ctx("svc")
    )
    with started(model) as llm, started(service) as svc:
        ctx = agent_ctx(
            resources={"llm": model, "svc": service}, attributes={"llm": llm, "svc": svc}
        )
        result = Executor(ExecutorConfig(task="t"), ctx).act(turn(ctx))
    assert result.output == f"$ pwd\nexit code: 0\n{flow_dir / 'srv'}"
