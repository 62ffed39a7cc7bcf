"""Run records: `.wfrun/runs/<id>/` with events.jsonl, run.json and each phase's output.

The record is an event sink like the ui, so it cannot disagree with what was shown.
`events.jsonl` is flushed at once for run and resource events and within
`FLUSH_INTERVAL` for phase events (a flush per line cost more than the rest of a
no-op phase), so a hard kill loses at most that much of the phase story; what must
survive a hard kill, the live resources, is in the journal, written synchronously.
`run.json` is rewritten atomically at the start and at the end.

A record that cannot be written (a full disk, the run folder deleted mid-run) never
breaks the run or its teardown: the sink notes the first failure and goes on, and the
runner turns it into the verdict ("the run record could not be written: ...").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import orjson

from wfrun.engine import events as ev
from wfrun.engine.usage import cost_of, tokens_of
from wfrun.errors import RunError, UsageError

RUN_FILE = "run.json"
EVENTS_FILE = "events.jsonl"
JOURNAL_FILE = "journal.json"
IDENTITIES_FILE = "identities.json"  # phase -> identity, for a later --resume (issue 19)
OUTPUTS_DIR = "outputs"
FLUSH_INTERVAL = 0.02  # seconds a phase event may wait in the buffer
_URGENT = frozenset(
    {
        ev.RunStarted,
        ev.RunFinished,
        ev.ResourceStarting,
        ev.ResourceStarted,
        ev.ResourceFailed,
        ev.ResourceStopping,
        ev.ResourceStopped,
        ev.Notice,
    }
)


def new_run_dir(runs_dir: Path, workflow: str) -> tuple[str, Path]:
    """A fresh private run folder: only the user can read what agents printed.

    A runs folder that cannot hold records (a file, read-only, a device) is the user's
    to fix before anything starts: a UsageError, not a crash.
    """
    now = dt.datetime.now(dt.UTC)  # milliseconds, so ids sort in start order
    stamp = f"{now:%Y%m%d-%H%M%S}.{now.microsecond // 1000:03d}"
    run_id = f"{stamp}-{workflow}-{secrets.token_hex(2)}"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = runs_dir / run_id
        path.mkdir(mode=0o700)
        path.chmod(0o700)  # mkdir's mode is filtered by the umask
    except OSError as exc:
        msg = f"cannot create a run record in {runs_dir}: {exc.strerror or exc}"
        raise UsageError(msg, hint="give a writable folder with --runs-dir") from exc
    return run_id, path


def write_json(path: Path, data: Any, *, readable: bool = True) -> None:
    """Write atomically: readers see the old file or the new one, never half of one."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_bytes((readable_json(data) if readable else compact_json(data)) + b"\n")
        temp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):  # a full disk must not keep half a file too
            temp.unlink()
        raise


def readable_json(data: Any, depth: int = 2, indent: bytes = b"") -> bytes:
    """JSON indented for the first `depth` levels of objects, one line per entry below.

    A 10,000-phase run.json reads better with one line per phase, and orjson makes each
    line in a tenth of the time `json.dumps` takes (which was 7% of a no-op phase).
    """
    if depth == 0 or not isinstance(data, dict) or not data:
        return compact_json(data)
    inner = indent + b"  "
    if depth == 1:  # the common leaf level (a line per phase): no call per entry
        entries = b",\n".join(
            [inner + compact_json(str(key)) + b": " + compact_json(v) for key, v in data.items()]
        )
    else:
        entries = b",\n".join(
            [
                inner + compact_json(str(key)) + b": " + readable_json(value, depth - 1, inner)
                for key, value in data.items()
            ]
        )
    return b"{\n" + entries + b"\n" + indent + b"}"


