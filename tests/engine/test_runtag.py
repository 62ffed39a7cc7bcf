"""The run tag in the runner's environment, with runs that overlap in one process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wfrun import constants as C
from wfrun.engine.runtag import tagged_environment


@pytest.mark.parametrize("before", [None, "/an/outer/run"])
def test_overlapping_runs_tag_with_the_newest_going_and_restore_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before: str | None
) -> None:
    if before is None:
        monkeypatch.delenv(C.RUN_DIR_ENV, raising=False)
    else:
        monkeypatch.setenv(C.RUN_DIR_ENV, before)
    a, b = tmp_path / "a", tmp_path / "b"
    first, second = tagged_environment(a), tagged_environment(b)
    first.__enter__()
    assert os.environ[C.RUN_DIR_ENV] == str(a)
    second.__enter__()
    assert os.environ[C.RUN_DIR_ENV] == str(b)
    first.__exit__(None, None, None)  # a ends first: b is still going
    assert os.environ[C.RUN_DIR_ENV] == str(b)
    second.__exit__(None, None, None)
    assert os.environ.get(C.RUN_DIR_ENV) == before


def test_a_run_that_raises_still_restores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(C.RUN_DIR_ENV, raising=False)
    seen: list[str] = []

    def crash() -> None:
        with tagged_environment(tmp_path):
            seen.append(os.environ[C.RUN_DIR_ENV])
            raise RuntimeError

    with pytest.raises(RuntimeError):
        crash()
    assert seen == [str(tmp_path)]
    assert C.RUN_DIR_ENV not in os.environ
