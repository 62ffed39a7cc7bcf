"""Run records: `.wfrun/runs/<id>/` with events.jsonl, run.json and each phase's output.

The record is an event sink like the ui, so it cannot disagree with what was shown.
`events.jsonl` is flushed line by line (a hard kill loses at most the line in flight);
`run.json` is rewritten atomically at the start and at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wfrun.engine import events as ev

RUN_FILE = "run.json"
EVENTS_FILE = "events.jsonl"
JOURNAL_FILE = "journal.json"
OUTPUTS_DIR = "outputs"


def new_run_dir(runs_dir: Path, workflow: str) -> tuple[str, Path]:
    """A fresh private run folder: only the user can read what agents printed."""
    now = dt.datetime.now(dt.UTC)  # milliseconds, so ids sort in start order
    stamp = f"{now:%Y%m%d-%H%M%S}.{now.microsecond // 1000:03d}"
    run_id = f"{stamp}-{workflow}-{secrets.token_hex(2)}"
    runs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = runs_dir / run_id
    path.mkdir(mode=0o700)
    path.chmod(0o700)  # mkdir's mode is filtered by the umask
    return run_id, path


def write_json(path: Path, data: Any) -> None:
    """Write atomically: readers see the old file or the new one, never half of one."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    temp.replace(path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


class RecordSink:
    """Writes the run record from the event stream."""

    def __init__(self, run_dir: Path, *, header: Mapping[str, Any]) -> None:
        self.run_dir = run_dir
        self._events = (run_dir / EVENTS_FILE).open("a", encoding="utf-8")
        self._outputs = run_dir / OUTPUTS_DIR
        self._outputs.mkdir(exist_ok=True)
        self.summary: dict[str, Any] = {
            **header,
            "status": "running",
            "exit_code": None,
            "phases": {},
            "resources": {},
        }
        write_json(run_dir / RUN_FILE, self.summary)

    def handle(self, event: ev.Event) -> None:
        self._events.write(ev.to_json(event) + "\n")
        self._events.flush()
        match event:
            case ev.PhaseStarted():
                self._phase(event.phase).update(status="running", started=event.t)
                if event.spawned_by:
                    self._phase(event.phase)["spawned_by"] = event.spawned_by
            case ev.PhaseFinished():
                output_file = self._outputs / f"{event.phase}.txt"
                if event.output:  # thousands of no-op phases should not mean thousands of files
                    output_file.write_text(event.output, encoding="utf-8")
                self._phase(event.phase).update(
                    status=event.status,
                    success=event.success,
                    iterations=event.iterations,
                    seconds=event.seconds,
                    reason=event.reason,
                    output=f"{OUTPUTS_DIR}/{output_file.name}" if event.output else None,
                )
            case ev.PhaseSkipped():
                self._phase(event.phase).update(status="skipped", reason=event.reason)
            case ev.ResourceStarting():
                entry = self._resource(event.resource)
                entry.update(type=event.type, first_phase=event.phase)
                entry.setdefault("starts", []).append({"at": event.t})
            case ev.ResourceStarted():
                self._resource(event.resource)["starts"][-1]["ready"] = event.t
            case ev.ResourceFailed():
                self._resource(event.resource)["starts"][-1]["error"] = event.error
            case ev.ResourceStopped():
                stops = self._resource(event.resource).setdefault("stops", [])
                stops.append({"at": event.t, "seconds": event.seconds, "error": event.error})
            case ev.RunFinished():
                self.summary.update(
                    status=event.status,
                    exit_code=event.exit_code,
                    seconds=event.seconds,
                    finished_at=now_iso(),
                    reason=event.reason,
                )
            case _:
                pass

    def _phase(self, name: str) -> dict[str, Any]:
        return self.summary["phases"].setdefault(name, {})  # type: ignore[no-any-return]

    def _resource(self, name: str) -> dict[str, Any]:
        return self.summary["resources"].setdefault(name, {})  # type: ignore[no-any-return]

    def close(self) -> None:
        self._events.close()
        write_json(self.run_dir / RUN_FILE, self.summary)


def now_iso() -> str:
    """Wall-clock time for records (UTC, seconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