def compact_json(data: Any) -> bytes:
    """One-line JSON (UTF-8), as events.jsonl writes it (dates in ISO form, enums as their
    values); the standard encoder for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(data, default=ev.json_default, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(data, default=ev.json_default).encode()


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


class RecordSink:
    """Writes the run record from the event stream.

    A write that fails is noted in `failure` (the first one) and never raised: the run
    and its teardown go on, and the runner makes the failure part of the verdict.
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        header: Mapping[str, Any],
        identities: Mapping[str, str] | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.failure = ""
        self._identities = identities or {}
        self.summary: dict[str, Any] = {
            **header,
            "status": "running",
            "exit_code": None,
            "phases": {},
            "resources": {},
            "tokens": {"in": 0, "out": 0},
            "cost": None,  # a number once a priced model answered
        }
        self._outputs = run_dir / OUTPUTS_DIR
        try:  # nothing started yet: a record that cannot begin stops the run here
            self._events = LineWriter(run_dir / EVENTS_FILE, FLUSH_INTERVAL, self.failed)
            self._outputs.mkdir(exist_ok=True)
            if self._identities:  # one compact line: a killed run keeps them too
                write_json(run_dir / IDENTITIES_FILE, self._identities, readable=False)
            write_json(run_dir / RUN_FILE, self.summary)
        except OSError as exc:
            msg = f"the run record could not be written: {describe(exc)}"
            raise RunError(msg) from exc

    def failed(self, exc: OSError) -> None:
        """Note a write that failed; the first one explains the rest."""
        if not self.failure:
            self.failure = f"the run record could not be written: {describe(exc)}"

    def handle(self, event: ev.Event) -> None:
        kind = type(event)
        self._events.write(ev.to_json_bytes(event) + b"\n", urgent=kind in _URGENT)
        update = self._updates.get(kind)
        if update is not None:  # a dict, not `match`: most events fall through every case
            try:
                update(self, event)
            except OSError as exc:
                self.failed(exc)

    def _phase_started(self, event: ev.PhaseStarted) -> None:
        entry = self._phase(event.phase)
        entry.update(status="running", started=event.t)
        if event.spawned_by:
            entry["spawned_by"] = event.spawned_by

    def _phase_finished(self, event: ev.PhaseFinished) -> None:
        output = None  # thousands of no-op phases should not mean thousands of files
        if event.output:
            output = f"{OUTPUTS_DIR}/{event.phase}.txt"
            (self.run_dir / output).write_text(event.output, encoding="utf-8")
        self._phase(event.phase).update(
            status=event.status,
            success=event.success,
            iterations=event.iterations,
            seconds=event.seconds,
            reason=event.reason,
            output=output,
        )
        identity = self._identities.get(event.phase)
        if identity:  # a later `--resume` compares it (issue 19)
            self._phase(event.phase)["identity"] = identity

    def _phase_retry(self, event: ev.PhaseRetry) -> None:
        """`retry:` (issue 19): each failed attempt stays in the record."""
        entry = self._phase(event.phase)
        entry["attempt"] = event.attempt
        failed = {"attempt": event.attempt - 1, "status": event.status, "reason": event.reason}
        entry.setdefault("failed_attempts", []).append({**failed, "at": event.t})

    def _phase_reused(self, event: ev.PhaseReused) -> None:
        """`--resume` (issue 19): the phase's record in the parent run stands."""
        self._phase(event.phase).update(status="running", reused_from=event.parent)

    def _agent_output(self, event: ev.AgentOutput) -> None:
        """Tokens and cost per phase and for the run (only phases that used any say so)."""
        if not event.usage:
            return
        tokens_in, tokens_out = tokens_of(event.usage)
        cost = cost_of(event.usage) if "cost" in event.usage else None
        if not (tokens_in or tokens_out or cost is not None):
            return
        for entry in (self._phase(event.phase), self.summary):
            tokens = entry.setdefault("tokens", {"in": 0, "out": 0})
            tokens["in"] += tokens_in
            tokens["out"] += tokens_out
            if cost is not None:
                entry["cost"] = round((entry.get("cost") or 0.0) + cost, 8)

    def _phase_skipped(self, event: ev.PhaseSkipped) -> None:
        self._phase(event.phase).update(status="skipped", reason=event.reason)

    def _resource_starting(self, event: ev.ResourceStarting) -> None:
        entry = self._resource(event.resource)
        entry.update(type=event.type, first_phase=event.phase)
        entry.setdefault("starts", []).append({"at": event.t})

    def _resource_started(self, event: ev.ResourceStarted) -> None:
        self._resource(event.resource)["starts"][-1]["ready"] = event.t

    def _resource_failed(self, event: ev.ResourceFailed) -> None:
        self._resource(event.resource)["starts"][-1]["error"] = event.error

    def _resource_stopped(self, event: ev.ResourceStopped) -> None:
        stops = self._resource(event.resource).setdefault("stops", [])
        stops.append({"at": event.t, "seconds": event.seconds, "error": event.error})

    def _run_finished(self, event: ev.RunFinished) -> None:
        self.summary.update(
            status=event.status,
            exit_code=event.exit_code,
            seconds=event.seconds,
            finished_at=now_iso(),
            reason=event.reason,
        )

    _updates: ClassVar[dict[type[ev.Event], Callable[[Any, Any], None]]] = {
        ev.PhaseStarted: _phase_started,
        ev.PhaseFinished: _phase_finished,
        ev.PhaseSkipped: _phase_skipped,
        ev.PhaseRetry: _phase_retry,
        ev.PhaseReused: _phase_reused,
        ev.AgentOutput: _agent_output,
        ev.ResourceStarting: _resource_starting,
        ev.ResourceStarted: _resource_started,
        ev.ResourceFailed: _resource_failed,
        ev.ResourceStopped: _resource_stopped,
        ev.RunFinished: _run_finished,
    }

    def _phase(self, name: str) -> dict[str, Any]:
        return self.summary["phases"].setdefault(name, {})  # type: ignore[no-any-return]

    def _resource(self, name: str) -> dict[str, Any]:
        return self.summary["resources"].setdefault(name, {})  # type: ignore[no-any-return]

    def close(self) -> None:
        self._events.close()
        try:
            write_json(self.run_dir / RUN_FILE, self.summary)
        except OSError as exc:
            self.failed(exc)


