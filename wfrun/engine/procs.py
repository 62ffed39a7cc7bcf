"""Child processes that cannot leak: each in its own session, stopped as a whole.

Everything wfrun runs starts in a new session, so it leads a process group and a
session whose ids equal its pid. Stopping it signals the group, waits `grace` seconds,
then SIGKILLs every process still in the group or the session, so grandchildren die
with their parent even if they moved to a group of their own.

A pid is not an identity after a hard kill: the kernel reuses pids. The journal
therefore also records the process's start time (field 22 of /proc/<pid>/stat) and the
boot id; cleanup acts only while both still match. Zombies count as dead: after a
hard kill nobody may reap them, yet they hold no resources.

Everything a run starts carries `WFRUN_RUN_DIR` in its environment, from its first
instruction on. So a process that no journal lists — a turn's command, or a service
spawned a moment before a hard kill, before it could be journaled — can still be found
(`run_processes`) and stopped by `wfrun cleanup`, and nothing else can be mistaken for it.

That mark is the third part of a process's identity when cleanup acts: a journaled pid
whose start time and boot still match may yet be a stranger (a pid reused within one
clock tick, or another program that joined the old session or group). Under
`only_run(run_id)` — `wfrun cleanup` uses it — `kill_session` signals only processes
that carry the run's mark, one by one, never a whole group, and lists the others it
left alone.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

from wfrun import constants as C

PROC = Path("/proc")
KILL_WAIT = 2.0  # seconds to wait for SIGKILLed processes to vanish
RUN_ENV = C.RUN_DIR_ENV  # set for everything a run starts: its run record folder


# While cleanup acts for a run: its id, and the pids it found but left alone.
_ONLY_RUN: contextvars.ContextVar[tuple[str, set[int]] | None] = contextvars.ContextVar(
    "wfrun_only_run", default=None
)


class ProcStat(NamedTuple):
    """The fields of /proc/<pid>/stat that wfrun reads."""

    state: str
    pgrp: int
    session: int
    start_time: int  # clock ticks after boot


def spawn(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str],
    stdout: IO[Any] | int,
    stderr: IO[Any] | int = subprocess.STDOUT,
) -> subprocess.Popen[bytes]:
    """Start `argv` as the leader of a new session and process group, stdin closed."""
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
    )


def read_stat(pid: int) -> ProcStat | None:
    """The process's state, group, session and start time; None if there is no such pid."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError, NotADirectoryError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ")".
    fields = text[text.rindex(")") + 2 :].split()
    return ProcStat(fields[0], int(fields[2]), int(fields[3]), int(fields[19]))


def start_time(pid: int) -> int | None:
    """When `pid` started, in clock ticks after boot; None if it is gone or a zombie."""
    stat = read_stat(pid)
    return None if stat is None or stat.state in "ZX" else stat.start_time


