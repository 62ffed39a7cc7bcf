"""What every hostile input must come to: a Workflow, or wfrun's own positioned error.

`check_file` is the one oracle the fuzz tests share. It loads a file through the Python
API under a wall-clock alarm and checks the contract of README.md: every user error is a
Diagnostic at a real place in the file, with a short one-line message, never another
exception and never a hang. `validate_cli` does the same through `wfrun validate` in a
subprocess. Both count the cases they see, so the session can report how many ran.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings

from wfrun.errors import Diagnostic, SpecError
from wfrun.registry import default_registry
from wfrun.spec import Inspection, Workflow, inspect_workflow, load_workflow

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted([*REPO.glob("workflows/*.yaml"), *REPO.glob("workflows/*/workflow.yaml")])
REGISTRY = default_registry()  # built once: scanning entry points costs ~5 ms a load
ENVIRON = {"HOME": "/home/fuzz", "CI": "1"}

CASE_SECONDS = 5.0  # one fuzz case; generous, the machine is shared (typical: ~5 ms)
MESSAGE_CHARS = 400  # a message or hint longer than this is not "clear"
CASES: Counter[str] = Counter()  # cases run this session, by kind; reported by conftest

_BREAK = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")  # what PyYAML's marks count as a line
_DIAGNOSTIC_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (error|warning): .+$")


def fuzz_settings(examples: int, *, slow: bool = False) -> settings:
    """Reproducible in the default run (derandomized); the slow run explores new ground."""
    return settings(
        max_examples=examples,
        deadline=None,  # the alarm in `bounded` is the time bound, not hypothesis' deadline
        derandomize=not slow,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )


class CaseTimeoutError(AssertionError):
    """One case ran past its time bound: a hang, as far as a user can tell."""


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Raise CaseTimeoutError in the block after `seconds` (SIGALRM; the main thread only).

    pytest-timeout arms the same signal for the whole test, so its timer is put back.
    """
    start = time.monotonic()

    def expire(_signum: int, _frame: object) -> None:
        raise CaseTimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    outer, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            left = max(outer - (time.monotonic() - start), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, interval)


def lines_of(text: str) -> list[str]:
    return _BREAK.split(text)


def check_diagnostics(diagnostics: Sequence[Diagnostic], path: Path, text: str | None) -> None:
    """Each diagnostic is placed in the file, says something, and fits on one line."""
    assert list(diagnostics) == sorted(diagnostics, key=Diagnostic.sort_key)
    lines = lines_of(text) if text is not None else None
    for d in diagnostics:
        assert d.position.file == str(path), d
        assert d.position.line >= 1, d
        assert d.position.col >= 1, d
        if lines is not None:
            assert d.position.line <= len(lines), d
            assert d.position.col <= len(lines[d.position.line - 1]) + 1, d
        assert d.message.strip(), d
        for part in (d.message, d.hint):
            assert "\n" not in part, d
            assert "\r" not in part, d
            assert len(part) <= MESSAGE_CHARS, f"{len(part)} characters: {part[:200]!r}"


def _text_of(content: str | bytes) -> str | None:
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def check_file(
    path: Path, content: str | bytes, *, kind: str | None, raising: bool = False
) -> Inspection:
    """Write `content` to `path` and load it; assert the loader's contract. `kind` names
    the tally it counts in (None: a case counted elsewhere).

    With `raising`, go through load_workflow (Workflow or SpecError), else through
    inspect_workflow (never raises; workflow is None exactly when there are errors).
    """
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    if kind:
        CASES[kind] += 1
    with bounded(CASE_SECONDS):
        if raising:
            result = _load_raising(path)
        else:
            result = inspect_workflow(path, environ=ENVIRON, registry=REGISTRY)
    assert (result.workflow is None) == bool(result.errors), result
    check_diagnostics(result.diagnostics, path, _text_of(content))
    return result


def _load_raising(path: Path) -> Inspection:
    """load_workflow gives a Workflow or raises SpecError; anything else escapes."""
    try:
        workflow = load_workflow(path, environ=ENVIRON, registry=REGISTRY)
    except SpecError as exc:
        return Inspection(None, exc.diagnostics)
    assert isinstance(workflow, Workflow)
    return Inspection(workflow, [])


# -- the real command line ---------------------------------------------------------------


@dataclass(frozen=True)
class Validated:
    code: int
    out: str
    err: str
    seconds: float


def wfrun_command() -> list[str]:
    """The installed `wfrun` script beside this interpreter, else `python -m wfrun`."""
    script = Path(sys.executable).with_name("wfrun")
    return [str(script)] if script.exists() else [sys.executable, "-m", "wfrun"]


def cli_environ() -> dict[str, str]:
    """The whole environment of the `wfrun` subprocess: ENVIRON, plus what a process needs."""
    keep = {key: os.environ[key] for key in ("PATH", "XDG_CACHE_HOME") if key in os.environ}
    return {**keep, **ENVIRON, "NO_COLOR": "1", "COLUMNS": "200"}


def validate_cli(
    paths: Sequence[Path], *, output: str = "text", timeout: float = 60.0
) -> Validated:
    """`wfrun validate PATH...` in a subprocess: exit 0 or 2, no traceback, and (as text)
    every line a diagnostic, its hint or the summary."""
    start = time.monotonic()
    done = subprocess.run(
        [*wfrun_command(), "validate", "--format", output, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env=cli_environ(),
        cwd=paths[0].parent if paths else None,
    )
    result = Validated(done.returncode, done.stdout, done.stderr, time.monotonic() - start)
    CASES["cli"] += len(paths)
    shown = f"exit {result.code}\n--- stdout\n{result.out[-3000:]}\n--- stderr\n{result.err}"
    assert result.code in (0, 2), shown
    assert "Traceback" not in result.out + result.err, shown
    assert "internal error" not in result.out + result.err, shown
    if output == "text":
        _check_report(result.out, paths, shown)
    return result


def _check_report(out: str, paths: Sequence[Path], shown: str) -> None:
    """Every line is `file:line:col: severity: message`, its hint, or the summary."""
    lines = out.splitlines()
    assert lines, shown
    assert re.match(r"^(ok: |\d+ (error|warning))", lines[-1]), shown
    names = {str(path) for path in paths}
    for line in lines[:-1]:
        if line.startswith("    hint: "):
            continue
        match = _DIAGNOSTIC_LINE.match(line)
        assert match, f"unexpected line {line!r}\n{shown}"
        assert match["file"] in names, shown
