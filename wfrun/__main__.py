"""`python -m wfrun` and the `wfrun` command: no traceback for Ctrl-C, from the start.

Loading the CLI takes a good part of a second; Python's own Ctrl-C handler would turn
a Ctrl-C meanwhile into a KeyboardInterrupt traceback. So the first thing is a handler
that ends the process with 130, quietly: nothing has started yet. SIGTERM, SIGHUP and
SIGQUIT get the same, so every interrupt means 130. A run installs its own handlers
(`wfrun.engine.runner`) and puts these back when it ends. Once the command has
returned, an interrupt while threads end exits at once, and one during interpreter
finalisation is ignored (finalisation would put back the default, killing action).

(What no Python program can cover: a Ctrl-C while the interpreter itself starts, before
it runs a line of wfrun, e.g. while `site` loads.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from types import FrameType

INTERRUPTED = 130
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
DEFAULTS = (signal.default_int_handler, signal.SIG_DFL)


def main() -> int:
    """The console-script entry point: `wfrun.cli.main` under a quiet Ctrl-C."""
    ours = threading.current_thread() is threading.main_thread()
    # Only where nobody chose otherwise: an ignored SIGHUP (`nohup wfrun run`) stays so.
    mine = [sig for sig in SIGNALS if ours and signal.getsignal(sig) in DEFAULTS]
    for sig in mine:
        signal.signal(sig, _quit)
    try:
        from wfrun.cli import main as cli_main  # noqa: PLC0415 - after the handler, on purpose

        code = cli_main()
        _hand_over(mine)
    except SystemExit as exc:  # `_quit`: outside the command's own handling, or just after it
        _quit_once()
        code = exc.code if isinstance(exc.code, int) else INTERRUPTED
        _hand_over(mine)  # `_quit` raises once: nothing cuts this short
    for thread in threading.enumerate():  # what shutdown would wait for, interruptible
        if not thread.daemon and thread is not threading.current_thread():
            thread.join()
    for sig in mine:  # finalisation puts SIG_DFL back for a Python handler, not for this
        signal.signal(sig, signal.SIG_IGN)
    return code


_quitting = False


def _quit(signum: int, frame: FrameType | None) -> None:
    """Before or between a command's own handling: leave with 130, no traceback. Once:
    a second signal must not cut short the unwinding of the first."""
    del signum, frame
    if not _quitting:
        _quit_once()
        raise SystemExit(INTERRUPTED)


def _quit_once() -> None:
    global _quitting  # noqa: PLW0603 - a signal handler's one bit of state
    _quitting = True


def _hand_over(mine: list[signal.Signals]) -> None:
    """The command is over: from now on a signal ends the process at once. (A `_quit`
    that fired between the command's return and this would otherwise escape `main`,
    and finalisation would put the default action back for the next Ctrl-C: exit -2.)"""
    for sig in mine:
        signal.signal(sig, _quit_now)


def _quit_now(signum: int, frame: FrameType | None) -> None:
    """After the command: shutdown (joining threads) must not print a traceback either."""
    del signum, frame
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(INTERRUPTED)


if __name__ == "__main__":
    raise SystemExit(main())
