"""One test per kind of mistake: `wfrun validate` prints where it is and what to do.

Each test asserts the whole report, `file:line:col` included (STYLE rule 31): the
message is the contract.
"""

from __future__ import annotations

from textwrap import dedent

import pytest

from wfrun.spec import load_workflow

SHELL = "{type: shell, with: {run: [echo]}}"


@pytest.fixture
def validate(wfrun_project):
    """validate(yaml_text) -> the outcome of `wfrun validate flow.yaml`."""

    def run(text: str, *args: str):
        project = wfrun_project({"flow.yaml": text})
        return project.run("validate", "flow.yaml", *args)

    return run


# -- structure: keys and names -----------------------------------------------------------


def test_unknown_top_level_key(validate) -> None:
    outcome = validate("""
        version: 1
        nmae: demo
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:2:1: error: nmae: unknown key 'nmae'
            hint: did you mean 'name'?
        1 error in 1 file (invalid)
    """)


def test_unknown_top_level_key_without_a_close_match(validate) -> None:
    outcome = validate("""
        version: 1
        colour: red
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:2:1: error: colour: unknown key 'colour'
            hint: allowed keys: version, name, description, params, resources, agents, execution, phases, templates, limits, plugins, secrets, budget, max_spawns
        1 error in 1 file (invalid)
    """)


def test_unknown_phase_key(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g], max_iteration: 3}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:5:20: error: phases.a.max_iteration: unknown key 'max_iteration'
            hint: did you mean 'max_iterations'?
        1 error in 1 file (invalid)
    """)


def test_unknown_resource_key(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          w:
            type: workspace
            neds: []
        agents:
          g: {type: shell, requires: [w], with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:5:5: error: resources.w.neds: unknown key 'neds'
            hint: did you mean 'needs'?
        1 error in 1 file (invalid)
    """)


def test_unknown_agent_key(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}, requirs: []}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:41: error: agents.g.requirs: unknown key 'requirs'
            hint: did you mean 'requires'?
        1 error in 1 file (invalid)
    """)


def test_missing_required_key(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:3: error: agents.g: missing required key 'type'
            hint: add `type:` here
        1 error in 1 file (invalid)
    """)


def test_missing_top_level_keys(validate) -> None:
    outcome = validate("""
        description: no version, no phases
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:1:1: error: missing required key 'phases'
            hint: add `phases:` here
        flow.yaml:1:1: error: missing required key 'version'
            hint: add `version:` here
        2 errors in 1 file (invalid)
    """)


def test_wrong_version(validate) -> None:
    outcome = validate("""
        version: 2
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:1:10: error: version: input should be 1 (got 2)
        1 error in 1 file (invalid)
    """)


def test_bad_names(validate) -> None:
    outcome = validate("""
        version: 1
        name: 9lives
        agents:
          g: {type: shell, with: {run: [echo]}}
          bad name: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g, bad name]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:2:7: error: name: '9lives' is not a valid name
            hint: names start with a letter or '_' and contain only letters, digits, '_' and '-'
        flow.yaml:5:3: error: agents.bad name: 'bad name' is not a valid name
            hint: names start with a letter or '_' and contain only letters, digits, '_' and '-'
        flow.yaml:7:19: error: phases.a.agents[1]: 'bad name' is not a valid name
            hint: names start with a letter or '_' and contain only letters, digits, '_' and '-'
        3 errors in 1 file (invalid)
    """)


def test_a_top_level_section_of_the_wrong_type_is_reported_beside_other_errors(validate) -> None:
    """`resources: [w]` must be reported even when a deeper error exists elsewhere.

    locate._without_losing_branches once dropped a `*_type` error at loc ("resources",)
    whenever a longer loc existed under another key: its "stem" was the empty tuple.
    """
    outcome = validate("""
        version: 1
        resources: [w]
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g], expect: maybe}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:2:12: error: resources: input should be a valid dictionary
        flow.yaml:6:28: error: phases.a.expect: input should be 'success' or 'failure' (got 'maybe')
        2 errors in 1 file (invalid)
    """)


