"""Errors the built-in types raise. The engine reports `str(error)`, so it says it all.

RunError (wfrun.errors)
└── BuiltinError
    ├── WorkspaceError    a copy source is missing or escapes the workflow folder; git failed
    ├── ProcessError      a service could not start or did not become ready
    ├── MemoryValueError  a value that is not JSON (also a ValueError)
    ├── ContainerError    no container engine, or the container failed
    ├── ModelError        the model API failed, or a replay script ran out
    └── AgentSetupError   an agent's configuration cannot work (import failed, no model)
"""

from __future__ import annotations

from wfrun.errors import RunError


class BuiltinError(RunError):
    """Base of the errors raised by wfrun's own resource and agent types."""


class WorkspaceError(BuiltinError):
    """A workspace could not be prepared."""


class ProcessError(BuiltinError):
    """A service process could not start or did not become ready."""


class MemoryValueError(BuiltinError, ValueError):
    """A memory was given a key or value that cannot be stored as JSON."""


class ContainerError(BuiltinError):
    """A container engine is missing or unreachable, or a container failed."""


class ModelError(BuiltinError):
    """A model request failed or a replay script could not answer."""


class AgentSetupError(BuiltinError):
    """An agent's configuration cannot work in this workflow."""
