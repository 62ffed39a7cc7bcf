"""Phase transcripts: `transcripts/<phase>.jsonl` in the run record, one JSON object a line.

Events say *that* a turn happened; a transcript says *what* it was: the turn's input,
each model call (messages sent, raw reply, tokens, latency), each command (argv, cwd,
exit code, output), and the turn's result. Agents add entries through
`TurnContext.transcript(type, **fields)`; the engine writes the turn's input and result.

Every entry is masked (the workflow's `secrets:`) and every string longer than
`MAX_TEXT` characters is cut, keeping its head and tail around a marker that says how
much went: a model that prints megabytes cannot grow the record without bound.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wfrun.engine.records import compact_json
from wfrun.redact import Redactor

TRANSCRIPTS_DIR = "transcripts"
MAX_TEXT = 20_000  # characters of one string field kept (head and tail)
CUT_MARKER = "\n…[cut: {n} characters]…\n"

TranscriptFn = Callable[..., None]


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


class PhaseTranscript:
    """The transcript of one phase: appends masked, bounded entries; safe across threads.

    A write that fails (a full disk) is dropped silently: the transcript is evidence,
    never a reason for the phase or its teardown to fail.
    """

    def __init__(
        self, run_dir: Path, phase: str, redactor: Redactor, clock: Callable[[], float]
    ) -> None:
        self.path = run_dir / TRANSCRIPTS_DIR / f"{phase}.jsonl"
        self.phase = phase
        self._redactor = redactor
        self._clock = clock
        self._lock = threading.Lock()
        self._file: Any = None
        self._broken = False

    def add(self, kind: str, /, **fields: Any) -> None:
        entry = {"t": self._clock(), "type": str(kind), **fields}
        line = compact_json(cut(self._redactor.data(entry))) + b"\n"
        with self._lock:
            if self._broken:
                return
            try:
                if self._file is None:
                    self.path.parent.mkdir(exist_ok=True)
                    self._file = self.path.open("ab")
                self._file.write(line)
            except OSError:
                self._broken = True

    def bound(self, agent: str, iteration: int) -> TranscriptFn:
        """The callable a turn is given: entries stamped with its agent and iteration."""

        def add(kind: str, /, **fields: Any) -> None:
            self.add(kind, agent=agent, iteration=iteration, **fields)

        return add

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                with contextlib.suppress(OSError):
                    self._file.close()
                self._file = None
