"""`${...}` placeholders: params and env now, resources and phases checked now, run later."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from wfrun.spec import load_workflow
from wfrun.spec.interpolate import (
    Interpolator,
    PlaceholderError,
    Reference,
    format_value,
    resolve_in,
)

PARAMS: dict[str, Any] = {
    "port": 8080,
    "on": True,
    "ratio": 0.5,
    "none": None,
    "hosts": ["a", "b"],
    "db": {"host": "localhost"},
}


def _render(value: Any, *, final: bool = False) -> tuple[Any, Interpolator]:
    def resolve(ref: Reference) -> Any:
        if ref.namespace == "env":
            return {"HOME": "/home/me"}[ref.parts[0]]
        return resolve_in(PARAMS, ref, kind="param")

    interpolator = Interpolator(resolve, final=final)
    return interpolator.render(value, ("x",)), interpolator


# -- units -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${params.port}", 8080),
        ("${ params.port }", 8080),
        ("${params.on}", True),
        ("${params.ratio}", 0.5),
        ("${params.none}", None),
        ("${params.hosts}", ["a", "b"]),
        ("${params.db}", {"host": "localhost"}),
        ("${params.db.host}", "localhost"),
        ("${env.HOME}", "/home/me"),
    ],
)
def test_a_whole_placeholder_keeps_its_type(text: str, expected: Any) -> None:
    rendered, interpolator = _render(text)
    assert rendered == expected
    assert type(rendered) is type(expected)
    assert interpolator.errors == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:${params.port}", "127.0.0.1:8080"),
        ("${params.port}${params.port}", "80808080"),
        ("on=${params.on}", "on=true"),
        ("r=${params.ratio}", "r=0.5"),
        ("n=${params.none}.", "n=."),
        ("hosts=${params.hosts}", 'hosts=["a", "b"]'),
        ("${env.HOME}/src", "/home/me/src"),
        ("no placeholder", "no placeholder"),
        ("cost: $5 {not one}", "cost: $5 {not one}"),
    ],
)
def test_a_placeholder_inside_a_string_is_formatted(text: str, expected: str) -> None:
    rendered, interpolator = _render(text)
    assert rendered == expected
    assert interpolator.errors == []


def test_format_value_spells_scalars_as_yaml_does() -> None:
    assert [format_value(v) for v in (True, False, None, 3, 1.5, "s", {"a": 1})] == [
        "true",
        "false",
        "",
        "3",
        "1.5",
        "s",
        '{"a": 1}',
    ]


def test_dollar_dollar_escapes_until_the_last_use() -> None:
    rendered, _ = _render("echo $${HOME} ${params.port}")
    assert rendered == "echo $${HOME} 8080"
    rendered, _ = _render("echo $${HOME} ${params.port}", final=True)
    assert rendered == "echo ${HOME} 8080"


def test_run_time_references_are_kept_and_collected_with_their_place() -> None:
    value = {"run": ["cat", "${resources.code.path}/x", "${phases.build.output}"]}
    rendered, interpolator = _render(value)
    assert rendered == value
    assert interpolator.references == [
        Reference("resources", ("code", "path"), ("x", "run", 1), 0),
        Reference("phases", ("build", "output"), ("x", "run", 2), 0),
    ]
    assert interpolator.references[0].text == "${resources.code.path}"


@pytest.mark.parametrize(
    ("text", "message", "offset"),
    [
        ("a ${params.nope}", "unknown param 'params.nope'", 2),
        ("${params.db.port}", "unknown param 'params.db.port'", 0),
        ("${params.port.x}", "unknown param 'params.port.x'", 0),
        ("x ${params}", "malformed placeholder '${params}'", 2),
        ("${1abc.d}", "malformed placeholder '${1abc.d}'", 0),
        ("${ .a }", "malformed placeholder '${ .a }'", 0),
        ("${secrets.token}", "unknown namespace 'secrets' in '${secrets.token}'", 0),
    ],
)
def test_placeholder_errors_know_their_offset(text: str, message: str, offset: int) -> None:
    rendered, interpolator = _render(text)
    assert rendered == text  # left as written, so later checks see the original
    [(path, error)] = interpolator.errors
    assert path == ("x",)
    assert (str(error), error.offset) == (message, offset)


def test_resolve_in_suggests_a_close_name() -> None:
    with pytest.raises(PlaceholderError) as info:
        resolve_in(PARAMS, Reference("params", ("prot",), (), 0), kind="param")
    assert info.value.hint == "did you mean 'port'?"


def test_load_time_values_reach_the_workflow(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        dedent("""\
            version: 1
            params: {port: 8080, host: "${env.WFRUN_TEST_HOST}", verbose: false}
            resources:
              code: {type: workspace}
            agents:
              g:
                type: shell
                requires: [code]
                with:
                  run: [curl, "${params.host}:${params.port}", "${params.port}", "$${HOME}"]
                  cwd: ${resources.code.path}
                  env: {VERBOSE: "${params.verbose}", PORT: "${params.port}"}
            phases:
              a: {agents: [g]}
        """),
        encoding="utf-8",
    )
    workflow = load_workflow(flow, environ={"WFRUN_TEST_HOST": "10.0.0.7"})
    assert workflow.params == {"port": 8080, "host": "10.0.0.7", "verbose": False}
    config = workflow.agents["g"].config
    assert config["run"] == ["curl", "10.0.0.7:8080", 8080, "$${HOME}"]
    assert config["cwd"] == "${resources.code.path}"
    assert config["env"] == {"VERBOSE": False, "PORT": 8080}


# -- errors, through the CLI -------------------------------------------------------------


@pytest.fixture
def validate(wfrun_project):
    def run(text: str, *args: str):
        return wfrun_project({"flow.yaml": text}).run("validate", "flow.yaml", *args)

    return run


def test_unknown_param(validate) -> None:
    outcome = validate("""
        version: 1
        params: {port: 8080}
        agents:
          g: {type: shell, with: {run: [echo, "port=${params.prot}", "${params.other}"]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:4:45: error: unknown param 'params.prot'
            hint: did you mean 'port'?
        flow.yaml:4:63: error: unknown param 'params.other'
            hint: declared: port
        2 errors in 1 file (invalid)
    """)


def test_unset_environment_variable(validate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WFRUN_TEST_UNSET", raising=False)
    outcome = validate("""
        version: 1
        agents:
          g:
            type: shell
            with:
              run: [echo, ok]
              env: {TOKEN: "${env.WFRUN_TEST_UNSET}"}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:7:21: error: environment variable 'WFRUN_TEST_UNSET' is not set
            hint: export WFRUN_TEST_UNSET=... before running wfrun
        1 error in 1 file (invalid)
    """)


def test_set_environment_variable_is_substituted(validate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFRUN_TEST_TRIES", "4")
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo, "${env.WFRUN_TEST_TRIES}"]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_success()


def test_env_has_no_attributes(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo, "${env.HOME.x}"]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:40: error: ${env.HOME.x}: environment variables have no attributes
            hint: write ${env.NAME}
        1 error in 1 file (invalid)
    """)


def test_params_cannot_refer_to_params_or_run_time_values(validate) -> None:
    outcome = validate("""
        version: 1
        params:
          a: 1
          b: "${params.a}"
          c: "${resources.code.path}"
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          p: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:4:7: error: ${params.a}: params cannot refer to other params
            hint: write the value itself
        flow.yaml:5:7: error: ${resources.code.path} cannot be used in params: params are fixed before any run
        2 errors in 1 file (invalid)
    """)


def test_malformed_placeholder_and_unknown_namespace(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo, "${params}", "${secret.token}"]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:40: error: malformed placeholder '${params}'
            hint: write ${params.NAME}, ${env.NAME}, ${resources.NAME.ATTR} or ${phases.NAME.output}
        flow.yaml:3:53: error: unknown namespace 'secret' in '${secret.token}'
            hint: placeholders start with params., env., resources. or phases.
        2 errors in 1 file (invalid)
    """)


def test_resource_reference_to_an_unknown_resource(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          code: {type: workspace}
        agents:
          g:
            type: shell
            requires: [code]
            with:
              run: [ls]
              cwd: ${resources.cod.path}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:10:12: error: ${resources.cod.path} names unknown resource 'cod'
            hint: did you mean 'code'?
        1 error in 1 file (invalid)
    """)


