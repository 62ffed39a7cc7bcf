"""`wfrun schema`: one JSON Schema, generated from the models, that editors can trust."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent
from typing import Any, cast

import pytest
import yaml
from jsonschema import Draft202012Validator

from wfrun.registry import default_registry

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(
    [*REPO.glob("workflows/*.yaml"), *REPO.glob("workflows/*/workflow.yaml")],
    key=lambda p: str(p.relative_to(REPO)),
)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The schema as the CLI prints it (module-scoped: it is the same for every test)."""
    from typer.testing import CliRunner  # noqa: PLC0415

    from wfrun.cli import app  # noqa: PLC0415

    result = CliRunner().invoke(app, ["schema"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return cast(dict[str, Any], json.loads(result.stdout))


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema)


def _problems(validator: Draft202012Validator, text: str) -> list[str]:
    return [error.message for error in validator.iter_errors(yaml.safe_load(dedent(text)))]


def test_it_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "wfrun workflow"


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(REPO)) for p in EXAMPLES])
def test_it_accepts_every_example(validator: Draft202012Validator, path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(document)] == []


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 3


def test_with_is_checked_per_type(validator: Draft202012Validator) -> None:
    """`command:` belongs to a process's `with:`, not a workspace's: the union is
    discriminated by `type`."""
    as_process = """
        version: 1
        resources:
          r: {type: process, with: {command: [serve]}}
        agents:
          g: {type: shell, requires: [r], with: {run: [echo]}}
        phases:
          a: {agents: [g]}
    """
    assert _problems(validator, as_process) == []
    as_workspace = as_process.replace("type: process", "type: workspace")
    assert _problems(validator, as_workspace) == [
        (
            "{'type': 'workspace', 'with': {'command': ['serve']}} is not valid under any of the"
            " given schemas"
        )
    ]


def test_an_unknown_with_key_of_an_agent_is_refused(validator: Draft202012Validator) -> None:
    problems = _problems(
        validator,
        """
        version: 1
        agents:
          g: {type: python, with: {call: "m:f", run: [echo]}}
        phases:
          a: {agents: [g]}
        """,
    )
    assert len(problems) == 1
    assert "is not valid under any of the given schemas" in problems[0]


def test_an_unknown_type_is_refused(validator: Draft202012Validator) -> None:
    problems = _problems(
        validator,
        """
        version: 1
        resources:
          r: {type: database}
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
        """,
    )
    assert problems == ["{'type': 'database'} is not valid under any of the given schemas"]


def test_placeholders_are_accepted_where_numbers_and_booleans_go(
    validator: Draft202012Validator,
) -> None:
    assert (
        _problems(
            validator,
            """
            version: 1
            params: {tries: 3, t: 1.5, quiet: true, port: 8080}
            resources:
              app: {type: process, with: {command: [x], port: "${params.port}"}}
            agents:
              g:
                type: shell
                requires: [app]
                with: {run: [echo], timeout: "${params.t}", shell: "${params.quiet}"}
            phases:
              a: {agents: [g], max_iterations: "${params.tries}", timeout: "${params.t}"}
            """,
        )
        == []
    )


def test_a_non_placeholder_string_is_not_a_number(validator: Draft202012Validator) -> None:
    problems = _problems(
        validator,
        """
        version: 1
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g], max_iterations: "three"}
        """,
    )
    assert problems == ["'three' is not valid under any of the given schemas"]


def test_unknown_keys_are_refused_at_every_level(validator: Draft202012Validator) -> None:
    problems = _problems(
        validator,
        """
        version: 1
        colour: red
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g], max_iteration: 3}
        """,
    )
    assert sorted(problems) == [
        "Additional properties are not allowed ('colour' was unexpected)",
        "Additional properties are not allowed ('max_iteration' was unexpected)",
    ]


def test_entries_with_invalid_names_are_not_let_through(validator: Draft202012Validator) -> None:
    """`dict[Name, X]` becomes `patternProperties` only, so a key that does not match the
    name pattern is not checked at all: an editor would accept this whole file."""
    problems = _problems(
        validator,
        """
        version: 1
        resources:
          bad name: {type: nope, with: {junk: 1}}
        agents:
          g: {type: shell, with: {run: [echo]}}
        phases:
          a: {agents: [g]}
          9x: {agentz: 1}
        """,
    )
    assert len(problems) == 2, problems


def test_the_type_enums_are_the_registry(schema: dict[str, Any]) -> None:
    registry = default_registry()
    resources = schema["properties"]["resources"]["patternProperties"]
    agents = schema["properties"]["agents"]["patternProperties"]
    [resource_union] = resources.values()
    [agent_union] = agents.values()
    assert sorted(resource_union["discriminator"]["mapping"]) == sorted(registry.names("resource"))
    assert sorted(agent_union["discriminator"]["mapping"]) == sorted(registry.names("agent"))


def test_schema_output_option_writes_a_file(wfrun_project, schema: dict[str, Any]) -> None:
    project = wfrun_project({})
    outcome = project.run("schema", "--output", "wfrun.schema.json")
    outcome.assert_success()
    assert outcome.out == ""
    assert json.loads((project.path / "wfrun.schema.json").read_text("utf-8")) == schema
