"""The garbage collector paused while a large structure is built.

Loading a file or planning 10^5 phases makes a million small objects and frees none of
them; the collector's passes over them, which find nothing, were a fifth to a third of
the time (benchmarks/loading.py, benchmarks/planner_scale.py).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the collector for the block (nesting-safe: only the outermost re-enables)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