def test_params_that_are_not_a_mapping_are_an_error(validate) -> None:
    """`params: [1, 2]` was silently dropped: the loader replaced it with {}."""
    outcome = validate("""
        version: 1
        params: [port, 8080]
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:2:9: error: params: input should be a valid dictionary
        1 error in 1 file (invalid)
    """)


# -- types and with: ---------------------------------------------------------------------


def test_unknown_resource_type(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          w: {type: workspce}
        agents:
          g: {type: shell, requires: [w], with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:13: error: unknown resource type 'workspce'
            hint: did you mean 'workspace'?
        1 error in 1 file (invalid)
    """)


def test_unknown_agent_type(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: robot, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:13: error: unknown agent type 'robot'
            hint: known agent types: shell, check, python, executor
        1 error in 1 file (invalid)
    """)


def test_with_value_of_the_wrong_type(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          w:
            type: workspace
            with: {git: maybe, copy: src/}
        agents:
          g: {type: shell, requires: [w], with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:5:17: error: resources.w.with.git: input should be a valid boolean, unable to interpret input (got 'maybe')
        flow.yaml:5:30: error: resources.w.with.copy: input should be a valid list
        2 errors in 1 file (invalid)
    """)


def test_unknown_key_in_with(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g:
            type: shell
            with:
              run: [echo]
              timout: 5
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:7:7: error: agents.g.with.timout: unknown key 'timout'
            hint: did you mean 'timeout'?
        1 error in 1 file (invalid)
    """)


def test_unknown_key_in_a_nested_with_model(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          app:
            type: process
            with:
              command: [python3, app.py]
              ready: {tcp: "127.0.0.1:80", timeot: 3}
        agents:
          g: {type: shell, requires: [app], with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:7:36: error: resources.app.with.ready.timeot: unknown key 'timeot'
            hint: did you mean 'timeout'?
        1 error in 1 file (invalid)
    """)


def test_with_validator_messages(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          app:
            type: process
            with:
              command: [python3, app.py]
              ready: {tcp: localhost}
        agents:
          g:
            type: shell
            requires: [app]
            with: {run: echo hi}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:7:20: error: resources.app.with.ready.tcp: expected host:port such as 127.0.0.1:8080, got 'localhost'
        flow.yaml:12:11: error: agents.g.with: a string `run:` needs `shell: true`; or write it as a list of arguments
        2 errors in 1 file (invalid)
    """)


def test_with_missing_a_required_setting(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: python, with: {}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:21: error: agents.g.with: missing required key 'call'
            hint: add `call:` here
        1 error in 1 file (invalid)
    """)


# -- names that must resolve -------------------------------------------------------------


def test_unknown_resource_in_needs(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          w: {type: workspace, needs: [cache]}
          cach: {type: memory}
        agents:
          g: {type: shell, requires: [w], with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:32: error: resource 'w' names unknown resource 'cache'
            hint: did you mean 'cach'?
        flow.yaml:4:3: warning: resource 'cach' is used by no phase, so it never starts
            hint: remove it, or use it from a phase
        1 error and 1 warning in 1 file (invalid)
    """)


def test_resource_needing_itself(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          w: {type: workspace, needs: [w]}
        agents:
          g: {type: shell, requires: [w], with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:32: error: resource 'w' needs itself
        1 error in 1 file (invalid)
    """)


def test_agent_requires_an_unconfigured_resource(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          code: {type: workspace}
        agents:
          g: {type: shell, requires: [code, app], with: {run: [echo]}}
          h: {type: shell, requires: [cod], with: {run: [echo]}}
        phases:
          a: {agents: [g, h]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:5:37: error: agent 'g' requires resource 'app', which is not configured
            hint: configure it under `resources:`, or move it to `optional:`
        flow.yaml:6:31: error: agent 'h' requires resource 'cod', which is not configured
            hint: did you mean 'code'?
        2 errors in 1 file (invalid)
    """)


def test_misspelled_optional_resource_is_a_warning(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          notes: {type: memory}
        agents:
          g: {type: shell, requires: [notes], optional: [note, llm], with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_success()
    assert outcome.out == dedent("""\
        flow.yaml:5:50: warning: optional resource 'note' is not configured, so it is unused
            hint: did you mean 'notes'?
        1 warning in 1 file (valid)
    """)


def test_unknown_agent_in_phase(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          builder: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [biulder]}
          b: {agents: [builder, nobody]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:5:16: error: phase 'a' names unknown agent 'biulder'
            hint: did you mean 'builder'?
        flow.yaml:6:25: error: phase 'b' names unknown agent 'nobody'
            hint: declared agents: builder
        2 errors in 1 file (invalid)
    """)


def test_unknown_resource_in_phase(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g], resources: [db]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:5:32: error: phase 'a' names unknown resource 'db'
            hint: declare it under `resources:`
        1 error in 1 file (invalid)
    """)


def test_unknown_template_in_may_spawn(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g], may_spawn: [retry, later]}
        templates:
          retry: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:5:39: error: phase 'a' names unknown template 'later'
            hint: declared templates: retry
        1 error in 1 file (invalid)
    """)


def test_template_names_are_checked_like_phases(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g], may_spawn: [retry]}
        templates:
          retry:
            agents: [gg]
            if: "params.reason == 'x' and params.nope"
            params: {reason: x}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:8:14: error: template 'retry' names unknown agent 'gg'
            hint: did you mean 'g'?
        flow.yaml:9:35: error: if: unknown param 'params.nope'
            hint: declared params: reason
        2 errors in 1 file (invalid)
    """)


def test_template_own_params_are_known_to_its_condition(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g], may_spawn: [retry]}
        templates:
          retry:
            agents: [g]
            if: "params.reason != 'skip' and phases.a.success"
            params: {reason: spot check}
    """)
    outcome.assert_success()


def test_template_params_may_fill_numeric_fields(validate) -> None:
    """The schema accepts `max_iterations: "${params.tries}"` everywhere, so validate must
    too in a template whose own params define `tries` (it once said "not a valid integer")."""
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g], may_spawn: [retry]}
        templates:
          retry:
            agents: [g]
            max_iterations: "${params.tries}"
            params: {tries: 2}
    """)
    outcome.assert_success()


# -- cycles and order --------------------------------------------------------------------


def test_resource_needs_cycle(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          a: {type: workspace, needs: [b]}
          b: {type: workspace, needs: [a]}
        agents:
          g: {type: shell, requires: [a], with: {run: [echo]}}
        phases:
          p: {agents: [g]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:32: error: resource needs form a cycle: a -> b -> a
            hint: remove one of these needs
        1 error in 1 file (invalid)
    """)


def test_phase_needs_cycle(validate) -> None:
    outcome = validate("""
        version: 1
        execution: graph
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          start: {agents: [g]}
          a: {agents: [g], needs: [start, c]}
          b: {agents: [g], needs: [a]}
          c: {agents: [g], needs: [b]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:7:35: error: phase needs form a cycle: a -> c -> b -> a
            hint: remove one of these needs
        1 error in 1 file (invalid)
    """)


def test_phase_needing_itself(validate) -> None:
    outcome = validate("""
        version: 1
        execution: graph
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g], needs: [a]}
          b: {agents: [g], needs: [c]}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:6:28: error: phase 'a' needs itself
        flow.yaml:7:28: error: phase 'b' names unknown phase 'c'
            hint: declared phases: a, b
        2 errors in 1 file (invalid)
    """)


def test_needs_under_sequential_execution(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
          b:
            agents: [g]
            needs: [a]
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:8:5: error: phase 'b' has `needs`, but phases run in listed order
            hint: add `execution: graph` at the top level, or remove `needs`
        1 error in 1 file (invalid)
    """)


def test_phase_with_no_agents(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
          b: {agents: []}
          c: {max_iterations: 2}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:6:3: error: phase 'b' has no agents
            hint: list the agents that take turns in it: `agents: [name]`
        flow.yaml:7:3: error: phase 'c' has no agents
            hint: list the agents that take turns in it: `agents: [name]`
        2 errors in 1 file (invalid)
    """)


def test_no_phases_at_all(validate) -> None:
    outcome = validate("""
        version: 1
        phases: {}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:2:9: error: phases: dictionary should have at least 1 item after validation, not 0
        1 error in 1 file (invalid)
    """)


# -- if: ---------------------------------------------------------------------------------


def test_if_syntax_error_points_into_the_expression(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
          b: {agents: [g], if: "phases.a.success && phases.a.output"}
          c:
            agents: [g]
            if: phases.a.success and
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:6:42: error: if: unexpected character '&'
            hint: write 'and'
        flow.yaml:9:29: error: if: expected a value but found the end of the expression
        2 errors in 1 file (invalid)
    """)


def test_if_function_call_does_not_parse(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g], if: "__import__('os')"}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:5:35: error: if: unexpected '(' after a complete expression
            hint: join with 'and'/'or'
        1 error in 1 file (invalid)
    """)


def test_if_unknown_name(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
          b: {agents: [g], if: "status == 'ok' or phase.a.success"}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:6:25: error: if: unknown name 'status'
            hint: names start with phases., params. or env.; quote text: 'like this'
        flow.yaml:6:43: error: if: unknown name 'phase.a.success'
            hint: did you mean 'phases'?
        2 errors in 1 file (invalid)
    """)


