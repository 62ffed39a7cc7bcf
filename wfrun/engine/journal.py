"""The journal of live resources: what a hard kill would leave behind, and how to undo it.

Rewritten atomically whenever a resource starts or stops, so after `kill -9` it lists
exactly what was live. `cleanup_run` hands each entry to its type's `cleanup`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfrun.engine.records import JOURNAL_FILE, RUN_FILE, now_iso, read_json, write_json
from wfrun.registry import Registry, with_plugins


class Journal:
    """Live resources by name, in start order, mirrored to `journal.json`."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / JOURNAL_FILE
        self._entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._write()

    def record(self, name: str, type_name: str, entry: Mapping[str, Any]) -> None:
        with self._lock:
            self._entries[name] = {"type": type_name, "since": now_iso(), "entry": dict(entry)}
            self._write()

    def forget(self, name: str) -> None:
        with self._lock:
            if self._entries.pop(name, None) is not None:
                self._write()

    def _write(self) -> None:
        write_json(self.path, {"live": self._entries})


@dataclass(frozen=True)
class CleanupResult:
    run_id: str
    actions: list[str]
    errors: list[str]


def cleanup_run(run_dir: Path, registry: Registry) -> CleanupResult:
    """Stop everything a run's journal still lists, newest first; mark it in the record."""
    journal_path = run_dir / JOURNAL_FILE
    live: dict[str, Any] = read_json(journal_path).get("live", {}) if journal_path.exists() else {}
    run_file = run_dir / RUN_FILE
    summary = read_json(run_file) if run_file.exists() else {}
    if summary.get("plugins"):  # the run's own plugin types know how to clean up after it
        base_dir = Path(summary.get("file", ".")).parent
        registry = with_plugins(registry, summary["plugins"], base_dir)
    actions: list[str] = []
    errors: list[str] = []
    failed: set[str] = set()
    for name in reversed(list(live)):
        item = live[name]
        spec = registry.get("resource", item.get("type", ""))
        if spec is None or spec.cleanup is None:
            actions.append(f"{name}: nothing to clean up for type {item.get('type')!r}")
            continue
        try:
            actions.append(f"{name}: {spec.cleanup(item.get('entry', {}))}")
        except Exception as exc:  # noqa: BLE001 - one failing cleanup must not skip the others
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
            failed.add(name)
    remaining = {name: live[name] for name in live if name in failed}
    write_json(journal_path, {"live": remaining})
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
    """Runs whose journal still lists live resources, oldest first."""
    if not runs_dir.is_dir():
        return []
    found = []
    for run_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        journal = run_dir / JOURNAL_FILE
        if journal.exists() and read_json(journal).get("live"):
            found.append(run_dir)
    return found
