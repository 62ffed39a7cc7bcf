"""Trust the verdict, agents (issue 12, items 9-11): through the real CLI, on real files.

An executor never runs prose and never calls running out of turns a success; a list
`run:` through the shell is quoted; a python agent's import problems are positioned
errors and its traceback is kept; a phase timeout says so everywhere it is reported.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Files, WfrunProject
from tests.conftest import only_run_dir as run_dir
from tests.conftest import run_events as events
from tests.conftest import run_record as record
from tests.model_api import FakeAPI, completion, serving

REPO = Path(__file__).resolve().parents[2]
MakeProject = Callable[[Files], WfrunProject]


# -- a model API on loopback that remembers what it was asked ----------------------------


@pytest.fixture
def model_api() -> Iterator[Callable[[list[str]], FakeAPI]]:
    """A model API answering `replies` in turn, then "(no reply left)"."""
    with contextlib.ExitStack() as stack:

        def make(replies: list[str]) -> FakeAPI:
            api = FakeAPI(
                replies=[(200, completion(text)) for text in replies],
                default=(200, completion("(no reply left)")),
            )
            return stack.enter_context(serving(api))

        yield make


# -- item 9: the executor -------------------------------------------------------------


def test_executor_never_runs_prose_and_tells_the_model_the_format(
    wfrun_project: MakeProject, model_api: Callable[[list[str]], FakeAPI]
) -> None:
    api = model_api(["touch pwned.txt", "DONE"])
    project = wfrun_project(
        {
            "flow.yaml": f"""
            version: 1
            resources:
              llm: {{type: model, with: {{provider: openai, base_url: "{api.url}", model: m}}}}
            agents:
              solver: {{type: executor, requires: [llm], with: {{task: make a file}}}}
            phases:
              solve: {{agents: [solver], max_iterations: 3}}
            """
        }
    )
    outcome = project.run("run", "flow.yaml")
    outcome.assert_success()
    assert not (project.path / "pwned.txt").exists(), "the prose reply was run in a shell"
    first = events(project, "agent_output")[0]
    assert first["output"] == "touch pwned.txt\n[no command found in the reply: nothing was run]"
    told = api.requests[1]["json"]["messages"][-1]
    assert told["role"] == "user"
    assert told["content"].startswith("No command found in your reply, so nothing was run.")
    assert "```sh" in told["content"]
    assert "DONE alone" in told["content"]


EXHAUSTING = """
version: 1
resources:
  llm: {type: model, with: {provider: replay, script: answers.yaml}}
agents:
  solver: {type: executor, requires: [llm], with: {task: t, SETTING}}
phases:
  solve: {agents: [solver], max_iterations: 2}
