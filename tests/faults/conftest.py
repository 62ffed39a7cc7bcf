"""The fault tests' fixtures.

`matrix` and `kills` give a test the outcome of its run, which was started in the
background with every other selected one when the session reached the first fault
test (see `Background`). `slow` cases (the rest of the matrix, more hard-kill seeds)
run only when asked for, with `-m slow` (or any -m expression naming it) or
WFRUN_SLOW=1.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.flow import Case
from tests.faults.killing import Killed, kill_at_random
from tests.faults.matrix import Background, Outcome, execute

HERE = Path(__file__).resolve().parent
JOBS: dict[str, tuple[str, Callable[..., Any]]] = {  # fixture: (its test's param, the job)
    "matrix": ("case", execute),
    "kills": ("seed", kill_at_random),
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running seeds and cases (run with -m slow)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.option.markexpr or "") or os.environ.get("WFRUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow (or WFRUN_SLOW=1)")
    for item in items:
        if item.get_closest_marker("slow") and item.path.is_relative_to(HERE):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def background(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Background]:
    """Every selected test's run, submitted in test order."""
    runs = Background(tmp_path_factory.mktemp("runs"))
    for item in request.session.items:
        if item.get_closest_marker("skip") or not hasattr(item, "callspec"):
            continue
        for fixture, (param, job) in JOBS.items():
            if fixture in item.fixturenames:  # type: ignore[attr-defined]
                runs.submit(job, item.callspec.params[param])
    yield runs
    runs.close()


@pytest.fixture(scope="session", autouse=True)
def _start_the_runs(request: pytest.FixtureRequest) -> None:
    """At the first fault test, not the first matrix test: the foreground tests mostly
    wait, so the background runs use that time."""
    if any(f in item.fixturenames for item in request.session.items for f in JOBS):  # type: ignore[attr-defined]
        request.getfixturevalue("background")


@pytest.fixture
def matrix(background: Background) -> Callable[[Case], Outcome]:
    return lambda case: background.get(execute, case)


@pytest.fixture
def kills(background: Background) -> Callable[[int], Killed]:
    return lambda seed: background.get(kill_at_random, seed)
