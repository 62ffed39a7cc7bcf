"""Run a command to completion with bounded output, a timeout and a cancel switch.

Used by the `shell`/`check` agents, the `executor` and `command:` readiness probes.
The command runs in its own session; when it ends (or is killed for its timeout or
because the run was cancelled) whatever it left running in that session is stopped
too, so a turn never leaves a background process behind.

Nothing here may keep a signal out or outlast a timeout: the `stdout_matches` regex runs
in a child process (Python's `re` backtracks and holds the GIL for as long as it does, so
`(a+)+$` on 'aaaa…b' would block the whole runner, signal handlers included), and a
pipe that a process outside the session keeps open is read no longer than the deadline.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from wfrun.engine import procs

if TYPE_CHECKING:  # an annotation only: validate imports no engine API
    from wfrun.engine.api import Cancellation

LEFTOVER_GRACE = 1.0  # seconds a turn's background processes get after SIGTERM
DRAIN = 2.0  # seconds to read what is still in the pipe after the command ended
_CHUNK = 65536
_TICK = 0.05  # seconds between looks at the cancel flag while a command runs
_POLL = 0.005  # seconds between looks at the command without a pidfd (not Linux >= 5.3)
# The matcher: pattern and text on stdin (a 4-byte length first); exit 10 found, 11 not
# (a crash is 1: neither).
_MATCHER = (
    "import re,sys;d=sys.stdin.buffer.read();n=int.from_bytes(d[:4],'big');"
    "sys.exit(10 if re.search(d[4:4+n].decode(),d[4+n:].decode()) else 11)"
)
_FOUND = {10: True, 11: False}


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
    matched: bool | None = None  # stdout_matches found in stdout; None: none given (or killed)


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
    cancelled: Cancellation | None = None,
    max_output: int = 64_000,
    split_stdout: bool = False,
    stdout_matches: str | None = None,
    on_kill: Callable[[], None] | None = None,
    on_output: Callable[[bytes], None] | None = None,
) -> Captured:
    """Run `argv`; kill its session on timeout or cancel. A missing program is exit 127.

    By default stdout and stderr share one pipe, so `output` has them in the order they
    were written. `split_stdout` also keeps stdout alone, at the price of two pipes: the
    order between the two streams is then only as good as the order of the reads.
    `stdout_matches` (implies `split_stdout`) is searched for in stdout within the same
    timeout, and as cancellable as the command: see `matches`. `on_kill` runs when the
    command is killed (timeout, cancel, Ctrl-C) before its session is: a command run
    elsewhere (`docker exec`) is stopped there too. `on_output` is given what the command
    prints as it prints it, in whole lines (see `LiveLines`).
    """
    split_stdout = split_stdout or stdout_matches is not None
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
    assert proc.stdout is not None  # spawned with stdout=PIPE
    streams = {
        proc.stdout.fileno(): _Stream(
            proc.stdout, [combined, stdout] if split_stdout else [combined], on_output
        )
    }
    if split_stdout:
        assert proc.stderr is not None
        streams[proc.stderr.fileno()] = _Stream(proc.stderr, [combined], on_output)
    timed_out = was_cancelled = False
    deadline = None if timeout is None else began + timeout
    grace = 0.0  # unless it exits by itself: then leftovers get LEFTOVER_GRACE
    try:
        try:
            ended = _follow(proc, streams, deadline, cancelled)
            timed_out, was_cancelled = ended == "timeout", ended == "cancelled"
            if ended == "exited":
                grace = LEFTOVER_GRACE
        finally:  # also on KeyboardInterrupt: the command must not outlive the turn
            if on_kill is not None and grace == 0.0:
                on_kill()
            procs.kill_session(proc.pid, grace=grace, proc=proc)
        # A process that escaped the session may hold the pipe open: read until EOF, but
        # never past the deadline, and only briefly once the turn is being cut short.
        drain = DRAIN if grace else 0.1
        if deadline is not None:
            drain = min(drain, max(deadline - time.monotonic(), 0.1))
        _read_until(streams, time.monotonic() + drain)
    finally:
        for stream in streams.values():
            stream.close()
    output, out = combined.text(), stdout.text() if split_stdout else None
    matched = None
    if stdout_matches is not None and not (timed_out or was_cancelled):
        matched = matches(stdout_matches, out or "", deadline=deadline, cancelled=cancelled)
        was_cancelled = matched is None and cancelled is not None and cancelled.is_set()
        timed_out = matched is None and not was_cancelled
    return Captured(
        exit_code=None if (timed_out or was_cancelled) else proc.returncode,
        output=output,
        stdout=out,
        timed_out=timed_out,
        cancelled=was_cancelled,
        truncated=combined.dropped,
        duration_s=round(time.monotonic() - began, 6),
        matched=matched,
    )


def _follow(
    proc: subprocess.Popen[bytes],
    streams: dict[int, _Stream],
    deadline: float | None,
    cancelled: Cancellation | None,
) -> str:
    """Read the pipes until `proc` exits ("exited"), the deadline ("timeout") or a cancel
    ("cancelled"), on this thread: no reader thread to start per command.

    Sleeps in poll(2) on the pipes and a pidfd, so an exit wakes it at once
    (Popen.wait(timeout) polls with a back-off); it looks at the cancel flag every
    `_TICK` seconds.
    """
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux >= 5.3: look every _POLL seconds
        pidfd = -1
    try:
        watch = select.poll()
        for fd in streams:
            watch.register(fd, select.POLLIN)
        if pidfd >= 0:
            watch.register(pidfd, select.POLLIN)
        while proc.poll() is None:
            if cancelled is not None and cancelled.is_set():
                return "cancelled"
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return "timeout"
            tick = _TICK if pidfd >= 0 else _POLL
            tick = tick if deadline is None else min(tick, deadline - now)
            for fd, _ in watch.poll(max(tick, 0.0) * 1000):
                if fd in streams and not _read(streams, fd):
                    watch.unregister(fd)
        return "exited"
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def _read_until(streams: dict[int, _Stream], until: float) -> None:
    """Read the pipes until each is at EOF, or `until` (monotonic) passes."""
    watch = select.poll()
    for fd in streams:
        watch.register(fd, select.POLLIN)
    open_fds = set(streams)
    while open_fds and (left := until - time.monotonic()) > 0:
        for fd, _ in watch.poll(left * 1000):
            if fd in open_fds and not _read(streams, fd):
                watch.unregister(fd)
                open_fds.discard(fd)


def _read(streams: dict[int, _Stream], fd: int) -> bool:
    """One read from a readable pipe; False at EOF (the stream is then finished)."""
    stream = streams[fd]
    if stream.done:
        return False
    try:
        chunk = os.read(fd, _CHUNK)
    except OSError:
        chunk = b""
    if not chunk:
        stream.finish()
        return False
    stream.feed(chunk)
    return True


def matches(
    pattern: str,
    text: str,
    *,
    deadline: float | None = None,
    cancelled: Cancellation | None = None,
) -> bool | None:
    """`re.search(pattern, text)`, in a child process killed at `deadline` or on cancel.

    Python's `re` backtracks, and while it does it holds the GIL: a catastrophic pattern
    would stop every thread and every signal handler of the runner, for ever. In a child
    it is bounded like any command. None: cut short by the deadline or the cancel.
    """
    raw = pattern.encode()
    payload = len(raw).to_bytes(4, "big") + raw + text.encode()
    env = {procs.RUN_ENV: os.environ[procs.RUN_ENV]} if procs.RUN_ENV in os.environ else {}
    child = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", _MATCHER],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        pending: bytes | None = payload
        while True:
            if cancelled is not None and cancelled.is_set():
                return None
            left = 0.05 if deadline is None else min(deadline - time.monotonic(), 0.05)
            if left <= 0:
                return None
            try:
                child.communicate(pending, timeout=left)
            except subprocess.TimeoutExpired:
                pending = None  # communicate keeps feeding what it was given
                continue
            return _FOUND.get(child.returncode, False)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()


class _Stream:
    """One pipe of the command: whole lines go into its tails, so two pipes never
    splice half-lines together (a long run without newlines is passed on anyway)."""

    def __init__(
        self, file: IO[bytes], tails: list[_Tail], on_output: Callable[[bytes], None] | None
    ) -> None:
        self.file = file
        self.tails = tails
        self.on_output = on_output
        self.pending = b""
        self.done = False

    def feed(self, chunk: bytes) -> None:
        self.pending += chunk
        cut = self.pending.rfind(b"\n") + 1 or (
            len(self.pending) if len(self.pending) > _CHUNK else 0
        )
        if cut:
            self._add(self.pending[:cut])
            self.pending = self.pending[cut:]

    def finish(self) -> None:
        """EOF, or the end of reading: what is left of a last line counts too."""
        if self.pending:
            self._add(self.pending)
            self.pending = b""
        self.done = True

    def close(self) -> None:
        self.finish()
        self.file.close()

    def _add(self, data: bytes) -> None:
        for tail in self.tails:
            tail.add(data)
        if self.on_output is not None:
            self.on_output(data)


class LiveLines:
    """A running command's output passed on line by line (`ctx.log`), bounded: at most
    `PER_WINDOW` lines each `WINDOW` seconds, each cut to `MAX_LINE` characters; what is
    held back is counted, said once the flood eases, and kept in the transcript. A flood
    therefore costs the run a counter, never an event per line or memory per line."""

    PER_WINDOW = 20
    WINDOW = 0.5
    MAX_LINE = 300

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._partial = b""
        self._window = time.monotonic()
        self._sent = 0
        self._held = 0

    def feed(self, data: bytes) -> None:
        *lines, rest = (self._partial + data).split(b"\n")
        self._partial = rest[: 4 * self.MAX_LINE]
        for line in lines:
            self._line(line)

    def close(self) -> None:
        if self._partial:
            self._line(self._partial)
            self._partial = b""
        self._note_held()

    def _line(self, raw: bytes) -> None:
        now = time.monotonic()
        if now - self._window >= self.WINDOW:
            self._note_held()
            self._window, self._sent = now, 0
        if self._sent >= self.PER_WINDOW:
            self._held += 1
            return
        self._sent += 1
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        self._emit(text[: self.MAX_LINE])

    def _note_held(self) -> None:
        if self._held:
            held, self._held = self._held, 0
            self._emit(f"[{held} lines not shown live: the transcript has the output]")
