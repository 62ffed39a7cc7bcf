"""`wfrun validate` end to end: formats, exit codes, `-p`, several files, and the CLI shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest

TWO_PROBLEMS = """
    version: 1
    resources:
      spare: {type: memory}
    agents:
      g: {type: shell, with: {run: [echo]}}
    phases:
      a: {agents: [g, h], if: "x, y"}
"""

PARAMS = """
    version: 1
    params: {tries: 3, port: 8080}
    agents:
      g: {type: shell, with: {run: [echo, "127.0.0.1:${params.port}"]}}
    phases:
      a: {agents: [g], max_iterations: "${params.tries}"}
"""


def test_a_clean_file(wfrun_project) -> None:
    outcome = wfrun_project({"flow.yaml": PARAMS}).run("validate", "flow.yaml")
    outcome.assert_success()
    assert (outcome.out, outcome.err) == ("ok: 1 file valid\n", "")


def test_several_files_are_all_checked(wfrun_project) -> None:
    project = wfrun_project({"bad.yaml": TWO_PROBLEMS, "good.yaml": PARAMS})
    outcome = project.run("validate", "good.yaml", "bad.yaml", "missing.yaml")
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        bad.yaml:3:3: warning: resource 'spare' is used by no phase, so it never starts
            hint: remove it, or use it from a phase
        bad.yaml:7:19: error: phase 'a' names unknown agent 'h'
            hint: declared agents: g
        bad.yaml:7:29: error: if: unexpected ',' after a complete expression
            hint: join with 'and'/'or'
        missing.yaml:1:1: error: cannot read the workflow file: No such file or directory
            hint: check the path
        3 errors and 1 warning in 3 files (invalid)
    """)


def test_format_json(wfrun_project) -> None:
    project = wfrun_project({"flow.yaml": TWO_PROBLEMS})
    outcome = project.run("validate", "--format", "json", "flow.yaml")
    outcome.assert_invalid()
    assert json.loads(outcome.out) == [
        {
            "file": "flow.yaml",
            "line": 3,
            "col": 3,
            "severity": "warning",
            "path": "",
            "message": "resource 'spare' is used by no phase, so it never starts",
            "hint": "remove it, or use it from a phase",
        },
        {
            "file": "flow.yaml",
            "line": 7,
            "col": 19,
            "severity": "error",
            "path": "",
            "message": "phase 'a' names unknown agent 'h'",
            "hint": "declared agents: g",
        },
        {
            "file": "flow.yaml",
            "line": 7,
            "col": 29,
            "severity": "error",
            "path": "",
            "message": "if: unexpected ',' after a complete expression",
            "hint": "join with 'and'/'or'",
        },
    ]


def test_format_json_of_a_clean_file_is_an_empty_list(wfrun_project) -> None:
    outcome = wfrun_project({"flow.yaml": PARAMS}).run("validate", "-f", "json", "flow.yaml")
    outcome.assert_success()
    assert json.loads(outcome.out) == []


def test_format_json_carries_the_key_path_of_structural_errors(wfrun_project) -> None:
    project = wfrun_project(
        {
            "flow.yaml": """
                version: 1
                agents: {g: {type: shell, with: {run: [echo]}}}
                phases: {a: {agents: [g], max_iteration: 3}}
            """
        }
    )
    outcome = project.run("validate", "--format", "json", "flow.yaml")
    outcome.assert_invalid()
    [problem] = json.loads(outcome.out)
    assert problem["path"] == "phases.a.max_iteration"
    assert (problem["line"], problem["col"]) == (3, 27)


def test_format_github(wfrun_project) -> None:
    project = wfrun_project({"flow.yaml": TWO_PROBLEMS})
    outcome = project.run("validate", "--format", "github", "flow.yaml")
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        ::warning file=flow.yaml,line=3,col=3::resource 'spare' is used by no phase, so it never starts (remove it, or use it from a phase)
        ::error file=flow.yaml,line=7,col=19::phase 'a' names unknown agent 'h' (declared agents: g)
        ::error file=flow.yaml,line=7,col=29::if: unexpected ',' after a complete expression (join with 'and'/'or')
    """)


def test_format_github_escapes_what_workflow_commands_need(wfrun_project) -> None:
    project = wfrun_project({"a,b:c%.yaml": "version: 1\nphases: {a: {agents: [g]}}\n"})
    outcome = project.run("validate", "--format", "github", "a,b:c%.yaml")
    outcome.assert_invalid()
    assert outcome.out == (
        "::error file=a%2Cb%3Ac%25.yaml,line=2,col=23::phase 'a' names unknown agent 'g'"
        " (declare it under `agents:`)\n"
    )


def test_an_unknown_format_is_a_usage_error(wfrun_project) -> None:
    outcome = wfrun_project({"flow.yaml": PARAMS}).run("validate", "-f", "xml", "flow.yaml")
    outcome.assert_invalid()
    assert "'xml' is not one of" in outcome.err


def test_no_files_is_a_usage_error(wfrun_project) -> None:
    outcome = wfrun_project({}).run("validate")
    outcome.assert_invalid()
    assert "Missing argument" in outcome.err


# -- -p ----------------------------------------------------------------------------------


def test_param_override(wfrun_project) -> None:
    project = wfrun_project({"flow.yaml": PARAMS})
    project.run("validate", "flow.yaml", "-p", "tries=5", "--param", "port=9000").assert_success()


def test_param_override_is_checked_where_it_is_used(wfrun_project) -> None:
    outcome = wfrun_project({"flow.yaml": PARAMS}).run("validate", "flow.yaml", "-p", "tries=0")
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:6:36: error: phases.a.max_iterations: input should be greater than or equal to 1 (got 0)
        1 error in 1 file (invalid)
    """)


