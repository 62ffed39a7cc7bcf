"""The loader's API: load_workflow / inspect_workflow, and `-p` overrides typed like defaults."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from wfrun.errors import Diagnostic, Position, SpecError, UsageError
from wfrun.spec import inspect_workflow, load_workflow

FLOW = """\
version: 1
params:
  tries: 3
  port: 8080
  ratio: 0.5
  verbose: false
  label: v1
  note: null
  hosts: [a]
resources:
  app:
    type: process
    with:
      command: [serve, --port, "${params.port}"]
      port: ${params.port}
      ready: {tcp: "127.0.0.1:${params.port}"}
agents:
  g: {type: shell, requires: [app], with: {run: [echo, "${params.label}", "hosts=${params.hosts}"]}}
phases:
  a: {agents: [g], max_iterations: "${params.tries}"}
"""


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW, encoding="utf-8")
    return path


def test_defaults_keep_their_types(flow: Path) -> None:
    workflow = load_workflow(flow, environ={})
    assert workflow.params == {
        "tries": 3,
        "port": 8080,
        "ratio": 0.5,
        "verbose": False,
        "label": "v1",
        "note": None,
        "hosts": ["a"],
    }
    assert workflow.phases["a"].max_iterations == 3
    config = workflow.resources["app"].config
    assert config["port"] == 8080
    assert config["command"] == ["serve", "--port", 8080]  # the with: model stringifies later
    assert config["ready"] == {"tcp": "127.0.0.1:8080"}


def test_an_override_is_typed_like_the_default(flow: Path) -> None:
    workflow = load_workflow(flow, params={"tries": "5", "port": "9000"}, environ={})
    assert workflow.params["tries"] == 5
    assert type(workflow.params["tries"]) is int
    assert workflow.phases["a"].max_iterations == 5
    config = workflow.resources["app"].config
    assert config["port"] == 9000  # "${params.port}" alone keeps the int
    assert config["ready"] == {"tcp": "127.0.0.1:9000"}  # inside a string it is formatted


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("tries", "7", 7),
        ("tries", " 7 ", 7),
        ("ratio", "2", 2.0),
        ("ratio", "0.25", 0.25),
        ("verbose", "true", True),
        ("verbose", "yes", True),
        ("verbose", "false", False),
        ("label", "5", "5"),  # a str param stays text, even when it looks like a number
        ("label", "true", "true"),
        ("label", "", ""),
        ("note", "anything", "anything"),
        ("hosts", "[x, y]", ["x", "y"]),
    ],
)
def test_override_values(flow: Path, name: str, text: str, expected: Any) -> None:
    workflow = load_workflow(flow, params={name: text}, environ={})
    assert workflow.params[name] == expected
    assert type(workflow.params[name]) is type(expected)


@pytest.mark.parametrize(
    ("overrides", "message", "hint"),
    [
        ({"trys": "5"}, "unknown param 'trys' in -p trys=5", "did you mean 'tries'?"),
        (
            {"zzz": "1"},
            "unknown param 'zzz' in -p zzz=1",
            "declared params: tries, port, ratio, verbose, label, note, hosts",
        ),
        (
            {"tries": "five"},
            "-p tries=five: expected a whole number, like the default 3",
            "e.g. -p tries=3",
        ),
        (
            {"tries": "2.5"},
            "-p tries=2.5: expected a whole number, like the default 3",
            "e.g. -p tries=3",
        ),
        (
            {"tries": "true"},
            "-p tries=true: expected a whole number, like the default 3",
            "e.g. -p tries=3",
        ),
        (
            {"ratio": "x"},
            "-p ratio=x: expected a number, like the default 0.5",
            "e.g. -p ratio=0.5",
        ),
        (
            {"verbose": "1"},
            "-p verbose=1: expected true or false, like the default false",
            "e.g. -p verbose=true",
        ),
        (
            {"hosts": "x"},
            '-p hosts=x: expected a list, like the default ["a"]',
            "e.g. -p hosts='[1, 2]'",
        ),
    ],
)
def test_bad_overrides_are_usage_errors(
    flow: Path, overrides: dict[str, str], message: str, hint: str
) -> None:
    with pytest.raises(UsageError) as info:
        load_workflow(flow, params=overrides, environ={})
    assert (str(info.value), info.value.hint) == (message, hint)


def test_an_override_for_a_workflow_without_params(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "version: 1\nagents: {g: {type: shell, with: {run: [x]}}}\nphases: {a: {agents: [g]}}\n",
        encoding="utf-8",
    )
    with pytest.raises(UsageError) as info:
        inspect_workflow(flow, params={"x": "1"}, environ={})
    assert (str(info.value), info.value.hint) == (
        "unknown param 'x' in -p x=1",
        "the workflow declares none",
    )


def test_an_override_is_checked_where_the_param_is_used(flow: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_workflow(flow, params={"tries": "0", "port": "70000"}, environ={})
    assert [(str(d.position), d.message) for d in info.value.diagnostics] == [
        (
            f"{flow}:15:13",
            "resources.app.with.port: input should be less than or equal to 65535 (got 70000)",
        ),
        (
            f"{flow}:16:20",
            "resources.app.with.ready.tcp: expected host:port such as 127.0.0.1:8080, got '127.0.0.1:70000'",
        ),
        (
            f"{flow}:20:36",
            "phases.a.max_iterations: input should be greater than or equal to 1 (got 0)",
        ),
    ]


def test_environ_is_injected_not_read_from_the_process(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        dedent("""\
            version: 1
            params: {user: "${env.WHO}"}
            agents: {g: {type: shell, with: {run: [echo, "${params.user}"]}}}
            phases: {a: {agents: [g]}}
        """),
        encoding="utf-8",
    )
    assert load_workflow(flow, environ={"WHO": "ada"}).params == {"user": "ada"}
    result = inspect_workflow(flow, environ={})
    assert result.workflow is None
    assert result.diagnostics == [
        Diagnostic(
            Position(str(flow), 2, 17),
            "environment variable 'WHO' is not set",
            "export WHO=... before running wfrun",
        )
    ]


def test_inspect_returns_warnings_with_the_workflow(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        dedent("""\
            version: 1
            resources: {spare: {type: memory}}
            agents: {g: {type: shell, with: {run: [x]}}}
            phases: {a: {agents: [g]}}
        """),
        encoding="utf-8",
    )
    result = inspect_workflow(flow, environ={})
    assert result.workflow is not None
    assert result.errors == []
    assert [(d.severity, d.message) for d in result.diagnostics] == [
        ("warning", "resource 'spare' is used by no phase, so it never starts")
    ]
    assert load_workflow(flow, environ={}).resources["spare"].type == "memory"


def test_load_raises_one_spec_error_with_every_problem_sorted(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        dedent("""\
            version: 1
            agents: {g: {type: shell, with: {run: [x]}}}
            phases:
              b: {agents: [h]}
              a: {agents: [g], colour: red}
        """),
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as info:
        load_workflow(flow, environ={})
    assert [str(d.position) for d in info.value.diagnostics] == [f"{flow}:4:16", f"{flow}:5:20"]
    assert str(info.value) == f"{flow}:4:16: phase 'b' names unknown agent 'h'"
    assert info.value.errors == info.value.diagnostics


@pytest.mark.parametrize(
    ("setup", "message", "hint"),
    [
        (
            lambda p: None,
            "cannot read the workflow file: No such file or directory",
            "check the path",
        ),
        (lambda p: p.mkdir(), "cannot read the workflow file: Is a directory", ""),
        (
            lambda p: p.write_text("- a\n- b\n"),
            "a workflow file is a mapping with version, resources, agents and phases",
            "see `wfrun schema`",
        ),
        (
            lambda p: p.write_text("just text\n"),
            "a workflow file is a mapping with version, resources, agents and phases",
            "see `wfrun schema`",
        ),
    ],
    ids=["missing", "directory", "list", "scalar"],
)
def test_files_that_are_not_workflows(tmp_path: Path, setup, message: str, hint: str) -> None:
    path = tmp_path / "flow.yaml"
    setup(path)
    result = inspect_workflow(path, environ={})
    assert result.workflow is None
    assert result.diagnostics == [Diagnostic(Position(str(path), 1, 1), message, hint)]
    with pytest.raises(SpecError):
        load_workflow(path, environ={})


def test_relative_paths_are_reported_as_given(wfrun_project) -> None:
    project = wfrun_project({"sub/flow.yaml": "version: 1\nphases: {a: {agents: [g]}}\n"})
    outcome = project.run("validate", "sub/flow.yaml")
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        sub/flow.yaml:2:23: error: phase 'a' names unknown agent 'g'
            hint: declare it under `agents:`
        1 error in 1 file (invalid)
    """)


def test_workflow_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    flow = tmp_path / "nightly-build.yaml"
    flow.write_text(
        "version: 1\nagents: {g: {type: shell, with: {run: [x]}}}\nphases: {a: {agents: [g]}}\n",
        encoding="utf-8",
    )
    workflow = load_workflow(flow, environ={})
    assert (workflow.name, workflow.file, workflow.base_dir) == ("nightly-build", flow, tmp_path)
