"""The command's own options: --version, shell completion, help."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from tests.conftest import Files, WfrunProject
from wfrun import __version__


def test_version_prints_the_installed_version(
    wfrun_project: Callable[[Files], WfrunProject],
) -> None:
    outcome = wfrun_project({}).run("--version")
    outcome.assert_success()
    assert outcome.out == f"wfrun {__version__}\n"


def _complete(words: str) -> list[str]:
    """What bash completion offers for `words` (the last word is being completed)."""
    env = {
        **os.environ,
        "_WFRUN_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    done = subprocess.run(
        [sys.executable, "-m", "wfrun"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_completion_offers_commands_options_and_choices() -> None:
    assert _complete("wfrun va") == ["validate"]
    assert _complete("wfrun plan --fo") == ["--format"]
    assert _complete("wfrun plan --format ") == ["table", "json", "mermaid", "mermaid-gantt", "dot"]


def test_show_completion_prints_a_script_for_the_named_shell(
    wfrun_project: Callable[[Files], WfrunProject],
) -> None:
    outcome = wfrun_project({}).run("--show-completion", "bash")
    outcome.assert_success()
    assert "_wfrun_completion()" in outcome.out
    assert "complete_bash" in outcome.out
