"""Capacity across a sweep's cells: `--limit TYPE=N` as N lock files per type.

Each cell's wfrun (a separate process) holds one slot of a type for as long as a
resource of that type is alive (the hook is in wfrun/engine/pool.py). Slots are
`filelock.FileLock`s (the library tox and virtualenv use): an OS lock (`flock`), so a
killed holder frees its slot at once, with no protocol of our own to get wrong.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

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
        self.held: dict[str, list[object]] = {}

    def acquire(self, keys: list[str], cancelled: object = None) -> list[object]:
        """Wait for a free slot of each limited key; the locks to release later."""
        from filelock import FileLock, Timeout  # noqa: PLC0415 - only with a sweep limit

        taken: list[object] = []
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
                time.sleep(POLL)
        return taken

    @staticmethod
    def release(locks: list[object]) -> None:
        for lock in locks:
            lock.release()  # type: ignore[attr-defined]


def from_environment() -> Slots | None:
    """The sweep's slots when this run is a sweep cell with limits, else None."""
    value = os.environ.get("WFRUN_CAPACITY_DIR")
    return Slots(Path(value)) if value else None
