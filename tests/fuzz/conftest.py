"""The hostile-input suite: a scratch file per test, `-m slow` for the long run, a tally."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.harness import CASES

HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    """Register `slow` if the project's pytest configuration does not already."""
    if not any(line.split(":")[0].strip() == "slow" for line in config.getini("markers")):
        config.addinivalue_line("markers", "slow: long-running seeds (run in CI too)")


SLOW_TIMEOUT = 1800  # seconds per test; the project's default (120 s) is for one case


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow fuzz runs only when asked for: `pytest -m slow tests/fuzz`."""
    wanted = "slow" in (config.getoption("markexpr") or "")
    skip = pytest.mark.skip(reason="a long fuzz run: select it with -m slow")
    for item in items:
        if item.get_closest_marker("slow") and HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT) if wanted else skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not CASES:
        return
    kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(CASES.items()))
    terminalreporter.write_line(f"hostile-input cases: {sum(CASES.values()):,} ({kinds})")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file, rewritten by every example (hypothesis runs many inputs per test call)."""
    return tmp_path_factory.mktemp("fuzz") / "flow.yaml"