def test_if_unknown_phase_and_field(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          build: {agents: [g]}
          test: {agents: [g], if: "phases.biuld.success or phases.build.sucess"}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:6:28: error: if: unknown phase 'biuld'
            hint: did you mean 'build'?
        flow.yaml:6:52: error: if: 'phases.build.sucess' is not a phase field
            hint: did you mean 'success'?
        2 errors in 1 file (invalid)
    """)


def test_if_attribute_of_a_phase_field_is_refused(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
          b: {agents: [g], if: "phases.a.output.__class__"}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:6:25: error: if: 'phases.a.output.__class__' is not a phase field
            hint: write phases.NAME.FIELD, FIELD one of output, success, failed, skipped, status
        1 error in 1 file (invalid)
    """)


def test_if_unknown_param_and_bad_env(validate) -> None:
    outcome = validate("""
        version: 1
        params: {retries: 2}
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g], if: "params.retry > 1 and env.CI.x"}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:6:25: error: if: unknown param 'params.retry'
            hint: did you mean 'retries'?
        flow.yaml:6:46: error: if: 'env.CI.x' should be env.NAME
            hint: write env.NAME
        2 errors in 1 file (invalid)
    """)


def test_if_reads_a_phase_it_does_not_need(validate) -> None:
    outcome = validate("""
        version: 1
        execution: graph
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
          b: {agents: [g]}
          c: {agents: [g], needs: [a], if: "phases.a.success and phases.b.success"}
          d: {agents: [g], needs: [c], if: "phases.a.success"}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:8:58: error: if: phase 'c' reads phase 'b' but does not need it
            hint: add 'b' to its `needs`, so it has finished
        1 error in 1 file (invalid)
    """)