def test_unknown_param_override(wfrun_project) -> None:
    outcome = wfrun_project({"flow.yaml": PARAMS}).run("validate", "flow.yaml", "-p", "trys=5")
    outcome.assert_invalid()
    assert outcome.out == ""
    assert outcome.err == dedent("""\
        error: unknown param 'trys' in -p trys=5
            hint: did you mean 'tries'?
    """)


def test_param_override_of_the_wrong_type(wfrun_project) -> None:
    outcome = wfrun_project({"flow.yaml": PARAMS}).run("validate", "flow.yaml", "-p", "tries=lots")
    outcome.assert_invalid()
    assert outcome.err == dedent("""\
        error: -p tries=lots: expected a whole number, like the default 3
            hint: e.g. -p tries=3
    """)


def test_param_override_without_a_value(wfrun_project) -> None:
    outcome = wfrun_project({"flow.yaml": PARAMS}).run("validate", "flow.yaml", "-p", "tries")
    outcome.assert_invalid()
    assert outcome.err == dedent("""\
        error: -p expects NAME=VALUE, got 'tries'
            hint: e.g. -p port=9000
    """)


# -- the command itself ------------------------------------------------------------------


def test_help_lists_the_commands(wfrun_project) -> None:
    outcome = wfrun_project({}).run("--help")
    outcome.assert_success()
    for command in ("validate", "schema", "types"):
        assert f"│ {command} " in outcome.out, outcome


def test_no_arguments_shows_help(wfrun_project) -> None:
    outcome = wfrun_project({}).run()
    assert "validate" in outcome.out + outcome.err, outcome


@pytest.mark.parametrize("command", ["validate", "schema", "types"])
def test_every_command_has_help(wfrun_project, command: str) -> None:
    outcome = wfrun_project({}).run(command, "-h")
    outcome.assert_success()
    assert "Usage: wfrun" in outcome.out


def test_python_dash_m_wfrun(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text("version: 1\nphases: {a: {agents: [g]}}\n", encoding="utf-8")
    env = {**os.environ, "NO_COLOR": "1"}
    helped = subprocess.run(
        [sys.executable, "-m", "wfrun", "--help"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert helped.returncode == 0, helped.stderr
    assert all(name in helped.stdout for name in ("validate", "schema", "types"))
    checked = subprocess.run(
        [sys.executable, "-m", "wfrun", "validate", "flow.yaml"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert checked.returncode == 2, checked.stderr
    assert checked.stdout.startswith("flow.yaml:2:23: error: phase 'a' names unknown agent 'g'\n")


def test_types_lists_every_builtin(wfrun_project) -> None:
    outcome = wfrun_project({}).run("types")
    outcome.assert_success()
    for name in ("workspace", "process", "memory", "container", "model"):
        assert f"resource │ {name}" in outcome.out, outcome
    for name in ("shell", "check", "python", "executor"):
        assert f"agent    │ {name}" in outcome.out, outcome


def test_types_of_one_type_shows_readable_field_types(wfrun_project) -> None:
    """`wfrun types shell` printed `list[Annotated[str, BeforeValidator(function
    _scalar_to_text at 0x7f...>` for `run`: a Python repr with a memory address."""
    outcome = wfrun_project({}).run("types", "shell")
    outcome.assert_success()
    assert "│ run " in outcome.out
    assert " at 0x" not in outcome.out, outcome
    assert "BeforeValidator" not in outcome.out, outcome


def test_types_of_an_unknown_type(wfrun_project) -> None:
    outcome = wfrun_project({}).run("types", "nope")
    outcome.assert_invalid()
    assert outcome.err == dedent("""\
        error: no resource or agent type named 'nope'
            hint: run `wfrun types`
    """)


def test_an_internal_error_is_one_line_and_a_log(wfrun_project) -> None:
    """A bug (here: a plugin whose validator raises RuntimeError) is exit 3 with one line
    on screen and the traceback in a log under XDG_CACHE_HOME."""
    project = wfrun_project(
        {
            "wfrun_test_boom_plugin.py": """
                from pydantic import BaseModel, model_validator

                from wfrun.registry import TypeSpec


                class BoomConfig(BaseModel):
                    @model_validator(mode="after")
                    def _boom(self):
                        raise RuntimeError("the plugin has a bug")


                TYPES = [TypeSpec(kind="agent", name="boom", config=BoomConfig)]
            """,
            "flow.yaml": """
                version: 1
                plugins: [wfrun_test_boom_plugin]
                agents: {g: {type: boom}}
                phases: {a: {agents: [g]}}
            """,
        }
    )
    try:
        outcome = project.run("validate", "flow.yaml")
    finally:
        sys.modules.pop("wfrun_test_boom_plugin", None)
    assert outcome.code == 3, outcome
    assert outcome.out == ""
    assert "Traceback" not in outcome.err
    first, hint = outcome.err.splitlines()
    assert first == "error: internal error: RuntimeError: the plugin has a bug"
    assert hint.startswith("    hint: this is a bug in wfrun; the traceback is in ")
    log = Path(hint.rsplit(" ", 1)[-1])
    assert log.is_relative_to(os.environ["XDG_CACHE_HOME"])
    text = log.read_text("utf-8")
    assert "Traceback" in text
    assert "RuntimeError: the plugin has a bug" in text
