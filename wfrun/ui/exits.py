"""Exceptions to exit codes, in one place: 2 user error, 3 bug (logged), 130 interrupted."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from wfrun.errors import PlanError, RunError, SpecError, UsageError, WfrunError
from wfrun.ui.diagnostics import render
from wfrun.ui.terminal import Terminal

OK, FAILED, INVALID, INTERNAL, INTERRUPTED = 0, 1, 2, 3, 130


class ExitCode(SystemExit):
    """Raised to leave a command with a code after the message was shown."""


@contextmanager
def exit_codes(terminal: Terminal, *, environ: Mapping[str, str] | None = None) -> Iterator[None]:
    """Show a WfrunError as a message and exit with its code; log anything unexpected."""
    try:
        yield
    except SpecError as exc:
        terminal.err.print(render(exc.diagnostics, 1, "text"), end="")
        raise ExitCode(INVALID) from exc
    except (UsageError, PlanError) as exc:
        terminal.problem(str(exc), getattr(exc, "hint", ""))
        raise ExitCode(INVALID) from exc
    except RunError as exc:
        terminal.problem(str(exc))
        raise ExitCode(FAILED) from exc
    except WfrunError as exc:
        terminal.problem(str(exc), getattr(exc, "hint", ""))
        raise ExitCode(INVALID) from exc
    except KeyboardInterrupt as exc:
        terminal.problem("interrupted")
        raise ExitCode(INTERRUPTED) from exc
    except (SystemExit, GeneratorExit):
        raise
    except Exception as exc:
        log = crash_log(exc, environ=os.environ if environ is None else environ)
        terminal.problem(
            f"internal error: {type(exc).__name__}: {exc}",
            f"this is a bug in wfrun; the traceback is in {log}",
        )
        raise ExitCode(INTERNAL) from exc


def crash_log(exc: BaseException, *, environ: Mapping[str, str]) -> Path:
    """Write the traceback and versions where a bug report can pick them up."""
    from wfrun import __version__  # noqa: PLC0415 - only needed on the rare crash path

    base = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wfrun"
    base.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    path = base / f"crash-{stamp}-{os.getpid()}.log"
    header = f"wfrun {__version__}, Python {sys.version.split()[0]}, {platform.platform()}"
    text = f"{header}\nargv: {sys.argv}\n\n{''.join(traceback.format_exception(exc))}"
    path.write_text(text, encoding="utf-8")
    return path
