"""Capacity across a sweep's cells: `--limit TYPE=N` as N lock files per type.

Each cell's wfrun (a separate process) holds one slot of a type for as long as a
resource of that type is alive (the hook is in wfrun/engine/pool.py). Slots are
`filelock.FileLock`s (the library tox and virtualenv use): an OS lock (`flock`), so a
killed holder frees its slot at once, with no protocol of our own to get wrong.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filelock import BaseFileLock

LIMITS_FILE = "limits.json"
POLL = 0.05


def prepare(path: Path, limits: dict[str, int]) -> Path:
    """The capacity folder: `limits.json` and one lock file per slot."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    (path / LIMITS_FILE).write_text(json.dumps(limits), encoding="utf-8")
    return path


class Slots:
    """The slots of one capacity folder, as seen from one cell's process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.limits: dict[str, int] = json.loads((path / LIMITS_FILE).read_text("utf-8"))
        except (OSError, ValueError):
            self.limits = {}

    def acquire(self, keys: list[str], cancelled: threading.Event) -> list[BaseFileLock]:
        """Wait for a free slot of each limited key; the locks to release later. A run
        being torn down stops waiting (RuntimeError), releasing what it took."""
        from filelock import FileLock, Timeout  # noqa: PLC0415 - only with a sweep limit

        taken: list[BaseFileLock] = []
        for key in keys:
            limit = self.limits.get(key)
            if not limit:
                continue
            while True:
                got = None
                for slot in range(limit):
                    lock = FileLock(str(self.path / f"{key}.{slot}.lock"), thread_local=False)
                    try:
                        lock.acquire(timeout=0)
                    except Timeout:
                        continue
                    got = lock
                    break
                if got is not None:
                    taken.append(got)
                    break
                if cancelled.wait(POLL):
                    self.release(taken)
                    msg = "the run is stopping"
                    raise RuntimeError(msg)
        return taken

    @staticmethod
    def release(locks: list[BaseFileLock]) -> None:
        for lock in reversed(locks):
            lock.release()


def sweep_slots(environ: Mapping[str, str]) -> Slots | None:
    """The sweep's slots when this run is a sweep cell with limits, else None."""
    value = environ.get("WFRUN_CAPACITY_DIR")
    return Slots(Path(value)) if value else None
