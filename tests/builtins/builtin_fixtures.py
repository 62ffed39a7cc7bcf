"""Fixtures for the built-in types: real temp dirs, contexts, an OpenAI-compatible server.

Test modules load it with `pytest_plugins = ["builtin_fixtures"]` rather than from a
conftest.py: a second conftest module would shadow the `conftest` that tests/ imports.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.model_api import FakeAPI, serving
from wfrun.engine.api import AgentContext, LiveResource, ResourceContext


@pytest.fixture
def flow_dir(tmp_path: Path) -> Path:
    """The workflow folder: relative paths in `with:` start here."""
    path = tmp_path / "flow"
    path.mkdir()
    return path


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    path = tmp_path / "run"
    path.mkdir()
    return path


@pytest.fixture
def resource_ctx(flow_dir: Path, run_dir: Path) -> Callable[..., ResourceContext]:
    def make(name: str = "r", **overrides: Any) -> ResourceContext:
        values: dict[str, Any] = {
            "name": name,
            "run_dir": run_dir,
            "base_dir": flow_dir,
            "environ": dict(os.environ),
            "log": lambda _line: None,
        }
        values.update(overrides)
        return ResourceContext(**values)

    return make


@pytest.fixture
def agent_ctx(flow_dir: Path, run_dir: Path) -> Callable[..., AgentContext]:
    def make(
        name: str = "a",
        resources: Mapping[str, LiveResource] | None = None,
        attributes: Mapping[str, Mapping[str, Any]] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> AgentContext:
        return AgentContext(
            name=name,
            phase="p",
            run_dir=run_dir,
            base_dir=flow_dir,
            environ=dict(os.environ) if environ is None else environ,
            resources=resources or {},
            attributes=attributes or {},
        )

    return make


@pytest.fixture
def fake_api() -> Iterator[FakeAPI]:
    with serving() as api:
        yield api