def test_resource_reference_to_an_unknown_attribute(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          code: {type: workspace}
          app: {type: process, needs: [code], with: {command: [x], cwd: "${resources.code.dir}"}}
        agents:
          g: {type: shell, requires: [app], with: {run: [echo, "${resources.app.prot}"]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:4:66: error: ${resources.code.dir}: a workspace resource has no attribute 'dir'
            hint: workspace attributes: path
        flow.yaml:6:57: error: ${resources.app.prot}: a process resource has no attribute 'prot'
            hint: did you mean 'port'?
        2 errors in 1 file (invalid)
    """)


def test_resource_reference_without_an_attribute(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          code: {type: workspace}
        agents:
          g: {type: shell, requires: [code], with: {run: [ls, "${resources.code}"]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:5:56: error: ${resources.code}: write ${resources.NAME.ATTRIBUTE}
        1 error in 1 file (invalid)
    """)


def test_resource_reference_not_in_needs_or_requires(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          code: {type: workspace}
          notes: {type: memory}
          app: {type: process, with: {command: [x], cwd: "${resources.code.path}"}}
        agents:
          g:
            type: shell
            requires: [app]
            optional: [notes]
            with: {run: [ls, "${resources.code.path}", "${resources.notes.path}"]}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:3: warning: resource 'code' is used by no phase, so it never starts
            hint: remove it, or use it from a phase
        flow.yaml:5:51: error: resource 'app' uses ${resources.code.path} but does not need 'code'
            hint: add 'code' to its `needs`, so it starts first
        flow.yaml:11:23: error: agent 'g' uses ${resources.code.path} but does not require 'code'
            hint: add 'code' to its `requires`
        2 errors and 1 warning in 1 file (invalid)
    """)


def test_resource_reference_through_a_transitive_need_is_fine(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          code: {type: workspace}
          app: {type: process, needs: [code], with: {command: [x], cwd: "${resources.code.path}"}}
          proxy: {type: process, needs: [app], with: {command: [y], cwd: "${resources.code.path}"}}
        agents:
          g: {type: shell, requires: [proxy], with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_success()
    assert outcome.out == "ok: 1 file valid\n"


def test_phase_reference_to_an_unknown_phase(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo, "${phases.biuld.output}", "${phases.zzz.output}"]}}
        phases:
          build: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:40: error: ${phases.biuld.output} names unknown phase 'biuld'
            hint: did you mean 'build'?
        flow.yaml:3:66: error: ${phases.zzz.output} names unknown phase 'zzz'
            hint: declared phases: build
        2 errors in 1 file (invalid)
    """)


def test_phase_reference_to_an_unknown_field(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo, "${phases.build.result}"]}}
        phases:
          build: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:40: error: ${phases.build.result} is not a phase field
            hint: fields: output, success, failed, skipped, status
        1 error in 1 file (invalid)
    """)


def test_phase_reference_from_a_resource(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          app: {type: process, with: {command: [serve, "${phases.build.output}"]}}
        agents:
          g: {type: shell, requires: [app], with: {run: [echo]}}
        phases:
          build: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:49: error: ${phases.build.output}: resources start before phases finish
            hint: read phase outputs from an agent's `with:`
        1 error in 1 file (invalid)
    """)


