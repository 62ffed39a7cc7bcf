"""Import a user's module from the workflow folder first, without leaking sys.path.

The folder is put at the front of `sys.path` only while a module is imported or an
agent acts (lazy imports inside the agent resolve the same way), with a count so
agents of several workflows in one process share it safely. A module of the same
name cached from another folder (an earlier run) is forgotten first, so the workflow
always gets its own file.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.machinery
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

_lock = threading.Lock()
_users: dict[str, int] = {}


@contextlib.contextmanager
def search_first(folder: Path) -> Iterator[None]:
    """Put `folder` at the front of sys.path for the duration; remove it after."""
    entry = str(folder)
    with _lock:
        _users[entry] = _users.get(entry, 0) + 1
        if _users[entry] == 1:
            sys.path.insert(0, entry)
    try:
        yield
    finally:
        with _lock:
            _users[entry] -= 1
            if _users[entry] == 0:
                del _users[entry]
                with contextlib.suppress(ValueError):
                    sys.path.remove(entry)


def import_from(module_name: str, folder: Path) -> ModuleType:
    """Import `module_name`, preferring `folder`; raises ImportError like import does."""
    cached = sys.modules.get(module_name)
    if cached is not None and _lives_in(cached, folder):
        return cached  # what import_module would return, minus a path search per phase
    top = module_name.partition(".")[0]
    with search_first(folder):
        local = importlib.machinery.PathFinder.find_spec(top, [str(folder)])
        cached = sys.modules.get(top)
        if local is not None and cached is not None and not _lives_in(cached, folder):
            for name in [n for n in sys.modules if n == top or n.startswith(f"{top}.")]:
                del sys.modules[name]
        importlib.invalidate_caches()
        return importlib.import_module(module_name)


def _lives_in(module: ModuleType, folder: Path) -> bool:
    where = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", [])), None)
    if where is None:
        return False
    return _resolved_within(str(where), str(folder))


@functools.lru_cache(maxsize=1024)
def _resolved_within(where: str, folder: str) -> bool:
    """Two `Path.resolve()` calls (a syscall per path component) once per module and
    folder, not every time a phase builds an agent from a cached module."""
    return Path(where).resolve().is_relative_to(Path(folder).resolve())
