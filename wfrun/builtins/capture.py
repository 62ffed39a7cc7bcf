"""Run a command to completion with bounded output, a timeout and a cancel switch.

Used by the `shell`/`check` agents, the `executor` and `command:` readiness probes.
The command runs in its own session; when it ends (or is killed for its timeout or
because the run was cancelled) whatever it left running in that session is stopped
too, so a turn never leaves a background process behind.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from wfrun.builtins import procs

LEFTOVER_GRACE = 1.0  # seconds a turn's background processes get after SIGTERM
_CHUNK = 65536


@dataclass(frozen=True)
class Captured:
    """How a command ended. `exit_code` is None when it was killed before exiting."""

    exit_code: int | None
    output: str  # stdout and stderr as written, the tail kept
    stdout: str | None = None  # stdout alone (tail), only when run with split_stdout
    timed_out: bool = False
    cancelled: bool = False
    truncated: bool = False
    duration_s: float = 0.0


class _Tail:
    """The last `limit` characters of a byte stream, and whether anything was dropped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._data = bytearray()
        self.dropped = False

    def add(self, chunk: bytes) -> None:
        self._data += chunk
        # Keep 4 bytes per character: enough for any UTF-8 text, trimmed to chars below.
        excess = len(self._data) - 4 * self.limit
        if excess > 0:
            del self._data[:excess]
            self.dropped = True

    def text(self) -> str:
        text = self._data.decode("utf-8", errors="replace")
        if len(text) > self.limit:
            self.dropped = True
            text = text[-self.limit :]
        return text


def run(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str],
    timeout: float | None = None,
    cancelled: threading.Event | None = None,
    max_output: int = 64_000,
    split_stdout: bool = False,
    on_kill: Callable[[], None] | None = None,
) -> Captured:
    """Run `argv`; kill its session on timeout or cancel. A missing program is exit 127.

    By default stdout and stderr share one pipe, so `output` has them in the order they
    were written. `split_stdout` also keeps stdout alone, at the price of two pipes: the
    order between the two streams is then only as good as thread scheduling.
    `on_kill` runs when the command is killed (timeout, cancel, Ctrl-C) before its
    session is: a command run elsewhere (`docker exec`) is stopped there too.
    """
    began = time.monotonic()
    stderr = subprocess.PIPE if split_stdout else subprocess.STDOUT
    try:
        proc = procs.spawn(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=stderr)
    except FileNotFoundError:
        if not Path(cwd).is_dir():
            return Captured(127, f"working directory not found: {cwd}")
        return Captured(127, f"command not found: {argv[0]}")
    except PermissionError:
        return Captured(126, f"permission denied: {argv[0]}")
    combined, stdout = _Tail(max_output), _Tail(max_output)
    lock = threading.Lock()
    streams = [(proc.stdout, [combined, stdout] if split_stdout else [combined])]
    if split_stdout:
        streams.append((proc.stderr, [combined]))
    readers = [
        threading.Thread(target=_pump, args=(stream, tails, lock), daemon=True)
        for stream, tails in streams
    ]
    for reader in readers:
        reader.start()
    timed_out = was_cancelled = False
    deadline = None if timeout is None else began + timeout
    grace = 0.0  # unless it exits by itself: then leftovers get LEFTOVER_GRACE
    try:
        while proc.poll() is None:
            if cancelled is not None and cancelled.is_set():
                was_cancelled = True
                break
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.05)
        else:
            grace = LEFTOVER_GRACE
    finally:  # also on KeyboardInterrupt: the command must not outlive the turn
        if on_kill is not None and grace == 0.0:
            on_kill()
        procs.kill_session(proc.pid, grace=grace, proc=proc)
    for reader in readers:
        reader.join(timeout=2.0)  # a process that escaped the session may hold the pipe
    with lock:
        output, out = combined.text(), stdout.text() if split_stdout else None
    return Captured(
        exit_code=None if (timed_out or was_cancelled) else proc.returncode,
        output=output,
        stdout=out,
        timed_out=timed_out,
        cancelled=was_cancelled,
        truncated=combined.dropped,
        duration_s=round(time.monotonic() - began, 6),
    )


def _pump(stream: IO[bytes], tails: list[_Tail], lock: threading.Lock) -> None:
    """Copy whole lines into the tails, so two pipes never splice half-lines together."""
    fd = stream.fileno()
    pending = b""
    try:
        while chunk := os.read(fd, _CHUNK):
            pending += chunk
            cut = pending.rfind(b"\n") + 1 or (len(pending) if len(pending) > _CHUNK else 0)
            if cut:  # a long run without newlines is passed on anyway: memory stays bounded
                _add(tails, pending[:cut], lock)
                pending = pending[cut:]
    finally:
        if pending:
            _add(tails, pending, lock)
        stream.close()


def _add(tails: list[_Tail], data: bytes, lock: threading.Lock) -> None:
    with lock:
        for tail in tails:
            tail.add(data)