def test_run_time_placeholder_outside_with(validate) -> None:
    outcome = validate("""
        version: 1
        description: "built from ${phases.build.output}"
        resources:
          code: {type: workspace}
        agents:
          g: {type: shell, requires: [code], with: {run: [echo]}}
        phases:
          build: {agents: [g], timeout: "${resources.code.path}"}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:2:26: error: ${phases.build.output} can only be used inside a resource's or agent's `with:`
            hint: it is resolved when the resource or agent starts
        flow.yaml:8:33: error: phases.build.timeout: input should be a valid number, unable to parse string as a number (got '${resources.code.path}')
        flow.yaml:8:34: error: ${resources.code.path} can only be used inside a resource's or agent's `with:`
            hint: it is resolved when the resource or agent starts
        3 errors in 1 file (invalid)
    """)


def test_a_run_time_placeholder_is_not_judged_by_the_with_model(validate) -> None:
    """`port: ${resources.x.port}` cannot be an int yet; its check waits for run time."""
    outcome = validate("""
        version: 1
        resources:
          db: {type: process, with: {command: [db], port: 5432}}
          app:
            type: process
            needs: [db]
            with: {command: [app], port: "${resources.db.port}"}
        agents:
          g: {type: shell, requires: [app], with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_success()


def test_a_load_time_value_is_judged_by_the_with_model(validate) -> None:
    outcome = validate("""
        version: 1
        params: {port: http}
        resources:
          app: {type: process, with: {command: [app], port: "${params.port}"}}
        agents:
          g: {type: shell, requires: [app], with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:4:53: error: resources.app.with.port: expected a port number (1-65535) or auto, got 'http'
        1 error in 1 file (invalid)
    """)


def test_placeholder_position_after_an_escape_sequence(validate) -> None:
    """The column of a placeholder inside a double-quoted string counts source characters:
    `\\t` is two characters in the file, one in the value."""
    outcome = validate(r"""
        version: 1
        agents:
          g: {type: shell, with: {run: [printf, "\t${params.nope}"]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:44: error: unknown param 'params.nope'
            hint: no params are declared here
        1 error in 1 file (invalid)
    """)
