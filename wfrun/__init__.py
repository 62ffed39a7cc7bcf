"""wfrun: a YAML workflow runner that plans exactly when each resource must be alive."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wfrun")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from wfrun.spec import load_workflow as load

__all__ = ["__version__", "load"]
