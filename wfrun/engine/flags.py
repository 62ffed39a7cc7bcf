"""A `threading.Event` that makes its lock only when someone sets it or waits on it.

Every phase carries a cancel flag, and nearly all phases end without anyone setting it
or waiting on it; a `Condition` cost 3 µs to make, 5% of a no-op phase. The flag is a
real `threading.Event` (same methods, `isinstance` holds), so plugins see no change.
"""

from __future__ import annotations

import os
import threading

_MAKING = threading.Lock()  # serialises first uses, so two threads never make two locks
os.register_at_fork(after_in_child=_MAKING._at_fork_reinit)  # a fork mid-use: not held


class LazyEvent(threading.Event):
    """`threading.Event`, its `Condition` made on first `set`, `clear` or `wait`."""

    def __init__(self) -> None:  # no super().__init__(): that makes the Condition
        self._flag = False
        self._made: threading.Condition | None = None

    @property  # type: ignore[override]
    def _cond(self) -> threading.Condition:
        # Event's own methods read `self._cond`; `is_set` reads only `_flag`.
        made = self._made
        if made is None:
            with _MAKING:
                if self._made is None:
                    self._made = threading.Condition(threading.Lock())
                made = self._made
        return made
