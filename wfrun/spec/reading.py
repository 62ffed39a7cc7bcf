"""Read a workflow file safely: a regular file, a pipe or a device, within the size limit,
as UTF-8; never blocking on a FIFO without a writer."""

from __future__ import annotations

import os
import select
import stat
from pathlib import Path
from typing import BinaryIO

from wfrun import constants as C
from wfrun.errors import Diagnostic, Position
from wfrun.spec.source import position_at

PIPE_WAIT = 10.0  # seconds a pipe may stay silent before the file is refused


def read_text(path: str | Path) -> str | Diagnostic:
    """The file's text (newlines as text mode reads them), or why it cannot be read."""
    file = str(path)
    start = Position(file, 1, 1)
    limit = f"over the {C.MAX_FILE_BYTES:,}-byte limit"
    try:
        # Opened without blocking, then checked by what was opened: opening a FIFO waits
        # for a writer, a pipe may never deliver; a path swapped after a stat is moot.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb", buffering=0) as handle:
            info = os.fstat(fd)
            if not (
                stat.S_ISREG(info.st_mode)
                or stat.S_ISFIFO(info.st_mode)
                or stat.S_ISCHR(info.st_mode)
            ):
                message = f"not a regular file but {_file_kind(info.st_mode)}"
                return Diagnostic(start, message, "give a workflow file")
            if info.st_size > C.MAX_FILE_BYTES:  # refuse before reading a huge file
                message = f"file is {info.st_size:,} bytes, {limit}"
                return Diagnostic(start, message, "split the workflow up")
            data = _read_at_most(handle, C.MAX_FILE_BYTES + 1)
            if data is None:
                kind = _file_kind(info.st_mode)
                message = f"nothing came from {kind} within {PIPE_WAIT:g} s"
                hint = "is anything writing to it? (`wfrun validate <(generate)` works)"
                return Diagnostic(start, message, hint)
    except OSError as exc:
        message = f"cannot read the workflow file: {exc.strerror or exc}"
        hint = "check the path" if isinstance(exc, FileNotFoundError) else ""
        return Diagnostic(start, message, hint)
    if len(data) > C.MAX_FILE_BYTES:
        return Diagnostic(start, f"file is {limit}", "split the workflow up")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _not_utf8(file, data, exc)
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as text mode reads it


def _read_at_most(handle: BinaryIO, size: int) -> bytes | None:
    """Up to `size` bytes, to the end; None if a pipe or device stays silent for
    `PIPE_WAIT` seconds (a FIFO whose writer never writes, a terminal)."""
    chunks: list[bytes] = []
    got = 0
    while got < size:
        try:
            chunk = handle.read(size - got)
        except BlockingIOError:
            chunk = None
        if chunk is None:  # nothing yet: wait for more, for a while
            if not select.select([handle], [], [], PIPE_WAIT)[0]:
                return None
            continue
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISDIR: "a folder",
        stat.S_ISFIFO: "a pipe",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    return next((kind for test, kind in kinds.items() if test(mode)), "a special file")


def _not_utf8(file: str, data: bytes, exc: UnicodeDecodeError) -> Diagnostic:
    """Placed at the offending byte: a stray Latin-1 'é' on line 80 is found in an editor."""
    before = data[: exc.start].decode("utf-8", errors="replace")
    where = position_at(file, before, len(before))
    message = f"the file is not UTF-8: byte {data[exc.start]:#04x} starts no valid character"
    return Diagnostic(where, message, "save it as UTF-8 (is it Latin-1, or UTF-16?)")
