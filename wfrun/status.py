"""What a phase or a run ended as, and the exit code each run status means: one place.

`StrEnum`s, so records, events and `if:` read plain strings (`phases.x.status ==
'succeeded'`) and the engine and ui compare against names, not spelled-out strings.
"""

from __future__ import annotations

from enum import StrEnum


class PhaseStatus(StrEnum):
    """A phase's state; the last five are final."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # its verdict was failure, or a resource it needs failed
    TIMEOUT = "timeout"  # its `timeout:` ran out
    ERROR = "error"  # an agent raised, could not be built, or its `if:` could not be read
    CANCELLED = "cancelled"  # the run was interrupted while it ran
    SKIPPED = "skipped"  # its `if:` was false, an earlier phase failed, or the run stopped


FAILED_STATES = frozenset(
    {PhaseStatus.FAILED, PhaseStatus.TIMEOUT, PhaseStatus.ERROR, PhaseStatus.CANCELLED}
)
FINAL_STATES = FAILED_STATES | {PhaseStatus.SUCCEEDED, PhaseStatus.SKIPPED}


# `phases.NAME.FIELD` in `if:` and `${...}`; reading one of FAILURE_FIELDS in an `if:`
# lifts the implicit "everything before succeeded" rule (`if: phases.build.failed`).
PHASE_FIELDS = ("output", "success", "failed", "skipped", "status")
FAILURE_FIELDS = frozenset({"failed", "skipped", "status"})


class RunStatus(StrEnum):
    """A run's state in `run.json`; `killed` is what `wfrun cleanup` marks a dead run."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    ERROR = "error"
    KILLED = "killed"


class ExitCode:
    """The process exit codes, as the README's table lists them."""

    OK = 0
    FAILED = 1  # the workflow ran and failed
    INVALID = 2  # invalid input or usage
    INTERNAL = 3  # a bug in wfrun
    INTERRUPTED = 130  # Ctrl-C, SIGTERM, SIGHUP or SIGQUIT


RUN_EXIT_CODES = {
    RunStatus.SUCCEEDED: ExitCode.OK,
    RunStatus.FAILED: ExitCode.FAILED,
    RunStatus.ERROR: ExitCode.INTERNAL,
    RunStatus.INTERRUPTED: ExitCode.INTERRUPTED,
}
