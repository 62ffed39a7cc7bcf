"""Every example workflow validates clean: no errors and no warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfrun.spec import inspect_workflow

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(
    [*REPO.glob("workflows/*.yaml"), *REPO.glob("workflows/*/workflow.yaml")],
    key=lambda p: str(p.relative_to(REPO)),
)
IDS = [str(p.relative_to(REPO)) for p in EXAMPLES]


def test_the_examples_are_there() -> None:
    """The issue asks for a hello, a sequential and a graph example at least."""
    assert {"workflows/hello.yaml", "workflows/pipeline.yaml"} <= set(IDS)
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_example_validates_clean(wfrun_project, path: Path) -> None:
    outcome = wfrun_project({}).run("validate", str(path))
    outcome.assert_success()
    assert outcome.out == "ok: 1 file valid\n", outcome


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_example_has_no_warnings(path: Path) -> None:
    result = inspect_workflow(path, environ={})
    assert result.workflow is not None
    assert result.diagnostics == []
    assert result.workflow.base_dir == path.parent


def test_all_examples_at_once(wfrun_project) -> None:
    """`wfrun validate workflows/*.yaml` exits 0, as the issue's acceptance list says."""
    outcome = wfrun_project({}).run("validate", *map(str, EXAMPLES))
    outcome.assert_success()
    assert outcome.out == f"ok: {len(EXAMPLES)} files valid\n"