def test_if_reads_a_phase_listed_later(validate) -> None:
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g], if: "phases.b.success"}
          b: {agents: [g], if: "not phases.b.failed"}
          c: {agents: [g], if: "phases.a.success"}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:5:25: error: if: phase 'a' reads phase 'b', which runs after it
            hint: a phase can only read phases listed before it
        flow.yaml:6:29: error: if: phase 'b' reads phase 'b', which runs after it
            hint: a phase can only read phases listed before it
        2 errors in 1 file (invalid)
    """)


# -- all at once -------------------------------------------------------------------------


def test_five_mistakes_are_all_reported_in_order(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          code: {type: workspace, with: {git: perhaps}}
        agents:
          fixer: {type: shel, requires: [code]}
          tester: {type: shell, requires: [db], with: {run: [pytest]}}
        phases:
          fix: {agents: [fixer], max_iteration: 3}
          test: {agents: [tester], if: "phases.fix.success and"}
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:3:39: error: resources.code.with.git: input should be a valid boolean, unable to interpret input (got 'perhaps')
        flow.yaml:5:17: error: unknown agent type 'shel'
            hint: did you mean 'shell'?
        flow.yaml:6:36: error: agent 'tester' requires resource 'db', which is not configured
            hint: configure it under `resources:`, or move it to `optional:`
        flow.yaml:8:26: error: phases.fix.max_iteration: unknown key 'max_iteration'
            hint: did you mean 'max_iterations'?
        flow.yaml:9:55: error: if: expected a value but found the end of the expression
        5 errors in 1 file (invalid)
    """)
    assert "Traceback" not in outcome.out + outcome.err


