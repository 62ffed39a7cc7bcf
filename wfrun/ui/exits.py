"""Exceptions to exit codes, in one place: 2 user error, 3 bug (logged), 130 interrupted."""

from __future__ import annotations

import datetime as dt
import errno
import os
import platform
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from wfrun.errors import PlanError, RunError, SpecError, UsageError, WfrunError
from wfrun.redact import Redactor
from wfrun.status import ExitCode as Code
from wfrun.ui.diagnostics import render
from wfrun.ui.terminal import Terminal

OK, FAILED, INVALID = Code.OK, Code.FAILED, Code.INVALID  # the table is wfrun.status's
INTERNAL, INTERRUPTED = Code.INTERNAL, Code.INTERRUPTED


class ExitCode(SystemExit):
    """Raised to leave a command with a code after the message was shown."""


@contextmanager
def exit_codes(terminal: Terminal, *, environ: Mapping[str, str] | None = None) -> Iterator[None]:
    """Show a WfrunError as a message and exit with its code; log anything unexpected."""
    try:
        yield
        sys.stdout.flush()  # a full or closed stdout shows here, not at interpreter exit
    except OSError as exc:
        if not _stdout_failed(exc):
            _crashed(terminal, exc, environ)
        terminal.problem(f"cannot write the output: {exc.strerror or exc}")
        raise ExitCode(INVALID) from exc
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
    except Exception as exc:  # noqa: BLE001 - a bug: logged, exit 3
        _crashed(terminal, exc, environ)


def _crashed(terminal: Terminal, exc: Exception, environ: Mapping[str, str] | None) -> NoReturn:
    log = crash_log(exc, environ=os.environ if environ is None else environ)
    terminal.problem(
        f"internal error: {type(exc).__name__}: {exc}",
        f"this is a bug in wfrun; the traceback is in {log}",
    )
    raise ExitCode(INTERNAL) from exc


def _stdout_failed(exc: OSError) -> bool:
    """Is it the output that failed (`> /dev/full`, a closed pipe)? A write to a stream
    names no file, unlike every path operation. If so, stdout is pointed at /dev/null,
    so the interpreter's last flush cannot fail again (which exits 120)."""
    if exc.filename is not None or exc.errno not in _OUTPUT_ERRORS:
        return False
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (a test's captured stdout)
        pass
    return True


_OUTPUT_ERRORS = {errno.EPIPE, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


def crash_log(exc: BaseException, *, environ: Mapping[str, str]) -> Path:
    """Write the traceback and versions where a bug report can pick them up."""
    from wfrun import __version__  # noqa: PLC0415 - only needed on the rare crash path

    base = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wfrun"
    base.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    path = base / f"crash-{stamp}-{os.getpid()}.log"
    header = f"wfrun {__version__}, Python {sys.version.split()[0]}, {platform.platform()}"
    text = f"{header}\nargv: {sys.argv}\n\n{''.join(traceback.format_exception(exc))}"
    text = Redactor.known().text(text)  # a secret in a message or argv stays unwritten
    # Private, like run records: a traceback can quote anything the run handled.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(fd, 0o600)  # an older file of the same name keeps its mode otherwise
        handle.write(text)
    return path