class LineWriter:
    """Appends lines to a file; urgent ones are written and flushed at once, others within
    `interval`.

    The thread that makes a line only queues it (a deque append: no lock, no system
    call; a no-op phase makes six lines); a daemon thread writes what is queued, in
    order, so `tail -f events.jsonl` stays live even when a long turn follows the last
    line.
    """

    def __init__(self, path: Path, interval: float, on_error: Callable[[OSError], None]) -> None:
        self._file = path.open("ab")  # UTF-8 bytes already: no text layer to encode again
        self._interval = interval
        self._on_error = on_error  # a failed write is reported, never raised
        self._queue: deque[bytes] = deque()  # appends and pops are atomic: no lock to queue
        self._lock = threading.Lock()  # the file: one writer at a time
        self._pending = threading.Event()
        self._closed = False
        threading.Thread(target=self._flush_loop, name="wfrun-record-flush", daemon=True).start()

    def write(self, line: bytes, *, urgent: bool = False) -> None:
        if self._closed:  # a straggler after the run ended (a cancelled turn): dropped
            return
        self._queue.append(line)
        if urgent:
            self.flush()
        elif not self._pending.is_set():
            self._pending.set()

    def flush(self) -> None:
        """Write every queued line and flush the file."""
        with self._lock:
            if not self._closed:
                self._write_queued()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._write_queued()
            self._closed = True
            try:
                self._file.close()
            except OSError as exc:
                self._on_error(exc)
        self._pending.set()  # wake the flusher so it can end

    def _write_queued(self) -> None:
        queue = self._queue
        try:
            if queue:
                self._file.write(b"".join([queue.popleft() for _ in range(len(queue))]))
            self._file.flush()
        except OSError as exc:
            queue.clear()  # a full disk: what cannot be written is reported, not kept
            self._on_error(exc)

    def _flush_loop(self) -> None:
        while True:
            self._pending.wait()
            time.sleep(self._interval)  # let a burst of lines share one write
            self._pending.clear()
            if self._closed:
                return
            self.flush()


def describe(exc: OSError) -> str:
    """An OS error in a few words, with the file it was about."""
    name = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{name}"


def now_iso() -> str:
    """Wall-clock time for records (UTC, seconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