def test_warnings_do_not_fail_validate(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          code: {type: workspace}
          spare: {type: memory}
        agents:
          g: {type: shell, requires: [code], with: {run: [echo]}}
          idle: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_success()
    assert outcome.out == dedent("""\
        flow.yaml:4:3: warning: resource 'spare' is used by no phase, so it never starts
            hint: remove it, or use it from a phase
        flow.yaml:7:3: warning: agent 'idle' takes part in no phase
        2 warnings in 1 file (valid)
    """)


def test_a_clean_file_loads_into_frozen_declaration_ordered_models(wfrun_project) -> None:
    project = wfrun_project(
        {
            "flow.yaml": """
                version: 1
                execution: graph
                resources:
                  code: {type: workspace}
                  app: {type: process, needs: [code], with: {command: [python3, app.py]}}
                agents:
                  z: {type: shell, requires: [app], with: {run: [echo]}}
                  a: {type: check, requires: [code], with: {run: [echo]}}
                phases:
                  second: {agents: [z]}
                  first: {agents: [a], needs: [second], if: "phases.second.success"}
            """
        }
    )
    workflow = load_workflow(project.path / "flow.yaml", environ={})
    assert workflow.name == "flow"
    assert list(workflow.resources) == ["code", "app"]
    assert list(workflow.agents) == ["z", "a"]
    assert list(workflow.phases) == ["second", "first"]
    assert workflow.resources["app"].needs == ("code",)
    assert workflow.phases["first"].needs == ("second",)
    assert workflow.phases["first"].condition_text == "phases.second.success"
    assert workflow.phases["second"].max_iterations == 10
    assert workflow.base_dir == project.path
    with pytest.raises(AttributeError):
        workflow.phases["first"].agents = ()  # type: ignore[misc]


# -- crashes found by the fuzzer: each must be a located error, exit 2 -------------------


def test_an_agent_without_with_whose_type_needs_settings(validate) -> None:
    """A shell agent without `with:` crashed validate with KeyError: 'with' (exit 3):
    locate._data_at follows ("agents", "g", "with") into data that has no `with` key."""
    outcome = validate("""
        version: 1
        agents:
          g: {type: shell}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    lines = outcome.out.splitlines()
    assert lines[0].startswith("flow.yaml:3:"), outcome
    assert "missing required key 'run'" in lines[0], outcome
    assert lines[-1] == "1 error in 1 file (invalid)", outcome


def test_a_resource_without_with_whose_type_needs_settings(validate) -> None:
    outcome = validate("""
        version: 1
        resources:
          app: {type: process}
        agents:
          g: {type: shell, requires: [app], with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """)
    outcome.assert_invalid()
    lines = outcome.out.splitlines()
    assert lines[0].startswith("flow.yaml:3:"), outcome
    assert "missing required key 'command'" in lines[0], outcome


def test_templates_as_a_list_holding_a_placeholder(validate) -> None:
    """`templates: ["${params.x}"]` crashed with AttributeError: 'list' object has no
    attribute 'get' in loader._Loading._resolve (it assumes `templates` is a mapping)."""
    outcome = validate("""
        version: 1
        params: {port: 1}
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
        templates: ["${params.port}"]
    """)
    outcome.assert_invalid()
    assert outcome.out == dedent("""\
        flow.yaml:7:12: error: templates: input should be a valid dictionary
        1 error in 1 file (invalid)
    """)
