"""Issue 12 items 5-8: spawns are checked, `${phases...}` and `if:` read only what exists
and can hold what they compare, and `validate` checks paths it can see on disk.

Every test goes through the real CLI (`wfrun_project`: in-process, real files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SPAWNER = """
from wfrun.engine.api import Spawn, TurnResult


def remember(ctx):
    ctx.resources["notes"].set("learnt", "the port is 8080")
    return "noted"


def spawn(ctx):
    request = ctx.params["request"]
    return TurnResult(
        output="spawning", done=True, spawn=[Spawn(request["template"], request["params"])]
    )


def follow(ctx):
    return f"followed {dict(ctx.params)}"
"""


def _spawning_flow(template: str, params: dict[str, Any], may_spawn: str = "[retry]") -> str:
    request = json.dumps({"template": template, "params": params})
    return f"""
        version: 1
        params:
          request: {request}
        resources:
          notes: {{type: memory}}
        agents:
          writer: {{type: python, requires: [notes], with: {{call: "agentmod:remember"}}}}
          spawner: {{type: python, with: {{call: "agentmod:spawn"}}}}
          follower: {{type: python, requires: [notes], with: {{call: "agentmod:follow"}}}}
        phases:
          learn: {{agents: [writer]}}
          main: {{agents: [spawner], may_spawn: {may_spawn}}}
        templates:
          retry:
            agents: [follower]
            params: {{reason: flaky, tries: 2}}
          other:
            agents: [follower]
        """


def _record(project: Any) -> tuple[dict[str, Any], Path]:
    runs = sorted((project.path / ".wfrun" / "runs").iterdir())
    return json.loads((runs[-1] / "run.json").read_text()), runs[-1]


def test_spawn_of_an_unknown_template_fails_the_turn_with_a_hint(wfrun_project):
    project = wfrun_project({"flow.yaml": _spawning_flow("retyr", {}), "agentmod.py": SPAWNER})
    result = project.run("run", "flow.yaml")
    assert result.code == 1, result
    record, _ = _record(project)
    main = record["phases"]["main"]
    assert main["status"] == "failed", record
    assert "unknown template 'retyr'" in main["reason"], main
    assert "did you mean 'retry'?" in main["reason"], main
    assert not any(name.startswith("retyr") for name in record["phases"]), record


def test_spawn_outside_may_spawn_fails_and_never_recreates_memory_empty(wfrun_project):
    project = wfrun_project({"flow.yaml": _spawning_flow("other", {}), "agentmod.py": SPAWNER})
    result = project.run("run", "flow.yaml")
    assert result.code == 1, result
    record, run_dir = _record(project)
    main = record["phases"]["main"]
    assert main["status"] == "failed", record
    assert "'other', which is not in its `may_spawn`" in main["reason"], main
    assert list(record["phases"]) == ["learn", "main"], record  # nothing spawned
    saved = json.loads((run_dir / "memory" / "notes.json").read_text())
    assert saved == {"learnt": "the port is 8080"}  # not re-created as {}


def test_spawn_with_an_unknown_param_fails_with_did_you_mean(wfrun_project):
    flow = _spawning_flow("retry", {"reasn": "timeout"})
    project = wfrun_project({"flow.yaml": flow, "agentmod.py": SPAWNER})
    result = project.run("run", "flow.yaml")
    assert result.code == 1, result
    record, _ = _record(project)
    reason = record["phases"]["main"]["reason"]
    assert "unknown param 'reasn'" in reason, reason
    assert "did you mean 'reason'?" in reason, reason
    assert list(record["phases"]) == ["learn", "main"], record


def test_spawn_param_is_typed_like_its_default(wfrun_project):
    flow = _spawning_flow("retry", {"tries": "many"})
    project = wfrun_project({"flow.yaml": flow, "agentmod.py": SPAWNER})
    result = project.run("run", "flow.yaml")
    assert result.code == 1, result
    record, _ = _record(project)
    reason = record["phases"]["main"]["reason"]
    assert "param 'tries' should be a whole number, like its default 2" in reason, reason


def test_declared_spawn_with_good_params_runs(wfrun_project):
    flow = _spawning_flow("retry", {"reason": "timeout", "tries": 3})
    project = wfrun_project({"flow.yaml": flow, "agentmod.py": SPAWNER})
    result = project.run("run", "flow.yaml")
    assert result.code == 0, result
    record, _ = _record(project)
    assert record["phases"]["retry-1"]["status"] == "succeeded", record


def test_phase_output_in_with_must_come_from_a_phase_that_runs_before(wfrun_project):
    project = wfrun_project(
        {
            "flow.yaml": """
            version: 1
            agents:
              report: {type: shell, with: {run: [echo, "${phases.build.output}"]}}
              make: {type: shell, with: {run: [echo, built]}}
            phases:
              early: {agents: [report]}
              build: {agents: [make]}
              late: {agents: [report]}
            """
        }
    )
    result = project.run("validate", "flow.yaml")
    result.assert_invalid()
    assert (
        "flow.yaml:3:45: error: phase 'early' uses agent 'report', whose "
        "${phases.build.output} reads phase 'build', which runs after it"
    ) in result.out + result.err, result
    assert "move 'build' up" in result.out + result.err, result
    assert "'late'" not in result.out + result.err, result  # late runs after build: fine


def test_phase_output_in_with_needs_the_phase_in_a_graph(wfrun_project):
    project = wfrun_project(
        {
            "flow.yaml": """
            version: 1
            execution: graph
            agents:
              report: {type: shell, with: {run: [echo, "${phases.build.output}"]}}
              make: {type: shell, with: {run: [echo, built]}}
            phases:
              build: {agents: [make]}
              test: {agents: [make], needs: [build]}
              ship: {agents: [report], needs: [test]}
              lint: {agents: [report]}
            """
        }
    )
    result = project.run("validate", "flow.yaml")
    result.assert_invalid()
    text = result.out + result.err
    assert (
        "flow.yaml:4:45: error: phase 'lint' uses agent 'report', whose "
        "${phases.build.output} reads phase 'build', which 'lint' does not need"
    ) in text, result
    assert "add 'build' to the `needs` of 'lint'" in text, result
    assert "phase 'ship'" not in text, result  # needs build through test


def test_if_status_literal_must_be_a_status(wfrun_project):
    project = wfrun_project(
        {
            "flow.yaml": """
            version: 1
            agents:
              a: {type: shell, with: {run: [echo, hi]}}
            phases:
              build: {agents: [a]}
              notify: {agents: [a], if: "phases.build.status == 'success'"}
            """
        }
    )
    result = project.run("validate", "flow.yaml")
    result.assert_invalid()
    text = result.out + result.err
    assert "flow.yaml:6:53: error: if: phases.build.status is never 'success'" in text, result
    assert "did you mean 'succeeded'?" in text, result


def test_if_boolean_field_compared_with_text_is_an_error(wfrun_project):
    project = wfrun_project(
        {
            "flow.yaml": """
            version: 1
            agents:
              a: {type: shell, with: {run: [echo, hi]}}
            phases:
              build: {agents: [a]}
              notify: {agents: [a], if: "phases.build.success == 'yes'"}
            """
        }
    )
    result = project.run("validate", "flow.yaml")
    result.assert_invalid()
    text = result.out + result.err
    assert "if: phases.build.success is true or false, never 'yes'" in text, result


def test_if_param_compared_with_another_type_is_an_error(wfrun_project):
    project = wfrun_project(
        {
            "flow.yaml": """
            version: 1
            params: {level: high}
            agents:
              a: {type: shell, with: {run: [echo, hi]}}
            phases:
              build: {agents: [a], if: "params.level >= 2"}
            """
        }
    )
    result = project.run("validate", "flow.yaml")
    result.assert_invalid()
    text = result.out + result.err
    assert (
        "flow.yaml:6:45: error: if: params.level is a string ('high'), compared with a number 2"
    ) in text, result
    assert "hint: compare with a string or make the default a number" in text, result


def test_if_that_cannot_be_evaluated_fails_the_phase_and_the_run(wfrun_project):
    project = wfrun_project(
        {
            "flow.yaml": """
            version: 1
            agents:
              a: {type: shell, with: {run: [echo, hi]}}
            phases:
              build: {agents: [a]}
              gate: {agents: [a], if: "phases.build.output > 2"}
            """
        }
    )
    project.run("validate", "flow.yaml").assert_success()
    result = project.run("run", "flow.yaml")
    assert result.code == 1, result
    record, _ = _record(project)
    gate = record["phases"]["gate"]
    assert gate["status"] == "error", record
    assert "could not be evaluated" in gate["reason"], gate


def test_validate_reports_a_missing_copy_source_at_its_position(wfrun_project):
    project = wfrun_project(
        {
            "flow.yaml": """
            version: 1
            resources:
              ws: {type: workspace, with: {copy: [app/, srcc]}}
            agents:
              a: {type: shell, requires: [ws], with: {run: [ls]}}
            phases:
              p: {agents: [a]}
            """,
            "app/main.py": "print('hi')\n",
            "src/lib.py": "x = 1\n",
        }
    )
    result = project.run("validate", "flow.yaml")
    result.assert_invalid()
    text = result.out + result.err
    assert "flow.yaml:3:45: error: 'srcc' does not exist (looked for " in text, result
    assert "hint: did you mean 'src'?" in text, result
    assert "'app/'" not in text, result


def test_validate_reports_a_missing_replay_script(wfrun_project):
    project = wfrun_project(
        {
            "flow.yaml": """
            version: 1
            resources:
              llm: {type: model, with: {provider: replay, script: answers.yml}}
            agents:
              a: {type: shell, requires: [llm], with: {run: [ls]}}
            phases:
              p: {agents: [a]}
            """,
            "answers.yaml": "- hello\n",
        }
    )
    result = project.run("validate", "flow.yaml")
    result.assert_invalid()
    text = result.out + result.err
    assert "flow.yaml:3:55: error: 'answers.yml' does not exist" in text, result
    assert "did you mean 'answers.yaml'?" in text, result


def test_validate_reports_a_python_call_target_missing_from_its_module(wfrun_project):
    project = wfrun_project(
        {
            "flow.yaml": """
            version: 1
            agents:
              a: {type: python, with: {call: "fixers:aply"}}
              b: {type: python, with: {call: "nosuchmodule_wfrun:act"}}
            phases:
              p: {agents: [a, b]}
            """,
            "fixers.py": "import os\n\n\ndef apply(ctx):\n    return os.getcwd()\n",
        }
    )
    result = project.run("validate", "flow.yaml")
    result.assert_invalid()
    folder = project.path
    assert result.out == (
        f"flow.yaml:3:42: error: agents.a.with.call: module 'fixers' ({folder}/fixers.py)"
        " has no 'aply'\n"
        "    hint: did you mean 'apply'?\n"
        "flow.yaml:4:35: error: agents.b.with.call: no module named 'nosuchmodule_wfrun'"
        " beside the workflow or installed\n"
        f"    hint: create {folder}/nosuchmodule_wfrun.py, or install it\n"
        "2 errors in 1 file (invalid)\n"
    ), result


def test_a_path_made_at_run_time_is_a_warning_not_an_error(wfrun_project):
    project = wfrun_project(
        {
            "flow.yaml": """
            version: 1
            resources:
              base: {type: workspace}
              ws: {type: workspace, needs: [base], with: {copy: ["${resources.base.path}/x"]}}
            agents:
              a: {type: shell, requires: [ws], with: {run: [ls]}}
            phases:
              p: {agents: [a]}
            """
        }
    )
    result = project.run("validate", "flow.yaml")
    assert result.code == 0, result
    text = result.out + result.err
    assert "flow.yaml:4:54: warning: ${resources.base.path}/x is made at run time" in text, result