"""
TWO_GOOD_COMMANDS = '- "```sh\\ntrue\\n```"\n- "```sh\\ntrue\\n```"\n'


def test_executor_running_out_of_turns_is_not_success(wfrun_project: MakeProject) -> None:
    project = wfrun_project(
        {
            "flow.yaml": EXHAUSTING.replace(", SETTING", ""),
            "answers.yaml": TWO_GOOD_COMMANDS,
        }
    )
    outcome = project.run("run", "flow.yaml")
    assert outcome.code == 1, outcome
    phase = record(project)["phases"]["solve"]
    assert (phase["status"], phase["iterations"]) == ("failed", 2)
    assert phase["reason"] == "no success within max_iterations (2)"
    last = events(project, "agent_output")[-1]
    assert last["output"] == (
        "$ true\nexit code: 0\n"
        "[max_iterations (2) ran out before the model said DONE: not a success]"
    )
    assert last["success"] is False


def test_executor_success_on_exhaustion_is_the_phases_choice(wfrun_project: MakeProject) -> None:
    project = wfrun_project(
        {
            "flow.yaml": EXHAUSTING.replace("SETTING", "success_on_exhaustion: true"),
            "answers.yaml": TWO_GOOD_COMMANDS,
        }
    )
    outcome = project.run("run", "flow.yaml")
    outcome.assert_success()
    assert record(project)["phases"]["solve"]["iterations"] == 2


def test_executor_done_beside_a_command_is_not_the_done_signal(
    wfrun_project: MakeProject,
) -> None:
    """ "run this, then I'm DONE": the command runs, and only a later bare DONE ends it."""
    project = wfrun_project(
        {
            "flow.yaml": EXHAUSTING.replace(", SETTING", ""),
            "answers.yaml": '- "```sh\\necho ran > ran.txt\\n```\\nThen we are DONE"\n- DONE\n',
        }
    )
    outcome = project.run("run", "flow.yaml")
    outcome.assert_success()
    assert (project.path / "ran.txt").read_text() == "ran\n"
    assert record(project)["phases"]["solve"]["iterations"] == 2
    first = events(project, "agent_output")[0]
    assert (first["done"], first["success"]) == (False, True)


# -- item 10: shell quoting, python agents ----------------------------------------------


def test_a_list_run_through_the_shell_keeps_each_argument_whole(
    wfrun_project: MakeProject,
) -> None:
    project = wfrun_project(
        {
            "flow.yaml": """
            version: 1
            agents:
              say:
                type: shell
                with: {run: [printf, "%s|", "a b; echo INJECTED", "$HOME", "*"], shell: true}
              same:
                type: check
                with: {run: [test, "a  b", "=", "a  b"], shell: true}
            phases:
              speak: {agents: [say]}
              verify: {agents: [same], max_iterations: 1}
            """
        }
    )
    outcome = project.run("run", "flow.yaml")
    outcome.assert_success()
    printed = (run_dir(project) / "outputs" / "speak.txt").read_text()
    assert printed == "a b; echo INJECTED|$HOME|*|"


BROKEN_MODULES: Files = {
    "boom.py": "import os\n\nraise RuntimeError('no config in ' + os.sep + 'etc')\n",
    "good.py": "VALUE = 3\n\n\ndef act(ctx):\n    return 'ok'\n\n\nclass NoAct:\n    pass\n",
    "dep.py": "import no_such_dependency_anywhere\n\n\ndef act(ctx):\n    pass\n",
    "flow.yaml": """
    version: 1
    agents:
      a: {type: python, with: {call: "boom:act"}}
      b: {type: python, with: {call: "good:actt"}}
      c: {type: python, with: {call: "good:VALUE"}}
      d: {type: python, with: {call: "dep:act"}}
      e: {type: python, with: {call: "good:NoAct"}}
      f: {type: python, with: {call: "good:act", args: {x: 1}}}
      g: {type: python, with: {call: "no_module_by_this_name:act"}}
    phases:
      p: {agents: [a, b, c, d, e, f, g]}
    """,
}


def test_python_agent_import_problems_are_positioned_errors(
    wfrun_project: MakeProject,
) -> None:
    project = wfrun_project(BROKEN_MODULES)
    folder = project.path
    for command in ("validate", "run"):
        outcome = project.run(command, "flow.yaml")
        outcome.assert_invalid()
        assert "internal error" not in outcome.out + outcome.err, outcome
        lines = (outcome.out + outcome.err).splitlines()
        expected = [
            (
                "flow.yaml:3:35: error: agents.a.with.call: importing 'boom' raised "
                "RuntimeError: no config in /etc"
            ),
            f"    hint: raised at {folder / 'boom.py'}:3; fix the module",
            (
                f"flow.yaml:4:40: error: agents.b.with.call: module 'good' ({folder / 'good.py'}) "
                "has no 'actt'"
            ),
            "    hint: did you mean 'act'?",
            (
                "flow.yaml:5:40: error: agents.c.with.call: good:VALUE is a int, not a function "
                "or class"
            ),
            (
                "flow.yaml:6:35: error: agents.d.with.call: importing 'dep' failed: No module "
                "named 'no_such_dependency_anywhere'"
            ),
            f"    hint: raised at {folder / 'dep.py'}:1; fix the module",
            "flow.yaml:7:40: error: agents.e.with.call: class good:NoAct has no act(ctx) method",
            (
                "flow.yaml:8:40: error: agents.f.with.call: good:act takes one parameter (ctx), "
                "so it cannot receive args"
            ),
            (
                "flow.yaml:9:35: error: agents.g.with.call: no module named "
                "'no_module_by_this_name' beside the workflow or installed"
            ),
        ]
        for line in expected:
            assert line in lines, outcome
    assert not (project.path / ".wfrun").exists(), "run started despite the invalid call:"


def test_a_python_agent_class_that_raises_when_made_fails_its_phase_not_wfrun(
    wfrun_project: MakeProject,
) -> None:
    project = wfrun_project(
        {
            "agent.py": "class Agent:\n    def __init__(self):\n        raise KeyError('x')\n"
            "    def act(self, ctx):\n        return 'ok'\n",
            "flow.yaml": """
            version: 1
            agents:
              a: {type: python, with: {call: "agent:Agent"}}
            phases:
              p: {agents: [a]}
            """,
        }
    )
    outcome = project.run("run", "flow.yaml")
    assert outcome.code == 1, outcome
    phase = record(project)["phases"]["p"]
    assert phase["status"] == "error"
    assert phase["reason"] == (
        "agent 'a' could not start: agent:Agent: Agent(**args) raised KeyError: 'x'"
    )


def test_a_raising_python_agent_keeps_its_traceback_in_the_record(
    wfrun_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUST_TOKEN", "tok-5ecret-value")
    project = wfrun_project(
        {
            "fixer.py": """
            import os


            def act(ctx):
                return helper(ctx)


            def helper(ctx):
                raise ValueError("bad input " + os.environ["TRUST_TOKEN"])
            """,
            "flow.yaml": """
            version: 1
            secrets: [TRUST_TOKEN]
            agents:
              fix: {type: python, with: {call: "fixer:act"}}
            phases:
              repair: {agents: [fix]}
            """,
        }
    )
    outcome = project.run("run", "flow.yaml")
    assert outcome.code == 1, outcome
    saved = run_dir(project) / "logs" / "repair.fix.traceback.txt"
    reason = f"agent 'fix' raised ValueError: bad input *** (traceback: {saved})"
    assert record(project)["phases"]["repair"]["reason"] == reason
    shown = [line for line in outcome.out.splitlines() if "raised ValueError" in line]
    assert len(shown) == 1, outcome
    assert shown[0].endswith(f": {reason}"), outcome  # one line: the exception, the file
    assert "Traceback (most recent call last)" not in outcome.out + outcome.err
    text = saved.read_text()
    assert text.startswith("Traceback (most recent call last):")
    assert f'File "{project.path / "fixer.py"}", line 5, in act' in text
    assert f'File "{project.path / "fixer.py"}", line 9, in helper' in text
    assert text.rstrip().endswith("ValueError: bad input ***")
    assert "tok-5ecret-value" not in text


# -- item 11: a phase timeout says so ---------------------------------------------------


def test_a_phase_timeout_is_reported_as_a_timeout_everywhere(tmp_path: Path) -> None:
    (tmp_path / "answers.yaml").write_text('- "```sh\\nsleep 30\\n```"\n')
    (tmp_path / "flow.yaml").write_text(
        "version: 1\n"
        "execution: graph\n"
        "resources:\n"
        "  llm: {type: model, with: {provider: replay, script: answers.yaml}}\n"
        "agents:\n"
        "  sleeper: {type: shell, with: {run: [sleep, '30']}}\n"
        "  waiter: {type: check, with: {run: 'sleep 30', shell: true}}\n"
        "  solver: {type: executor, requires: [llm], with: {task: wait}}\n"
        "phases:\n"
        "  shell_phase: {agents: [sleeper], timeout: 1}\n"
        "  check_phase: {agents: [waiter], timeout: 1}\n"
        "  executor_phase: {agents: [solver], timeout: 1}\n"
    )
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)}

    def wfrun(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "wfrun", *args]
        return subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
        )

    ran = wfrun("run", "flow.yaml")
    assert ran.returncode == 1, ran
    (folder,) = (tmp_path / ".wfrun" / "runs").iterdir()
    everything = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    phases = ("shell_phase", "check_phase", "executor_phase")
    outputs = {e["phase"]: e["output"] for e in everything if e["kind"] == "agent_output"}
    finished = {e["phase"]: e for e in everything if e["kind"] == "phase_finished"}
    for phase in phases:
        assert outputs[phase].endswith("[killed: timed out after 1s]"), outputs
        assert finished[phase]["status"] == "timeout"
        assert finished[phase]["reason"] == "timed out after 1s"
        assert finished[phase]["output"].endswith("[killed: timed out after 1s]")
        kept = (folder / "outputs" / f"{phase}.txt").read_text()
        assert kept.endswith("[killed: timed out after 1s]")
        assert f"{phase}: timeout in" in ran.stdout
    assert "the run was cancelled" not in ran.stdout + ran.stderr
    assert "the run was cancelled" not in (folder / "events.jsonl").read_text()
    shown = wfrun("show")
    assert shown.returncode == 0, shown
    table = shown.stdout.split("failed phases (")[0]  # then each again, with its output
    assert table.count("timed out after 1s") == 3, shown.stdout
