"""The journal of live resources: what a hard kill would leave behind, and how to undo it.

Rewritten atomically whenever a resource starts or stops, so after `kill -9` it lists
exactly what was live; a run that never starts a resource has none (nothing to undo).
The runner (pid, start time, boot) is named in run.json's header, and again here, so
cleanup can tell a killed run from one still running, even after the pid was reused.

`cleanup_run` leaves a live run alone. For a dead one it hands each entry to its type's
`cleanup`, newest first (signalling only processes that carry the run's mark: see
`procs.only_run`), then stops any process still marked as started by the run
(see `wfrun.engine.procs`: turn commands, or a service killed before it was
journaled), and marks the record.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfrun.engine import procs
from wfrun.engine.records import JOURNAL_FILE, RUN_FILE, now_iso, read_json, write_json
from wfrun.registry import Registry, with_plugins

STRAY_GRACE = 2.0  # seconds a leftover process gets between SIGTERM and SIGKILL


class Journal:
    """Live resources by name, in start order, mirrored to `journal.json` from the first."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / JOURNAL_FILE
        self.runner = procs.identity(os.getpid())
        self._entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.failure: OSError | None = None  # a write that failed: the runner reports it

    def record(self, name: str, type_name: str, entry: Mapping[str, Any]) -> None:
        with self._lock:
            self._entries[name] = {"type": type_name, "since": now_iso(), "entry": dict(entry)}
            self._write()

    def forget(self, name: str) -> None:
        with self._lock:
            if self._entries.pop(name, None) is not None:
                self._write()

    def _write(self) -> None:
        try:  # never in the way of a start or a stop: teardown must reach every resource
            write_json(self.path, {"runner": self.runner, "live": self._entries})
        except OSError as exc:
            self.failure = self.failure or exc


@dataclass(frozen=True)
class CleanupResult:
    run_id: str
    actions: list[str]
    errors: list[str]
    running: bool = False  # the run is still going: nothing was touched


def cleanup_run(run_dir: Path, registry: Registry) -> CleanupResult:
    """Stop everything a dead run left, newest first; mark it in the record."""
    journal_path = run_dir / JOURNAL_FILE
    unreadable: list[str] = []  # a damaged record is reported; its processes still go
    journal = _read(journal_path, unreadable)
    live: dict[str, Any] = journal["live"] if isinstance(journal.get("live"), dict) else {}
    run_file = run_dir / RUN_FILE
    summary = _read(run_file, unreadable)
    if summary.get("status") in (None, "running") and _runner_alive(journal, summary):
        pid = _runner(journal, summary).get("pid")
        return CleanupResult(
            run_dir.name, [f"still running (pid {pid}): left alone"], [], running=True
        )
    if summary.get("plugins"):  # the run's own plugin types know how to clean up after it
        base_dir = Path(summary.get("file", ".")).parent
        registry = with_plugins(registry, summary["plugins"], base_dir)
    actions: list[str] = []
    errors: list[str] = unreadable
    failed: set[str] = set()
    with procs.only_run(run_dir.name) as spared:  # a stranger in the old group: left alone
        for name in reversed(list(live)):
            item = live[name]
            spec = registry.get("resource", item.get("type", ""))
            if spec is None or spec.cleanup is None:
                actions.append(f"{name}: nothing to clean up for type {item.get('type')!r}")
                continue
            try:
                actions.append(f"{name}: {spec.cleanup(item.get('entry', {}))}")
            except Exception as exc:  # noqa: BLE001 - one failing cleanup must not skip others
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
                failed.add(name)
    if spared:
        pids = ", ".join(map(str, sorted(spared)))
        actions.append(
            f"left alone pid(s) {pids}: in a journaled group or session, but not the run's"
            f" (no {procs.RUN_ENV} of this run in their environment)"
        )
    strays = procs.run_processes(run_dir.name)
    if strays:
        count = procs.stop_processes(strays, grace=STRAY_GRACE)
        pids = ", ".join(map(str, sorted(strays)))
        actions.append(f"stopped {count} leftover process(es) the run started: {pids}")
    if journal:
        remaining = {name: live[name] for name in live if name in failed}
        write_json(journal_path, {**journal, "live": remaining})
    if summary:
        if summary.get("status") == "running":
            summary["status"] = "killed"
            summary["reason"] = "the runner was killed; `wfrun cleanup` stopped what it left"
        summary.setdefault("cleanup", []).append(
            {"at": now_iso(), "actions": actions, "errors": errors}
        )
        write_json(run_file, summary)
    return CleanupResult(run_dir.name, actions, errors)


def runs_needing_cleanup(runs_dir: Path) -> list[Path]:
    """Runs that may have left something: a journal that lists live resources, or a
    record still `running` whose runner is gone (killed between resources, say, with a
    turn's command still running). Oldest first; runs still going are not listed."""
    if not runs_dir.is_dir():
        return []
    found = []
    for run_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        journal = _read(run_dir / JOURNAL_FILE)
        summary = _read(run_dir / RUN_FILE)
        running = summary.get("status") == "running"
        if not (journal.get("live") or running):
            continue
        if running and _runner_alive(journal, summary):
            continue
        found.append(run_dir)
    return found


def _runner_alive(journal: Mapping[str, Any], summary: Mapping[str, Any]) -> bool:
    """Is the process that ran this run still at it? Its pid may have been reused."""
    runner = _runner(journal, summary)
    same = procs.same_process(runner)
    if same is not None:
        return same
    # No start time to compare (a record from before they were kept, or no /proc): a
    # live pid is the runner if its command line says wfrun; if that cannot be read,
    # leave the run alone rather than stop what may be in use.
    try:
        cmdline = (procs.PROC / str(runner["pid"]) / "cmdline").read_bytes()
    except OSError:
        return True
    return b"wfrun" in cmdline


def run_is_live(run_dir: Path, summary: Mapping[str, Any]) -> bool:
    """Is a run whose record says `running` really still going (for `runs` and `show`)?"""
    try:
        return _runner_alive(_read(run_dir / JOURNAL_FILE), summary)
    except (TypeError, ValueError, KeyError):  # a damaged runner entry: cannot tell
        return True


def _runner(journal: Mapping[str, Any], summary: Mapping[str, Any]) -> Mapping[str, Any]:
    """Who ran the run: in both files (records from before run.json had it: a bare pid)."""
    return journal.get("runner") or summary.get("runner") or {"pid": summary.get("pid")}


def _read(path: Path, unreadable: list[str] | None = None) -> dict[str, Any]:
    try:
        data = read_json(path)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # cut short by the kill, or damaged
        if unreadable is not None:
            unreadable.append(f"{path.name} could not be read: {exc}")
        return {}
    if not isinstance(data, dict):
        if unreadable is not None:
            unreadable.append(f"{path.name} could not be read: not a JSON object")
        return {}
    return data
