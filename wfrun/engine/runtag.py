"""The run's tag in the runner's own environment, so what in-process code starts is found.

Built-in types give every process they start `WFRUN_RUN_DIR`, which is how cleanup
finds what a hard kill left. Code that runs in the runner (a `python` agent, a plugin)
may start processes of its own with plain `subprocess`: with the tag in the runner's
environment they inherit it too, as pytest's children inherit `PYTEST_CURRENT_TEST`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from wfrun import constants as C

_TAGS: list[str | None] = []  # the value before any run, then the runs going, oldest first
_TAGS_LOCK = threading.Lock()


@contextlib.contextmanager
def tagged_environment(run_dir: Path) -> Iterator[None]:
    """`WFRUN_RUN_DIR` is the run folder while the run lasts. Runs overlapping in one
    process tag with the newest still going; the last to end restores the value before."""
    tag = str(run_dir.resolve())
    with _TAGS_LOCK:
        if not _TAGS:
            _TAGS.append(os.environ.get(C.RUN_DIR_ENV))  # the bottom: what to restore
        _TAGS.append(tag)
        os.environ[C.RUN_DIR_ENV] = tag
    try:
        yield
    finally:
        with _TAGS_LOCK:
            del _TAGS[_TAGS.index(tag, 1)]
            value = _TAGS[-1]
            if len(_TAGS) == 1:
                _TAGS.clear()
            if value is None:
                os.environ.pop(C.RUN_DIR_ENV, None)
            else:
                os.environ[C.RUN_DIR_ENV] = value
