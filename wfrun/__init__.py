"""wfrun: a YAML workflow runner that plans exactly when each resource must be alive.

The Python API mirrors the CLI:

    import wfrun
    workflow = wfrun.load("flow.yaml", params={"port": "9000"})
    plan = wfrun.plan(workflow)
    summary = wfrun.run(workflow, plan=plan)  # RunSummary(status, exit_code, run_dir, ...)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wfrun")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from wfrun.engine.runner import RunSummary
from wfrun.engine.runner import run_workflow as run
from wfrun.planner import Plan
from wfrun.planner import plan_workflow as plan
from wfrun.spec import Workflow
from wfrun.spec import load_workflow as load

__all__ = ["Plan", "RunSummary", "Workflow", "__version__", "load", "plan", "run"]