@functools.cache
def boot_id() -> str:
    """Identifies this boot: start times from another boot mean nothing (and a process
    outlives no boot, so one read is enough)."""
    try:
        return (PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def identity(pid: int) -> dict[str, Any]:
    """What tells this process from a later one with the same pid (for a journal)."""
    return {"pid": pid, "start_time": start_time(pid), "boot_id": boot_id()}


def same_process(facts: Mapping[str, Any]) -> bool | None:
    """Is the process `identity` described still running? None when it cannot be told.

    Gone, a zombie, or a pid now used by a process that started at another time (or
    in another boot) all mean False.
    """
    pid = facts.get("pid")
    if not pid:
        return False
    if not PROC.is_dir():  # no start times to compare here
        return None if is_alive(int(pid)) else False
    if facts.get("boot_id") and facts["boot_id"] != boot_id():
        return False
    now = start_time(int(pid))
    if now is None:
        return False
    if facts.get("start_time") is None:
        return None
    return bool(now == facts["start_time"])


def run_processes(run_id: str) -> dict[int, int]:
    """Live processes whose environment says a run with this id started them: pid -> start.

    Only the user's own processes can be read, and this process and its ancestors are
    never listed (`wfrun cleanup` may itself run inside a run's turn).
    """
    if not PROC.is_dir():
        return {}
    mine = _ancestors()
    found = {}
    prefix = f"{RUN_ENV}=".encode()
    mark = run_id.encode()
    for name in os.listdir(PROC):  # noqa: PTH208 - plain os calls: this reads every environ
        if not name.isdigit() or int(name) in mine:
            continue
        environ = _environ(name)
        if mark not in environ:  # most processes: no need to split it
            continue
        for item in environ.split(b"\0"):
            if item.startswith(prefix) and Path(os.fsdecode(item[len(prefix) :])).name == run_id:
                started = start_time(int(name))
                if started is not None:
                    found[int(name)] = started
                break
    return found


def _environ(pid: str) -> bytes:
    """/proc/<pid>/environ; empty if it is gone or not ours to read."""
    try:
        fd = os.open(f"/proc/{pid}/environ", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return b""
    try:
        parts = []
        while chunk := os.read(fd, 65536):
            parts.append(chunk)
        return b"".join(parts)
    except OSError:
        return b""
    finally:
        os.close(fd)


def belongs(pid: int, run_id: str) -> bool:
    """Does `pid` carry the mark of run `run_id` (its `WFRUN_RUN_DIR`)? False when unreadable."""
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    prefix = f"{RUN_ENV}=".encode()
    for item in environ.split(b"\0"):
        if item.startswith(prefix):
            return Path(os.fsdecode(item[len(prefix) :])).name == run_id
    return False


@contextlib.contextmanager
def only_run(run_id: str) -> Iterator[set[int]]:
    """Within the block `kill_session` signals only processes of run `run_id`; the set
    it yields fills with the pids it found in a group or session but left alone."""
    spared: set[int] = set()
    token = _ONLY_RUN.set((run_id, spared))
    try:
        yield spared
    finally:
        _ONLY_RUN.reset(token)


def stop_processes(found: Mapping[int, int], *, grace: float) -> int:
    """SIGTERM each process that still has its start time, SIGKILL it after `grace`.

    A pidfd pins the process down before its start time is checked, so a pid reused
    after the check is never signalled. Returns how many processes were signalled.
    """
    pinned = [(pid, fd) for pid, started in found.items() if (fd := _pin(pid, started)) >= 0]
    try:
        for _, fd in pinned:
            _send(fd, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while any(start_time(pid) is not None for pid, _ in pinned) and time.monotonic() < deadline:
            time.sleep(0.02)
        for _, fd in pinned:
            _send(fd, signal.SIGKILL)
        deadline = time.monotonic() + KILL_WAIT
        while any(start_time(pid) is not None for pid, _ in pinned) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        for _, fd in pinned:
            os.close(fd)
    return len(pinned)


def _pin(pid: int, started: int) -> int:
    """A pidfd for `pid` if it is still the process that started at `started`, else -1."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return -1
    if start_time(pid) != started:  # checked after the pidfd exists: it names *this* process
        os.close(fd)
        return -1
    return fd


def _send(fd: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        signal.pidfd_send_signal(fd, signum)


def _ancestors() -> set[int]:
    found, pid = set(), os.getpid()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            text = (PROC / str(pid) / "stat").read_text()
        except OSError:
            break
        pid = int(text[text.rindex(")") + 2 :].split()[1])
    return found


def is_alive(pid: int) -> bool:
    """True if `pid` is running (a zombie is not)."""
    if PROC.is_dir():
        return start_time(pid) is not None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def members(leader: int, keep: Callable[[ProcStat], bool] | None = None) -> list[int]:
    """Live processes in the group or session that `leader` started (zombies excluded)."""
    if not PROC.is_dir():
        return [leader] if _group_signalable(leader) else []
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        stat = read_stat(int(entry.name))
        if stat is None or stat.state in "ZX":
            continue
        if leader in (stat.pgrp, stat.session) and (keep is None or keep(stat)):
            found.append(int(entry.name))
    return found


def kill_session(
    leader: int,
    *,
    grace: float,
    proc: subprocess.Popen[bytes] | None = None,
    keep: Callable[[ProcStat], bool] | None = None,
) -> int:
    """SIGTERM the group `leader` leads, SIGKILL what is left after `grace`; reap `proc`.

    Returns how many processes were alive when the SIGTERM was sent (0 without a look
    at /proc when `proc` has exited and its group is empty). `keep` narrows
    which processes count as ours (cleanup uses it when the leader is gone); then
    only those pids are signalled, never the group as a whole.
    """
    if keep is None and proc is not None and proc.poll() is not None and not _group_alive(leader):
        # The common end of a turn: it exited and left nothing in its group. One syscall,
        # not a /proc scan. (What left the group too is stopped by the run's end sweep.)
        return 0
    whole_group = keep is None and _ONLY_RUN.get() is None
    keep = keep or _everyone
    targets = _targets(leader, keep)
    _signal_all(leader, targets, signal.SIGTERM, whole_group=whole_group)
    deadline = time.monotonic() + grace
    while _still_running(leader, proc, keep) and time.monotonic() < deadline:
        time.sleep(0.02)
    deadline = time.monotonic() + KILL_WAIT
    while (left := _targets(leader, keep)) and time.monotonic() < deadline:
        # Repeat: a survivor may fork between the scan and the signal.
        _signal_all(leader, left, signal.SIGKILL, whole_group=whole_group)
        time.sleep(0.01)
    if proc is not None:
        # Unkillable means stuck in the kernel: nothing more a user process can do.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=KILL_WAIT)
    return len(targets)


def _still_running(
    leader: int, proc: subprocess.Popen[bytes] | None, keep: Callable[[ProcStat], bool]
) -> bool:
    if proc is not None:
        proc.poll()  # reap our own child so it does not linger as a zombie
    return bool(_targets(leader, keep))


def _targets(leader: int, keep: Callable[[ProcStat], bool]) -> list[int]:
    """`members`, less the processes that are not the run's while cleanup acts for one."""
    found = members(leader, keep)
    scope = _ONLY_RUN.get()
    if scope is None:
        return found
    run_id, spared = scope
    ours = [pid for pid in found if belongs(pid, run_id)]
    spared.update(pid for pid in found if pid not in ours)
    return ours


def _everyone(_: ProcStat) -> bool:
    return True


def _signal_all(leader: int, pids: list[int], signum: signal.Signals, *, whole_group: bool) -> None:
    if pids and whole_group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(leader, signum)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _group_alive(pgid: int) -> bool:
    """Is any process (a zombie too) left in group `pgid`? Ours or not: then scan."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_signalable(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
