"""The fault tests: `slow` cases (the graph-mode matrix, more hard-kill seeds) run only
when asked for, with `-m slow` (or any -m expression naming it) or WFRUN_SLOW=1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running seeds and cases (run with -m slow)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.option.markexpr or "") or os.environ.get("WFRUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow (or WFRUN_SLOW=1)")
    for item in items:
        if item.get_closest_marker("slow") and item.path.is_relative_to(HERE):
            item.add_marker(skip)
