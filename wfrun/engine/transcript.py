"""The run's transcript: `transcript.jsonl` in the run record, one JSON object a line.

Events say *that* a turn happened; the transcript says *what* it was: the turn's input,
each model call (messages sent, raw reply, tokens, latency), each command (argv, cwd,
exit code, output), and the turn's result. Agents add entries through
`TurnContext.transcript(type, **fields)`; the engine writes the turn's input and result.
Each entry names its `phase`, `agent` and `iteration`.

One file for the whole run, not one per phase: creating a file costs 25-500 µs on an
ordinary ext4 disk, more than everything else a no-op phase does. Lines are flushed
within `FLUSH_INTERVAL` (as `events.jsonl`), so `tail -f` stays live.

Every entry is masked (the workflow's `secrets:`) and every string longer than
`MAX_TEXT` characters is cut, keeping its head and tail around a marker that says how
much went: a model that prints megabytes cannot grow the record without bound.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from wfrun.engine.records import FLUSH_INTERVAL, LineWriter, compact_json
from wfrun.redact import Redactor

TRANSCRIPT_FILE = "transcript.jsonl"
MAX_TEXT = 20_000  # characters of one string field kept (head and tail)
CUT_MARKER = "\n…[cut: {n} characters]…\n"

TranscriptFn = Callable[..., None]
_STAMPS = frozenset({"t", "type", "phase", "agent", "iteration"})


def cut(value: Any, limit: int = MAX_TEXT) -> Any:
    """`value` with every string over `limit` characters cut in the middle, with a marker."""
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        half = limit // 2
        return value[:half] + CUT_MARKER.format(n=len(value) - 2 * half) + value[-half:]
    if isinstance(value, dict):
        return {str(k): cut(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [cut(v, limit) for v in value]
    return value


class RunTranscript:
    """Appends masked, bounded entries to the run's transcript; safe across threads.

    The file is made on the first entry. A write that fails (a full disk) is dropped
    silently: the transcript is evidence, never a reason for a phase or its teardown
    to fail.
    """

    def __init__(self, run_dir: Path, redactor: Redactor, clock: Callable[[], float]) -> None:
        self.path = run_dir / TRANSCRIPT_FILE
        self._redactor = redactor
        self._clock = clock
        self._lock = threading.Lock()
        self._writer: LineWriter | None = None
        self._broken = False

    def add(self, phase: str, kind: str, /, **fields: Any) -> None:
        self._write({"t": self._clock(), "type": str(kind), "phase": phase, **fields})

    def bound(self, phase: str, agent: str, iteration: int) -> TranscriptFn:
        """The callable a turn is given: entries stamped with its phase, agent, iteration."""
        clock, write = self._clock, self._write

        def add(kind: str, /, **fields: Any) -> None:
            stamp = {"t": clock(), "type": str(kind), "phase": phase, "agent": agent}
            entry = {**stamp, "iteration": iteration, **fields}
            if not _STAMPS.isdisjoint(fields):  # the stamp is the engine's, not the agent's
                entry.update(stamp, iteration=iteration)
            write(entry)

        return add

    def _write(self, entry: dict[str, Any]) -> None:
        entry = self._redactor.data(entry)
        line = compact_json(entry)
        if len(line) > MAX_TEXT:  # only then can a string in it be longer than MAX_TEXT
            line = compact_json(cut(entry))
        writer = self._writer or self._open()
        if writer is not None:
            writer.write(line + b"\n")

    def close(self) -> None:
        with self._lock:
            writer, self._writer = self._writer, None
            self._broken = True  # nothing is written after the run ends
        if writer is not None:
            writer.close()

    def _open(self) -> LineWriter | None:
        with self._lock:
            if self._writer is None and not self._broken:
                try:
                    self._writer = LineWriter(self.path, FLUSH_INTERVAL, self._failed)
                except OSError:
                    self._broken = True
            return self._writer

    def _failed(self, exc: OSError) -> None:
        del exc  # evidence only: the record's own failure is what the verdict reports


def read_entries(run_dir: Path, *, marker: bytes = b"") -> Iterator[tuple[int, dict[str, Any]]]:
    """Each entry of a run's transcript with the size of its line (only lines holding
    `marker`, which skips parsing the rest); damaged lines skipped, a missing file is an
    empty transcript."""
    try:
        handle = (run_dir / TRANSCRIPT_FILE).open("rb")
    except OSError:
        return
    with handle:
        for line in handle:
            if marker not in line:
                continue
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(entry, dict):
                yield len(line), entry


def last_exit_codes(run_dir: Path) -> dict[str, int | None]:
    """Each phase's last command's exit code (None: it was killed), in one pass."""
    codes: dict[str, int | None] = {}
    for _, entry in read_entries(run_dir, marker=b'"type":"command"'):
        if entry.get("type") == "command":
            value = entry.get("exit_code")
            codes[str(entry.get("phase"))] = value if isinstance(value, int) else None
    return codes
